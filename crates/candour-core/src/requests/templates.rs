//! The emails the requests room sends, one per step, as templates privacy officers may edit:
//! plain text with a fixed set of `{{placeholders}}`, each step allowing only those it has
//! values for and requiring those the person needs (the link to confirm, the right to
//! complain to the ICO when a request is refused). Built-in defaults say it in plain words.

use crate::fields::{FieldError, FieldErrors};

/// A step that emails the person.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Step {
    /// The link that confirms a request made without signing in.
    Confirm,
    Acknowledgement,
    IdentityRequest,
    Clarification,
    Extension,
    Answer,
    Refusal,
    ErasureDone,
    /// Erasure refused in part: a legal duty keeps the data.
    ErasureKept,
    CorrectionDone,
    CorrectionRejected,
    /// Direct marketing stopped on an objection.
    ObjectionApplied,
    Restricted,
    /// The copy of their data is ready: the single-use download link.
    AnswerReady,
    /// A fee is charged on a manifestly unfounded or excessive request (Art 12(5)).
    FeeCharged,
    /// The restriction of their record is lifted (Art 18(3)).
    RestrictionLifted,
}

/// A value a template may name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Value {
    Name,
    Organisation,
    Number,
    Kind,
    Received,
    /// The clock's words: "Due 4 January 2027".
    Due,
    StatusLink,
    ConfirmLink,
    Hours,
    Question,
    Months,
    Reasons,
    Correction,
    Channels,
    /// The right to complain to the Information Commissioner's Office, in one sentence.
    Ico,
    /// The single-use link that downloads the answer.
    DownloadLink,
    /// Until when that link works.
    Until,
    /// What was left out of the answer, in a sentence (empty when nothing was).
    Withheld,
    /// The fee and its ground: "£12.50 (manifestly excessive)".
    Fee,
}

impl Value {
    pub const ALL: [Value; 19] = [
        Value::Name,
        Value::Organisation,
        Value::Number,
        Value::Kind,
        Value::Received,
        Value::Due,
        Value::StatusLink,
        Value::ConfirmLink,
        Value::Hours,
        Value::Question,
        Value::Months,
        Value::Reasons,
        Value::Correction,
        Value::Channels,
        Value::Ico,
        Value::DownloadLink,
        Value::Until,
        Value::Withheld,
        Value::Fee,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Value::Name => "name",
            Value::Organisation => "organisation",
            Value::Number => "request_number",
            Value::Kind => "request_kind",
            Value::Received => "received",
            Value::Due => "due",
            Value::StatusLink => "status_link",
            Value::ConfirmLink => "confirm_link",
            Value::Hours => "hours",
            Value::Question => "question",
            Value::Months => "months",
            Value::Reasons => "reasons",
            Value::Correction => "correction",
            Value::Channels => "channels",
            Value::Ico => "ico",
            Value::DownloadLink => "download_link",
            Value::Until => "until",
            Value::Withheld => "withheld",
            Value::Fee => "fee",
        }
    }

    fn parse(code: &str) -> Option<Value> {
        Value::ALL.into_iter().find(|v| v.code() == code)
    }
}

/// Values every step that concerns a case can use.
const CASE: [Value; 6] = [
    Value::Name,
    Value::Organisation,
    Value::Number,
    Value::Kind,
    Value::Received,
    Value::StatusLink,
];

impl Step {
    pub const ALL: [Step; 16] = [
        Step::Confirm,
        Step::Acknowledgement,
        Step::IdentityRequest,
        Step::Clarification,
        Step::Extension,
        Step::Answer,
        Step::Refusal,
        Step::ErasureDone,
        Step::ErasureKept,
        Step::CorrectionDone,
        Step::CorrectionRejected,
        Step::ObjectionApplied,
        Step::Restricted,
        Step::AnswerReady,
        Step::FeeCharged,
        Step::RestrictionLifted,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Step::Confirm => "confirm",
            Step::Acknowledgement => "acknowledgement",
            Step::IdentityRequest => "identity-request",
            Step::Clarification => "clarification",
            Step::Extension => "extension",
            Step::Answer => "answer",
            Step::Refusal => "refusal",
            Step::ErasureDone => "erasure-done",
            Step::ErasureKept => "erasure-kept",
            Step::CorrectionDone => "correction-done",
            Step::CorrectionRejected => "correction-rejected",
            Step::ObjectionApplied => "objection-applied",
            Step::Restricted => "restricted",
            Step::AnswerReady => "answer-ready",
            Step::FeeCharged => "fee-charged",
            Step::RestrictionLifted => "restriction-lifted",
        }
    }

    pub fn parse(code: &str) -> Option<Step> {
        Step::ALL.into_iter().find(|s| s.code() == code)
    }

    /// When the email is sent, as the console lists it.
    pub fn label(self) -> &'static str {
        match self {
            Step::Confirm => "Confirm a request made without signing in",
            Step::Acknowledgement => "Acknowledgement",
            Step::IdentityRequest => "Asking for proof of identity",
            Step::Clarification => "Asking the person to clarify",
            Step::Extension => "Extending the time",
            Step::Answer => "Answered",
            Step::Refusal => "Refused",
            Step::ErasureDone => "Data erased",
            Step::ErasureKept => "Data kept under a legal duty",
            Step::CorrectionDone => "Correction made",
            Step::CorrectionRejected => "Correction rejected",
            Step::ObjectionApplied => "Direct marketing stopped",
            Step::Restricted => "Record restricted",
            Step::AnswerReady => "A copy of their data is ready to download",
            Step::FeeCharged => "A fee is charged",
            Step::RestrictionLifted => "Restriction lifted",
        }
    }

    /// The values this step's template may name.
    pub fn allowed(self) -> Vec<Value> {
        let own: &[Value] = match self {
            Step::Confirm => {
                return vec![
                    Value::Organisation,
                    Value::Kind,
                    Value::ConfirmLink,
                    Value::Hours,
                ];
            }
            Step::Acknowledgement => &[Value::Due],
            Step::Extension => &[Value::Due, Value::Months, Value::Reasons],
            Step::Clarification => &[Value::Question],
            Step::Refusal | Step::ErasureKept | Step::CorrectionRejected => &[Value::Reasons],
            Step::CorrectionDone => &[Value::Correction],
            Step::ObjectionApplied => &[Value::Channels],
            Step::AnswerReady => &[Value::DownloadLink, Value::Until, Value::Withheld],
            Step::FeeCharged => &[Value::Fee, Value::Reasons, Value::Due],
            Step::IdentityRequest
            | Step::RestrictionLifted
            | Step::Answer
            | Step::ErasureDone
            | Step::Restricted => &[],
        };
        let mut out = CASE.to_vec();
        out.extend_from_slice(own);
        out.push(Value::Ico);
        out
    }

    /// The values the body must name: without them the email fails the person.
    pub fn required(self) -> &'static [Value] {
        match self {
            Step::Confirm => &[Value::ConfirmLink],
            Step::Refusal | Step::ErasureKept | Step::CorrectionRejected => {
                &[Value::Reasons, Value::Ico]
            }
            Step::Extension => &[Value::Reasons],
            Step::Clarification => &[Value::Question],
            Step::AnswerReady => &[Value::DownloadLink, Value::Until],
            Step::FeeCharged => &[Value::Fee, Value::Reasons, Value::Ico],
            _ => &[],
        }
    }

    /// The built-in wording.
    pub fn default_text(self) -> (&'static str, &'static str) {
        match self {
            Step::Confirm => (
                "Confirm your request to {{organisation}}",
                "Someone asked {{organisation}} for this, giving your email address:\n\n  {{request_kind}}\n\nIf it was you, confirm the request within {{hours}} hours with this link (it works once). The time we have to answer starts when you confirm.\n\n{{confirm_link}}\n\nIf it was not you, ignore this email: nothing will happen.",
            ),
            Step::Acknowledgement => (
                "We have received your request (number {{request_number}})",
                "Thank you. {{organisation}} received your request on {{received}}:\n\n  {{request_kind}}\n\n{{due}}. There is no fee.\n\nYou can see where it stands at any time here:\n\n{{status_link}}\n\n{{ico}}",
            ),
            Step::IdentityRequest => (
                "We need to confirm who you are (request {{request_number}})",
                "Before we can answer your request we need to be sure it is yours. Please reply with proof of your identity, such as a copy of a document that shows your name and address. The time we have to answer starts when we receive it.\n\n{{status_link}}",
            ),
            Step::Clarification => (
                "A question about your request (request {{request_number}})",
                "To answer your request we need to know more:\n\n{{question}}\n\nPlease reply to this email. The time we have to answer stands still until you do.\n\n{{status_link}}",
            ),
            Step::Extension => (
                "We need more time for your request (request {{request_number}})",
                "We need {{months}} more month(s) to answer your request, because:\n\n{{reasons}}\n\n{{due}}.\n\n{{status_link}}\n\n{{ico}}",
            ),
            Step::Answer => (
                "We have answered your request (request {{request_number}})",
                "We have answered your request. Where the answer includes your data, we send it separately in a way that only you can open.\n\n{{status_link}}\n\n{{ico}}",
            ),
            Step::Refusal => (
                "Our answer to your request (request {{request_number}})",
                "We cannot do what you asked, because:\n\n{{reasons}}\n\nYou have the right to complain to the Information Commissioner's Office and to seek to enforce your rights through the courts.\n\n{{ico}}\n\n{{status_link}}",
            ),
            Step::ErasureDone => (
                "We have deleted your data (request {{request_number}})",
                "We have deleted the data we held about you, and any account you had with us, so you are signed out everywhere. We keep only two things: a record of this request, and, if you objected to marketing, a one-way code of your address so that we never send you marketing again.\n\n{{status_link}}",
            ),
            Step::ErasureKept => (
                "We must keep some of your data (request {{request_number}})",
                "We cannot delete all the data we hold about you, because the law requires us to keep it:\n\n{{reasons}}\n\n{{ico}}\n\n{{status_link}}",
            ),
            Step::CorrectionDone => (
                "We have corrected your data (request {{request_number}})",
                "We have made the correction you asked for. It now reads:\n\n{{correction}}\n\n{{status_link}}",
            ),
            Step::CorrectionRejected => (
                "We have not changed your data (request {{request_number}})",
                "We have not made the correction you asked for, because:\n\n{{reasons}}\n\nYou can ask us to add a statement to your record saying that you disagree.\n\n{{ico}}\n\n{{status_link}}",
            ),
            Step::ObjectionApplied => (
                "We will not send you marketing (request {{request_number}})",
                "As you asked, we will not send you direct marketing by {{channels}}. This took effect at once and stays in place even if you later ask us to delete your data.\n\n{{status_link}}",
            ),
            Step::Restricted => (
                "We have restricted the use of your data (request {{request_number}})",
                "We keep your data but no longer use it: you will receive no campaigns from us while the restriction stands. We will tell you before we lift it.\n\n{{status_link}}",
            ),
            Step::AnswerReady => (
                "Your data is ready to download (request {{request_number}})",
                "We have answered your request for a copy of your data. Download it from this link:\n\n{{download_link}}\n\nThe link works once, until {{until}}. If it has expired or was used already, reply to this email and we will send a new one.\n\n{{withheld}}\n\nWhere your request stands: {{status_link}}\n\n{{ico}}",
            ),
            Step::FeeCharged => (
                "A fee for your request (request {{request_number}})",
                "We judge your request to be manifestly unfounded or excessive, so the law allows us to charge a reasonable fee before we answer it: {{fee}}.\n\nOur reasons:\n\n{{reasons}}\n\nWe will answer your request once the fee is paid; reply to this email to ask how to pay. {{due}}.\n\n{{ico}}\n\n{{status_link}}",
            ),
            Step::RestrictionLifted => (
                "We are lifting the restriction on your data (request {{request_number}})",
                "The restriction on the use of your data is lifted: we may use it again as our privacy notice describes, and you may again receive the emails you agreed to. If you think we should not have lifted it, reply to this email.\n\n{{ico}}\n\n{{status_link}}",
            ),
        }
    }
}

/// A step's wording: a subject line and a plain-text body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wording {
    pub subject: String,
    pub body: String,
}

const SUBJECT_MAX: usize = 200;
const BODY_MAX: usize = 10_000;

/// The names in `{{ }}` in `text`, in order; an error for an unclosed `{{`.
fn names(text: &str) -> Result<Vec<&str>, String> {
    let mut out = Vec::new();
    for (n, piece) in text.split("{{").enumerate() {
        if n == 0 {
            continue;
        }
        match piece.split_once("}}") {
            Some((name, _)) => out.push(name.trim()),
            None => return Err("has a {{ that is not closed with }}".to_owned()),
        }
    }
    Ok(out)
}

impl Wording {
    /// The built-in wording of `step`.
    pub fn default_for(step: Step) -> Wording {
        let (subject, body) = step.default_text();
        Wording {
            subject: subject.to_owned(),
            body: body.to_owned(),
        }
    }

    /// Reads an edit of `step`'s wording: each field may name only the step's placeholders,
    /// and the body must name those it requires. Errors name the field (`subject`, `body`)
    /// and list what is allowed.
    pub fn parse(step: Step, subject: &str, body: &str) -> Result<Wording, FieldErrors> {
        let allowed = step.allowed();
        let list = allowed
            .iter()
            .map(|v| format!("{{{{{}}}}}", v.code()))
            .collect::<Vec<_>>()
            .join(", ");
        let mut errors = FieldErrors::new();
        let subject = subject.trim();
        let body = body.trim().replace("\r\n", "\n");
        let mut check = |field: &str, text: &str, max: usize, multi: bool| {
            if text.is_empty() {
                errors.add(field, format!("Enter the {field}"));
                return;
            }
            if text.chars().count() > max {
                errors.add(field, format!("must be {max} characters or fewer"));
                return;
            }
            if text
                .chars()
                .any(|c| c.is_control() && !(multi && (c == '\n' || c == '\t')))
            {
                errors.add(field, "holds a control character; use plain text");
                return;
            }
            match names(text) {
                Err(e) => errors.add(field, e),
                Ok(found) => {
                    if let Some(bad) = found
                        .iter()
                        .find(|n| Value::parse(n).is_none_or(|v| !allowed.contains(&v)))
                    {
                        let shown: String = bad.chars().take(40).collect();
                        errors.push(
                            FieldError::new(
                                field,
                                format!("names {{{{{shown}}}}}, which this email cannot use"),
                            )
                            .with_allowed(list.clone()),
                        );
                    } else if field == "body" {
                        let missing: Vec<String> = step
                            .required()
                            .iter()
                            .filter(|v| !found.contains(&v.code()))
                            .map(|v| format!("{{{{{}}}}}", v.code()))
                            .collect();
                        if !missing.is_empty() {
                            errors.add(field, format!("must include {}", missing.join(" and ")));
                        }
                    }
                }
            }
        };
        check("subject", subject, SUBJECT_MAX, false);
        check("body", &body, BODY_MAX, true);
        if errors.is_empty() {
            Ok(Wording {
                subject: subject.to_owned(),
                body,
            })
        } else {
            Err(errors)
        }
    }

    /// The wording with `values` filled in (a value not given is left empty). Values are
    /// put in as they are: text mail needs no escaping, and a value is never read again as
    /// a placeholder.
    pub fn fill(&self, values: &[(Value, String)]) -> (String, String) {
        let fill = |text: &str| {
            let mut out = String::new();
            for (n, piece) in text.split("{{").enumerate() {
                if n == 0 {
                    out.push_str(piece);
                    continue;
                }
                match piece.split_once("}}") {
                    Some((name, rest)) => {
                        let name = name.trim();
                        if let Some((_, v)) = values.iter().find(|(k, _)| k.code() == name) {
                            out.push_str(v);
                        }
                        out.push_str(rest);
                    }
                    None => {
                        out.push_str("{{");
                        out.push_str(piece);
                    }
                }
            }
            out
        };
        // A subject is one line whatever a value held.
        let subject = fill(&self.subject).replace(['\r', '\n'], " ");
        (subject, fill(&self.body))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_default_reads_as_its_own_edit() {
        for step in Step::ALL {
            let w = Wording::default_for(step);
            assert_eq!(Wording::parse(step, &w.subject, &w.body), Ok(w), "{step:?}");
            assert_eq!(Step::parse(step.code()), Some(step));
        }
    }

    #[test]
    fn unknown_and_foreign_placeholders_are_refused_on_their_field() {
        let e =
            Wording::parse(Step::Answer, "Hi {{password}}", "Done {{status_link}}").unwrap_err();
        let first = e.first().unwrap();
        assert_eq!(first.field, "subject");
        assert!(first.problem.contains("{{password}}"));
        assert!(
            first
                .allowed
                .as_deref()
                .unwrap()
                .contains("{{status_link}}")
        );
        // A real placeholder that this step has no value for.
        let e = Wording::parse(Step::Answer, "Answered", "Because {{reasons}}").unwrap_err();
        assert!(e.problem("body").unwrap().contains("{{reasons}}"));
        let e = Wording::parse(Step::Answer, "Answered", "Open {{ status_link").unwrap_err();
        assert!(e.problem("body").unwrap().contains("not closed"));
        // A refusal must give the reasons and the right to complain.
        let e = Wording::parse(Step::Refusal, "No", "Because {{reasons}}").unwrap_err();
        assert!(e.problem("body").unwrap().contains("{{ico}}"));
        let e = Wording::parse(Step::Confirm, "Confirm", "Please confirm").unwrap_err();
        assert!(e.problem("body").unwrap().contains("{{confirm_link}}"));
        assert!(Wording::parse(Step::Answer, "Two\u{7}", "x").is_err());
        assert!(Wording::parse(Step::Answer, " ", "x").is_err());
    }

    #[test]
    fn values_are_filled_in_once_and_the_subject_stays_one_line() {
        let w = Wording::parse(
            Step::Refusal,
            "Request {{ request_number }} for {{name}}",
            "{{reasons}}\n{{ico}}",
        )
        .unwrap();
        let (subject, body) = w.fill(&[
            (Value::Number, "7".into()),
            (Value::Name, "Ann\nLee".into()),
            (Value::Reasons, "It names {{ico}}".into()),
            (Value::Ico, "Complain to the ICO".into()),
        ]);
        assert_eq!(subject, "Request 7 for Ann Lee");
        assert_eq!(body, "It names {{ico}}\nComplain to the ICO");
    }
}
