//! `[requests]`: requests people make about their own data.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::fields::FieldErrors;
use crate::requests::Region;

/// The front door for requests about personal data and the statutory clock.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RequestSettings {
    pub enabled: bool,
    /// Whose bank holidays move a due date: `england-and-wales`, `scotland` or
    /// `northern-ireland`.
    pub bank_holidays: Region,
    /// A file of extra bank holidays (one-off days, or years past the built-in list), in the
    /// built-in list's form: a date, the parts of the UK, a name, separated by tabs.
    pub holidays_file: Option<PathBuf>,
    /// How long the link that confirms a request made without signing in works, in hours.
    pub confirm_link_hours: u32,
    /// Where answers to requests for a copy of one's data are written (each a ZIP, deleted
    /// once downloaded or expired). Default: a `bundles` folder beside the SQLite file, or in
    /// the working directory on PostgreSQL.
    pub bundle_dir: Option<PathBuf>,
    /// How long the link that downloads a released answer works, in hours (at most a week,
    /// since a bundle is deleted a week after it is built).
    pub answer_link_hours: u32,
}

impl Default for RequestSettings {
    fn default() -> Self {
        RequestSettings {
            enabled: true,
            bank_holidays: Region::EnglandAndWales,
            holidays_file: None,
            confirm_link_hours: 72,
            bundle_dir: None,
            answer_link_hours: 24 * 7,
        }
    }
}

impl RequestSettings {
    pub(super) fn check(&self) -> FieldErrors {
        let mut errors = FieldErrors::new();
        errors.check_range(
            "confirm_link_hours",
            self.confirm_link_hours,
            1,
            24 * 14,
            "",
        );
        errors.check_range("answer_link_hours", self.answer_link_hours, 1, 24 * 7, "");
        errors
    }
}
