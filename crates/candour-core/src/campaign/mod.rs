//! Email campaigns: what staff write, how it becomes one message per recipient, the signed
//! tokens in tracking and unsubscribe links, and when a failed delivery is tried again.
//!
//! Campaign text is data, not code: Markdown with a fixed set of placeholders, nothing else.
//! The Markdown is rendered once per campaign; each recipient's message only fills the
//! placeholders in, escaping each value for the part it goes into, so nothing a person typed
//! (their name, say) is ever read as Markdown, HTML or a placeholder.
//!
//! Its files: `draft` (what staff write, its checks, the stored campaign and its state),
//! `template` (placeholders and filling them in), `compile` (the Markdown rendered once),
//! `tokens` (signed links), `bots` (machine opens and bot clicks), `delivery` (the queue's
//! types, retries and refusals) and `report` (the figures). Everything is named from here,
//! as `campaign::X`.

mod bots;
mod compile;
mod delivery;
mod draft;
mod report;
mod template;
mod tokens;

pub use bots::{
    BOT_CLICK_SECONDS, ClickRequest, MACHINE_OPEN_SECONDS, is_bot_click, is_machine_open,
};
pub use compile::{Compiled, LINKS_MAX, Message};
pub use delivery::{
    AddressNews, Bounce, Delivery, DeliveryRecipient, DeliveryResult, DeliveryRow,
    FinishedDelivery, LeaseChange, Queued, Refusal, RetrySchedule,
    UNAVAILABLE_CAMPAIGNS_TO_SUPPRESS, message_id, refusals_suppress, retry_at,
};
pub use draft::{
    BODY_MAX, Campaign, CampaignDraft, CampaignState, FOLLOW_UP_DAYS_MAX, FollowUp, NAME_MAX,
    PREHEADER_MAX, SUBJECT_MAX, is_postcode_district, parse_postcode_area,
};
pub use report::{CampaignReport, Engagement, PersonDelivery, Progress, TrackingEvent};
pub use template::{Placeholder, Recipient, escape_html};
pub use tokens::{Token, TokenKind, earlier_links};

/// The purpose recipients consent to before their opens and clicks are recorded one by one.
pub const TRACKING_PURPOSE: &str = crate::purposes::EMAIL_TRACKING;

#[cfg(test)]
mod tests;
