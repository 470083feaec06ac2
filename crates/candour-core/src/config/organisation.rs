//! `[organisation]`: who runs the site.

use serde::{Deserialize, Serialize};

use crate::fields::FieldErrors;

/// Who runs the site: shown in the footer and in the generated privacy notice.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Organisation {
    pub name: String,
    /// A telephone number for enquiries that are not emergencies (for a police force, 101).
    #[serde(deserialize_with = "string_or_number")]
    pub phone: String,
    /// A line shown beside the phone number, such as "In an emergency, always call 999."
    pub emergency_note: String,
    pub email: String,
    /// The postal address, one line per entry.
    pub postal_address: Vec<String>,
    /// The data protection officer: who people can write to about their data.
    pub dpo_name: String,
    pub dpo_email: String,
    /// The Information Commissioner's Office registration number, if the organisation has one.
    pub ico_registration: String,
}

impl Default for Organisation {
    fn default() -> Self {
        Organisation {
            name: "Candour".to_owned(),
            phone: String::new(),
            emergency_note: String::new(),
            email: String::new(),
            postal_address: Vec::new(),
            dpo_name: String::new(),
            dpo_email: String::new(),
            ico_registration: String::new(),
        }
    }
}

impl Organisation {
    pub(super) fn check(&self) -> FieldErrors {
        let mut errors = FieldErrors::new();
        if self.name.trim().is_empty() {
            errors.add("name", "must not be empty");
        }
        errors
    }

    /// What the privacy notice lacks.
    pub(super) fn warnings(&self, out: &mut Vec<String>) {
        for (key, value) in [
            ("organisation.email", self.email.as_str()),
            ("organisation.dpo_email", self.dpo_email.as_str()),
        ] {
            if value.trim().is_empty() {
                out.push(format!(
                    "{key} is empty: the privacy notice must say how to contact you about personal data."
                ));
            }
        }
        if self.postal_address.is_empty() {
            out.push(
                "organisation.postal_address is empty: the privacy notice should give an address \
                 for written requests."
                    .to_owned(),
            );
        }
    }
}

/// A phone number may be written as a number (`phone = 101`).
fn string_or_number<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Either {
        S(String),
        N(i64),
    }
    Ok(match Either::deserialize(d)? {
        Either::S(s) => s,
        Either::N(n) => n.to_string(),
    })
}
