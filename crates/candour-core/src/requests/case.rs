//! A request about personal data as a case: what was asked for, where it stands, and which
//! moves between states the law and the privacy officer's work allow.

use time::Date;

use super::deadline::{Extension, ExtensionRefused, Timeline, Wait};
use super::field::CorrectionField;
use super::holidays::BankHolidays;
use crate::account::{EmailAddress, multi_line, plain_text};
use crate::fields::{FieldError, FieldErrors};
use crate::purposes::Channel;

/// What the person asks for, by the right it uses (UK GDPR article).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Access,
    Correction,
    Erasure,
    Restriction,
    Portability,
    Objection,
    Other,
}

impl Kind {
    pub const ALL: [Kind; 7] = [
        Kind::Access,
        Kind::Correction,
        Kind::Erasure,
        Kind::Restriction,
        Kind::Portability,
        Kind::Objection,
        Kind::Other,
    ];

    /// The stored and submitted code.
    pub fn code(self) -> &'static str {
        match self {
            Kind::Access => "access",
            Kind::Correction => "correction",
            Kind::Erasure => "erasure",
            Kind::Restriction => "restriction",
            Kind::Portability => "portability",
            Kind::Objection => "objection",
            Kind::Other => "other",
        }
    }

    pub fn parse(code: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.code() == code)
    }

    /// The article of the UK GDPR that gives the right.
    pub fn article(self) -> Option<u8> {
        match self {
            Kind::Access => Some(15),
            Kind::Correction => Some(16),
            Kind::Erasure => Some(17),
            Kind::Restriction => Some(18),
            Kind::Portability => Some(20),
            Kind::Objection => Some(21),
            Kind::Other => None,
        }
    }

    /// The choice as a person reads it.
    pub fn label(self) -> &'static str {
        match self {
            Kind::Access => "A copy of the data you hold about me",
            Kind::Correction => "Correct data about me that is wrong or incomplete",
            Kind::Erasure => "Delete data about me",
            Kind::Restriction => "Stop using data about me for now, but keep it",
            Kind::Portability => "My data in a form I can take to another organisation",
            Kind::Objection => "Object to how you use data about me",
            Kind::Other => "Something else",
        }
    }
}

/// Where a case stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    Received,
    AwaitingIdentity,
    AwaitingClarification,
    InProgress,
    Extended,
    Answered,
    Refused,
}

impl Status {
    pub const ALL: [Status; 7] = [
        Status::Received,
        Status::AwaitingIdentity,
        Status::AwaitingClarification,
        Status::InProgress,
        Status::Extended,
        Status::Answered,
        Status::Refused,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Status::Received => "received",
            Status::AwaitingIdentity => "awaiting-identity",
            Status::AwaitingClarification => "awaiting-clarification",
            Status::InProgress => "in-progress",
            Status::Extended => "extended",
            Status::Answered => "answered",
            Status::Refused => "refused",
        }
    }

    pub fn parse(code: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|s| s.code() == code)
    }

    pub fn label(self) -> &'static str {
        match self {
            Status::Received => "Received",
            Status::AwaitingIdentity => "Waiting for proof of identity",
            Status::AwaitingClarification => "Waiting for more information",
            Status::InProgress => "In progress",
            Status::Extended => "Extended",
            Status::Answered => "Answered",
            Status::Refused => "Refused",
        }
    }

    /// Whether the case still needs an answer.
    pub fn is_open(self) -> bool {
        !matches!(self, Status::Answered | Status::Refused)
    }
}

/// A change staff ask for on a case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Ask the person for proof of identity (the month starts again when it arrives).
    AskForIdentity,
    /// Proof of identity arrived, or identity was checked another way (`how` says which).
    IdentityVerified {
        how: String,
    },
    /// Ask the person to clarify what they want (the clock stands until they answer).
    AskForClarification {
        question: String,
    },
    /// The clarification arrived.
    Clarified,
    /// Work on it.
    Start,
    /// More time, for a complex request or many requests.
    Extend {
        months: u8,
        reasons: String,
    },
    Answer,
    /// Refuse, with the reasons the person is given (and the right to complain to the ICO).
    Refuse {
        reasons: String,
    },
}

/// What a change writes: the new status, the clock's record, the words kept on the case,
/// and the event for the case's history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Planned {
    pub status: Status,
    pub timeline: Timeline,
    /// How identity was checked, once it was.
    pub identity_how: Option<String>,
    /// Why the time was extended (the person is told).
    pub extension_reasons: Option<String>,
    /// Why the request was refused (the person is told).
    pub refusal_reasons: Option<String>,
    /// The event's code (`request.<action>` in the audit log) and its words.
    pub action: &'static str,
    pub detail: String,
}

impl Change {
    /// The code of the change, as the history and the audit log name it.
    pub fn action(&self) -> &'static str {
        match self {
            Change::AskForIdentity => "identity-asked",
            Change::IdentityVerified { .. } => "identity-verified",
            Change::AskForClarification { .. } => "clarification-asked",
            Change::Clarified => "clarified",
            Change::Start => "started",
            Change::Extend { .. } => "extended",
            Change::Answer => "answered",
            Change::Refuse { .. } => "refused",
        }
    }
}

const REASONS_MAX: usize = 4000;

/// Checks `change` against the case's `status` and clock, as of `today` (a UK date), and
/// returns what to write. Errors name the field (`change`, `months`, `reasons`, `how`,
/// `question`) and what is allowed.
pub fn plan(
    status: Status,
    timeline: &Timeline,
    change: &Change,
    today: Date,
    holidays: &BankHolidays,
) -> Result<Planned, FieldErrors> {
    let refuse = |why: &str| {
        Err(FieldErrors::one(
            "change",
            format!(
                "cannot be made to a request that is {}: {why}",
                status.label().to_lowercase()
            ),
        ))
    };
    if !status.is_open() {
        return refuse("it is closed");
    }
    let mut timeline = timeline.clone();
    let mut identity_how = None;
    let mut extension_reasons = None;
    let mut refusal_reasons = None;
    let mut detail = String::new();
    let open_clarification = timeline.clarifications.iter().any(|w| w.answered.is_none());
    let identity_open = matches!(timeline.identity, Some(Wait { answered: None, .. }));
    let next = match change {
        Change::AskForIdentity => {
            if timeline.identity.is_some() {
                return refuse("identity was already asked for or checked");
            }
            timeline.identity = Some(Wait {
                asked: today,
                answered: None,
            });
            Status::AwaitingIdentity
        }
        Change::IdentityVerified { how } => {
            let how = plain_text(how, 500, "How identity was checked")
                .map_err(|e| FieldErrors::one("how", e.0))?;
            if how.is_empty() {
                return Err(FieldErrors::one("how", "Say how identity was checked"));
            }
            detail.clone_from(&how);
            identity_how = Some(how);
            match timeline.identity {
                // Proof arrived after it was asked for: the month starts today.
                Some(Wait {
                    asked,
                    answered: None,
                }) => {
                    timeline.identity = Some(Wait {
                        asked,
                        answered: Some(today),
                    })
                }
                Some(_) => return refuse("identity was already checked"),
                // Checked without asking (seen in person, say): the clock is unchanged.
                None => {}
            }
            if open_clarification {
                Status::AwaitingClarification
            } else {
                Status::InProgress
            }
        }
        Change::AskForClarification { question } => {
            let question = multi_line(question, REASONS_MAX, "The question")
                .map_err(|e| FieldErrors::one("question", e.0))?;
            if question.is_empty() {
                return Err(FieldErrors::one("question", "Enter what you need to know"));
            }
            if open_clarification {
                return refuse("a clarification is already awaited");
            }
            detail = question;
            timeline.clarifications.push(Wait {
                asked: today,
                answered: None,
            });
            Status::AwaitingClarification
        }
        Change::Clarified => {
            let Some(open) = timeline
                .clarifications
                .iter_mut()
                .find(|w| w.answered.is_none())
            else {
                return refuse("no clarification is awaited");
            };
            open.answered = Some(today);
            if identity_open {
                Status::AwaitingIdentity
            } else if timeline.extension.is_some() {
                Status::Extended
            } else {
                Status::InProgress
            }
        }
        Change::Start => {
            if identity_open || open_clarification {
                return refuse("it waits on the person; record their answer first");
            }
            if status != Status::Received {
                return refuse("work has already started");
            }
            Status::InProgress
        }
        Change::Extend { months, reasons } => {
            let reasons = multi_line(reasons, REASONS_MAX, "The reasons")
                .map_err(|e| FieldErrors::one("reasons", e.0))?;
            if reasons.is_empty() {
                return Err(FieldErrors::one(
                    "reasons",
                    "Enter why the request needs more time (the person is told)",
                ));
            }
            let extension = Extension {
                decided: today,
                months: *months,
            };
            if let Err(e) = timeline.check_extension(extension, holidays) {
                let field = if e == ExtensionRefused::Months {
                    "months"
                } else {
                    "change"
                };
                let mut error = FieldError::new(field, e.to_string());
                if e == ExtensionRefused::Months {
                    error = error.with_allowed("1 or 2");
                }
                let mut errors = FieldErrors::new();
                errors.push(error);
                return Err(errors);
            }
            timeline.extension = Some(extension);
            detail = format!("{months} month(s): {reasons}");
            extension_reasons = Some(reasons);
            if open_clarification {
                Status::AwaitingClarification
            } else {
                Status::Extended
            }
        }
        Change::Answer => {
            if identity_open {
                return refuse("identity has not been checked");
            }
            Status::Answered
        }
        Change::Refuse { reasons } => {
            let reasons = multi_line(reasons, REASONS_MAX, "The reasons")
                .map_err(|e| FieldErrors::one("reasons", e.0))?;
            if reasons.is_empty() {
                return Err(FieldErrors::one(
                    "reasons",
                    "Enter why the request is refused (the person is told, with their right to complain to the ICO)",
                ));
            }
            detail.clone_from(&reasons);
            refusal_reasons = Some(reasons);
            Status::Refused
        }
    };
    Ok(Planned {
        status: next,
        timeline,
        identity_how,
        extension_reasons,
        refusal_reasons,
        action: change.action(),
        detail,
    })
}

/// A request as the front door takes it, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRequest {
    pub kind: Kind,
    pub name: String,
    pub email: EmailAddress,
    /// What the person wants, in their words.
    pub details: String,
    /// For a correction: what the data should say.
    pub correction: Option<String>,
    /// The part of the record the correction names (see `actions::Specifics`).
    pub correction_field: Option<CorrectionField>,
    /// The channels an objection to direct marketing covers.
    pub marketing: Vec<Channel>,
    /// The request is about records held elsewhere in the organisation (not in Candour).
    pub elsewhere: bool,
}

pub const DETAILS_MAX: usize = 5000;

impl NewRequest {
    /// Reads the front door's fields. Every problem is reported, each on its field, in the
    /// order of the page.
    pub fn parse(
        kind: &str,
        name: &str,
        email: &str,
        details: &str,
        correction: &str,
        elsewhere: bool,
    ) -> Result<NewRequest, FieldErrors> {
        let mut errors = FieldErrors::new();
        let kind = Kind::parse(kind.trim());
        if kind.is_none() {
            errors.push(
                FieldError::new("kind", "Choose what you are asking for")
                    .with_allowed(Kind::ALL.map(Kind::code).join(", ")),
            );
        }
        let name = match plain_text(name, 200, "Your name") {
            Ok(n) if n.is_empty() => {
                errors.add("name", "Enter your name");
                None
            }
            Ok(n) => Some(n),
            Err(e) => {
                errors.add("name", e.0);
                None
            }
        };
        let email = EmailAddress::parse(email)
            .map_err(|e| errors.add("email", e.0))
            .ok();
        let details = match multi_line(details, DETAILS_MAX, "Your request") {
            Ok(d) if d.is_empty() && kind == Some(Kind::Other) => {
                errors.add("details", "Tell us what you are asking for");
                None
            }
            Ok(d) => Some(d),
            Err(e) => {
                errors.add("details", e.0);
                None
            }
        };
        let correction = match multi_line(correction, DETAILS_MAX, "The correction") {
            Ok(c) if c.is_empty() && kind == Some(Kind::Correction) => {
                errors.add("correction", "Tell us what the data should say");
                None
            }
            Ok(c) if c.is_empty() => Some(None),
            Ok(c) => Some(Some(c)),
            Err(e) => {
                errors.add("correction", e.0);
                None
            }
        };
        match (kind, name, email, details, correction) {
            (Some(kind), Some(name), Some(email), Some(details), Some(correction))
                if errors.is_empty() =>
            {
                Ok(NewRequest {
                    kind,
                    name,
                    email,
                    details,
                    correction: if kind == Kind::Correction {
                        correction
                    } else {
                        None
                    },
                    correction_field: None,
                    marketing: Vec::new(),
                    elsewhere,
                })
            }
            _ => Err(errors),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::requests::Due;
    use crate::requests::holidays::Region;
    use time::macros::date;

    fn ew() -> BankHolidays {
        BankHolidays::new(Region::EnglandAndWales, &[])
    }

    #[test]
    fn codes_read_back() {
        for k in Kind::ALL {
            assert_eq!(Kind::parse(k.code()), Some(k));
        }
        for s in Status::ALL {
            assert_eq!(Status::parse(s.code()), Some(s));
        }
        assert_eq!(Kind::parse("Access"), None);
    }

    #[test]
    fn identity_asked_for_restarts_the_month_when_it_arrives() {
        let h = ew();
        let t = Timeline::received(date!(2026 - 06 - 01));
        let p = plan(
            Status::Received,
            &t,
            &Change::AskForIdentity,
            date!(2026 - 06 - 02),
            &h,
        )
        .unwrap();
        assert_eq!(p.status, Status::AwaitingIdentity);
        assert_eq!(p.timeline.due(&h), Due::AwaitingIdentity);
        // Nothing can be answered or started while identity is awaited.
        for change in [Change::Start, Change::Answer] {
            assert!(plan(p.status, &p.timeline, &change, date!(2026 - 06 - 03), &h).is_err());
        }
        let verified = Change::IdentityVerified {
            how: "Passport copy by post".into(),
        };
        let q = plan(p.status, &p.timeline, &verified, date!(2026 - 06 - 10), &h).unwrap();
        assert_eq!(q.status, Status::InProgress);
        assert_eq!(
            q.timeline.due(&h),
            Due::By {
                date: date!(2026 - 07 - 10),
                extended: false
            }
        );
        // Only once.
        assert!(plan(q.status, &q.timeline, &verified, date!(2026 - 06 - 11), &h).is_err());
    }

    #[test]
    fn a_clarification_pauses_and_an_extension_needs_reasons_within_the_first_month() {
        let h = ew();
        let t = Timeline::received(date!(2026 - 06 - 01));
        let ask = Change::AskForClarification {
            question: "Which years?".into(),
        };
        let p = plan(Status::InProgress, &t, &ask, date!(2026 - 06 - 11), &h).unwrap();
        assert_eq!(p.status, Status::AwaitingClarification);
        assert!(plan(p.status, &p.timeline, &ask, date!(2026 - 06 - 12), &h).is_err());
        let p = plan(
            p.status,
            &p.timeline,
            &Change::Clarified,
            date!(2026 - 06 - 16),
            &h,
        )
        .unwrap();
        assert_eq!(p.status, Status::InProgress);
        assert_eq!(
            p.timeline.due(&h),
            Due::By {
                date: date!(2026 - 07 - 06),
                extended: false
            }
        );

        let no_reasons = Change::Extend {
            months: 2,
            reasons: " ".into(),
        };
        let e = plan(
            p.status,
            &p.timeline,
            &no_reasons,
            date!(2026 - 06 - 20),
            &h,
        )
        .unwrap_err();
        assert_eq!(e.first().unwrap().field, "reasons");
        let three = Change::Extend {
            months: 3,
            reasons: "Many records".into(),
        };
        let e = plan(p.status, &p.timeline, &three, date!(2026 - 06 - 20), &h).unwrap_err();
        assert_eq!(e.first().unwrap().allowed.as_deref(), Some("1 or 2"));
        let late = Change::Extend {
            months: 2,
            reasons: "Many records".into(),
        };
        let e = plan(p.status, &p.timeline, &late, date!(2026 - 07 - 07), &h).unwrap_err();
        assert!(
            e.problem("change").unwrap().contains("first month"),
            "{e:?}"
        );
        let x = plan(p.status, &p.timeline, &late, date!(2026 - 07 - 06), &h).unwrap();
        assert_eq!(x.status, Status::Extended);
        assert_eq!(
            x.timeline.due(&h),
            Due::By {
                date: date!(2026 - 09 - 07),
                extended: true
            }
        );
    }

    #[test]
    fn a_closed_case_takes_no_change() {
        let h = ew();
        let t = Timeline::received(date!(2026 - 06 - 01));
        for status in [Status::Answered, Status::Refused] {
            let e = plan(status, &t, &Change::Start, date!(2026 - 06 - 02), &h).unwrap_err();
            assert!(e.problem("change").unwrap().contains("closed"));
        }
        let refuse = Change::Refuse {
            reasons: String::new(),
        };
        let e = plan(Status::InProgress, &t, &refuse, date!(2026 - 06 - 02), &h).unwrap_err();
        assert!(e.problem("reasons").is_some());
    }

    #[test]
    fn the_front_door_reports_every_problem_on_its_field() {
        let e =
            NewRequest::parse("bribe", "", "not-an-address", "x\u{0007}", "", false).unwrap_err();
        let fields: Vec<_> = e.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(fields, ["kind", "name", "email", "details"]);
        let e =
            NewRequest::parse("correction", "Ann", "ann@example.org", "", "  ", false).unwrap_err();
        assert_eq!(
            e.iter().map(|f| f.field.as_str()).collect::<Vec<_>>(),
            ["correction"]
        );
        let r = NewRequest::parse(
            "access",
            " Ann Lee ",
            "ann@example.org",
            "",
            "ignored",
            true,
        )
        .unwrap();
        assert_eq!(r.kind, Kind::Access);
        assert_eq!(r.name, "Ann Lee");
        assert_eq!(r.correction, None);
        assert!(r.elsewhere);
    }
}
