//! People (the data subjects), the consent ledger and the suppression list.
//!
//! Invariants: the ledger is append-only, so a person's current consent is derived from it
//! and never stored beside it; an objection to direct marketing on a channel (the
//! suppression list) can be lifted only by the person themselves, through a new consent.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use crate::account::EmailAddress;
use crate::account::Profile;
use crate::purposes::{Channel, Purpose};

/// Where a person's record came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Source {
    Form {
        form: i64,
    },
    PreferenceCentre,
    Import {
        import: i64,
    },
    Staff,
    /// They made a request about their data while signed in.
    Request,
}

impl Source {
    pub fn to_text(self) -> String {
        match self {
            Source::Form { form } => format!("form:{form}"),
            Source::PreferenceCentre => "preferences".to_owned(),
            Source::Import { import } => format!("import:{import}"),
            Source::Staff => "staff".to_owned(),
            Source::Request => "request".to_owned(),
        }
    }

    pub fn from_text(s: &str) -> Option<Source> {
        match s {
            "preferences" => Some(Source::PreferenceCentre),
            "staff" => Some(Source::Staff),
            "request" => Some(Source::Request),
            _ => {
                let (kind, id) = s.split_once(':')?;
                let id: i64 = id.parse().ok()?;
                match kind {
                    "form" => Some(Source::Form { form: id }),
                    "import" => Some(Source::Import { import: id }),
                    _ => None,
                }
            }
        }
    }

    pub fn describe(self) -> String {
        match self {
            Source::Form { form } => format!("Form {form}"),
            Source::PreferenceCentre => "Preference centre".to_owned(),
            Source::Import { import } => format!("Import {import}"),
            Source::Staff => "Added by staff".to_owned(),
            Source::Request => "A request about their data".to_owned(),
        }
    }
}

/// A person whose data the organisation holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Person {
    pub id: i64,
    pub email: EmailAddress,
    pub details: Profile,
    pub source: Source,
    /// Their account, when they have one with the same address.
    pub account: Option<i64>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

/// What staff hold as evidence when they record a consent or an objection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Evidence {
    Letter,
    Call,
    Email,
}

impl Evidence {
    pub const ALL: [Evidence; 3] = [Evidence::Letter, Evidence::Call, Evidence::Email];

    pub fn as_str(self) -> &'static str {
        match self {
            Evidence::Letter => "letter",
            Evidence::Call => "call",
            Evidence::Email => "email",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Evidence::Letter => "A letter",
            Evidence::Call => "A telephone call",
            Evidence::Email => "An email",
        }
    }

    pub fn parse(s: &str) -> Option<Evidence> {
        Evidence::ALL.into_iter().find(|e| e.as_str() == s)
    }
}

/// How a consent was given or withdrawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Method {
    Form {
        form: i64,
        version: i64,
    },
    /// A grant given on a public form and confirmed from the address through an emailed
    /// link; the event's time is the confirmation, `submitted` (Unix seconds) the form's.
    FormConfirmed {
        form: i64,
        version: i64,
        submitted: i64,
    },
    PreferenceCentre,
    Unsubscribe,
    Staff {
        evidence: Evidence,
    },
    Import {
        import: i64,
    },
    /// Recorded from a confirmed request about the person's data (an objection, Art 21).
    Request {
        request: i64,
    },
}

impl Method {
    /// Whether the person, proved to hold the address, did this themselves: only then can an
    /// objection be lifted. The preference centre is reached through the person's account or
    /// a link sent to the address; a public form proves nothing about who typed the address.
    pub fn is_by_proven_person(self) -> bool {
        matches!(self, Method::PreferenceCentre)
    }

    /// The stored form: a kind, and for forms and imports the ids.
    pub fn to_text(self) -> String {
        match self {
            Method::Form { form, version } => format!("form:{form}:{version}"),
            Method::FormConfirmed {
                form,
                version,
                submitted,
            } => format!("form-confirmed:{form}:{version}:{submitted}"),
            Method::PreferenceCentre => "preferences".to_owned(),
            Method::Unsubscribe => "unsubscribe".to_owned(),
            Method::Staff { evidence } => format!("staff:{}", evidence.as_str()),
            Method::Import { import } => format!("import:{import}"),
            Method::Request { request } => format!("request:{request}"),
        }
    }

    pub fn from_text(s: &str) -> Option<Method> {
        let mut parts = s.split(':');
        let kind = parts.next()?;
        let mut id = || parts.next().and_then(|p| p.parse::<i64>().ok());
        let m = match kind {
            "form" => {
                let form = id()?;
                let version = id()?;
                Method::Form { form, version }
            }
            "form-confirmed" => {
                let form = id()?;
                let version = id()?;
                let submitted = id()?;
                Method::FormConfirmed {
                    form,
                    version,
                    submitted,
                }
            }
            "preferences" => Method::PreferenceCentre,
            "unsubscribe" => Method::Unsubscribe,
            "staff" => Method::Staff {
                evidence: Evidence::parse(s.strip_prefix("staff:")?)?,
            },
            "import" => Method::Import { import: id()? },
            "request" => Method::Request { request: id()? },
            _ => return None,
        };
        Some(m)
    }

    pub fn describe(self) -> String {
        match self {
            Method::Form { form, version } => format!("Form {form} (version {version})"),
            Method::FormConfirmed {
                form,
                version,
                submitted,
            } => {
                let sent = OffsetDateTime::from_unix_timestamp(submitted)
                    .map_or_else(|_| submitted.to_string(), crate::uk_time::readable_uk);
                format!(
                    "Form {form} (version {version}), sent {sent} and confirmed from the address"
                )
            }
            Method::PreferenceCentre => "Preference centre".to_owned(),
            Method::Unsubscribe => "Unsubscribe link".to_owned(),
            Method::Staff { evidence } => format!("{} recorded by staff", evidence.label()),
            Method::Import { import } => format!("Import {import}"),
            Method::Request { request } => format!("Request {request} about their data"),
        }
    }
}

/// The exact words a person saw, stored once and referred to by their SHA-256.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Wording {
    #[serde(with = "hex_bytes")]
    pub hash: [u8; 32],
    pub text: String,
}

impl Wording {
    pub fn new(text: &str) -> Wording {
        Wording {
            hash: Sha256::digest(text.as_bytes()).into(),
            text: text.to_owned(),
        }
    }
}

mod hex_bytes {
    pub fn serialize<S: serde::Serializer>(b: &[u8; 32], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(b))
    }
}

/// One ledger event to append.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NewConsent {
    pub purpose: String,
    pub channel: Option<Channel>,
    pub granted: bool,
    pub method: Method,
    pub wording: Option<Wording>,
    /// The staff member who recorded it.
    pub actor: Option<i64>,
    pub note: String,
}

/// One event of the ledger, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConsentEvent {
    pub id: i64,
    pub person: i64,
    pub purpose: String,
    pub channel: Option<Channel>,
    pub granted: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    pub method: Method,
    pub wording: Option<Wording>,
    pub actor: Option<i64>,
    pub note: String,
}

/// Consent to one purpose on one channel (`None` for a purpose without channels).
pub type ConsentKey = (String, Option<Channel>);

/// The current state, derived from the ledger: the latest event for each purpose and
/// channel. Events are ordered by time, then by id (the order they were appended).
pub fn current_consents(events: &[ConsentEvent]) -> BTreeMap<ConsentKey, &ConsentEvent> {
    let mut sorted: Vec<&ConsentEvent> = events.iter().collect();
    sorted.sort_by_key(|e| (e.at, e.id));
    let mut out = BTreeMap::new();
    for e in sorted {
        out.insert((e.purpose.clone(), e.channel), e);
    }
    out
}

/// Where one consent a person can give stands: a consent-based purpose on one of its
/// channels, the words it is asked in, and the latest event for it.
#[derive(Debug, Clone)]
pub struct Standing<'a> {
    pub purpose: &'a Purpose,
    pub channel: Option<Channel>,
    pub wording: String,
    pub last: Option<&'a ConsentEvent>,
}

impl Standing<'_> {
    pub fn granted(&self) -> bool {
        self.last.is_some_and(|e| e.granted)
    }
}

/// Every consent a person can give, in registry order, with where each stands.
pub fn standings<'a>(purposes: &'a [Purpose], events: &'a [ConsentEvent]) -> Vec<Standing<'a>> {
    let current = current_consents(events);
    purposes
        .iter()
        .filter(|p| p.is_consented())
        .flat_map(|p| {
            let current = &current;
            p.consent_channels()
                .into_iter()
                .map(move |channel| Standing {
                    purpose: p,
                    channel,
                    wording: consent_wording(p, channel, false),
                    last: current.get(&(p.id.clone(), channel)).copied(),
                })
        })
        .collect()
}

/// Whether consent to `purpose` on `channel` is in force.
pub fn has_consent(events: &[ConsentEvent], purpose: &str, channel: Option<Channel>) -> bool {
    current_consents(events)
        .get(&(purpose.to_owned(), channel))
        .is_some_and(|e| e.granted)
}

/// The one-way code an address is kept under on the suppression list, so an objection can
/// outlive the person's erasure without keeping their address.
pub fn suppression_key(email: &EmailAddress) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"candour-suppression\0");
    h.update(email.as_str().as_bytes());
    h.finalize().into()
}

/// A consent given on a public form, waiting to be confirmed from the address: anyone can
/// type anyone's address into a form, so a grant counts only once the address confirms it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingGrant {
    pub purpose: String,
    pub channel: Option<Channel>,
    /// The words of the box the person ticked, kept as the evidence.
    pub wording: Option<String>,
}

/// Split a public form's consent events: withdrawals and refusals are recorded at once
/// (they can only narrow what is done with the address), grants wait for confirmation.
pub fn split_for_confirmation(events: &[NewConsent]) -> (Vec<NewConsent>, Vec<PendingGrant>) {
    let (grants, now): (Vec<&NewConsent>, Vec<&NewConsent>) =
        events.iter().partition(|e| e.granted);
    let pending = grants
        .into_iter()
        .map(|e| PendingGrant {
            purpose: e.purpose.clone(),
            channel: e.channel,
            wording: e.wording.as_ref().map(|w| w.text.clone()),
        })
        .collect();
    (now.into_iter().cloned().collect(), pending)
}

/// The ledger events that confirmed grants become: the form's wording, the form and the time
/// it was sent in the method, the confirmation's time as the event's.
pub fn confirmed_grants(
    grants: &[PendingGrant],
    form: i64,
    version: i64,
    submitted: OffsetDateTime,
) -> Vec<NewConsent> {
    grants
        .iter()
        .map(|g| NewConsent {
            purpose: g.purpose.clone(),
            channel: g.channel,
            granted: true,
            method: Method::FormConfirmed {
                form,
                version,
                submitted: submitted.unix_timestamp(),
            },
            wording: g.wording.as_deref().map(Wording::new),
            actor: None,
            note: String::new(),
        })
        .collect()
}

/// Why consent events could not be appended.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConsentRefused {
    #[error(
        "this address has objected to direct marketing by {}; only the person can agree again, through a form or the preference centre",
        .0.label()
    )]
    Suppressed(Channel),
    #[error("there is no purpose `{0}` that people can consent to")]
    UnknownPurpose(String),
    #[error("the purpose `{0}` is not asked for by {1}")]
    UnknownChannel(String, &'static str),
}

/// What to do with checked events.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Checked {
    /// Objections the person lifts by agreeing again.
    pub lift: Vec<Channel>,
    /// Indexes of events that are not recorded: a form's grant for a channel the address
    /// objected to (a form cannot prove who typed the address, so the objection stands and
    /// nothing tells the sender that there was one).
    pub skip: Vec<usize>,
}

/// Check events against the registry and the suppression list before they are appended.
/// Staff and imports cannot grant direct marketing on a channel the address objected to; a
/// form's grant there is dropped; the person, in the preference centre, can, and that
/// consent lifts the objection.
pub fn check_consents(
    purposes: &[Purpose],
    events: &[NewConsent],
    suppressed: &[Channel],
) -> Result<Checked, ConsentRefused> {
    let mut out = Checked::default();
    for (i, e) in events.iter().enumerate() {
        let purpose = purposes
            .iter()
            .find(|p| p.id == e.purpose && p.is_consented())
            .ok_or_else(|| ConsentRefused::UnknownPurpose(e.purpose.clone()))?;
        if !purpose.consent_channels().contains(&e.channel) {
            return Err(ConsentRefused::UnknownChannel(
                e.purpose.clone(),
                e.channel.map_or("no channel", Channel::label),
            ));
        }
        if let Some(channel) = e.channel
            && e.granted
            && purpose.direct_marketing
            && suppressed.contains(&channel)
        {
            match e.method {
                m if m.is_by_proven_person() => {
                    if !out.lift.contains(&channel) {
                        out.lift.push(channel);
                    }
                }
                Method::Form { .. } | Method::FormConfirmed { .. } => out.skip.push(i),
                _ => return Err(ConsentRefused::Suppressed(channel)),
            }
        }
    }
    Ok(out)
}

/// The events that carry out an objection to direct marketing on `channel`: a withdrawal
/// of every direct-marketing purpose on that channel that is currently granted.
pub fn objection_events(
    purposes: &[Purpose],
    current: &[ConsentEvent],
    channel: Channel,
    method: Method,
    actor: Option<i64>,
    note: &str,
) -> Vec<NewConsent> {
    purposes
        .iter()
        .filter(|p| p.direct_marketing && p.is_consented() && p.channels.contains(&channel))
        .filter(|p| has_consent(current, &p.id, Some(channel)))
        .map(|p| NewConsent {
            purpose: p.id.clone(),
            channel: Some(channel),
            granted: false,
            method,
            wording: None,
            actor,
            note: note.to_owned(),
        })
        .collect()
}

/// The words of a consent box for `purpose` on `channel`, as a form or the preference
/// centre shows them; `refuse` for the old tick-to-refuse wording.
pub fn consent_wording(purpose: &Purpose, channel: Option<Channel>, refuse: bool) -> String {
    let by = channel
        .map(|c| format!(" by {}", c.label()))
        .unwrap_or_default();
    if refuse {
        format!(
            "Tick this box if you do NOT want this: {}{by}",
            purpose.consent_label
        )
    } else {
        format!("{}{by}", purpose.consent_label)
    }
}

/// Make a cell safe to open in a spreadsheet: text that starts with `=`, `+`, `-`, `@`, a
/// tab or a carriage return would be read as a formula, so it gets a leading apostrophe.
pub fn spreadsheet_safe(cell: &str) -> String {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{cell}")
    } else {
        cell.to_owned()
    }
}

/// Consent events to append for one person, with the rules they are checked against in the
/// same transaction.
#[derive(Debug, Clone, Copy)]
pub struct ConsentChange<'a> {
    pub person: i64,
    pub events: &'a [NewConsent],
    /// Channels the person objects to direct marketing on, and how: added to the suppression
    /// list, and every direct-marketing consent on the channel is withdrawn.
    pub objections: &'a [(Channel, Method)],
    /// The staff member recording the change, if any.
    pub actor: Option<i64>,
    /// The registry the events are checked against.
    pub purposes: &'a [Purpose],
    pub at: OffsetDateTime,
}

/// What appending a [`ConsentChange`] writes, decided before anything is written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LedgerWrites {
    /// Events to append, in this order: the change's own (less the form grants the
    /// suppression list drops), then the withdrawals each objection calls for.
    pub events: Vec<NewConsent>,
    /// Channels whose objection the person lifts: taken off the suppression list.
    pub lift: Vec<Channel>,
    /// Objections to put on the suppression list, after the lifts (one already there stays
    /// as it was).
    pub suppress: Vec<(Channel, Method)>,
}

impl ConsentChange<'_> {
    /// Whether [`ConsentChange::writes`] needs the person's ledger: only objections do, so
    /// a store reads it only then.
    pub fn needs_ledger(&self) -> bool {
        !self.objections.is_empty()
    }

    /// Decide what the change writes, or refuse it. `suppressed` is the address's
    /// suppression list and `ledger` the person's events (empty unless
    /// [`ConsentChange::needs_ledger`]), both as they stand in the transaction that writes.
    /// Each objection withdraws what is granted once the events before it are appended.
    pub fn writes(
        &self,
        suppressed: &[Channel],
        ledger: &[ConsentEvent],
    ) -> Result<LedgerWrites, ConsentRefused> {
        let checked = check_consents(self.purposes, self.events, suppressed)?;
        let mut events: Vec<NewConsent> = self
            .events
            .iter()
            .enumerate()
            .filter(|(i, _)| !checked.skip.contains(i))
            .map(|(_, e)| e.clone())
            .collect();
        let mut suppress = Vec::new();
        if self.needs_ledger() {
            // The ledger as the store would read it between appends: each new event comes
            // after every stored one (a larger id) at the change's time.
            let mut current = ledger.to_vec();
            let mut next_id = ledger.iter().map(|e| e.id).max().unwrap_or(0);
            let mut append = |current: &mut Vec<ConsentEvent>, e: &NewConsent| {
                next_id += 1;
                current.push(e.appended(next_id, self.person, self.at));
            };
            for e in &events {
                append(&mut current, e);
            }
            for (channel, method) in self.objections {
                let withdrawals =
                    objection_events(self.purposes, &current, *channel, *method, self.actor, "");
                for e in &withdrawals {
                    append(&mut current, e);
                }
                events.extend(withdrawals);
                suppress.push((*channel, *method));
            }
        }
        Ok(LedgerWrites {
            events,
            lift: checked.lift,
            suppress,
        })
    }
}

impl NewConsent {
    /// The event as the ledger holds it once appended with `id` for `person` at `at`.
    pub fn appended(&self, id: i64, person: i64, at: OffsetDateTime) -> ConsentEvent {
        ConsentEvent {
            id,
            person,
            purpose: self.purpose.clone(),
            channel: self.channel,
            granted: self.granted,
            at,
            method: self.method,
            wording: self.wording.clone(),
            actor: self.actor,
            note: self.note.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Config, PurposeConfig};
    use crate::purposes::{LawfulBasis, registry};
    use time::macros::datetime;

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

    fn event(id: i64, at: OffsetDateTime, channel: Channel, granted: bool) -> ConsentEvent {
        ConsentEvent {
            id,
            person: 1,
            purpose: "news".to_owned(),
            channel: Some(channel),
            granted,
            at,
            method: Method::PreferenceCentre,
            wording: None,
            actor: None,
            note: String::new(),
        }
    }

    fn grant(method: Method) -> NewConsent {
        NewConsent {
            purpose: "news".to_owned(),
            channel: Some(Channel::Email),
            granted: true,
            method,
            wording: None,
            actor: None,
            note: String::new(),
        }
    }

    #[test]
    fn the_latest_event_per_purpose_and_channel_is_the_state() {
        let t = datetime!(2026-01-01 00:00 UTC);
        let events = vec![
            event(3, t + time::Duration::hours(2), Channel::Email, false),
            event(1, t, Channel::Email, true),
            event(2, t + time::Duration::hours(1), Channel::Post, true),
            // Same instant: the later append wins.
            event(5, t + time::Duration::hours(3), Channel::Post, false),
            event(6, t + time::Duration::hours(3), Channel::Post, true),
        ];
        assert!(!has_consent(&events, "news", Some(Channel::Email)));
        assert!(has_consent(&events, "news", Some(Channel::Post)));
        assert!(!has_consent(&events, "news", Some(Channel::Phone)));
        assert_eq!(current_consents(&events).len(), 2);
    }

    #[test]
    fn only_the_person_can_lift_an_objection() {
        let p = purposes();
        let suppressed = [Channel::Email];
        for method in [
            Method::Staff {
                evidence: Evidence::Letter,
            },
            Method::Import { import: 1 },
        ] {
            assert_eq!(
                check_consents(&p, &[grant(method)], &suppressed),
                Err(ConsentRefused::Suppressed(Channel::Email))
            );
        }
        assert_eq!(
            check_consents(&p, &[grant(Method::PreferenceCentre)], &suppressed).map(|c| c.lift),
            Ok(vec![Channel::Email])
        );
        // A form cannot prove who typed the address: its grant is dropped, the objection
        // stands.
        let form = check_consents(
            &p,
            &[grant(Method::Form {
                form: 1,
                version: 1,
            })],
            &suppressed,
        )
        .unwrap();
        assert_eq!((form.lift, form.skip), (vec![], vec![0]));
        assert_eq!(
            check_consents(&p, &[grant(Method::Import { import: 1 })], &[]),
            Ok(Checked::default())
        );
    }

    #[test]
    fn consents_must_name_a_consented_purpose_and_its_channel() {
        let p = purposes();
        let mut bad = grant(Method::PreferenceCentre);
        bad.purpose = "account".to_owned();
        assert!(matches!(
            check_consents(&p, &[bad], &[]),
            Err(ConsentRefused::UnknownPurpose(_))
        ));
        let mut bad = grant(Method::PreferenceCentre);
        bad.channel = Some(Channel::Fax);
        assert!(matches!(
            check_consents(&p, &[bad], &[]),
            Err(ConsentRefused::UnknownChannel(..))
        ));
    }

    #[test]
    fn an_objection_withdraws_what_is_granted_on_its_channel() {
        let p = purposes();
        let t = datetime!(2026-01-01 00:00 UTC);
        let events = vec![
            event(1, t, Channel::Email, true),
            event(2, t, Channel::Post, true),
        ];
        let out = objection_events(&p, &events, Channel::Email, Method::Unsubscribe, None, "");
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].channel, Some(Channel::Email));
        assert!(!out[0].granted);
    }

    fn change<'a>(
        p: &'a [Purpose],
        events: &'a [NewConsent],
        objections: &'a [(Channel, Method)],
    ) -> ConsentChange<'a> {
        ConsentChange {
            person: 1,
            events,
            objections,
            actor: None,
            purposes: p,
            at: datetime!(2026-02-01 00:00 UTC),
        }
    }

    #[test]
    fn a_change_writes_its_events_less_a_forms_grants_on_a_suppressed_channel() {
        let p = purposes();
        let form = grant(Method::Form {
            form: 1,
            version: 1,
        });
        let mut post = grant(Method::Form {
            form: 1,
            version: 1,
        });
        post.channel = Some(Channel::Post);
        let events = [form, post.clone()];
        let c = change(&p, &events, &[]);
        assert!(!c.needs_ledger());
        let w = c.writes(&[Channel::Email], &[]).unwrap();
        assert_eq!(w.events, [post]);
        assert!(w.lift.is_empty() && w.suppress.is_empty());
        // Staff cannot grant there at all; the person, in the preference centre, lifts it.
        let staff = [grant(Method::Staff {
            evidence: Evidence::Call,
        })];
        assert_eq!(
            change(&p, &staff, &[]).writes(&[Channel::Email], &[]),
            Err(ConsentRefused::Suppressed(Channel::Email))
        );
        let own = [grant(Method::PreferenceCentre)];
        let w = change(&p, &own, &[])
            .writes(&[Channel::Email], &[])
            .unwrap();
        assert_eq!((w.events.len(), w.lift), (1, vec![Channel::Email]));
    }

    #[test]
    fn an_objection_withdraws_what_is_granted_including_what_the_same_change_grants() {
        let p = purposes();
        let t = datetime!(2026-01-01 00:00 UTC);
        // Granted by post in the ledger; granted by email in this very change.
        let ledger = [
            event(7, t, Channel::Post, true),
            event(8, t, Channel::Email, false),
        ];
        let own = [grant(Method::PreferenceCentre)];
        let objections = [
            (Channel::Email, Method::Unsubscribe),
            (Channel::Post, Method::Unsubscribe),
            (Channel::Email, Method::Unsubscribe),
        ];
        let c = change(&p, &own, &objections);
        assert!(c.needs_ledger());
        let w = c.writes(&[], &ledger).unwrap();
        let written: Vec<(Option<Channel>, bool)> =
            w.events.iter().map(|e| (e.channel, e.granted)).collect();
        // The second objection to email finds nothing left to withdraw.
        assert_eq!(
            written,
            [
                (Some(Channel::Email), true),
                (Some(Channel::Email), false),
                (Some(Channel::Post), false)
            ]
        );
        assert_eq!(w.suppress.len(), 3);
        // A stored event later than the change still wins over the change's own grant.
        let later = [event(
            9,
            datetime!(2026-03-01 00:00 UTC),
            Channel::Email,
            false,
        )];
        let w = change(&p, &own, &objections[..1])
            .writes(&[], &later)
            .unwrap();
        assert_eq!(w.events.len(), 1);
    }

    #[test]
    fn methods_and_sources_round_trip() {
        for m in [
            Method::Form {
                form: 3,
                version: 2,
            },
            Method::PreferenceCentre,
            Method::Unsubscribe,
            Method::Staff {
                evidence: Evidence::Call,
            },
            Method::Import { import: 9 },
            Method::Request { request: 12 },
            Method::FormConfirmed {
                form: 3,
                version: 2,
                submitted: 1_780_000_000,
            },
        ] {
            assert_eq!(Method::from_text(&m.to_text()), Some(m));
        }
        for s in [
            Source::Form { form: 1 },
            Source::PreferenceCentre,
            Source::Import { import: 2 },
            Source::Staff,
        ] {
            assert_eq!(Source::from_text(&s.to_text()), Some(s));
        }
        assert_eq!(Method::from_text("form:1"), None);
        assert_eq!(Method::from_text("staff:fax"), None);
    }

    #[test]
    fn a_forms_grants_wait_for_confirmation_and_its_refusals_do_not() {
        let form = Method::Form {
            form: 4,
            version: 1,
        };
        let mut post = grant(form);
        post.channel = Some(Channel::Post);
        post.wording = Some(Wording::new("Send me news by post"));
        let mut refusal = grant(form);
        refusal.granted = false;
        let (now, pending) = split_for_confirmation(&[post, refusal.clone()]);
        assert_eq!(now, vec![refusal]);
        assert_eq!(
            pending,
            vec![PendingGrant {
                purpose: "news".to_owned(),
                channel: Some(Channel::Post),
                wording: Some("Send me news by post".to_owned()),
            }]
        );
        let sent = datetime!(2026-12-01 09:00 UTC);
        let events = confirmed_grants(&pending, 4, 1, sent);
        assert_eq!(events.len(), 1);
        assert!(events[0].granted);
        assert_eq!(
            events[0].method,
            Method::FormConfirmed {
                form: 4,
                version: 1,
                submitted: sent.unix_timestamp(),
            }
        );
        assert_eq!(
            events[0].wording,
            Some(Wording::new("Send me news by post"))
        );
        assert_eq!(
            events[0].method.describe(),
            "Form 4 (version 1), sent 1 December 2026 at 9:00am and confirmed from the address"
        );
        // A confirmed grant on a channel the address objected to is still dropped: only the
        // preference centre lifts an objection.
        let checked = check_consents(&purposes(), &events, &[Channel::Post]).unwrap();
        assert_eq!(checked.skip, vec![0]);
    }

    #[test]
    fn spreadsheet_formulas_are_neutralised() {
        assert_eq!(spreadsheet_safe("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(spreadsheet_safe("+1"), "'+1");
        assert_eq!(spreadsheet_safe("-2"), "'-2");
        assert_eq!(spreadsheet_safe("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(spreadsheet_safe("Jo"), "Jo");
    }
}
