//! `[polls]`.

use serde::{Deserialize, Serialize};

use crate::fields::FieldErrors;

/// Polls.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct PollSettings {
    pub enabled: bool,
    /// How long the `PollTimeout-<poll id>` cookie set on voting lasts, in hours.
    pub cookie_hours: u32,
    /// Counts below this (other than zero) are shown as "fewer than N" to the public.
    pub suppress_below: u64,
    /// In polls open to anyone, the most votes one internet address may cast in one poll in
    /// a day: enough for everyone behind a shared connection, too few to stuff the ballot.
    pub votes_per_address: u32,
}

impl Default for PollSettings {
    fn default() -> Self {
        PollSettings {
            enabled: true,
            cookie_hours: 24,
            suppress_below: 0,
            votes_per_address: 50,
        }
    }
}

impl PollSettings {
    pub(super) fn check(&self) -> FieldErrors {
        let mut errors = FieldErrors::new();
        errors.check_range("cookie_hours", self.cookie_hours, 1, 24 * 400, "");
        if self.votes_per_address == 0 {
            errors.add("votes_per_address", "must be at least 1");
        }
        errors
    }
}
