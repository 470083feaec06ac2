//! `[stats]`: the cookieless site statistics.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::fields::FieldErrors;

/// Site statistics: counted without cookies or anything stored on the visitor's device,
/// aggregate only, with an objection page.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct StatsSettings {
    pub enabled: bool,
    /// Other sites of the organisation whose pages may send hits from the statistics script,
    /// as origins (`https://www.example.police.uk`). Any other origin is refused.
    pub sites: Vec<String>,
    /// How long totals are kept, in months.
    pub retention_months: u32,
    /// A MaxMind-format country or city database; without one, no country is recorded.
    pub geoip_database: Option<PathBuf>,
    /// Whether anyone may see the statistics at `/statistics`.
    pub public_page: bool,
    /// Counts under this are shown as "fewer than N" (always on the public page).
    pub suppression_threshold: u32,
}

impl Default for StatsSettings {
    fn default() -> Self {
        StatsSettings {
            enabled: true,
            sites: Vec::new(),
            retention_months: 25,
            geoip_database: None,
            public_page: false,
            suppression_threshold: 5,
        }
    }
}

/// `raw` as a browser sends it in `Origin` (scheme, host and port), when it is nothing more.
fn origin_of(raw: &str) -> Option<String> {
    let url = url::Url::parse(raw).ok()?;
    let bare = matches!(url.scheme(), "http" | "https")
        && url.host().is_some()
        && url.username().is_empty()
        && url.password().is_none()
        && url.path() == "/"
        && url.query().is_none()
        && url.fragment().is_none();
    bare.then(|| url.origin().ascii_serialization())
}

impl StatsSettings {
    pub(super) fn check(&self) -> FieldErrors {
        let mut errors = FieldErrors::new();
        errors.check_range("retention_months", self.retention_months, 1, 120, "");
        errors.check_range(
            "suppression_threshold",
            self.suppression_threshold,
            0,
            1000,
            "",
        );
        for site in &self.sites {
            if origin_of(site).is_none() {
                errors.add(
                    "sites",
                    format!(
                        "`{site}` is not an origin; write the scheme and host (and port if not \
                         the usual one) only, such as `https://www.example.police.uk`"
                    ),
                );
            }
        }
        errors
    }

    pub(super) fn warnings(&self, out: &mut Vec<String>) {
        if self.enabled && self.public_page && self.suppression_threshold < 2 {
            out.push(
                "stats.public_page is on with suppression_threshold below 2: a count of one \
                 visitor can single someone out. Keep the threshold at 5 or more."
                    .to_owned(),
            );
        }
        if self.enabled && self.retention_months > 25 {
            out.push(format!(
                "stats.retention_months is {}: totals are kept longer than the 25 months most \
                 sites need to compare a month with the same month last year.",
                self.retention_months
            ));
        }
    }

    /// Whether a page on `origin` (an `Origin` header) may send hits.
    pub fn allows_origin(&self, origin: &str) -> bool {
        // Browsers send `Origin` already serialised, so on every beacon the header is usually
        // a configured site as written (the check at load makes each one a bare origin):
        // that needs no parsing. Anything else is compared as parsed origins.
        let as_written = |s: &String| s.strip_suffix('/').unwrap_or(s) == origin;
        self.sites.iter().any(as_written)
            || origin_of(origin)
                .is_some_and(|o| self.sites.iter().any(|s| origin_of(s).as_ref() == Some(&o)))
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Config, ConfigError};

    fn load(toml: &str) -> Result<Config, ConfigError> {
        Config::load(Some(("candour.toml", toml)), [])
    }

    #[test]
    fn defaults_follow_the_issue() {
        let c = load("").unwrap();
        assert!(c.stats.enabled);
        assert_eq!(c.stats.retention_months, 25);
        assert_eq!(c.stats.suppression_threshold, 5);
        assert!(!c.stats.public_page);
        assert!(c.stats.geoip_database.is_none());
    }

    #[test]
    fn sites_are_origins_and_only_they_are_allowed() {
        let c = load(
            "[stats]\nsites = [\"https://www.example.org\", \"http://cms.example.org:8080/\"]\n",
        )
        .unwrap();
        assert!(c.stats.allows_origin("https://www.example.org"));
        assert!(c.stats.allows_origin("http://cms.example.org:8080"));
        assert!(!c.stats.allows_origin("https://www.example.org.evil.test"));
        assert!(!c.stats.allows_origin("http://www.example.org"));
        assert!(!c.stats.allows_origin("null"));
        let e = load("[stats]\nsites = [\"https://www.example.org/news\"]\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("stats.sites") && e.contains("not an origin"),
            "{e}"
        );
        let e = load("[stats]\nretention_months = 0\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("stats.retention_months"), "{e}");
    }

    #[test]
    fn a_site_written_differently_from_its_origin_still_matches_it() {
        let c = load("[stats]\nsites = [\"https://WWW.Example.org:443/\"]\n").unwrap();
        // As a browser serialises it: through the parsed comparison.
        assert!(c.stats.allows_origin("https://www.example.org"));
        // As written in the file: without parsing.
        assert!(c.stats.allows_origin("https://WWW.Example.org:443"));
        assert!(!c.stats.allows_origin("https://www.example.org:8443"));
        assert!(!c.stats.allows_origin("http://www.example.org"));
    }
}
