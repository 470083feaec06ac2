//! `[campaigns]`: email campaigns and their delivery queue.

use serde::{Deserialize, Serialize};

use crate::account::EmailAddress;
use crate::campaign::RetrySchedule;
use crate::fields::FieldErrors;

/// Email campaigns and their delivery queue.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct CampaignSettings {
    /// Whether campaigns (and the email-tracking purpose) are switched on.
    pub enabled: bool,
    /// Whether this instance runs the delivery worker. Every instance on one PostgreSQL
    /// database may; they share the queue without sending a message twice.
    pub worker: bool,
    /// Staff who may send campaigns besides administrators, by email address.
    #[serde(deserialize_with = "super::addresses")]
    pub approvers: Vec<EmailAddress>,
    /// Messages a worker claims at a time.
    pub batch_size: u32,
    /// SMTP connections used at once by one worker.
    pub concurrency: u32,
    /// The most messages sent per second by one worker; 0 for no limit.
    pub rate_per_second: u32,
    /// The wait before the first retry after a temporary failure, in seconds; it doubles
    /// with each further attempt.
    pub retry_first_seconds: u32,
    /// The longest wait between retries, in seconds.
    pub retry_max_seconds: u32,
    /// How long after it was queued a message that keeps failing temporarily is given up,
    /// in hours.
    pub give_up_hours: u32,
    /// How long a claimed message stays with its worker without a renewal, in seconds: the
    /// living worker renews its lease every third of this, so a stopped or killed worker's
    /// messages are taken over by another within about this long.
    pub lease_seconds: u32,
    /// How long one message's SMTP exchange may take, in seconds, before it is given up
    /// and tried again later.
    pub send_timeout_seconds: u32,
    /// How long per-recipient opens and clicks are kept before they are reduced to counts
    /// per campaign, in days.
    pub tracking_retention_days: u32,
    /// A mailbox that unsubscribes whoever writes to it, for `List-Unsubscribe`; written
    /// empty (`None`) for none.
    #[serde(with = "super::optional_address")]
    pub unsubscribe_mailto: Option<EmailAddress>,
}

impl Default for CampaignSettings {
    fn default() -> Self {
        CampaignSettings {
            enabled: true,
            worker: true,
            approvers: Vec::new(),
            batch_size: 200,
            concurrency: 4,
            rate_per_second: 0,
            retry_first_seconds: 300,
            retry_max_seconds: 4 * 3600,
            give_up_hours: 96,
            lease_seconds: 10,
            send_timeout_seconds: 30,
            tracking_retention_days: 90,
            unsubscribe_mailto: None,
        }
    }
}

impl CampaignSettings {
    /// How failed deliveries are retried.
    pub fn retry_schedule(&self) -> RetrySchedule {
        RetrySchedule {
            first_seconds: self.retry_first_seconds,
            max_seconds: self.retry_max_seconds,
            give_up_hours: self.give_up_hours,
        }
    }

    pub(super) fn check(&self) -> FieldErrors {
        let mut errors = FieldErrors::new();
        errors.check_range("batch_size", self.batch_size, 1, 5000, "");
        errors.check_range("concurrency", self.concurrency, 1, 64, "");
        errors.check_range(
            "retry_first_seconds",
            self.retry_first_seconds,
            1,
            86_400,
            "",
        );
        errors.check_range(
            "retry_max_seconds",
            self.retry_max_seconds,
            1,
            7 * 86_400,
            "",
        );
        errors.check_range("give_up_hours", self.give_up_hours, 1, 30 * 24, "");
        errors.check_range("lease_seconds", self.lease_seconds, 3, 3600, "");
        errors.check_range(
            "send_timeout_seconds",
            self.send_timeout_seconds,
            1,
            600,
            "",
        );
        errors.check_range(
            "tracking_retention_days",
            self.tracking_retention_days,
            1,
            3650,
            "",
        );
        errors
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::test_load as load;

    #[test]
    fn the_default_retry_schedule() {
        let s = CampaignSettings::default().retry_schedule();
        assert_eq!(
            (s.first_seconds, s.max_seconds, s.give_up_hours),
            (300, 4 * 3600, 96)
        );
    }

    #[test]
    fn campaign_settings_are_checked_key_by_key() {
        for (text, key) in [
            (
                "[campaigns]\napprovers = [\"not an address\"]\n",
                "campaigns.approvers[0]",
            ),
            ("[campaigns]\nconcurrency = 0\n", "campaigns.concurrency"),
            (
                "[campaigns]\nlease_seconds = 2\n",
                "campaigns.lease_seconds",
            ),
            (
                "[campaigns]\nsend_timeout_seconds = 0\n",
                "campaigns.send_timeout_seconds",
            ),
            (
                "[campaigns]\nunsubscribe_mailto = \"x\"\n",
                "campaigns.unsubscribe_mailto",
            ),
        ] {
            let err = load(text, &[]).unwrap_err().to_string();
            assert!(err.contains(key), "{text}: {err}");
        }
        let c = load("[campaigns]\napprovers = [\"Lead@Example.org\"]\n", &[]).unwrap();
        assert_eq!(c.campaigns.approvers.len(), 1);
        assert!(c.warnings().iter().any(|w| w.contains("campaign emails")));
    }
}
