//! What staff write and the checks it must pass, and the stored campaign with the state it
//! is in.

use time::OffsetDateTime;

use super::compile::Compiled;
use crate::account::is_bidi_control;
use crate::fields::{FieldError, FieldErrors};

pub const SUBJECT_MAX: usize = 200;
pub const PREHEADER_MAX: usize = 200;
pub const BODY_MAX: usize = 100_000;
pub const NAME_MAX: usize = 200;

/// What staff write.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CampaignDraft {
    /// For staff only: how the campaign is listed.
    pub name: String,
    pub subject: String,
    /// The line mail programs show after the subject.
    pub preheader: String,
    /// Markdown.
    pub body: String,
    /// The direct-marketing purpose whose email consent the audience has.
    pub purpose: String,
    /// Topic ids: when not empty, only people interested in at least one of them.
    pub interests: Vec<String>,
    /// Postcode areas or districts ("NM", "NM1"): when not empty, only people in one of them.
    pub postcode_areas: Vec<String>,
    /// For a follow-up: only recipients of that campaign who consented to tracking and did
    /// not click within the days given.
    pub follow_up: Option<FollowUp>,
}

/// Which earlier campaign's non-clickers a follow-up goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FollowUp {
    pub campaign: i64,
    /// Days after each message was sent within which a click counts.
    pub days: u32,
}

pub const FOLLOW_UP_DAYS_MAX: u32 = 90;

/// A postcode area ("NM") or district ("NM1", "NM1A"), upper-case.
pub fn parse_postcode_area(raw: &str) -> Option<String> {
    let s = raw.trim().to_ascii_uppercase();
    let letters = s.chars().take_while(char::is_ascii_alphabetic).count();
    let rest = &s[letters..];
    let ok = (1..=2).contains(&letters)
        && rest.len() <= 2
        && rest.chars().all(|c| c.is_ascii_alphanumeric())
        && rest.chars().next().is_none_or(|c| c.is_ascii_digit());
    ok.then_some(s)
}

impl CampaignDraft {
    /// A digest of everything that decides what is sent and to whom, so an approver's
    /// decision can be tied to the version they read.
    pub fn fingerprint(&self) -> String {
        use sha2::Digest as _;
        let mut h = sha2::Sha256::new();
        for part in [
            self.subject.as_str(),
            self.preheader.as_str(),
            self.body.as_str(),
            self.purpose.as_str(),
            &self.interests.join(" "),
            &self.postcode_areas.join(" "),
            &self
                .follow_up
                .map(|f| format!("{}:{}", f.campaign, f.days))
                .unwrap_or_default(),
        ] {
            h.update(part.as_bytes());
            h.update([0]);
        }
        hex::encode(h.finalize())
    }

    /// Check every field; the errors name the field and say what is allowed.
    pub fn check(
        &self,
        marketing_purposes: &[&str],
        topics: &[&str],
    ) -> Result<Compiled, FieldErrors> {
        let mut errors = FieldErrors::new();
        let mut text_field = |field: &str, value: &str, max: usize, required: bool| {
            if required && value.trim().is_empty() {
                errors.push(FieldError::new(field, "is required".to_owned()));
            } else if value.chars().count() > max {
                errors.push(FieldError::new(
                    field,
                    format!("is too long: at most {max} characters"),
                ));
            } else if field == "body" {
                if !is_multi_line_text(value) {
                    errors.push(FieldError::new(
                        field,
                        "must be plain text: line breaks and tabs are allowed, other control \
                         characters and characters that reorder text are not"
                            .to_owned(),
                    ));
                }
            } else if value.chars().any(|c| c.is_control() || is_bidi_control(c)) {
                errors.push(FieldError::new(
                    field,
                    "must be one line of plain text, without control characters or \
                     characters that reorder text"
                        .to_owned(),
                ));
            }
        };
        text_field("name", &self.name, NAME_MAX, true);
        text_field("subject", &self.subject, SUBJECT_MAX, true);
        text_field("preheader", &self.preheader, PREHEADER_MAX, false);
        text_field("body", &self.body, BODY_MAX, true);
        if !marketing_purposes.contains(&self.purpose.as_str()) {
            errors.push(FieldError::new(
                "purpose",
                format!(
                    "must be one of the purposes that send direct marketing by email: {}",
                    if marketing_purposes.is_empty() {
                        "(none is configured)".to_owned()
                    } else {
                        marketing_purposes.join(", ")
                    }
                ),
            ));
        }
        for topic in &self.interests {
            if !topics.contains(&topic.as_str()) {
                errors.push(FieldError::new(
                    "interests",
                    "must be topics from the organisation's list".to_owned(),
                ));
                break;
            }
        }
        for area in &self.postcode_areas {
            if parse_postcode_area(area).as_deref() != Some(area.as_str()) {
                errors.push(FieldError::new(
                    "postcode_areas",
                    format!(
                        "has {area:?}, which is not a postcode area or district: use the first part of a postcode, such as NM or NM1"
                    ),
                ));
                break;
            }
        }
        if let Some(f) = self.follow_up
            && !(1..=FOLLOW_UP_DAYS_MAX).contains(&f.days)
        {
            errors.push(FieldError::new(
                "follow_up_days",
                format!("must be a whole number of days from 1 to {FOLLOW_UP_DAYS_MAX}"),
            ));
        }
        let compiled = Compiled::new(&self.subject, &self.preheader, &self.body);
        match compiled {
            Ok(c) if errors.is_empty() => Ok(c),
            Ok(_) => Err(errors),
            Err(more) => {
                // A field already reported (too long, empty) need not be reported twice.
                let more: Vec<FieldError> = more
                    .into_iter()
                    .filter(|e| errors.of(&e.field).next().is_none())
                    .collect();
                errors.extend(more);
                Err(errors)
            }
        }
    }
}

/// The rule every multi-line text field follows: line breaks (`\n` or `\r\n`) and tabs,
/// no other control character (a lone CR, NUL, ESC, vertical tab, form feed) and no
/// character that reorders text.
fn is_multi_line_text(value: &str) -> bool {
    let mut chars = value.chars().peekable();
    while let Some(c) = chars.next() {
        let allowed = match c {
            '\n' | '\t' => true,
            '\r' => chars.next_if_eq(&'\n').is_some(),
            c => !c.is_control() && !is_bidi_control(c),
        };
        if !allowed {
            return false;
        }
    }
    true
}

/// Whether a postcode filter of a draft is a district ("NM1": the part of a postcode before
/// its space) rather than an area ("NM": the letters it starts with).
pub fn is_postcode_district(filter: &str) -> bool {
    filter.chars().any(|c| c.is_ascii_digit())
}

/// Where a campaign is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CampaignState {
    /// Being written; it can be changed or deleted.
    Draft,
    /// Approved and waiting for its time; it can be taken back to a draft.
    Scheduled,
    /// Its messages are queued and going out.
    Sending,
    /// Every message was sent, failed or skipped.
    Sent,
}

impl CampaignState {
    pub fn as_str(self) -> &'static str {
        match self {
            CampaignState::Draft => "draft",
            CampaignState::Scheduled => "scheduled",
            CampaignState::Sending => "sending",
            CampaignState::Sent => "sent",
        }
    }

    pub fn parse(s: &str) -> Option<CampaignState> {
        [
            CampaignState::Draft,
            CampaignState::Scheduled,
            CampaignState::Sending,
            CampaignState::Sent,
        ]
        .into_iter()
        .find(|c| c.as_str() == s)
    }
}

/// A stored campaign.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Campaign {
    pub id: i64,
    pub draft: CampaignDraft,
    pub state: CampaignState,
    pub scheduled_at: Option<OffsetDateTime>,
    /// The addresses of its links, fixed when it is scheduled.
    pub links: Vec<String>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    pub started_at: Option<OffsetDateTime>,
    pub finished_at: Option<OffsetDateTime>,
    /// When its per-recipient opens and clicks were reduced to totals.
    pub reduced_at: Option<OffsetDateTime>,
}

impl CampaignState {
    /// Why a change that needs `self` cannot be made to `campaign` (`what` says what needs
    /// it), or `None` when it can.
    pub fn refusal(self, campaign: Option<&Campaign>, what: &str) -> Option<String> {
        match campaign {
            None => Some("there is no such campaign".to_owned()),
            Some(c) if c.state != self => {
                Some(format!("the campaign is {}: {what}", c.state.as_str()))
            }
            Some(_) => None,
        }
    }
}
