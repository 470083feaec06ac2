//! What staff do about a case once it is one: erase the person (or record why the law makes
//! the organisation keep the data), make the correction the person proposed (or say why
//! not), restrict the person's record, and stop direct marketing when the person objects.
//!
//! Each decision is read here from what staff or the person typed; the web room carries it
//! out through the stores and writes the outcome on the case.

use super::case::{Kind, NewRequest};
use super::field::CorrectionField;
use super::record::Case;
use crate::account::multi_line;
use crate::fields::{FieldError, FieldErrors};
use crate::purposes::Channel;

/// What the front door takes beyond the request itself: the part of the record a
/// correction names, and the channels an objection to direct marketing covers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Specifics {
    pub correction_field: Option<CorrectionField>,
    /// The correction's value as stored, when a field is named.
    pub correction: Option<String>,
    /// Empty unless the request objects to direct marketing.
    pub marketing: Vec<Channel>,
}

impl NewRequest {
    /// The request with what [`Specifics::parse`] read: a named field's value replaces the
    /// correction's words with their stored form.
    pub fn with(mut self, specifics: Specifics) -> NewRequest {
        if let (Some(field), Some(value)) = (specifics.correction_field, specifics.correction) {
            self.correction_field = Some(field);
            self.correction = Some(value);
        }
        self.marketing = specifics.marketing;
        self
    }
}

/// The choice on the form that means every channel.
pub const ALL_CHANNELS: &str = "all";

impl Specifics {
    /// Reads the correction's field (an empty code: something else, read by staff) with its
    /// value, and the marketing channels of an objection (`all`, or channel codes). Fields
    /// that do not concern `kind` are ignored.
    pub fn parse(
        kind: Option<Kind>,
        field: &str,
        correction: &str,
        channels: &[&str],
    ) -> Result<Specifics, FieldErrors> {
        let mut errors = FieldErrors::new();
        let mut out = Specifics::default();
        if kind == Some(Kind::Correction) {
            match field.trim() {
                "" => {}
                code => match CorrectionField::parse(code) {
                    None => errors.push(
                        FieldError::new("correction_field", "Choose what is wrong from the list")
                            .with_allowed(
                                CorrectionField::ALL.map(CorrectionField::code).join(", "),
                            ),
                    ),
                    Some(f) => match f.read(correction) {
                        Ok(v) => {
                            out.correction_field = Some(f);
                            out.correction = Some(v);
                        }
                        Err(e) => errors.add("correction", e),
                    },
                },
            }
        }
        if kind == Some(Kind::Objection) {
            match marketing_channels(channels) {
                Ok(c) => out.marketing = c,
                Err(e) => errors.push(e),
            }
        }
        if errors.is_empty() {
            Ok(out)
        } else {
            Err(errors)
        }
    }
}

/// The channels chosen: `all` means every one; unknown codes are refused.
pub fn marketing_channels(codes: &[&str]) -> Result<Vec<Channel>, FieldError> {
    if codes.contains(&ALL_CHANNELS) {
        return Ok(Channel::ALL.to_vec());
    }
    let mut out = Vec::new();
    for code in codes {
        match Channel::parse(code.trim()) {
            Some(c) if !out.contains(&c) => out.push(c),
            Some(_) => {}
            None => {
                return Err(
                    FieldError::new("marketing", "Choose channels from the list").with_allowed(
                        format!(
                            "{ALL_CHANNELS}, {}",
                            Channel::ALL.map(Channel::as_str).join(", ")
                        ),
                    ),
                );
            }
        }
    }
    // In the registry's order, whatever order they came in.
    out.sort_by_key(|c| Channel::ALL.iter().position(|a| a == c));
    Ok(out)
}

/// Channels as stored: codes separated by spaces.
pub fn channels_text(channels: &[Channel]) -> String {
    channels
        .iter()
        .map(|c| c.as_str())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Channels read back from [`channels_text`]; `None` for a code Candour never writes.
pub fn channels_from_text(text: &str) -> Option<Vec<Channel>> {
    text.split_whitespace().map(Channel::parse).collect()
}

const REASON_MAX: usize = 4000;

fn reason(raw: &str, field: &str, missing: &str) -> Result<String, FieldErrors> {
    match multi_line(raw, REASON_MAX, "The reason") {
        Ok(r) if r.is_empty() => Err(FieldErrors::one(field, missing)),
        Ok(r) => Ok(r),
        Err(e) => Err(FieldErrors::one(field, e.0)),
    }
}

/// What staff decide about an erasure request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErasureDecision {
    /// Erase the person through the data map.
    Erase,
    /// Keep the data because the law requires it (a legal duty to keep, a legal claim).
    Keep { reason: String },
}

impl ErasureDecision {
    /// `decision` is `erase` (then `confirm` must be `yes`) or `keep` (then a reason).
    pub fn parse(decision: &str, confirm: &str, why: &str) -> Result<ErasureDecision, FieldErrors> {
        match decision {
            "erase" if confirm == "yes" => Ok(ErasureDecision::Erase),
            "erase" => Err(FieldErrors::one(
                "confirm",
                "Tick the box to confirm the erasure: it cannot be undone",
            )),
            "keep" => Ok(ErasureDecision::Keep {
                reason: reason(
                    why,
                    "reason",
                    "Enter the legal reason the data must be kept (the person is told)",
                )?,
            }),
            _ => {
                let mut e = FieldErrors::new();
                e.push(
                    FieldError::new("decision", "Choose whether to erase or to keep the data")
                        .with_allowed("erase, keep"),
                );
                Err(e)
            }
        }
    }
}

/// What staff decide about a proposed correction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CorrectionDecision {
    Accept,
    Reject { reason: String },
}

impl CorrectionDecision {
    pub fn parse(decision: &str, why: &str) -> Result<CorrectionDecision, FieldErrors> {
        match decision {
            "accept" => Ok(CorrectionDecision::Accept),
            "reject" => Ok(CorrectionDecision::Reject {
                reason: reason(
                    why,
                    "reason",
                    "Enter why the record is not changed (the person is told)",
                )?,
            }),
            _ => {
                let mut e = FieldErrors::new();
                e.push(
                    FieldError::new("decision", "Choose whether to accept or reject it")
                        .with_allowed("accept, reject"),
                );
                Err(e)
            }
        }
    }
}

/// Whether staff may act on the case's record now: it must be open, about data Candour
/// holds, with identity not still awaited and a person to act on. The error is the reason,
/// for the page.
pub fn may_act(case: &Case) -> Result<i64, &'static str> {
    if !case.status.is_open() {
        return Err("The request is closed.");
    }
    if case.elsewhere {
        return Err(
            "The request is about records held elsewhere in the organisation: act on them there, and record what was done in a note.",
        );
    }
    if case
        .timeline
        .identity
        .as_ref()
        .is_some_and(|w| w.answered.is_none())
    {
        return Err("Identity has not been checked yet.");
    }
    case.person
        .ok_or("No record in Candour holds this address: there is nothing here to act on.")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specifics_concern_only_their_kind_and_name_their_field() {
        let s = Specifics::parse(Some(Kind::Correction), "postcode", "nm12ab", &[]).unwrap();
        assert_eq!(s.correction_field, Some(CorrectionField::Postcode));
        assert_eq!(s.correction.as_deref(), Some("NM1 2AB"));
        let e = Specifics::parse(Some(Kind::Correction), "postcode", "nowhere", &[]).unwrap_err();
        assert!(e.problem("correction").is_some());
        let e = Specifics::parse(Some(Kind::Correction), "shoe-size", "9", &[]).unwrap_err();
        assert!(e.first().unwrap().allowed.is_some());
        // Free words, for staff to read.
        let s = Specifics::parse(Some(Kind::Correction), "", "anything", &[]).unwrap();
        assert_eq!(s, Specifics::default());
        let s = Specifics::parse(Some(Kind::Objection), "", "", &["post", "email"]).unwrap();
        assert_eq!(s.marketing, [Channel::Email, Channel::Post]);
        let s = Specifics::parse(Some(Kind::Objection), "", "", &["all"]).unwrap();
        assert_eq!(s.marketing, Channel::ALL);
        assert!(Specifics::parse(Some(Kind::Objection), "", "", &["pigeon"]).is_err());
        // Not an objection: the boxes mean nothing.
        let s = Specifics::parse(Some(Kind::Access), "name", "x", &["all"]).unwrap();
        assert_eq!(s, Specifics::default());
        assert_eq!(
            channels_from_text(&channels_text(&Channel::ALL)).unwrap(),
            Channel::ALL
        );
        assert_eq!(channels_from_text("email pigeon"), None);
    }

    #[test]
    fn decisions_need_a_confirmation_or_a_reason() {
        assert_eq!(
            ErasureDecision::parse("erase", "yes", "").unwrap(),
            ErasureDecision::Erase
        );
        assert!(
            ErasureDecision::parse("erase", "", "")
                .unwrap_err()
                .problem("confirm")
                .is_some()
        );
        assert!(
            ErasureDecision::parse("keep", "", " ")
                .unwrap_err()
                .problem("reason")
                .is_some()
        );
        assert_eq!(
            ErasureDecision::parse("keep", "", "Tax records: six years").unwrap(),
            ErasureDecision::Keep {
                reason: "Tax records: six years".into()
            }
        );
        assert!(ErasureDecision::parse("shred", "yes", "").is_err());
        assert!(CorrectionDecision::parse("reject", "").is_err());
        assert_eq!(
            CorrectionDecision::parse("accept", "").unwrap(),
            CorrectionDecision::Accept
        );
    }
}

/// A fee recorded on a request the organisation judges manifestly unfounded or excessive
/// (UK GDPR Art 12(5)): the only fee the law allows, and only where the configuration
/// lets staff record one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fee {
    pub pence: u32,
    /// `true` for manifestly unfounded, `false` for manifestly excessive.
    pub unfounded: bool,
    pub reason: String,
}

/// The most a fee can be, in pence: a reasonable fee covers administrative costs.
pub const FEE_MAX_PENCE: u32 = 100_000;

impl Fee {
    /// `amount` in pounds ("10" or "12.50"), `ground` `unfounded` or `excessive`, and the
    /// reason, all required.
    pub fn parse(amount: &str, ground: &str, why: &str) -> Result<Fee, FieldErrors> {
        let mut errors = FieldErrors::new();
        let pence = parse_pounds(amount.trim().trim_start_matches('£'))
            .filter(|p| (1..=FEE_MAX_PENCE).contains(p));
        if pence.is_none() {
            errors.push(
                FieldError::new("amount", "is not an amount of money we can charge")
                    .with_allowed("pounds, such as 10 or 12.50, from 0.01 to 1000"),
            );
        }
        let unfounded = match ground {
            "unfounded" => Some(true),
            "excessive" => Some(false),
            _ => {
                errors.push(
                    FieldError::new(
                        "ground",
                        "Choose why a fee is allowed: only a manifestly unfounded or excessive request may be charged",
                    )
                    .with_allowed("unfounded, excessive"),
                );
                None
            }
        };
        let reason = match reason(
            why,
            "reason",
            "Enter why the request is manifestly unfounded or excessive",
        ) {
            Ok(r) => Some(r),
            Err(e) => {
                for f in e.iter() {
                    errors.push(f.clone());
                }
                None
            }
        };
        match (pence, unfounded, reason) {
            (Some(pence), Some(unfounded), Some(reason)) if errors.is_empty() => Ok(Fee {
                pence,
                unfounded,
                reason,
            }),
            _ => Err(errors),
        }
    }

    /// "£12.50 (manifestly excessive): the reason".
    pub fn describe(&self) -> String {
        format!("{}: {}", self.amount(), self.reason)
    }

    /// "£12.50 (manifestly excessive)": the fee and its ground, as the person is told it.
    pub fn amount(&self) -> String {
        format!(
            "£{}.{:02} (manifestly {})",
            self.pence / 100,
            self.pence % 100,
            if self.unfounded {
                "unfounded"
            } else {
                "excessive"
            }
        )
    }
}

/// Pounds with at most two decimals, as pence.
fn parse_pounds(s: &str) -> Option<u32> {
    let (whole, part) = s.split_once('.').unwrap_or((s, ""));
    if whole.is_empty()
        || part.len() > 2
        || !(whole.chars().chain(part.chars())).all(|c| c.is_ascii_digit())
    {
        return None;
    }
    let whole: u32 = whole.parse().ok()?;
    let part: u32 = match part.len() {
        0 => 0,
        1 => part.parse::<u32>().ok()? * 10,
        _ => part.parse().ok()?,
    };
    whole.checked_mul(100)?.checked_add(part)
}

#[cfg(test)]
mod fee_tests {
    use super::*;

    #[test]
    fn a_fee_needs_an_amount_a_lawful_ground_and_a_reason() {
        let f = Fee::parse("£12.5", "excessive", "Fifth copy this month").unwrap();
        assert_eq!(f.pence, 1250);
        assert_eq!(
            f.describe(),
            "£12.50 (manifestly excessive): Fifth copy this month"
        );
        let e = Fee::parse("lots", "because", " ").unwrap_err();
        let fields: Vec<&str> = e.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(fields, ["amount", "ground", "reason"]);
        for bad in ["0", "1000.01", "1.234", "-5", ".5", "1e3"] {
            assert!(Fee::parse(bad, "unfounded", "x").is_err(), "{bad}");
        }
        assert_eq!(Fee::parse("1000", "unfounded", "x").unwrap().pence, 100_000);
    }
}
