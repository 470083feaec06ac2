//! `[metrics]`: the Prometheus endpoint, off unless asked for.

use std::net::SocketAddr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::fields::FieldErrors;
use crate::secret::Secret;

/// Where `/metrics` is served, and who may read it.
/// Off by default: no listener, no route.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsSettings {
    pub enabled: bool,
    /// A listener of its own for `/metrics` (such as `127.0.0.1:9464`); empty: the site's own
    /// listener serves it.
    #[serde(with = "optional_socket")]
    pub listen: Option<SocketAddr>,
    /// When set, a scrape must send `Authorization: Bearer <token>`.
    pub token: Secret,
}

/// The shortest token accepted: long enough that guessing is hopeless.
const MIN_TOKEN: usize = 16;

impl MetricsSettings {
    /// Whether the site's own listener answers `/metrics`.
    pub fn on_public_listener(&self) -> bool {
        self.enabled && self.listen.is_none()
    }

    pub(super) fn check(&self) -> FieldErrors {
        let mut errors = FieldErrors::new();
        if !self.token.is_empty() && self.token.expose().chars().count() < MIN_TOKEN {
            errors.add(
                "token",
                format!("must be at least {MIN_TOKEN} characters, or empty for none"),
            );
        }
        errors
    }

    pub(super) fn warnings(&self, site_listen: SocketAddr, out: &mut Vec<String>) {
        if !self.enabled || !self.token.is_empty() {
            return;
        }
        match self.listen {
            None => out.push(
                "[metrics] is served on the public listener without a token: anyone who can \
                 reach the site can read it. Set [metrics] token, or a separate [metrics] listen \
                 address."
                    .to_owned(),
            ),
            Some(addr) if addr == site_listen => out.push(format!(
                "[metrics] listen is the site's own address {addr}; choose another port."
            )),
            Some(addr) if !addr.ip().is_loopback() => out.push(format!(
                "[metrics] listens on {addr}, beyond this machine, without a token. Set [metrics] \
                 token, or listen on a loopback address."
            )),
            Some(_) => {}
        }
    }
}

/// A socket address, or empty for none.
mod optional_socket {
    use super::*;

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<SocketAddr>, D::Error> {
        let raw = String::deserialize(d)?;
        if raw.is_empty() {
            return Ok(None);
        }
        raw.parse().map(Some).map_err(|_| {
            serde::de::Error::custom("must be an address and port such as 127.0.0.1:9464, or empty")
        })
    }

    pub fn serialize<S: Serializer>(value: &Option<SocketAddr>, s: S) -> Result<S::Ok, S::Error> {
        match value {
            Some(v) => s.collect_str(v),
            None => s.serialize_str(""),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_load;

    #[test]
    fn metrics_are_off_by_default() {
        let c = test_load("", &[]).unwrap();
        assert!(!c.metrics.enabled);
        assert!(!c.metrics.on_public_listener());
    }

    #[test]
    fn a_public_endpoint_without_a_token_is_warned_about() {
        let c = test_load("[metrics]\nenabled = true\n", &[]).unwrap();
        assert!(c.metrics.on_public_listener());
        assert!(c.warnings().iter().any(|w| w.contains("without a token")));
        let c = test_load(
            "[metrics]\nenabled = true\ntoken = \"0123456789abcdef0123\"\n",
            &[],
        )
        .unwrap();
        assert!(!c.warnings().iter().any(|w| w.contains("[metrics]")));
        let c = test_load(
            "[metrics]\nenabled = true\nlisten = \"127.0.0.1:9464\"\n",
            &[],
        )
        .unwrap();
        assert_eq!(c.metrics.listen, Some("127.0.0.1:9464".parse().unwrap()));
        assert!(!c.metrics.on_public_listener());
        assert!(!c.warnings().iter().any(|w| w.contains("[metrics]")));
        let c = test_load(
            "[metrics]\nenabled = true\nlisten = \"0.0.0.0:9464\"\n",
            &[],
        )
        .unwrap();
        assert!(
            c.warnings()
                .iter()
                .any(|w| w.contains("beyond this machine"))
        );
    }

    #[test]
    fn a_short_token_or_a_bad_address_is_refused() {
        let e = test_load("[metrics]\ntoken = \"short\"\n", &[]).unwrap_err();
        assert!(e.to_string().contains("metrics.token"), "{e}");
        let e = test_load("[metrics]\nlisten = \"localhost\"\n", &[]).unwrap_err();
        assert!(e.to_string().contains("127.0.0.1:9464"), "{e}");
    }
}
