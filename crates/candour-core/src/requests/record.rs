//! A request as it is stored: the case, its history, and what the front door hands the store.

use time::{Date, OffsetDateTime};

use super::case::{Kind, NewRequest, Status};
use super::deadline::Timeline;
use super::field::CorrectionField;
use crate::purposes::Channel;
use crate::session::SecretHash;

/// A request about personal data, with everything that moved its clock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Case {
    pub id: i64,
    pub kind: Kind,
    pub status: Status,
    pub name: String,
    /// The address the request names, as typed (checked when it was made).
    pub email: String,
    pub details: String,
    pub correction: Option<String>,
    /// The part of the record a correction names (its value is `correction`), when the
    /// person chose one.
    pub correction_field: Option<CorrectionField>,
    /// The channels an objection to direct marketing covers; empty for any other request.
    pub marketing: Vec<Channel>,
    /// About records held elsewhere in the organisation, not in Candour.
    pub elsewhere: bool,
    /// The person the request is from: the signed-in account's person, or the person
    /// record with the confirmed address when there is one.
    pub person: Option<i64>,
    pub submitted_at: OffsetDateTime,
    /// When the request became a case: made while signed in, or the address confirmed it.
    /// `None` while the emailed link waits; [`Timeline::received`] is its UK date.
    pub confirmed_at: Option<OffsetDateTime>,
    pub timeline: Timeline,
    pub identity_how: Option<String>,
    pub extension_reasons: Option<String>,
    pub refusal_reasons: Option<String>,
    /// The member of staff it is assigned to.
    pub assigned_to: Option<i64>,
    /// When it was answered or refused.
    pub closed_at: Option<OffsetDateTime>,
}

/// A new request for the store.
#[derive(Debug, Clone)]
pub struct NewCase {
    pub request: NewRequest,
    /// The person it is from, when known at once (made while signed in).
    pub person: Option<i64>,
    pub at: OffsetDateTime,
    /// How the request becomes a case.
    pub confirmation: Confirmation,
}

/// How a new request is confirmed.
#[derive(Debug, Clone)]
pub enum Confirmation {
    /// Made while signed in with a confirmed address: a case at once, received on this UK
    /// date.
    Verified { received_on: Date },
    /// The address must confirm through a single-use link with this hash, until `expires`.
    ByLink {
        hash: SecretHash,
        expires: OffsetDateTime,
    },
}

/// One line of a case's history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseEvent {
    pub at: OffsetDateTime,
    /// The member of staff, or `None` for the person or the system.
    pub actor: Option<i64>,
    /// What happened: a change's code, `submitted`, `confirmed`, `assigned`, `note`.
    pub action: String,
    pub detail: String,
}
