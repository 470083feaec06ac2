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
    /// Kept while the person keeps their account; deleting it deletes the data.
    WhileAccountExists,
    Days {
        days: u32,
    },
}

impl Retention {
    pub fn describe(self) -> String {
        match self {
            Retention::NotStored => "not stored".to_owned(),
            Retention::WhileAccountExists => {
                "until you delete your account (you can do that at any time)".to_owned()
            }
            Retention::Days { days } if days % 365 == 0 => match days / 365 {
                1 => "1 year".to_owned(),
                n => format!("{n} years"),
            },
            Retention::Days { days: 1 } => "1 day".to_owned(),
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

/// Ids of the purposes each profile field serves, for the profile page.
pub const ACCOUNT: &str = "account";
pub const PROFILE: &str = "profile";
pub const PERSONALISATION: &str = "personalisation";

/// How long the record of staff actions is kept.
pub const AUDIT_RETENTION_DAYS: u32 = 365 * 6;

/// The purposes of the capabilities switched on in `config`, in a fixed order.
pub fn registry(config: &Config) -> Vec<Purpose> {
    let mut purposes = vec![
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
        Purpose {
            id: ACCOUNT,
            name: "Your account".to_owned(),
            description: "To let you sign in, keep you signed in, and send you the emails your \
                          account needs (confirming your address, resetting your password)."
                .to_owned(),
            data: "Your email address, your password (stored only in a form that cannot be \
                   turned back into it), and a record of your current sign-ins."
                .to_owned(),
            lawful_basis: LawfulBasis::PublicTask,
            retention: Retention::WhileAccountExists,
        },
        Purpose {
            id: PROFILE,
            name: "Details you add to your profile".to_owned(),
            description: "To address you properly and to contact you in the way you choose about \
                          things you have asked us about."
                .to_owned(),
            data: "Your name, job title, telephone number, postal address and postcode, each \
                   only if you give it."
                .to_owned(),
            lawful_basis: LawfulBasis::Consent,
            retention: Retention::WhileAccountExists,
        },
        Purpose {
            id: "staff-accountability",
            name: "Keeping a record of what staff do".to_owned(),
            description: "To show who in our organisation did what with the site and with \
                          people's data, so misuse can be found and dealt with."
                .to_owned(),
            data: "The staff member's email address, the action, what it concerned and when."
                .to_owned(),
            lawful_basis: LawfulBasis::LegalObligation,
            retention: Retention::Days {
                days: AUDIT_RETENTION_DAYS,
            },
        },
    ];
    if config.polls.enabled {
        purposes.push(Purpose {
            id: "polls",
            name: "Counting votes in polls".to_owned(),
            description: "To count each person's vote once.".to_owned(),
            data: "Your vote. If you are signed in, that your account voted in the poll. If not, \
                   a one-way code made from your internet address and browser with a secret \
                   that is replaced every day; the code is deleted when its day is over and the \
                   address itself is never stored. The link between a vote and an account is \
                   removed when the account is deleted; the counts are kept."
                .to_owned(),
            lawful_basis: LawfulBasis::PublicTask,
            retention: Retention::Days { days: 1 },
        });
    }
    if !config.topics.is_empty() {
        purposes.push(Purpose {
            id: PERSONALISATION,
            name: "Showing you what interests you".to_owned(),
            description: "To list pages on the topics you choose at the top of the home page \
                          when you are signed in."
                .to_owned(),
            data: "The topics you choose on your profile.".to_owned(),
            lawful_basis: LawfulBasis::Consent,
            retention: Retention::WhileAccountExists,
        });
    }
    purposes
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
