//! A campaign's figures: its messages by state, opens and clicks, and what one person was
//! sent.

use time::OffsetDateTime;

/// Counts of a campaign's messages by state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct Progress {
    pub queued: u64,
    pub sending: u64,
    pub sent: u64,
    pub failed: u64,
    pub skipped: u64,
    /// Messages that may have gone twice: taken over from a worker that stopped mid-send, or
    /// sent again after a try whose final `.` reached the relay with no answer.
    pub possible_duplicates: u64,
    /// Sent in the last minute.
    pub sent_last_minute: u64,
    /// Sent to recipients who consented to tracking.
    pub tracked: u64,
    /// Failed messages whose refusal put the address on the suppression list.
    pub bounced: u64,
    pub unsubscribed: u64,
}

impl Progress {
    pub fn total(&self) -> u64 {
        self.queued + self.sending + self.sent + self.failed + self.skipped
    }

    pub fn remaining(&self) -> u64 {
        self.queued + self.sending
    }
}

/// An open or a click, as the hot path records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrackingEvent {
    pub delivery: i64,
    pub campaign: i64,
    pub click: bool,
    /// The link's index, for clicks.
    pub link: u16,
    pub at: OffsetDateTime,
    /// A machine open or a bot click: counted in the raw figures only.
    pub machine: bool,
}

/// Opens or clicks: all of them, the reliable ones, and how many recipients made them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct Engagement {
    pub events: u64,
    pub reliable_events: u64,
    pub recipients: u64,
    pub reliable_recipients: u64,
}

/// A campaign's figures.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize)]
pub struct CampaignReport {
    pub progress: Progress,
    pub opens: Engagement,
    pub clicks: Engagement,
    /// Per link, in the order of `Campaign::links`.
    pub links: Vec<Engagement>,
    /// Reliable opens and clicks per hour since sending began: (hour start, opens, clicks).
    pub hourly: Vec<(OffsetDateTime, u64, u64)>,
}

/// One message a person was sent, for their record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonDelivery {
    pub campaign: i64,
    pub campaign_name: String,
    pub subject: String,
    pub state: String,
    pub sent_at: Option<OffsetDateTime>,
    pub tracked: bool,
    /// Their opens and clicks (link index), only when tracked: (at, click, link, machine).
    pub events: Vec<(OffsetDateTime, bool, u16, bool)>,
}

impl std::ops::AddAssign for Engagement {
    fn add_assign(&mut self, b: Engagement) {
        self.events += b.events;
        self.reliable_events += b.reliable_events;
        self.recipients += b.recipients;
        self.reliable_recipients += b.reliable_recipients;
    }
}
