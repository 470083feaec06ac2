//! `[[purposes]]` and `[[topics]]`: the organisation's own purposes and the topics people can
//! follow. The registry of every purpose is `crate::purposes`; a `&Config` converts into the
//! [`Capabilities`] it is built from.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::Config;
use crate::fields::{FieldErrors, is_slug};
use crate::purposes::{BUILT_IN_IDS, Capabilities, Channel, LawfulBasis, PurposeConfig};

/// The longest id of a purpose or a topic.
const ID_MAX: usize = 40;

/// A topic people can follow.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Topic {
    /// A short id: lower-case letters, digits and hyphens.
    pub id: String,
    pub label: String,
}

/// The topics: unique slugs, each with a label.
pub(super) fn check_topics(topics: &[Topic], errors: &mut FieldErrors) {
    let mut ids = BTreeSet::new();
    for (i, topic) in topics.iter().enumerate() {
        if !is_slug(&topic.id, ID_MAX) || !ids.insert(&topic.id) {
            errors.add(
                format!("topics[{i}].id"),
                "must be unique, lower-case letters, digits and hyphens",
            );
        }
        if topic.label.trim().is_empty() {
            errors.add(format!("topics[{i}].label"), "must not be empty");
        }
    }
}

/// The organisation's purposes: unique ids, and what consent and direct marketing need.
pub(super) fn check_purposes(purposes: &[PurposeConfig], errors: &mut FieldErrors) {
    let mut ids = BTreeSet::new();
    for (i, p) in purposes.iter().enumerate() {
        let mut invalid = |key: &str, problem: &str| {
            errors.add(format!("purposes[{i}].{key}"), problem);
        };
        if !is_slug(&p.id, ID_MAX) {
            invalid(
                "id",
                "must be lower-case letters, digits and hyphens, at most 40",
            );
        } else if BUILT_IN_IDS.contains(&p.id.as_str()) || !ids.insert(p.id.as_str()) {
            invalid("id", "is already used by another purpose");
        }
        for (key, value) in [
            ("name", &p.name),
            ("description", &p.description),
            ("data", &p.data),
        ] {
            if value.trim().is_empty() {
                invalid(key, "must not be empty");
            }
        }
        if !(1..=365 * 100).contains(&p.retention_days) {
            invalid("retention_days", "must be between 1 and 36500");
        }
        let mut seen = BTreeSet::new();
        if !p.channels.iter().all(|c| seen.insert(*c)) {
            invalid("channels", "must not name a channel twice");
        }
        if p.lawful_basis == LawfulBasis::Consent
            && crate::account::plain_text(&p.consent_label, 200, "x").map_or(true, |l| l.is_empty())
        {
            invalid(
                "consent_label",
                "must be the words of the consent box (one line, at most 200 characters) when the lawful basis is consent",
            );
        }
        if p.direct_marketing && p.channels.is_empty() {
            invalid(
                "channels",
                "must name at least one channel for direct marketing",
            );
        }
        if p.direct_marketing
            && !matches!(
                p.lawful_basis,
                LawfulBasis::Consent | LawfulBasis::LegitimateInterests
            )
        {
            invalid(
                "lawful_basis",
                "must be consent or legitimate-interests for direct marketing",
            );
        }
    }
}

pub(super) fn warnings(purposes: &[PurposeConfig], out: &mut Vec<String>) {
    for p in purposes {
        if p.direct_marketing
            && p.lawful_basis == LawfulBasis::LegitimateInterests
            && p.channels.contains(&Channel::Email)
        {
            out.push(format!(
                "purposes: {} sends direct marketing by email on legitimate interests; PECR \
                 allows that only to existing customers (the soft opt-in). Use consent.",
                p.id
            ));
        }
    }
}

impl<'a> From<&'a Config> for Capabilities<'a> {
    fn from(config: &'a Config) -> Self {
        Capabilities {
            receipt_retention_days: config.cookies.receipt_retention_days,
            polls: config.polls.enabled,
            tracking_retention_days: config
                .campaigns
                .enabled
                .then_some(config.campaigns.tracking_retention_days),
            topics: !config.topics.is_empty(),
            own: &config.purposes,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{ConfigError, test_load as load};

    #[test]
    fn receipt_retention_follows_configuration() {
        let mut c = Config::default();
        c.cookies.receipt_retention_days = 730;
        let p = crate::purposes::registry(&c);
        let choices = p.iter().find(|p| p.id == "cookie-choices").unwrap();
        assert_eq!(choices.retention.describe(), "2 years");
        let ids: Vec<_> = p.iter().map(|p| p.id.as_str()).collect();
        let mut unique = ids.clone();
        unique.dedup();
        assert_eq!(ids, unique);
    }

    #[test]
    fn purposes_are_checked_and_tick_to_refuse_is_flagged() {
        let good = "[people]\nmarketing_consent = \"opt-out-box\"\n\n[[purposes]]\nid = \"news\"\nname = \"News\"\ndescription = \"d\"\ndata = \"e\"\nlawful_basis = \"consent\"\nretention_days = 730\nchannels = [\"email\", \"post\"]\ndirect_marketing = true\nconsent_label = \"Send me news\"\n";
        let c = load(good, &[]).unwrap();
        assert_eq!(c.purposes[0].channels.len(), 2);
        assert!(c.warnings().iter().any(|w| w.contains("opt-out-box")));
        for (change, key) in [
            (
                ("consent_label = \"Send me news\"", "consent_label = \"\""),
                "purposes[0].consent_label",
            ),
            (("id = \"news\"", "id = \"account\""), "purposes[0].id"),
            (("id = \"news\"", "id = \"News!\""), "purposes[0].id"),
            (
                ("channels = [\"email\", \"post\"]", "channels = []"),
                "purposes[0].channels",
            ),
            (
                (
                    "channels = [\"email\", \"post\"]",
                    "channels = [\"email\", \"email\"]",
                ),
                "purposes[0].channels",
            ),
            (
                (
                    "lawful_basis = \"consent\"",
                    "lawful_basis = \"public-task\"",
                ),
                "purposes[0].lawful_basis",
            ),
            (
                ("retention_days = 730", "retention_days = 0"),
                "purposes[0].retention_days",
            ),
        ] {
            let text = good.replace(change.0, change.1);
            match load(&text, &[]) {
                Err(ConfigError::Invalid { key: k, .. }) => assert_eq!(k, key, "{text}"),
                other => panic!("{text}: {other:?}"),
            }
        }
        let e = load(&good.replace("\"post\"", "\"pigeon\""), &[]).unwrap_err();
        assert!(e.to_string().contains("purposes"), "{e}");
    }
}
