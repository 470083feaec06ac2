//! Campaigns' link lists as click redirects need them.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration as StdDuration, Instant};

use axum::http::HeaderValue;
use candour_core::store::CampaignStore;

/// Campaigns' link lists, kept a minute: they never change once a campaign is scheduled.
/// Each link is kept as the `Location` value it becomes (core percent-encodes every link when
/// the draft is checked, so each is a valid header value; a list that somehow held one that
/// is not is read as having no links). The lock is never held across an await.
#[derive(Default)]
pub(crate) struct LinkCache(std::sync::RwLock<HashMap<i64, CachedLinks>>);

/// When a campaign's links were read, and the links.
type CachedLinks = (Instant, Arc<Vec<HeaderValue>>);

const LINK_CACHE_TTL: StdDuration = StdDuration::from_secs(60);

impl LinkCache {
    fn cached(&self, campaign: i64) -> Option<Arc<Vec<HeaderValue>>> {
        let map = self
            .0
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        map.get(&campaign)
            .filter(|(at, _)| at.elapsed() < LINK_CACHE_TTL)
            .map(|(_, links)| links.clone())
    }

    /// The `Location` for link `link` of `campaign`, if the campaign has such a link.
    pub(crate) async fn link(
        &self,
        store: &dyn CampaignStore,
        campaign: i64,
        link: u16,
    ) -> Result<Option<HeaderValue>, candour_core::store::StoreError> {
        let links = match self.cached(campaign) {
            Some(l) => l,
            None => {
                let Some(c) = store.campaign(campaign).await? else {
                    return Ok(None);
                };
                let links: Arc<Vec<HeaderValue>> = Arc::new(
                    c.links
                        .iter()
                        .map(|l| HeaderValue::from_str(l))
                        .collect::<Result<_, _>>()
                        .unwrap_or_default(),
                );
                self.0
                    .write()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .insert(campaign, (Instant::now(), links.clone()));
                links
            }
        };
        Ok(links.get(usize::from(link)).cloned())
    }
}
