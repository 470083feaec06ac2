//! The preference centre: a person sees every purpose they can consent to, gives or
//! withdraws each with one click, objects to direct marketing by a channel, chooses their
//! interests, and reads the history of their consents. Every change is a ledger event.
//!
//! Who the person is: their account when signed in, or, without an account, a single-use
//! link emailed to them. Using the link opens a short visit, kept in a signed cookie that
//! names their record and when the visit ends.

use askama::Template;
use axum::Form;
use axum::Router;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use candour_core::account::EmailAddress;
use candour_core::cookies::{CookieId, PREFERENCES_COOKIE, read_cookie};
use candour_core::people::{
    ConsentEvent, Method, NewConsent, Person, Source, Wording, consent_wording,
};
use candour_core::purposes::{Channel, Purpose};
use candour_core::session::Secret;
use candour_core::store::ConsentChange;
use candour_mail::Email;
use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::Sha256;
use std::net::SocketAddr;
use time::{Duration, OffsetDateTime};

use crate::AppState;
use crate::kit::cookie_jar;
use crate::kit::error::AppError;
use crate::kit::form::{CsrfOnly, DoneQuery, FormState};
use crate::kit::frame::{Frame, render};
use crate::kit::limits;
use crate::kit::mail::{org, send_later};
use crate::kit::respond::no_store;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/preferences", get(centre))
        .route("/preferences/link", post(request_link))
        .route("/preferences/open", get(open_page).post(open))
        .route("/preferences/confirm", get(confirm_page).post(confirm))
        .route("/preferences/consent", post(change_consent))
        .route("/preferences/object", post(object))
        .route("/preferences/interests", post(save_interests))
        .route("/preferences/leave", post(leave))
}

// ---------- the visit cookie ----------

/// `person.expires.signature`: the record a link opened, until when.
fn visit_value(key: &[u8], person: i64, until: OffsetDateTime) -> String {
    let body = format!("{person}.{}", until.unix_timestamp());
    format!("{body}.{}", hex::encode(sign(key, &body)))
}

fn sign(key: &[u8], body: &str) -> Vec<u8> {
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key) else {
        return Vec::new();
    };
    mac.update(b"preference-visit\0");
    mac.update(body.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

/// The person a visit cookie names, if it is genuine and current.
fn visit_person(key: &[u8], value: &str, now: OffsetDateTime) -> Option<i64> {
    let (body, signature) = value.rsplit_once('.')?;
    let signature = hex::decode(signature).ok()?;
    let mut mac = Hmac::<Sha256>::new_from_slice(key).ok()?;
    mac.update(b"preference-visit\0");
    mac.update(body.as_bytes());
    mac.verify_slice(&signature).ok()?;
    let (person, until) = body.split_once('.')?;
    let until = OffsetDateTime::from_unix_timestamp(until.parse().ok()?).ok()?;
    (now < until).then_some(())?;
    person.parse().ok()
}

/// Whose preferences these are.
enum Who {
    /// Signed in: their account, and their record once they have one.
    Account {
        email: EmailAddress,
        person: Option<Person>,
    },
    /// Opened from an emailed link.
    Visit(Person),
    Nobody,
}

impl Who {
    fn person(&self) -> Option<&Person> {
        match self {
            Who::Account { person, .. } => person.as_ref(),
            Who::Visit(p) => Some(p),
            Who::Nobody => None,
        }
    }
}

async fn who(state: &AppState, frame: &Frame, headers: &HeaderMap) -> Result<Who, AppError> {
    if let Some(account) = &frame.visitor.account {
        let person = state.stores().people.person_for_account(account.id).await?;
        return Ok(Who::Account {
            email: account.email.clone(),
            person,
        });
    }
    let cookie = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|h| h.to_str().ok())
        .find_map(|h| read_cookie(h, PREFERENCES_COOKIE));
    if let Some(id) =
        cookie.and_then(|v| visit_person(&state.inner.keys.preferences, v, state.now()))
        && let Some(p) = state.stores().people.person(id).await?
    {
        return Ok(Who::Visit(p));
    }
    Ok(Who::Nobody)
}

/// The person to change: a signed-in visitor without a record gets one now.
async fn person_to_change(state: &AppState, who: Who) -> Result<Person, AppError> {
    match who {
        Who::Account {
            person: Some(p), ..
        }
        | Who::Visit(p) => Ok(p),
        Who::Account { email, .. } => Ok(state
            .stores()
            .people
            .ensure_person(&email, Source::PreferenceCentre, state.now())
            .await?),
        Who::Nobody => Err(AppError::SeeOther("/preferences".to_owned())),
    }
}

// ---------- the page ----------

/// One consent a person can give, and where it stands.
struct Row {
    purpose: String,
    channel: Option<Channel>,
    wording: String,
    granted: bool,
    since: Option<String>,
}

struct PurposeView {
    purpose: Purpose,
    rows: Vec<Row>,
}

struct HistoryRow {
    at: String,
    what: String,
    granted: bool,
    how: String,
}

/// A channel a person can object to direct marketing on.
struct ObjectionView {
    channel: Channel,
    objected: bool,
}

#[derive(Template)]
#[template(path = "preferences/centre.html")]
struct CentrePage {
    frame: Frame,
    email: String,
    signed_in: bool,
    purposes: Vec<PurposeView>,
    objections: Vec<ObjectionView>,
    topics: Vec<(String, String, bool)>,
    history: Vec<HistoryRow>,
    notice: Option<&'static str>,
}

#[derive(Template)]
#[template(path = "preferences/ask.html")]
struct AskPage {
    frame: Frame,
    form: FormState,
    sent: bool,
    hours: u32,
}

fn date(t: time::OffsetDateTime) -> String {
    candour_core::uk_time::readable_uk(t)
}

fn describe(purposes: &[Purpose], e: &ConsentEvent) -> String {
    let name = purposes
        .iter()
        .find(|p| p.id == e.purpose)
        .map_or(e.purpose.as_str(), |p| p.name.as_str());
    match e.channel {
        Some(c) => format!("{name}, by {}", c.label()),
        None => name.to_owned(),
    }
}

async fn centre(
    State(state): State<AppState>,
    frame: Frame,
    headers: HeaderMap,
    Query(q): Query<DoneQuery>,
) -> Result<Response, AppError> {
    let who = who(&state, &frame, &headers).await?;
    let email = match &who {
        Who::Account { email, .. } => email.clone(),
        Who::Visit(p) => p.email.clone(),
        Who::Nobody => {
            let page = AskPage {
                frame,
                form: FormState::new(),
                sent: false,
                hours: state.config().people.preference_link_hours,
            };
            return Ok(no_store(render(&page)?));
        }
    };
    let people = &state.stores().people;
    let (events, suppressed) = match who.person() {
        Some(p) => (
            people.consent_events(p.id).await?,
            people.suppressed_channels(&p.email).await?,
        ),
        None => (Vec::new(), people.suppressed_channels(&email).await?),
    };
    let purposes = state.purposes();
    let standings = candour_core::people::standings(purposes, &events);
    let views = purposes
        .iter()
        .filter(|p| p.is_consented())
        .map(|p| PurposeView {
            rows: standings
                .iter()
                .filter(|st| st.purpose.id == p.id)
                .map(|st| Row {
                    purpose: p.id.clone(),
                    channel: st.channel,
                    wording: st.wording.clone(),
                    granted: st.granted(),
                    since: st.last.map(|e| date(e.at)),
                })
                .collect(),
            purpose: p.clone(),
        })
        .collect();
    let channels = candour_core::purposes::marketing_channels(purposes);
    let objections = channels
        .into_iter()
        .map(|channel| ObjectionView {
            channel,
            objected: suppressed.contains(&channel),
        })
        .collect();
    let interests = who
        .person()
        .map(|p| p.details.interests.clone())
        .unwrap_or_default();
    let topics = state
        .config()
        .topics
        .iter()
        .map(|t| (t.id.clone(), t.label.clone(), interests.contains(&t.id)))
        .collect();
    let mut history: Vec<HistoryRow> = events
        .iter()
        .map(|e| HistoryRow {
            at: date(e.at),
            what: describe(purposes, e),
            granted: e.granted,
            how: e.method.describe(),
        })
        .collect();
    history.reverse();
    let notice = match q.done.as_str() {
        "granted" => Some("Thank you: your consent has been recorded."),
        "withdrawn" => Some("Your consent has been withdrawn. It takes effect at once."),
        "objected" => Some("We will not contact you for marketing that way again."),
        "interests" => Some("Your interests have been saved."),
        _ => None,
    };
    let page = CentrePage {
        signed_in: matches!(who, Who::Account { .. }),
        email: email.as_str().to_owned(),
        frame,
        purposes: views,
        objections,
        topics,
        history,
        notice,
    };
    Ok(no_store(render(&page)?))
}

// ---------- the emailed link ----------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LinkForm {
    csrf: String,
    email: String,
}

async fn request_link(
    State(state): State<AppState>,
    frame: Frame,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(f): Form<LinkForm>,
) -> Result<Response, AppError> {
    state.check_form(&frame.visitor, &f.csrf)?;
    let hours = state.config().people.preference_link_hours;
    let email = match EmailAddress::parse(&f.email) {
        Ok(e) => e,
        Err(e) => {
            let mut form = FormState::new().with_value("email", &f.email);
            form.add_error("email", e.0);
            let page = AskPage {
                frame,
                form,
                sent: false,
                hours,
            };
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, no_store(render(&page)?)).into_response());
        }
    };
    let ip = limits::client_key(&state, peer, &headers);
    limits::hit(&state, limits::PREFERENCE_LINKS_PER_ADDRESS, &ip).await?;
    // The answer is the same, and takes the same time, whether or not the address is known:
    // the lookup and the email happen after it.
    let background = state.clone();
    tokio::spawn(async move {
        if let Err(e) = send_link(&background, email, hours).await {
            tracing::error!(error = %e, "Could not send a preference-centre link.");
        }
    });
    let page = AskPage {
        frame,
        form: FormState::new(),
        sent: true,
        hours,
    };
    Ok(no_store(render(&page)?))
}

/// Email a single-use link to the person with this address, if there is one.
async fn send_link(state: &AppState, email: EmailAddress, hours: u32) -> Result<(), AppError> {
    let Some(person) = state.stores().people.person_by_email(&email).await? else {
        return Ok(());
    };
    if !limits::within(state, limits::EMAILS_PER_RECIPIENT, email.as_str()).await? {
        return Ok(());
    }
    let secret = Secret::from_random(rand::random());
    let expires = state.now() + Duration::hours(i64::from(hours));
    state
        .stores()
        .people
        .create_preference_link(&secret.hash(), person.id, expires)
        .await?;
    let link = format!(
        "{}/preferences/open?token={}",
        state.link_base(),
        secret.expose()
    );
    send_later(
        state,
        Email {
            to: email,
            subject: format!("Your choices with {}", org(state)),
            text: format!(
                "You asked to see or change what you have agreed to with {org}.\n\n\
                 Open this link within {hours} hours; it works once:\n\n{link}\n\n\
                 If you did not ask, you can ignore this email: nothing has changed.\n",
                org = org(state)
            ),
        },
    );
    Ok(())
}

#[derive(Template)]
#[template(path = "preferences/open.html")]
struct OpenPage {
    frame: Frame,
    token: String,
    valid: bool,
}

#[derive(Deserialize)]
struct TokenQuery {
    #[serde(default)]
    token: String,
}

/// The page an emailed link opens: a button, so a mail scanner that follows links uses
/// nothing up.
async fn open_page(frame: Frame, Query(q): Query<TokenQuery>) -> Result<Response, AppError> {
    let valid = Secret::parse(&q.token).is_some();
    let page = OpenPage {
        frame,
        token: if valid { q.token } else { String::new() },
        valid,
    };
    let status = if valid {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    };
    Ok((status, no_store(render(&page)?)).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OpenForm {
    csrf: String,
    token: String,
}

async fn open(
    State(state): State<AppState>,
    frame: Frame,
    Form(f): Form<OpenForm>,
) -> Result<Response, AppError> {
    state.check_form(&frame.visitor, &f.csrf)?;
    let person = match Secret::parse(&f.token) {
        Some(secret) => {
            state
                .stores()
                .people
                .consume_preference_link(&secret.hash(), state.now())
                .await?
        }
        None => None,
    };
    let Some(person) = person else {
        let page = OpenPage {
            frame,
            token: String::new(),
            valid: false,
        };
        return Ok((StatusCode::BAD_REQUEST, no_store(render(&page)?)).into_response());
    };
    let minutes = state.config().people.preference_visit_minutes;
    let until = state.now() + Duration::minutes(i64::from(minutes));
    let value = visit_value(&state.inner.keys.preferences, person, until);
    let cookie = cookie_jar::set(&state, CookieId::Preferences, &value)?;
    Ok((cookie, Redirect::to("/preferences")).into_response())
}

#[derive(Template)]
#[template(path = "preferences/confirm.html")]
struct ConfirmPage {
    frame: Frame,
    token: String,
    state: Confirmation,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Confirmation {
    /// A link of the right shape: the page offers the button.
    Ask,
    Done,
    /// Unknown, used, expired or mangled.
    Unusable,
}

/// The page a form's confirmation email opens: a button, so a mail scanner that follows
/// links confirms nothing.
async fn confirm_page(frame: Frame, Query(q): Query<TokenQuery>) -> Result<Response, AppError> {
    let valid = Secret::parse(&q.token).is_some();
    let page = ConfirmPage {
        frame,
        token: if valid { q.token } else { String::new() },
        state: if valid {
            Confirmation::Ask
        } else {
            Confirmation::Unusable
        },
    };
    let status = if valid {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    };
    Ok((status, no_store(render(&page)?)).into_response())
}

/// Confirm the consent a form held back: the grants enter the ledger now.
async fn confirm(
    State(state): State<AppState>,
    frame: Frame,
    Form(f): Form<OpenForm>,
) -> Result<Response, AppError> {
    state.check_form(&frame.visitor, &f.csrf)?;
    let person = match Secret::parse(&f.token) {
        Some(secret) => {
            state
                .stores()
                .people
                .confirm_consents(&secret.hash(), state.purposes(), state.now())
                .await?
        }
        None => None,
    };
    let (status, confirmation) = match person {
        Some(_) => (StatusCode::OK, Confirmation::Done),
        None => (StatusCode::BAD_REQUEST, Confirmation::Unusable),
    };
    let page = ConfirmPage {
        frame,
        token: String::new(),
        state: confirmation,
    };
    Ok((status, no_store(render(&page)?)).into_response())
}

async fn leave(
    State(state): State<AppState>,
    frame: Frame,
    Form(f): Form<CsrfOnly>,
) -> Result<Response, AppError> {
    state.check_form(&frame.visitor, &f.csrf)?;
    let cookie = cookie_jar::clear(&state, CookieId::Preferences)?;
    Ok((cookie, Redirect::to("/")).into_response())
}

// ---------- changes ----------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConsentForm {
    csrf: String,
    purpose: String,
    #[serde(default)]
    channel: String,
    /// `yes` to give consent, `no` to withdraw it.
    grant: String,
}

fn unknown(field: &str, allowed: &str) -> AppError {
    AppError::Invalid(vec![crate::kit::error::FieldError {
        field: field.to_owned(),
        message: format!("Not one of the choices offered. Allowed: {allowed}"),
    }])
}

async fn change_consent(
    State(state): State<AppState>,
    frame: Frame,
    headers: HeaderMap,
    Form(f): Form<ConsentForm>,
) -> Result<Response, AppError> {
    state.check_form(&frame.visitor, &f.csrf)?;
    let granted = match f.grant.as_str() {
        "yes" => true,
        "no" => false,
        _ => return Err(unknown("grant", "yes, no")),
    };
    let purposes = state.purposes();
    let purpose = purposes
        .iter()
        .find(|p| p.id == f.purpose && p.is_consented())
        .ok_or_else(|| unknown("purpose", "the purposes listed on the page"))?;
    let channel = if f.channel.is_empty() {
        None
    } else {
        Some(
            Channel::parse(&f.channel)
                .ok_or_else(|| unknown("channel", "email, phone, post, fax"))?,
        )
    };
    if !purpose.consent_channels().contains(&channel) {
        return Err(unknown("channel", "the channels listed for the purpose"));
    }
    let who = who(&state, &frame, &headers).await?;
    let person = person_to_change(&state, who).await?;
    let event = NewConsent {
        purpose: purpose.id.clone(),
        channel,
        granted,
        method: Method::PreferenceCentre,
        wording: Some(Wording::new(&consent_wording(purpose, channel, false))),
        actor: None,
        note: String::new(),
    };
    state
        .stores()
        .people
        .append_consents(ConsentChange {
            person: person.id,
            events: std::slice::from_ref(&event),
            objections: &[],
            actor: None,
            purposes,
            at: state.now(),
        })
        .await?;
    let done = if granted { "granted" } else { "withdrawn" };
    Ok(Redirect::to(&format!("/preferences?done={done}")).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ObjectForm {
    csrf: String,
    channel: String,
}

async fn object(
    State(state): State<AppState>,
    frame: Frame,
    headers: HeaderMap,
    Form(f): Form<ObjectForm>,
) -> Result<Response, AppError> {
    state.check_form(&frame.visitor, &f.csrf)?;
    let channel =
        Channel::parse(&f.channel).ok_or_else(|| unknown("channel", "email, phone, post, fax"))?;
    let who = who(&state, &frame, &headers).await?;
    let person = person_to_change(&state, who).await?;
    state
        .stores()
        .people
        .append_consents(ConsentChange {
            person: person.id,
            events: &[],
            objections: &[(channel, Method::PreferenceCentre)],
            actor: None,
            purposes: state.purposes(),
            at: state.now(),
        })
        .await?;
    Ok(Redirect::to("/preferences?done=objected").into_response())
}

async fn save_interests(
    State(state): State<AppState>,
    frame: Frame,
    headers: HeaderMap,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Result<Response, AppError> {
    let data = crate::kit::form::FormData::parse(pairs, &["csrf", "interests"])?;
    state.check_form(&frame.visitor, data.get("csrf"))?;
    let known: Vec<&str> = state
        .config()
        .topics
        .iter()
        .map(|t| t.id.as_str())
        .collect();
    let chosen = data.all("interests");
    if chosen.iter().any(|c| !known.contains(c)) {
        return Err(unknown("interests", &known.join(", ")));
    }
    let who = who(&state, &frame, &headers).await?;
    let person = person_to_change(&state, who).await?;
    let mut details = person.details.clone();
    details.interests = known
        .iter()
        .filter(|k| chosen.contains(k))
        .map(|k| (*k).to_owned())
        .collect();
    state
        .stores()
        .people
        .update_person(person.id, &details, state.now())
        .await?;
    Ok(Redirect::to("/preferences?done=interests").into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn visit_cookies_are_signed_and_expire() {
        let key = [5u8; 32];
        let now = OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap();
        let v = visit_value(&key, 42, now + Duration::minutes(30));
        assert_eq!(visit_person(&key, &v, now), Some(42));
        assert_eq!(visit_person(&key, &v, now + Duration::minutes(31)), None);
        assert_eq!(visit_person(&[6u8; 32], &v, now), None);
        let forged = v.replacen("42", "43", 1);
        assert_eq!(visit_person(&key, &forged, now), None);
        assert_eq!(visit_person(&key, "42", now), None);
        assert_eq!(visit_person(&key, "", now), None);
    }
}
