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
    /// Email privacy officers once a day about requests overdue or due within seven
    /// working days (nothing is sent when there are none).
    pub daily_digest: bool,
    /// The hour on UK clocks (0 to 23) from which the day's digest is sent.
    pub digest_hour: u32,
    /// Let staff record a reasonable fee on a request they judge manifestly unfounded or
    /// excessive (UK GDPR Art 12(5)). Off: requests are free, as they are by law.
    pub fee_for_manifestly_unfounded: bool,
    /// The largest file staff may add to the answer to a request, in MiB (1 to 50; a file
    /// is held in memory while it is stored and while the bundle is written).
    pub file_limit_mib: u32,
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
            daily_digest: true,
            digest_hour: 8,
            fee_for_manifestly_unfounded: false,
            file_limit_mib: 20,
        }
    }
}

impl RequestSettings {
    /// The largest added file, in bytes.
    pub fn file_limit_bytes(&self) -> usize {
        self.file_limit_mib as usize * 1024 * 1024
    }

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
        errors.check_range("digest_hour", self.digest_hour, 0, 23, "");
        errors.check_range("file_limit_mib", self.file_limit_mib, 1, 50, "MiB");
        errors
    }

    pub(super) fn warnings(&self, out: &mut Vec<String>) {
        if self.enabled && self.fee_for_manifestly_unfounded {
            out.push(
                "[requests] fee_for_manifestly_unfounded = true: staff may record a fee on a request. \
                 The law lets you charge only a reasonable fee, based on the administrative cost, for a \
                 request that is manifestly unfounded or excessive (or for further copies), and you must \
                 be able to show why; every other request is free (UK GDPR Art 12(5), Art 15(3))."
                    .to_owned(),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_fee_option_is_warned_about() {
        let mut out = Vec::new();
        RequestSettings::default().warnings(&mut out);
        assert!(out.is_empty(), "{out:?}");
        let fee = RequestSettings {
            fee_for_manifestly_unfounded: true,
            ..RequestSettings::default()
        };
        fee.warnings(&mut out);
        assert_eq!(out.len(), 1);
        assert!(
            out[0].contains("manifestly unfounded or excessive"),
            "{out:?}"
        );
        let off = RequestSettings {
            enabled: false,
            ..fee
        };
        let mut none = Vec::new();
        off.warnings(&mut none);
        assert!(none.is_empty());
        assert!(
            !RequestSettings {
                digest_hour: 24,
                ..RequestSettings::default()
            }
            .check()
            .is_empty()
        );
    }
}
