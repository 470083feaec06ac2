//! `[people]`: people, forms and the preference centre.

use serde::{Deserialize, Serialize};

use crate::account::Role;
use crate::fields::FieldErrors;

/// How a form asks for consent to direct marketing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum MarketingConsent {
    /// An unticked box per channel that the person ticks to agree.
    OptIn,
    /// A box to tick to refuse: an unticked box is taken as agreement. Kept for old forms;
    /// `config check` flags it.
    OptOutBox,
}

/// People, forms and the preference centre.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct PeopleSettings {
    pub marketing_consent: MarketingConsent,
    /// How long an emailed link to the preference centre works, in hours.
    pub preference_link_hours: u32,
    /// How long a preference-centre visit opened from such a link lasts, in minutes.
    pub preference_visit_minutes: u32,
    /// How long the link that confirms consent given on a public form works, in hours; an
    /// unconfirmed consent is forgotten after it.
    pub consent_confirmation_hours: u32,
    /// The roles, besides administrators, that may read and export individual form
    /// responses (which can hold names, addresses and other personal data). Everyone who
    /// manages forms sees the summaries.
    pub response_readers: Vec<Role>,
}

impl Default for PeopleSettings {
    fn default() -> Self {
        PeopleSettings {
            marketing_consent: MarketingConsent::OptIn,
            preference_link_hours: 72,
            preference_visit_minutes: 30,
            consent_confirmation_hours: 168,
            response_readers: vec![Role::PrivacyOfficer],
        }
    }
}

impl PeopleSettings {
    pub(super) fn check(&self) -> FieldErrors {
        let mut errors = FieldErrors::new();
        errors.check_range(
            "preference_link_hours",
            self.preference_link_hours,
            1,
            24 * 30,
            "",
        );
        errors.check_range(
            "consent_confirmation_hours",
            self.consent_confirmation_hours,
            1,
            24 * 30,
            "",
        );
        errors.check_range(
            "preference_visit_minutes",
            self.preference_visit_minutes,
            5,
            24 * 60,
            "",
        );
        errors
    }

    pub(super) fn warnings(&self, out: &mut Vec<String>) {
        if self.response_readers.contains(&Role::Editor) {
            out.push(
                "people.response_readers includes \"editor\": editors, who otherwise work on \
                 content, can read and export form responses with people's names and addresses. \
                 Keep that to privacy officers unless editors need it for their work."
                    .to_owned(),
            );
        }
        if self.marketing_consent == MarketingConsent::OptOutBox {
            out.push(
                "people.marketing_consent = \"opt-out-box\" asks people to tick a box to refuse \
                 marketing; silence or an unticked box is not valid consent under UK GDPR and PECR. \
                 Use \"opt-in\"."
                    .to_owned(),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::config::test_load as load;

    #[test]
    fn letting_editors_read_responses_is_flagged_and_roles_are_checked() {
        let c = load("", &[]).unwrap();
        assert_eq!(
            c.people.response_readers,
            vec![crate::account::Role::PrivacyOfficer]
        );
        assert!(!c.warnings().iter().any(|w| w.contains("response_readers")));
        let c = load("[people]\nresponse_readers = [\"editor\"]\n", &[]).unwrap();
        assert!(c.warnings().iter().any(|w| w.contains("response_readers")));
        let e = load("[people]\nresponse_readers = [\"visitor\"]\n", &[]).unwrap_err();
        assert!(e.to_string().contains("response_readers"), "{e}");
    }
}
