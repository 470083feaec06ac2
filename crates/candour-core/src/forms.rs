//! Forms and surveys: what staff define, and the rules a submission must meet.
//!
//! A definition is data (stored as JSON, one row per version); a submission is parsed
//! against the version the visitor was shown into answers, changes to the person's record
//! and consent events, or into one message per field that was wrong.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use time::Date;
use time::macros::format_description;

use time::OffsetDateTime;

use crate::account::Profile;
use crate::account::{EmailAddress, Invalid, Phone, Postcode, multi_line, plain_text};
use crate::config::MarketingConsent;
use crate::fields::FieldErrors;
use crate::people::{Method, NewConsent, PendingGrant, Wording, consent_wording};
use crate::purposes::{Channel, Purpose};
use crate::session::SecretHash;

/// The kinds of question a form can ask.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FieldKind {
    ShortText,
    LongText,
    Email,
    Phone,
    Postcode,
    SingleChoice,
    MultipleChoice,
    /// 1 to 5.
    Rating,
    Date,
    /// Unticked opt-in boxes for a purpose, one per channel.
    Consent,
}

impl FieldKind {
    pub const ALL: [FieldKind; 10] = [
        FieldKind::ShortText,
        FieldKind::LongText,
        FieldKind::Email,
        FieldKind::Phone,
        FieldKind::Postcode,
        FieldKind::SingleChoice,
        FieldKind::MultipleChoice,
        FieldKind::Rating,
        FieldKind::Date,
        FieldKind::Consent,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            FieldKind::ShortText => "short-text",
            FieldKind::LongText => "long-text",
            FieldKind::Email => "email",
            FieldKind::Phone => "phone",
            FieldKind::Postcode => "postcode",
            FieldKind::SingleChoice => "single-choice",
            FieldKind::MultipleChoice => "multiple-choice",
            FieldKind::Rating => "rating",
            FieldKind::Date => "date",
            FieldKind::Consent => "consent",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            FieldKind::ShortText => "Short text",
            FieldKind::LongText => "Long text",
            FieldKind::Email => "Email address",
            FieldKind::Phone => "Telephone number",
            FieldKind::Postcode => "UK postcode",
            FieldKind::SingleChoice => "One choice from a list",
            FieldKind::MultipleChoice => "Several choices from a list",
            FieldKind::Rating => "Rating from 1 to 5",
            FieldKind::Date => "Date",
            FieldKind::Consent => "Consent (opt-in boxes for a purpose)",
        }
    }

    pub fn parse(s: &str) -> Option<FieldKind> {
        FieldKind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    pub fn has_choices(self) -> bool {
        matches!(self, FieldKind::SingleChoice | FieldKind::MultipleChoice)
    }
}

/// A part of the person's record a field fills in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PersonAttr {
    Email,
    Name,
    JobTitle,
    Phone,
    PostalAddress,
    Postcode,
}

impl PersonAttr {
    pub const ALL: [PersonAttr; 6] = [
        PersonAttr::Email,
        PersonAttr::Name,
        PersonAttr::JobTitle,
        PersonAttr::Phone,
        PersonAttr::PostalAddress,
        PersonAttr::Postcode,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            PersonAttr::Email => "email",
            PersonAttr::Name => "name",
            PersonAttr::JobTitle => "job-title",
            PersonAttr::Phone => "phone",
            PersonAttr::PostalAddress => "postal-address",
            PersonAttr::Postcode => "postcode",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            PersonAttr::Email => "Email address",
            PersonAttr::Name => "Name",
            PersonAttr::JobTitle => "Job title",
            PersonAttr::Phone => "Telephone number",
            PersonAttr::PostalAddress => "Postal address",
            PersonAttr::Postcode => "Postcode",
        }
    }

    pub fn parse(s: &str) -> Option<PersonAttr> {
        PersonAttr::ALL.into_iter().find(|a| a.as_str() == s)
    }

    /// The kinds of field that can fill it in.
    fn accepts(self, kind: FieldKind) -> bool {
        match self {
            PersonAttr::Email => kind == FieldKind::Email,
            PersonAttr::Phone => kind == FieldKind::Phone,
            PersonAttr::Postcode => kind == FieldKind::Postcode,
            PersonAttr::Name | PersonAttr::JobTitle => kind == FieldKind::ShortText,
            PersonAttr::PostalAddress => {
                matches!(kind, FieldKind::ShortText | FieldKind::LongText)
            }
        }
    }
}

/// One question.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Field {
    /// The name of its input, stable across versions: `q1`, `q2` …
    pub key: String,
    pub label: String,
    #[serde(default)]
    pub hint: String,
    pub kind: FieldKind,
    #[serde(default)]
    pub required: bool,
    #[serde(default)]
    pub choices: Vec<String>,
    /// The part of the person's record it fills in, if any.
    #[serde(default)]
    pub saves_to: Option<PersonAttr>,
    /// For consent fields: the purpose asked for.
    #[serde(default)]
    pub purpose: Option<String>,
}

/// A form as staff define it: one version of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FormDefinition {
    pub title: String,
    #[serde(default)]
    pub intro: String,
    pub fields: Vec<Field>,
    /// Ids of the purposes the answers are used for.
    pub purposes: Vec<String>,
}

pub const MAX_FIELDS: usize = 50;
pub const MAX_CHOICES: usize = 30;
const SHORT_TEXT_MAX: usize = 500;
const LONG_TEXT_MAX: usize = 5000;

impl FormDefinition {
    /// Check a definition staff saved. Errors are keyed by the field key (or `title`,
    /// `purposes`).
    pub fn check(&self, purposes: &[Purpose]) -> FieldErrors {
        let mut errors = FieldErrors::new();
        match plain_text(&self.title, 200, "Title") {
            Ok(t) if t.is_empty() => errors.add("title", "Enter a title"),
            Ok(_) => {}
            Err(e) => errors.add("title", e.0),
        }
        if let Err(e) = multi_line(&self.intro, LONG_TEXT_MAX, "Introduction") {
            errors.add("intro", e.0);
        }
        if self.fields.is_empty() {
            errors.add("fields", "Add at least one question");
        }
        if self.fields.len() > MAX_FIELDS {
            errors.add(
                "fields",
                format!("A form can have at most {MAX_FIELDS} questions"),
            );
        }
        for p in &self.purposes {
            match purposes.iter().find(|q| &q.id == p) {
                None => errors.add("purposes",
                    format!("There is no purpose `{p}`"),
                ),
                Some(q) if !q.offered_on_forms() => errors.add("purposes",
                    format!(
                        "`{p}` ({}) is about running the site, not what a form's answers are used for",
                        q.name
                    ),
                ),
                Some(_) => {}
            }
        }
        let mut keys = BTreeSet::new();
        let mut attrs = BTreeSet::new();
        for f in &self.fields {
            let k = f.key.as_str();
            if !keys.insert(k) {
                errors.add(k, "Two questions have the same key");
            }
            match plain_text(&f.label, 300, "Question") {
                Ok(l) if l.is_empty() => errors.add(k, "Enter the question"),
                Ok(_) => {}
                Err(e) => errors.add(k, e.0),
            }
            if let Err(e) = plain_text(&f.hint, 300, "Hint") {
                errors.add(k, e.0);
            }
            if f.kind.has_choices() {
                if !(2..=MAX_CHOICES).contains(&f.choices.len()) {
                    errors.add(
                        k,
                        format!("Give between 2 and {MAX_CHOICES} choices, one per line"),
                    );
                }
                let mut seen = BTreeSet::new();
                for c in &f.choices {
                    match plain_text(c, 200, "Each choice") {
                        Ok(c) if c.is_empty() => errors.add(k, "Choices cannot be empty"),
                        Ok(c) if !seen.insert(c.clone()) => {
                            errors.add(k, format!("The choice `{c}` is given twice"))
                        }
                        Ok(_) => {}
                        Err(e) => errors.add(k, e.0),
                    }
                }
            } else if !f.choices.is_empty() {
                errors.add(k, "Only choice questions have choices");
            }
            if let Some(attr) = f.saves_to {
                if !attr.accepts(f.kind) {
                    errors.add(
                        k,
                        format!(
                            "A {} question cannot fill in {}",
                            f.kind.label(),
                            attr.label()
                        ),
                    );
                }
                if !attrs.insert(attr) {
                    errors.add(k, format!("Only one question can fill in {}", attr.label()));
                }
            }
            if f.kind == FieldKind::Consent {
                if f.required {
                    errors.add(k, "Consent cannot be required: it must be freely given");
                }
                let ok = f
                    .purpose
                    .as_ref()
                    .is_some_and(|id| purposes.iter().any(|p| &p.id == id && p.is_consented()));
                if !ok {
                    errors.add(
                        k,
                        "Choose a purpose that people can consent to for this consent question",
                    );
                }
            } else if f.purpose.is_some() {
                errors.add(k, "Only consent questions name a purpose");
            }
        }
        let asks_consent = self.fields.iter().any(|f| f.kind == FieldKind::Consent);
        let saves = self.fields.iter().any(|f| f.saves_to.is_some());
        let email_required = self
            .fields
            .iter()
            .any(|f| f.saves_to == Some(PersonAttr::Email) && f.required);
        if (asks_consent || saves) && !email_required {
            errors.add("fields",
                "A form that asks for consent or fills in a person's record needs a required email question that fills in their email address",
            );
        }
        errors
    }

    /// The next unused question key.
    pub fn next_key(&self) -> String {
        let n = self
            .fields
            .iter()
            .filter_map(|f| f.key.strip_prefix('q')?.parse::<u32>().ok())
            .max()
            .unwrap_or(0);
        format!("q{}", n + 1)
    }
}

/// An answer, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Answer {
    Text(String),
    Choices(Vec<String>),
}

impl Answer {
    pub fn display(&self) -> String {
        match self {
            Answer::Text(t) => t.clone(),
            Answer::Choices(c) => c.join("; "),
        }
    }
}

/// Changes a submission makes to the person's record: only what the form asked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PersonPatch {
    pub name: Option<String>,
    pub job_title: Option<String>,
    pub phone: Option<Phone>,
    pub postal_address: Option<String>,
    pub postcode: Option<Postcode>,
    pub interests: Option<Vec<String>>,
}

impl PersonPatch {
    /// Fill in only what the record lacks: a public form proves nothing about who typed the
    /// address, so it cannot change details already held.
    pub fn fill_missing(&self, p: &mut Profile) {
        let mut missing = Profile::default();
        self.apply(&mut missing);
        if p.name.is_empty() {
            p.name = missing.name;
        }
        if p.job_title.is_empty() {
            p.job_title = missing.job_title;
        }
        if p.phone.is_none() {
            p.phone = missing.phone;
        }
        if p.postal_address.is_empty() {
            p.postal_address = missing.postal_address;
        }
        if p.postcode.is_none() {
            p.postcode = missing.postcode;
        }
        if p.interests.is_empty() {
            p.interests = missing.interests;
        }
    }

    /// The details a record should have once this patch is stored, or `None` when they stay
    /// as they are. A record the import or form just `created`, or one staff may `overwrite`
    /// (an import), takes every value the patch has; any other only what it lacks.
    pub fn updated(&self, details: &Profile, created: bool, overwrite: bool) -> Option<Profile> {
        if *self == PersonPatch::default() {
            return None;
        }
        let mut after = details.clone();
        if overwrite || created {
            self.apply(&mut after);
        } else {
            self.fill_missing(&mut after);
        }
        (after != *details).then_some(after)
    }

    pub fn apply(&self, p: &mut Profile) {
        if let Some(v) = &self.name {
            p.name.clone_from(v);
        }
        if let Some(v) = &self.job_title {
            p.job_title.clone_from(v);
        }
        if let Some(v) = &self.phone {
            p.phone = Some(v.clone());
        }
        if let Some(v) = &self.postal_address {
            p.postal_address.clone_from(v);
        }
        if let Some(v) = &self.postcode {
            p.postcode = Some(v.clone());
        }
        if let Some(v) = &self.interests {
            p.interests.clone_from(v);
        }
    }
}

/// A submission that met every rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Submission {
    /// In the order of the form's questions; unanswered optional questions are left out.
    pub answers: Vec<(String, Answer)>,
    /// Present when the form fills in a person's record.
    pub email: Option<EmailAddress>,
    pub patch: PersonPatch,
    pub consents: Vec<NewConsent>,
}

/// The value a consent box posts for a channel (`yes` for a purpose without channels).
pub fn consent_value(channel: Option<Channel>) -> &'static str {
    channel.map_or("yes", Channel::as_str)
}

/// One consent box of a consent question: its value, its words, and the wording record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsentBox {
    pub value: &'static str,
    pub channel: Option<Channel>,
    pub wording: String,
}

/// The boxes a consent question shows.
pub fn consent_boxes(purpose: &Purpose, mode: MarketingConsent) -> Vec<ConsentBox> {
    let refuse = mode == MarketingConsent::OptOutBox;
    purpose
        .consent_channels()
        .into_iter()
        .map(|channel| ConsentBox {
            value: consent_value(channel),
            channel,
            wording: consent_wording(purpose, channel, refuse),
        })
        .collect()
}

const DATE: &[time::format_description::BorrowedFormatItem<'static>] =
    format_description!("[year]-[month]-[day]");

/// Parse a submission against `definition` (version `version` of form `form`). `values`
/// gives every value posted under an input name.
pub fn parse_submission<'a>(
    form: i64,
    version: i64,
    definition: &FormDefinition,
    purposes: &[Purpose],
    mode: MarketingConsent,
    values: impl Fn(&str) -> Vec<&'a str>,
) -> Result<Submission, FieldErrors> {
    let mut errors = FieldErrors::new();
    let mut out = Submission {
        answers: Vec::new(),
        email: None,
        patch: PersonPatch::default(),
        consents: Vec::new(),
    };
    for f in &definition.fields {
        let k = f.key.as_str();
        let raw = values(k);
        let first = raw.first().map_or("", |v| v.trim());
        if f.kind == FieldKind::Consent {
            let Some(purpose) = f
                .purpose
                .as_ref()
                .and_then(|id| purposes.iter().find(|p| &p.id == id))
            else {
                continue;
            };
            for b in consent_boxes(purpose, mode) {
                let ticked = raw.contains(&b.value);
                // Opt-in: only a tick gives consent, and no tick records nothing. The old
                // tick-to-refuse box records what it claimed either way.
                let granted = match mode {
                    MarketingConsent::OptIn if ticked => true,
                    MarketingConsent::OptIn => continue,
                    MarketingConsent::OptOutBox => !ticked,
                };
                out.consents.push(NewConsent {
                    purpose: purpose.id.clone(),
                    channel: b.channel,
                    granted,
                    method: Method::Form { form, version },
                    wording: Some(Wording::new(&b.wording)),
                    actor: None,
                    note: String::new(),
                });
            }
            let known: Vec<&str> = consent_boxes(purpose, mode)
                .iter()
                .map(|b| b.value)
                .collect();
            if raw.iter().any(|v| !known.contains(v)) {
                errors.add(k, "Choose from the boxes shown");
            }
            continue;
        }
        let empty = match f.kind {
            FieldKind::MultipleChoice => raw.iter().all(|v| v.trim().is_empty()),
            _ => first.is_empty(),
        };
        if empty {
            if f.required {
                let verb = match f.kind {
                    FieldKind::SingleChoice | FieldKind::MultipleChoice | FieldKind::Rating => {
                        "Select"
                    }
                    _ => "Enter",
                };
                errors.add(k, format!("{verb} an answer to: {}", f.label));
            }
            continue;
        }
        let label = f.label.as_str();
        let answer = match f.kind {
            FieldKind::ShortText => plain_text(first, SHORT_TEXT_MAX, label).map(Answer::Text),
            FieldKind::LongText => multi_line(first, LONG_TEXT_MAX, label).map(Answer::Text),
            FieldKind::Email => EmailAddress::parse(first).map(|e| {
                let s = e.as_str().to_owned();
                if f.saves_to == Some(PersonAttr::Email) {
                    out.email = Some(e);
                }
                Answer::Text(s)
            }),
            FieldKind::Phone => Phone::parse(first).map(|p| {
                let s = p.as_str().to_owned();
                if f.saves_to == Some(PersonAttr::Phone) {
                    out.patch.phone = Some(p);
                }
                Answer::Text(s)
            }),
            FieldKind::Postcode => Postcode::parse(first).map(|p| {
                let s = p.as_str().to_owned();
                if f.saves_to == Some(PersonAttr::Postcode) {
                    out.patch.postcode = Some(p);
                }
                Answer::Text(s)
            }),
            FieldKind::SingleChoice => {
                if raw.len() == 1 && f.choices.iter().any(|c| c == first) {
                    Ok(Answer::Text(first.to_owned()))
                } else {
                    Err(Invalid("Select one of the choices shown".to_owned()))
                }
            }
            FieldKind::MultipleChoice => {
                let picked: Vec<String> = f
                    .choices
                    .iter()
                    .filter(|c| raw.contains(&c.as_str()))
                    .cloned()
                    .collect();
                if raw.iter().all(|v| f.choices.iter().any(|c| c == v)) {
                    Ok(Answer::Choices(picked))
                } else {
                    Err(Invalid("Select from the choices shown".to_owned()))
                }
            }
            FieldKind::Rating => match first.parse::<u8>() {
                Ok(n @ 1..=5) => Ok(Answer::Text(n.to_string())),
                _ => Err(Invalid("Select a rating from 1 to 5".to_owned())),
            },
            FieldKind::Date => Date::parse(first, DATE)
                .map_err(|_| Invalid("Enter a real date, like 2026-06-01".to_owned()))
                .and_then(|d| {
                    d.format(DATE)
                        .map_err(|_| Invalid("Enter a real date, like 2026-06-01".to_owned()))
                })
                .map(Answer::Text),
            FieldKind::Consent => continue,
        };
        match answer {
            Ok(a) => {
                if let Answer::Text(t) = &a {
                    match f.saves_to {
                        Some(PersonAttr::Name) => out.patch.name = Some(t.clone()),
                        Some(PersonAttr::JobTitle) => out.patch.job_title = Some(t.clone()),
                        Some(PersonAttr::PostalAddress) => {
                            out.patch.postal_address = Some(t.replace('\n', ", "));
                        }
                        _ => {}
                    }
                }
                out.answers.push((f.key.clone(), a));
            }
            Err(e) => errors.add(f.key.clone(), e.0),
        }
    }
    if out.email.is_none() && !out.consents.is_empty() {
        // A definition that passed `check` has a required email question, so its own error
        // already says what is wrong; this covers one that did not.
        let key = definition
            .fields
            .iter()
            .find(|f| f.saves_to == Some(PersonAttr::Email))
            .map_or("fields", |f| f.key.as_str());
        if errors.of(key).next().is_none() {
            errors.add(
                key,
                "Enter your email address, so that we can record what you agreed to",
            );
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

/// A form with its current version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormRecord {
    pub id: i64,
    pub version: i64,
    pub definition: FormDefinition,
    pub open: bool,
    pub created_at: OffsetDateTime,
    /// Responses to every version.
    pub responses: u64,
}

/// A submission to store: the answers, and the person and ledger changes that go with it.
#[derive(Debug, Clone)]
pub struct NewResponse<'a> {
    pub form: i64,
    pub version: i64,
    pub answers: &'a [(String, Answer)],
    pub email: Option<&'a EmailAddress>,
    pub patch: &'a PersonPatch,
    /// Events recorded at once.
    pub consents: &'a [NewConsent],
    /// Grants that count only once the address confirms them.
    pub pending: Option<PendingConsents<'a>>,
    pub purposes: &'a [Purpose],
    pub at: OffsetDateTime,
}

/// Grants held back until the address confirms them through an emailed link.
#[derive(Debug, Clone)]
pub struct PendingConsents<'a> {
    /// The hash of the link's secret.
    pub secret: &'a SecretHash,
    pub grants: &'a [PendingGrant],
    pub expires_at: OffsetDateTime,
}

/// A stored response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResponse {
    pub id: i64,
    pub version: i64,
    pub person: Option<i64>,
    pub answers: Vec<(String, Answer)>,
    pub submitted_at: OffsetDateTime,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Config, PurposeConfig};
    use crate::purposes::{LawfulBasis, registry};

    fn purposes() -> Vec<Purpose> {
        let mut c = Config::default();
        c.purposes.push(PurposeConfig {
            id: "news".to_owned(),
            name: "News".to_owned(),
            description: "News".to_owned(),
            data: "Email".to_owned(),
            lawful_basis: LawfulBasis::Consent,
            retention_days: 365,
            channels: vec![Channel::Email, Channel::Post],
            direct_marketing: true,
            consent_label: "Send me news".to_owned(),
        });
        registry(&c)
    }

    fn field(key: &str, kind: FieldKind) -> Field {
        Field {
            key: key.to_owned(),
            label: format!("Question {key}"),
            hint: String::new(),
            kind,
            required: false,
            choices: Vec::new(),
            saves_to: None,
            purpose: None,
        }
    }

    fn signup() -> FormDefinition {
        let mut email = field("q1", FieldKind::Email);
        email.required = true;
        email.saves_to = Some(PersonAttr::Email);
        let mut name = field("q2", FieldKind::ShortText);
        name.saves_to = Some(PersonAttr::Name);
        let mut colour = field("q3", FieldKind::SingleChoice);
        colour.choices = vec!["Red".to_owned(), "Blue".to_owned()];
        colour.required = true;
        let mut consent = field("q4", FieldKind::Consent);
        consent.purpose = Some("news".to_owned());
        FormDefinition {
            title: "Sign up".to_owned(),
            intro: String::new(),
            fields: vec![email, name, colour, consent],
            purposes: vec!["news".to_owned()],
        }
    }

    fn submit(
        def: &FormDefinition,
        mode: MarketingConsent,
        pairs: &[(&'static str, &'static str)],
    ) -> Result<Submission, FieldErrors> {
        parse_submission(1, 1, def, &purposes(), mode, |k| {
            pairs
                .iter()
                .filter(|(n, _)| *n == k)
                .map(|(_, v)| *v)
                .collect()
        })
    }

    #[test]
    fn a_good_definition_passes_and_bad_ones_say_why() {
        let p = purposes();
        assert_eq!(signup().check(&p), FieldErrors::new());
        let mut d = signup();
        d.fields[0].required = false;
        assert!(d.check(&p).iter().any(|e| e.field == "fields"));
        let mut d = signup();
        d.fields[3].required = true;
        assert!(d.check(&p).iter().any(|e| e.field == "q4"));
        let mut d = signup();
        d.fields[3].purpose = Some("account".to_owned());
        assert!(d.check(&p).iter().any(|e| e.field == "q4"));
        let mut d = signup();
        d.fields[1].saves_to = Some(PersonAttr::Email);
        assert!(d.check(&p).iter().any(|e| e.field == "q2"));
        let mut d = signup();
        d.fields[2].choices = vec!["Red".to_owned(), "Red".to_owned()];
        assert!(d.check(&p).iter().any(|e| e.field == "q3"));
        let mut d = signup();
        d.title = "<b>\u{202E}x".to_owned();
        assert!(d.check(&p).iter().any(|e| e.field == "title"));
        assert_eq!(signup().next_key(), "q5");
        // A form's answers are not used for running the site.
        let mut d = signup();
        d.purposes.push("site-operation".to_owned());
        let errors = d.check(&p);
        assert!(
            errors
                .iter()
                .any(|e| e.field == "purposes" && e.problem.contains("about running the site")),
            "{errors:?}"
        );
        assert!(p.iter().any(|q| q.id == "news" && q.offered_on_forms()));
        assert!(
            !p.iter()
                .any(|q| q.id == "cookie-choices" && q.offered_on_forms())
        );
    }

    #[test]
    fn opt_in_records_only_ticked_boxes_with_their_words() {
        let s = submit(
            &signup(),
            MarketingConsent::OptIn,
            &[
                ("q1", " Jo@Example.ORG "),
                ("q2", "Jo"),
                ("q3", "Blue"),
                ("q4", "post"),
            ],
        )
        .unwrap();
        assert_eq!(s.email.unwrap().as_str(), "jo@example.org");
        assert_eq!(s.patch.name.as_deref(), Some("Jo"));
        assert_eq!(s.consents.len(), 1);
        assert_eq!(s.consents[0].channel, Some(Channel::Post));
        assert!(s.consents[0].granted);
        assert_eq!(
            s.consents[0].wording.as_ref().unwrap().text,
            "Send me news by post"
        );
        let none = submit(
            &signup(),
            MarketingConsent::OptIn,
            &[("q1", "jo@example.org"), ("q3", "Red")],
        )
        .unwrap();
        assert!(none.consents.is_empty());
    }

    #[test]
    fn the_old_tick_to_refuse_box_records_its_own_words() {
        let s = submit(
            &signup(),
            MarketingConsent::OptOutBox,
            &[("q1", "jo@example.org"), ("q3", "Red"), ("q4", "email")],
        )
        .unwrap();
        let email = s
            .consents
            .iter()
            .find(|c| c.channel == Some(Channel::Email))
            .unwrap();
        let post = s
            .consents
            .iter()
            .find(|c| c.channel == Some(Channel::Post))
            .unwrap();
        assert!(!email.granted);
        assert!(post.granted);
        assert!(post.wording.as_ref().unwrap().text.contains("do NOT want"));
    }

    #[test]
    fn each_wrong_field_is_named() {
        let e = submit(
            &signup(),
            MarketingConsent::OptIn,
            &[("q1", "not an email"), ("q3", "Green"), ("q4", "fax")],
        )
        .unwrap_err();
        let keys: Vec<&str> = e.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(keys, vec!["q1", "q3", "q4"]);
        let e = submit(&signup(), MarketingConsent::OptIn, &[]).unwrap_err();
        let e: Vec<&str> = e.iter().map(|e| e.problem.as_str()).collect();
        assert!(e[0].contains("Enter an answer"));
        assert!(e[1].contains("Select an answer"));
        // A ticked box with no address: one error, on the email question.
        let e = submit(
            &signup(),
            MarketingConsent::OptIn,
            &[("q1", "x"), ("q3", "Red"), ("q4", "email")],
        )
        .unwrap_err();
        let keys: Vec<&str> = e.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(keys, vec!["q1"]);
    }

    #[test]
    fn values_are_checked_per_kind() {
        let mut d = signup();
        d.fields.truncate(1);
        for (kind, good, bad) in [
            (FieldKind::Phone, "01632 960 001", "call me"),
            (FieldKind::Postcode, "sw1a1aa", "XYZ"),
            (FieldKind::Rating, "5", "6"),
            (FieldKind::Date, "2026-02-28", "2026-02-30"),
            (FieldKind::ShortText, "=1+1", "a\u{0007}b"),
        ] {
            let mut q = field("q9", kind);
            q.required = true;
            let mut def = d.clone();
            def.fields.push(q);
            let ok = parse_submission(
                1,
                1,
                &def,
                &purposes(),
                MarketingConsent::OptIn,
                |k| match k {
                    "q1" => vec!["a@example.org"],
                    _ => vec![good],
                },
            );
            assert!(ok.is_ok(), "{kind:?} {good}");
            let no = parse_submission(
                1,
                1,
                &def,
                &purposes(),
                MarketingConsent::OptIn,
                |k| match k {
                    "q1" => vec!["a@example.org"],
                    _ => vec![bad],
                },
            );
            assert!(no.is_err(), "{kind:?} {bad}");
        }
    }

    #[test]
    fn a_patch_fills_in_a_kept_record_and_replaces_a_new_or_imported_one() {
        let held = Profile {
            name: "Jo".to_owned(),
            ..Profile::default()
        };
        let patch = PersonPatch {
            name: Some("Joanna".to_owned()),
            job_title: Some("Clerk".to_owned()),
            ..PersonPatch::default()
        };
        let filled = patch.updated(&held, false, false).unwrap();
        assert_eq!(
            (filled.name.as_str(), filled.job_title.as_str()),
            ("Jo", "Clerk")
        );
        let replaced = patch.updated(&held, false, true).unwrap();
        assert_eq!(replaced.name, "Joanna");
        assert_eq!(patch.updated(&held, true, false).unwrap().name, "Joanna");
        // Nothing to write: an empty patch, or one that changes nothing.
        assert_eq!(PersonPatch::default().updated(&held, true, true), None);
        assert_eq!(patch.updated(&replaced, false, false), None);
    }
}
