//! Who a hit is from, as far as the statistics know: the day hash of the client's address
//! and user agent, and the country when a location database is configured.

use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;

use candour_core::signer::{Purpose, Signer};
use candour_core::stats::VisitorHash;
use candour_core::store::StatsIngestStore;
use time::Date;
use tokio::sync::RwLock;

use super::GeoError;
use crate::kit::error::AppError;

/// Today's salt, shared by every instance through the store, held here so that hashing a
/// visitor costs no database read.
#[derive(Default)]
pub(crate) struct DaySalt(RwLock<Option<(Date, Arc<[u8]>)>>);

impl DaySalt {
    pub(crate) async fn get(
        &self,
        store: &dyn StatsIngestStore,
        day: Date,
    ) -> Result<Arc<[u8]>, AppError> {
        if let Some((d, salt)) = self.0.read().await.as_ref()
            && *d == day
        {
            return Ok(salt.clone());
        }
        let fresh: [u8; 32] = rand::random();
        let salt: Arc<[u8]> = store.stats_salt(day, &fresh).await?.into();
        *self.0.write().await = Some((day, salt.clone()));
        Ok(salt)
    }
}

/// The visitor's day hash: keyed by the statistics' own key and the day's salt, over the
/// client (its address, or its IPv6 /64) and the user agent.
pub(crate) fn day_hash(signer: &Signer, salt: &[u8], client: &str, agent: &str) -> VisitorHash {
    VisitorHash::from_digest(&signer.digest(
        Purpose::StatsVisitor,
        &[salt, client.as_bytes(), agent.as_bytes()],
    ))
}

/// A MaxMind-format database, read once at start.
pub(crate) struct Geo(maxminddb::Reader<Vec<u8>>);

impl Geo {
    pub(crate) fn open(path: &Path) -> Result<Geo, GeoError> {
        maxminddb::Reader::open_readfile(path)
            .map(Geo)
            .map_err(|e| GeoError {
                path: path.display().to_string(),
                source: Box::new(e),
            })
    }

    /// The ISO 3166-1 code of the country the database places `ip` in.
    pub(crate) fn country(&self, ip: IpAddr) -> Option<String> {
        let found = self.0.lookup(ip).ok()?;
        let record: maxminddb::geoip2::Country = found.decode().ok()??;
        let code = record.country.iso_code?;
        (code.len() == 2 && code.bytes().all(|b| b.is_ascii_alphabetic()))
            .then(|| code.to_ascii_uppercase())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hash_changes_with_the_salt_the_client_and_the_agent() {
        let signer = Signer::new(&[7; 32]);
        let a = day_hash(&signer, b"salt-1", "192.0.2.1", "Firefox");
        assert_eq!(a, day_hash(&signer, b"salt-1", "192.0.2.1", "Firefox"));
        assert_ne!(a, day_hash(&signer, b"salt-2", "192.0.2.1", "Firefox"));
        assert_ne!(a, day_hash(&signer, b"salt-1", "192.0.2.2", "Firefox"));
        assert_ne!(a, day_hash(&signer, b"salt-1", "192.0.2.1", "Chrome"));
        let other_key = Signer::new(&[8; 32]);
        assert_ne!(a, day_hash(&other_key, b"salt-1", "192.0.2.1", "Firefox"));
    }
}
