//! The purposes registry: why personal data is used, on what lawful basis, and for how long.
//!
//! Each capability contributes the purposes it serves when it is switched on, so the privacy
//! notice lists exactly what the running server does.

use serde::Serialize;

use crate::config::Config;

/// The lawful bases of UK GDPR Article 6(1) that Candour's purposes rely on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum LawfulBasis {
    Consent,
    LegitimateInterests,
    PublicTask,
    LegalObligation,
}

impl LawfulBasis {
    pub fn label(self) -> &'static str {
        match self {
            LawfulBasis::Consent => "your consent",
            LawfulBasis::LegitimateInterests => "our legitimate interests",
            LawfulBasis::PublicTask => "a task carried out in the public interest",
            LawfulBasis::LegalObligation => "a legal obligation",
        }
    }
}

/// How long the data behind a purpose is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Retention {
    /// Used while the request is answered and not stored.
    NotStored,
    Days {
        days: u32,
    },
}

impl Retention {
    pub fn describe(self) -> String {
        match self {
            Retention::NotStored => "not stored".to_owned(),
            Retention::Days { days } if days % 365 == 0 => match days / 365 {
                1 => "1 year".to_owned(),
                n => format!("{n} years"),
            },
            Retention::Days { days } => format!("{days} days"),
        }
    }
}

/// One purpose.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Purpose {
    pub id: &'static str,
    pub name: String,
    pub description: String,
    /// What is used for it.
    pub data: String,
    pub lawful_basis: LawfulBasis,
    pub retention: Retention,
}

/// The purposes of the capabilities switched on in `config`, in a fixed order.
pub fn registry(config: &Config) -> Vec<Purpose> {
    vec![
        Purpose {
            id: "site-operation",
            name: "Running the website securely".to_owned(),
            description: "To send you the pages you ask for and to protect the site from misuse."
                .to_owned(),
            data: "The technical details your browser sends with each request (such as its \
                   address and type). They are used to answer the request and are not stored; \
                   logs record the page and the outcome, not who asked."
                .to_owned(),
            lawful_basis: LawfulBasis::PublicTask,
            retention: Retention::NotStored,
        },
        Purpose {
            id: "cookie-choices",
            name: "Remembering and proving your cookie choices".to_owned(),
            description: "To apply the choice you made about optional cookies, and to be able to \
                          show that we asked before using them."
                .to_owned(),
            data: "A random reference, the choice you made, how you made it, whether your \
                   browser sent a Global Privacy Control signal, the version of this policy and \
                   the time. Nothing that identifies you."
                .to_owned(),
            lawful_basis: LawfulBasis::LegalObligation,
            retention: Retention::Days {
                days: config.cookies.receipt_retention_days,
            },
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn receipt_retention_follows_configuration() {
        let mut c = Config::default();
        c.cookies.receipt_retention_days = 730;
        let p = registry(&c);
        let choices = p.iter().find(|p| p.id == "cookie-choices").unwrap();
        assert_eq!(choices.retention.describe(), "2 years");
        let ids: Vec<_> = p.iter().map(|p| p.id).collect();
        let mut unique = ids.clone();
        unique.dedup();
        assert_eq!(ids, unique);
    }
}
