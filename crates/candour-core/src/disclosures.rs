//! The register of recipients and the record of disclosures.
//!
//! The privacy officer keeps a register of those outside the organisation (and the
//! organisation's own uses) that personal data may be passed to: a name, what they receive
//! it for, and the lawful basis. A recipient that has been used is never deleted, only
//! retired, so every past disclosure still names who had the data. Each export of personal
//! data from the console is a disclosure: who exported, when, for whom (a recipient, or
//! internal use), what, and which people it covered. The store is `store::DisclosureStore`.

use time::OffsetDateTime;

use crate::account::plain_text;
use crate::fields::{FieldError, FieldErrors};
use crate::purposes::LawfulBasis;

/// The longest name a recipient may have, in characters.
pub const NAME_MAX: usize = 120;
/// The longest description of what a recipient receives data for.
pub const PURPOSE_MAX: usize = 500;

/// Every basis a recipient may be given, in the order the form offers them.
pub const BASES: [LawfulBasis; 4] = [
    LawfulBasis::Consent,
    LawfulBasis::LegitimateInterests,
    LawfulBasis::PublicTask,
    LawfulBasis::LegalObligation,
];

/// The code a basis is stored and posted as (`legitimate-interests`).
pub fn basis_code(b: LawfulBasis) -> &'static str {
    match b {
        LawfulBasis::Consent => "consent",
        LawfulBasis::LegitimateInterests => "legitimate-interests",
        LawfulBasis::PublicTask => "public-task",
        LawfulBasis::LegalObligation => "legal-obligation",
    }
}

/// The basis with this code, if there is one.
pub fn parse_basis(code: &str) -> Option<LawfulBasis> {
    BASES.into_iter().find(|b| basis_code(*b) == code)
}

/// A recipient in the register.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipient {
    pub id: i64,
    pub name: String,
    /// What they receive personal data for.
    pub purpose: String,
    pub basis: LawfulBasis,
    /// Retired recipients stay in the register but cannot be chosen for a new export.
    pub active: bool,
}

/// A recipient's details as the privacy officer gives them, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecipientDraft {
    pub name: String,
    pub purpose: String,
    pub basis: LawfulBasis,
}

impl RecipientDraft {
    /// Parse the form's `name`, `purpose` and `basis`, naming each field that is wrong.
    pub fn parse(name: &str, purpose: &str, basis: &str) -> Result<RecipientDraft, FieldErrors> {
        let mut errors = FieldErrors::new();
        let name = match plain_text(name, NAME_MAX, "The name") {
            Ok(n) if n.is_empty() => {
                errors.add("name", "Enter the recipient's name");
                None
            }
            Ok(n) => Some(n),
            Err(e) => {
                errors.add("name", e.0);
                None
            }
        };
        let purpose = match plain_text(purpose, PURPOSE_MAX, "What they receive it for") {
            Ok(p) if p.is_empty() => {
                errors.add(
                    "purpose",
                    "Enter what the recipient receives personal data for",
                );
                None
            }
            Ok(p) => Some(p),
            Err(e) => {
                errors.add("purpose", e.0);
                None
            }
        };
        let basis = parse_basis(basis.trim());
        if basis.is_none() {
            let allowed: Vec<&str> = BASES.iter().map(|b| basis_code(*b)).collect();
            errors.push(
                FieldError::new("basis", "Choose the lawful basis for the disclosure")
                    .with_allowed(allowed.join(", ")),
            );
        }
        match (name, purpose, basis) {
            (Some(name), Some(purpose), Some(basis)) if errors.is_empty() => Ok(RecipientDraft {
                name,
                purpose,
                basis,
            }),
            _ => Err(errors),
        }
    }
}

/// The longest internal purpose stated for an export.
pub const INTERNAL_PURPOSE_MAX: usize = 200;

/// For whom an export is made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ForWhom {
    /// The organisation's own use, no one outside receives it: what for, in the exporter's
    /// words.
    Internal(String),
    /// A recipient of the register, by id.
    Recipient(i64),
}

impl ForWhom {
    /// Parse the "for whom" answer (`for`): `internal`, with what for (`for_purpose`), or
    /// the id of one of the `active` recipients. A retired or unknown recipient is refused.
    pub fn parse(raw: &str, purpose: &str, active: &[Recipient]) -> Result<ForWhom, FieldErrors> {
        let raw = raw.trim();
        if raw == "internal" {
            return match plain_text(purpose, INTERNAL_PURPOSE_MAX, "What the export is for") {
                Ok(p) if p.is_empty() => Err(FieldErrors::one(
                    "for_purpose",
                    "Say what the export is for inside the organisation",
                )),
                Ok(p) => Ok(ForWhom::Internal(p)),
                Err(e) => Err(FieldErrors::one("for_purpose", e.0)),
            };
        }
        match raw.parse::<i64>() {
            Ok(id) if active.iter().any(|r| r.id == id && r.active) => Ok(ForWhom::Recipient(id)),
            _ => {
                let problem = if raw.is_empty() {
                    "Choose who the export is for"
                } else {
                    "That recipient is not an active one in the register"
                };
                Err(FieldErrors::from(
                    FieldError::new("for", problem).with_allowed(
                        "internal use (with what it is for) or an active recipient of the register \
                     of disclosures",
                    ),
                ))
            }
        }
    }

    pub fn recipient(&self) -> Option<i64> {
        match self {
            ForWhom::Internal(_) => None,
            ForWhom::Recipient(id) => Some(*id),
        }
    }

    /// The stated purpose of an internal export; empty for a recipient (theirs is in the
    /// register).
    pub fn internal_purpose(&self) -> &str {
        match self {
            ForWhom::Internal(p) => p,
            ForWhom::Recipient(_) => "",
        }
    }
}

/// The kinds of export, as disclosures record them.
pub mod kind {
    /// Everything held about one person, from their record.
    pub const PERSON: &str = "person";
    /// A form's responses.
    pub const FORM_RESPONSES: &str = "form-responses";
    /// A person's bundle, built for a request about their data.
    pub const REQUEST_BUNDLE: &str = "request-bundle";
    /// The audit log, which names staff and the people they acted on.
    pub const AUDIT_LOG: &str = "audit-log";
}

/// A kind of export in words, as the person reads it in their bundle.
pub fn kind_words(kind: &str) -> &'static str {
    match kind {
        kind::PERSON => "everything we hold about you, from your record",
        kind::FORM_RESPONSES => "your answers to one of our forms",
        kind::REQUEST_BUNDLE => "a copy of your data, as this bundle holds it",
        kind::AUDIT_LOG => "entries of our audit log that name you",
        _ => "an export of personal data",
    }
}

/// A disclosure to record: one export of personal data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDisclosure {
    pub for_whom: ForWhom,
    /// The account that exported; `None` for the command line.
    pub actor: Option<i64>,
    /// The export's kind (one of [`kind`]).
    pub kind: String,
    /// A short description (the filter, the form's name).
    pub description: String,
    /// The people the export covered.
    pub people: Vec<i64>,
    pub at: OffsetDateTime,
}

/// A recorded disclosure, as the register lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Disclosure {
    pub id: i64,
    /// `None` for internal use.
    pub recipient: Option<i64>,
    /// What an internal export was for; empty for a recipient.
    pub internal_purpose: String,
    /// `None` for the command line.
    pub actor: Option<i64>,
    pub kind: String,
    pub description: String,
    /// How many people it covered when made (kept when a person's link is erased).
    pub people_count: i64,
    pub at: OffsetDateTime,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_recipient_parses_with_each_basis() {
        for b in BASES {
            let d =
                RecipientDraft::parse("  County council ", "Delivering services", basis_code(b));
            assert_eq!(
                d,
                Ok(RecipientDraft {
                    name: "County council".into(),
                    purpose: "Delivering services".into(),
                    basis: b,
                })
            );
        }
    }

    #[test]
    fn every_wrong_field_is_named() {
        let errors = RecipientDraft::parse("", "a\u{7}b", "whim")
            .err()
            .unwrap_or_default();
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["name", "purpose", "basis"]);
        let long = "x".repeat(NAME_MAX + 1);
        let errors = RecipientDraft::parse(&long, "p", "consent")
            .err()
            .unwrap_or_default();
        assert_eq!(errors.len(), 1);
    }

    #[test]
    fn for_whom_accepts_only_internal_or_an_active_recipient() {
        let r = |id, active| Recipient {
            id,
            name: format!("r{id}"),
            purpose: "p".into(),
            basis: LawfulBasis::Consent,
            active,
        };
        let list = [r(1, true), r(2, false)];
        assert_eq!(
            ForWhom::parse("internal", " Checking the mailing list ", &list),
            Ok(ForWhom::Internal("Checking the mailing list".into()))
        );
        assert_eq!(
            ForWhom::parse("1", "ignored", &list),
            Ok(ForWhom::Recipient(1))
        );
        let field = |raw: &str, purpose: &str| -> Vec<String> {
            ForWhom::parse(raw, purpose, &list)
                .err()
                .unwrap_or_default()
                .iter()
                .map(|e| e.field.clone())
                .collect()
        };
        assert_eq!(field("2", ""), ["for"], "a retired recipient");
        assert_eq!(field("3", ""), ["for"], "an unknown one");
        assert_eq!(field("", ""), ["for"], "no answer");
        assert_eq!(
            field("internal", "  "),
            ["for_purpose"],
            "internal use says what for"
        );
        assert_eq!(field("internal", "a\u{7}b"), ["for_purpose"]);
        assert_eq!(
            field("internal", &"x".repeat(INTERNAL_PURPOSE_MAX + 1)),
            ["for_purpose"]
        );
    }
}
