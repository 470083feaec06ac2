//! Sending a campaign's messages: a claimed delivery and what became of it, the row and the
//! address news an outcome writes, when a failed message is tried again, and what a relay's
//! refusal says about the address.

use time::OffsetDateTime;

/// How failed deliveries are spaced out and when they are given up (`[campaigns]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetrySchedule {
    /// The wait before the first retry, in seconds; it doubles with each further attempt.
    pub first_seconds: u32,
    /// The longest wait between retries, in seconds.
    pub max_seconds: u32,
    /// How long after it was queued a message is given up, in hours.
    pub give_up_hours: u32,
}

/// When a message that failed for the `attempts`-th time (temporarily) is tried again, or
/// `None` when it was first queued so long ago that it is given up (as RFC 5321 §4.5.4.1
/// advises: retries spaced out, giving up after days).
pub fn retry_at(
    queued_at: OffsetDateTime,
    attempts: u32,
    now: OffsetDateTime,
    schedule: &RetrySchedule,
) -> Option<OffsetDateTime> {
    let first = u64::from(schedule.first_seconds);
    let max = u64::from(schedule.max_seconds);
    let shift = attempts.saturating_sub(1).min(30);
    let delay = first.saturating_mul(1u64 << shift).min(max);
    let at = now + time::Duration::seconds(i64::try_from(delay).unwrap_or(i64::MAX / 2));
    let give_up = queued_at + time::Duration::hours(i64::from(schedule.give_up_hours));
    (at <= give_up).then_some(at)
}

/// What a relay's permanent refusal of a recipient says about the address, which decides
/// whether the address goes on the suppression list (a careful sender's rule: suppress only
/// what is known to be dead, and never for the relay's policy).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// An enhanced status `5.1.x` about the destination address (not 5.1.7 or 5.1.8, which
    /// are about the sender): the address does not exist. Suppressed at once.
    BadAddress,
    /// A plain 550, 551 or 553 with no enhanced status ("mailbox unavailable"): it may be
    /// temporary or a misconfigured relay. Suppressed when the previous campaign that tried
    /// the address was refused the same way, so only after two campaigns in a row.
    Unavailable,
    /// An enhanced status `5.7.x`: refused by the relay's or recipient's policy (relaying
    /// denied, spam filter, authentication). Says nothing about the address; never
    /// suppresses.
    Policy,
    /// Anything else (other enhanced statuses, other reply codes): never suppresses.
    Other,
}

/// How many campaigns in a row must refuse an address with [`Refusal::Unavailable`] before
/// it is suppressed.
pub const UNAVAILABLE_CAMPAIGNS_TO_SUPPRESS: u32 = 2;

impl Refusal {
    /// Classify a permanent refusal from its reply `code` and the reply's text. The
    /// enhanced status (RFC 3463), when a relay sends one, is the first word of the text and
    /// is more precise than the basic code, so it decides; only without one does the basic
    /// code count.
    pub fn classify(code: u16, text: &str) -> Refusal {
        if !(500..600).contains(&code) {
            return Refusal::Other;
        }
        match enhanced_status(text) {
            Some((5, 1, detail)) if detail != 7 && detail != 8 => Refusal::BadAddress,
            Some((5, 7, _)) => Refusal::Policy,
            Some(_) => Refusal::Other,
            None if matches!(code, 550 | 551 | 553) => Refusal::Unavailable,
            None => Refusal::Other,
        }
    }
}

/// The enhanced status code (class, subject, detail) at the start of a reply's text, if it
/// has one (RFC 3463: class 2, 4 or 5; subject and detail of one to three digits).
fn enhanced_status(text: &str) -> Option<(u16, u16, u16)> {
    let word = text.split_whitespace().next()?;
    let mut parts = word.split('.');
    let mut number = |max_len: usize| -> Option<u16> {
        let p = parts.next()?;
        (!p.is_empty() && p.len() <= max_len && p.bytes().all(|b| b.is_ascii_digit()))
            .then(|| p.parse().ok())
            .flatten()
    };
    let class = number(1)?;
    let subject = number(3)?;
    let detail = number(3)?;
    (parts.next().is_none() && matches!(class, 2 | 4 | 5)).then_some((class, subject, detail))
}

/// A Message-ID that stays the same for a delivery across retries, so a receiving server
/// (and the report) can tell a repeat from a new message.
pub fn message_id(campaign: i64, delivery: i64, domain: &str) -> String {
    format!("<c{campaign}.d{delivery}@{domain}>")
}

/// What one call of `DeliveryStore::start_due_campaigns` did for a campaign.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Queued {
    pub campaign: i64,
    /// Messages queued by this call.
    pub queued: u64,
    /// The whole audience is now queued.
    pub complete: bool,
}

/// What a living worker does with the lease on messages it holds
/// (`DeliveryStore::renew_leases`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeaseChange {
    /// Keep them until then.
    Extend(OffsetDateTime),
    /// Keep them until then, and note that the worker is about to hand them to the relay:
    /// only a begun message, taken over from a worker that died, may have gone already.
    Begin(OffsetDateTime),
    /// Give them back unsent: queued again and due at once, the claim's attempt not counted.
    GiveBack,
}

/// One message claimed for sending, with what the send-time check needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub id: i64,
    pub campaign: i64,
    /// `None` once the person was erased.
    pub person: Option<i64>,
    pub email: Option<crate::account::EmailAddress>,
    pub name: String,
    /// Counting this one.
    pub attempts: u32,
    pub queued_at: OffsetDateTime,
    /// Taken over from a worker whose lease ran out: it may have been sent already.
    pub reclaimed: bool,
    /// The person's current consent to the campaign's purpose by email, from the ledger.
    pub marketing_consent: bool,
    /// Their current consent to email tracking.
    pub tracking_consent: bool,
    /// Their address is on the suppression list for email.
    pub suppressed: bool,
}

/// What became of a claimed message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryResult {
    /// The relay took it; a successful delivery to `to` clears the address's record of
    /// plain refusals (see [`Bounce::Unavailable`]).
    Sent {
        tracked: bool,
        to: crate::account::EmailAddress,
    },
    /// A temporary failure: try again at `at`.
    Retry { at: OffsetDateTime, error: String },
    /// A permanent failure; `bounce` is what the refusal says about the address.
    Failed {
        error: String,
        bounce: Option<Bounce>,
    },
    /// Not sent: consent withdrawn, address suppressed, person erased.
    Skipped { reason: String },
}

/// A refusal that puts, or may put, the address on the suppression list for email
/// (`campaign::Refusal` decides which).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Bounce {
    /// The address does not exist: suppressed at once.
    BadAddress(crate::account::EmailAddress),
    /// A plain "mailbox unavailable": the store remembers it under the address's one-way
    /// code, and suppresses the address when the last campaign before this one that was
    /// refused for it is a different campaign with no successful delivery since
    /// (`campaign::UNAVAILABLE_CAMPAIGNS_TO_SUPPRESS` campaigns in a row).
    Unavailable(crate::account::EmailAddress),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FinishedDelivery {
    pub id: i64,
    pub result: DeliveryResult,
    /// How many tries in this claim may have left a copy with the relay: the message's
    /// final `.` was sent and the answer was `250` or never came (RFC 1047). The store adds
    /// them up per message; two or more make it a possible duplicate.
    pub handed_over: u32,
}

/// Who a delivery went to, for unsubscribing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryRecipient {
    pub campaign: i64,
    pub person: Option<i64>,
    pub purpose: String,
    pub unsubscribed: bool,
}

/// How the row of a finished message is written, whatever the backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeliveryRow<'a> {
    /// `sent`, `queued` (to try again), `failed` or `skipped`.
    pub state: &'static str,
    /// When to try again; `None` keeps the time the row has.
    pub next_attempt_at: Option<OffsetDateTime>,
    /// The error or the reason, empty when sent.
    pub outcome: &'a str,
    pub tracked: bool,
    /// The refusal put the address on the suppression list at once.
    pub bounced: bool,
}

/// What a recorded outcome says about the address it went to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressNews<'a> {
    /// Delivered: the address's run of plain refusals is over.
    Delivered(&'a crate::account::EmailAddress),
    /// It does not exist: suppressed at once.
    BadAddress(&'a crate::account::EmailAddress),
    /// A plain refusal: counted once per campaign, suppressed after
    /// [`UNAVAILABLE_CAMPAIGNS_TO_SUPPRESS`] campaigns in a row ([`refusals_suppress`]).
    Unavailable(&'a crate::account::EmailAddress),
}

impl DeliveryResult {
    /// The row this outcome writes.
    pub fn row(&self) -> DeliveryRow<'_> {
        let row = |state, outcome| DeliveryRow {
            state,
            next_attempt_at: None,
            outcome,
            tracked: false,
            bounced: false,
        };
        match self {
            DeliveryResult::Sent { tracked, .. } => DeliveryRow {
                tracked: *tracked,
                ..row("sent", "")
            },
            DeliveryResult::Retry { at, error } => DeliveryRow {
                next_attempt_at: Some(*at),
                ..row("queued", error.as_str())
            },
            DeliveryResult::Failed { error, bounce } => DeliveryRow {
                bounced: matches!(bounce, Some(Bounce::BadAddress(_))),
                ..row("failed", error.as_str())
            },
            DeliveryResult::Skipped { reason } => row("skipped", reason.as_str()),
        }
    }

    /// What the outcome says about the address, for a store to act on once the outcome
    /// was recorded (an outcome reported too late to record says nothing).
    pub fn address_news(&self) -> Option<AddressNews<'_>> {
        match self {
            DeliveryResult::Sent { to, .. } => Some(AddressNews::Delivered(to)),
            DeliveryResult::Failed {
                bounce: Some(Bounce::BadAddress(email)),
                ..
            } => Some(AddressNews::BadAddress(email)),
            DeliveryResult::Failed {
                bounce: Some(Bounce::Unavailable(email)),
                ..
            } => Some(AddressNews::Unavailable(email)),
            _ => None,
        }
    }
}

/// Whether an address that this many campaigns in a row refused as plainly unavailable is
/// put on the suppression list.
pub fn refusals_suppress(campaigns_in_a_row: i64) -> bool {
    campaigns_in_a_row >= i64::from(UNAVAILABLE_CAMPAIGNS_TO_SUPPRESS)
}
