//! The purposes registry: why personal data is used, on what lawful basis, and for how long.
//!
//! Each capability contributes the purposes it serves when it is switched on, so the privacy
//! notice lists exactly what the running server does.

use serde::{Deserialize, Serialize};

/// The lawful bases of UK GDPR Article 6(1) that Candour's purposes rely on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
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

/// A way of contacting someone, for purposes that contact people.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Channel {
    Email,
    Phone,
    Post,
    Fax,
}

impl Channel {
    pub const ALL: [Channel; 4] = [Channel::Email, Channel::Phone, Channel::Post, Channel::Fax];

    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Email => "email",
            Channel::Phone => "phone",
            Channel::Post => "post",
            Channel::Fax => "fax",
        }
    }

    /// How the channel reads after "by", as in "by email".
    pub fn label(self) -> &'static str {
        match self {
            Channel::Email => "email",
            Channel::Phone => "telephone",
            Channel::Post => "post",
            Channel::Fax => "fax",
        }
    }

    pub fn parse(s: &str) -> Option<Channel> {
        Channel::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

/// How the data behind a purpose is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Retention {
    /// Used while the request is answered and not stored.
    NotStored,
    /// Kept while the person keeps their account; deleting it deletes the data.
    WhileAccountExists,
    /// Kept until the person asks for their data to be erased.
    UntilErased,
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
            Retention::UntilErased => {
                "until you ask us to erase your details; an objection to direct marketing is \
                 kept after that as a one-way code, so that it is still honoured"
                    .to_owned()
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
    pub id: String,
    pub name: String,
    pub description: String,
    /// What is used for it.
    pub data: String,
    pub lawful_basis: LawfulBasis,
    pub retention: Retention,
    /// How people are contacted for it; empty when it contacts nobody.
    pub channels: Vec<Channel>,
    /// Direct marketing: an objection to it on a channel is absolute (the suppression list).
    pub direct_marketing: bool,
    /// What a person agrees to, in the first person, for the consent box on forms and the
    /// preference centre (such as "Send me news about events near me"). Empty unless the
    /// lawful basis is consent.
    pub consent_label: String,
}

impl Purpose {
    /// A purpose that contacts nobody and is not asked for on forms.
    fn internal(
        id: &str,
        name: &str,
        description: &str,
        data: &str,
        lawful_basis: LawfulBasis,
        retention: Retention,
    ) -> Purpose {
        Purpose {
            id: id.to_owned(),
            name: name.to_owned(),
            description: description.to_owned(),
            data: data.to_owned(),
            lawful_basis,
            retention,
            channels: Vec::new(),
            direct_marketing: false,
            consent_label: String::new(),
        }
    }

    /// Whether people can give and withdraw consent to it in the preference centre.
    pub fn is_consented(&self) -> bool {
        self.lawful_basis == LawfulBasis::Consent && !self.consent_label.is_empty()
    }

    /// The channels consent is asked per; a purpose without channels has one consent
    /// (`None`).
    pub fn consent_channels(&self) -> Vec<Option<Channel>> {
        if self.channels.is_empty() {
            vec![None]
        } else {
            self.channels.iter().copied().map(Some).collect()
        }
    }
}

/// Ids of the purposes each profile field serves, for the profile page.
pub const ACCOUNT: &str = "account";
pub const PROFILE: &str = "profile";
pub const PERSONALISATION: &str = "personalisation";

pub const CONSENT_RECORDS: &str = "consent-records";

/// Built-in purposes that concern the running of the site, not what a form's answers are
/// used for; the form builder does not offer them.
const NOT_FOR_FORMS: [&str; 7] = [
    "site-operation",
    "cookie-choices",
    ACCOUNT,
    PROFILE,
    "staff-accountability",
    CONSENT_RECORDS,
    "polls",
];

impl Purpose {
    /// Whether a form's answers can be used for this purpose: the organisation's own, and
    /// the built-in ones a person can agree to on a form (such as the tracking of emails).
    pub fn offered_on_forms(&self) -> bool {
        !NOT_FOR_FORMS.contains(&self.id.as_str())
    }
}

/// How long the record of staff actions is kept.
pub const AUDIT_RETENTION_DAYS: u32 = 365 * 6;

/// The purpose of recording opens and clicks in campaign emails.
pub const EMAIL_TRACKING: &str = "email-tracking";

/// One of the organisation's purposes (`[[purposes]]`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PurposeConfig {
    /// A short id: lower-case letters, digits and hyphens.
    pub id: String,
    pub name: String,
    pub description: String,
    /// What personal data it uses.
    pub data: String,
    pub lawful_basis: LawfulBasis,
    pub retention_days: u32,
    #[serde(default)]
    pub channels: Vec<Channel>,
    #[serde(default)]
    pub direct_marketing: bool,
    /// The words of the consent box, in the first person ("Send me …"). Required when the
    /// lawful basis is consent.
    #[serde(default)]
    pub consent_label: String,
}

/// What the registry depends on: the capabilities switched on, how long their records are
/// kept, and the organisation's own purposes. A `&Config` converts into the capabilities it
/// switches on.
#[derive(Debug, Clone, Copy)]
pub struct Capabilities<'a> {
    pub receipt_retention_days: u32,
    pub polls: bool,
    /// How long per-recipient opens and clicks are kept; `None` when campaigns are off.
    pub tracking_retention_days: Option<u32>,
    /// Whether there are topics people can follow.
    pub topics: bool,
    pub own: &'a [PurposeConfig],
}

/// The purposes of the capabilities switched on, then the organisation's own
/// (`[[purposes]]`), in a fixed order.
pub fn registry<'a>(on: impl Into<Capabilities<'a>>) -> Vec<Purpose> {
    let on = on.into();
    let mut purposes = vec![
        Purpose::internal(
            "site-operation",
            "Running the website securely",
            "To send you the pages you ask for and to protect the site from misuse.",
            "The technical details your browser sends with each request (such as its address \
             and type). They are used to answer the request and are not stored; logs record the \
             page and the outcome, not who asked.",
            LawfulBasis::PublicTask,
            Retention::NotStored,
        ),
        Purpose::internal(
            "cookie-choices",
            "Remembering and proving your cookie choices",
            "To apply the choice you made about optional cookies, and to be able to show that we \
             asked before using them.",
            "A random reference, the choice you made, how you made it, whether your browser sent \
             a Global Privacy Control signal, the version of this policy and the time. Nothing \
             that identifies you.",
            LawfulBasis::LegalObligation,
            Retention::Days {
                days: on.receipt_retention_days,
            },
        ),
        Purpose::internal(
            ACCOUNT,
            "Your account",
            "To let you sign in, keep you signed in, and send you the emails your account needs \
             (confirming your address, resetting your password).",
            "Your email address, your password (stored only in a form that cannot be turned back \
             into it), and a record of your current sign-ins.",
            LawfulBasis::PublicTask,
            Retention::WhileAccountExists,
        ),
        Purpose::internal(
            PROFILE,
            "Details you add to your profile",
            "To address you properly and to contact you in the way you choose about things you \
             have asked us about.",
            "Your name, job title, telephone number, postal address and postcode, each only if \
             you give it.",
            LawfulBasis::Consent,
            Retention::WhileAccountExists,
        ),
        Purpose::internal(
            "staff-accountability",
            "Keeping a record of what staff do",
            "To show who in our organisation did what with the site and with people's data, so \
             misuse can be found and dealt with.",
            "The staff member's email address, the action, what it concerned and when.",
            LawfulBasis::LegalObligation,
            Retention::Days {
                days: AUDIT_RETENTION_DAYS,
            },
        ),
        Purpose::internal(
            CONSENT_RECORDS,
            "Keeping a record of what you agreed to",
            "To contact you only in the ways you agreed to, to stop at once when you object, and \
             to be able to show when and how you agreed.",
            "Each time you gave or withdrew consent: which purpose and channel, when, how (the \
             form and the exact words you saw, the preference centre, an unsubscribe link, or a \
             letter or call recorded by staff), and the addresses that have objected to direct \
             marketing (kept as a one-way code, so that an objection outlasts the rest of your \
             data).",
            LawfulBasis::LegalObligation,
            Retention::UntilErased,
        ),
    ];
    if on.polls {
        purposes.push(Purpose::internal(
            "polls",
            "Counting votes in polls",
            "To count each person's vote once.",
            "Your vote. If you are signed in, that your account voted in the poll. If not, a \
             cookie in your browser that says you voted, and a one-way code made from your \
             internet address, your browser and the half-minute, with a secret that is replaced every \
             day (so that pressing the button twice in quick succession counts once); the code is deleted when its \
             day is over. How many votes came from each internet address that day is counted, as \
             a one-way code held only in the server's memory, to stop one computer filling a \
             poll. The address itself is never stored. The link between a vote and an account is \
             removed when the account is deleted; the counts are kept.",
            LawfulBasis::PublicTask,
            Retention::Days { days: 1 },
        ));
    }
    if let Some(tracking_days) = on.tracking_retention_days {
        purposes.push(Purpose {
            consent_label: "Record when I open your emails and which links in them I click"
                .to_owned(),
            ..Purpose::internal(
                EMAIL_TRACKING,
                "Knowing which of our emails are read",
                "To learn which of our emails you open and which links in them you click, so we \
                 can tell what interests people, and send a reminder to those who did not follow \
                 up an email. Without your consent, your emails carry no tracking image and \
                 their links go straight to where they point; we then count only how many emails \
                 were delivered, in total, and you get no reminders based on what you clicked.",
                "For each email we send you: when it was opened, which links were clicked and \
                 when. After the retention period, or as soon as you withdraw your consent, \
                 these are reduced to totals per email that name nobody.",
                LawfulBasis::Consent,
                Retention::Days {
                    days: tracking_days,
                },
            )
        });
    }
    if on.topics {
        purposes.push(Purpose::internal(
            PERSONALISATION,
            "Showing you what interests you",
            "To list pages on the topics you choose at the top of the home page when you are \
             signed in.",
            "The topics you choose on your profile or in the preference centre.",
            LawfulBasis::Consent,
            Retention::WhileAccountExists,
        ));
    }
    for p in on.own {
        purposes.push(Purpose {
            id: p.id.clone(),
            name: p.name.clone(),
            description: p.description.clone(),
            data: p.data.clone(),
            lawful_basis: p.lawful_basis,
            retention: Retention::Days {
                days: p.retention_days,
            },
            channels: p.channels.clone(),
            direct_marketing: p.direct_marketing,
            consent_label: p.consent_label.clone(),
        });
    }
    purposes
}

/// The channels direct marketing uses, each once: those a person can object to.
pub fn marketing_channels(purposes: &[Purpose]) -> Vec<Channel> {
    let mut channels: Vec<Channel> = purposes
        .iter()
        .filter(|p| p.direct_marketing)
        .flat_map(|p| p.channels.iter().copied())
        .collect();
    channels.sort();
    channels.dedup();
    channels
}

/// How long the record of a person without an account is kept after they were last in
/// touch: the longest retention of the organisation's purposes (two years when it has none).
pub fn people_retention_days<'a>(on: impl Into<Capabilities<'a>>) -> u32 {
    on.into()
        .own
        .iter()
        .map(|p| p.retention_days)
        .max()
        .unwrap_or(730)
}

/// Ids the built-in purposes use, which `[[purposes]]` may not reuse.
pub const BUILT_IN_IDS: &[&str] = &[
    "site-operation",
    "cookie-choices",
    ACCOUNT,
    PROFILE,
    "staff-accountability",
    CONSENT_RECORDS,
    "polls",
    PERSONALISATION,
    EMAIL_TRACKING,
];
