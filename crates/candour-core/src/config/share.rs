//! `[share]`: which networks a page's share links offer, and where they appear.

use serde::{Deserialize, Serialize};

use crate::fields::FieldErrors;
use crate::share::Network;

/// Share links. A content page shows them when its front matter says `share: yes`; poll pages
/// when `polls` is on. An empty `networks` list switches them off everywhere.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ShareSettings {
    /// In the order shown: any of email, x, facebook, linkedin, whatsapp, bluesky, nextdoor.
    pub networks: Vec<Network>,
    /// Whether poll pages show share links.
    pub polls: bool,
}

impl Default for ShareSettings {
    fn default() -> Self {
        ShareSettings {
            networks: Network::ALL.to_vec(),
            polls: true,
        }
    }
}

impl ShareSettings {
    pub(super) fn check(&self) -> FieldErrors {
        let mut errors = FieldErrors::new();
        for (i, n) in self.networks.iter().enumerate() {
            if self.networks[..i].contains(n) {
                errors.add(
                    "networks",
                    format!(
                        "names `{}` twice; list each network once (allowed: email, x, facebook, \
                         linkedin, whatsapp, bluesky, nextdoor)",
                        n.slug()
                    ),
                );
            }
        }
        errors
    }

    /// Whether a network's links are shown (and its share route answers).
    pub fn offers(&self, n: Network) -> bool {
        self.networks.contains(&n)
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Config, ConfigError};

    fn load(toml: &str) -> Result<Config, ConfigError> {
        Config::load(Some(("candour.toml", toml)), [])
    }

    #[test]
    fn networks_are_chosen_by_name() {
        let c = load("[share]\nnetworks = [\"email\", \"bluesky\"]\npolls = false\n").unwrap();
        assert_eq!(c.share.networks.len(), 2);
        assert!(!c.share.polls);
        assert_eq!(load("").unwrap().share.networks.len(), 7);
    }

    #[test]
    fn unknown_or_repeated_networks_are_clear_errors() {
        let e = load("[share]\nnetworks = [\"myspace\"]\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("share.networks") && e.contains("myspace") && e.contains("bluesky"),
            "{e}"
        );
        let e = load("[share]\nnetworks = [\"x\", \"x\"]\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("share.networks") && e.contains("twice"), "{e}");
        let e = load("[share]\nbuttons = true\n").unwrap_err().to_string();
        assert!(e.contains("buttons"), "{e}");
    }
}
