//! The front door: a person asks for a copy of their data, a correction, erasure and the
//! rest. Free, with no account needed: a signed-in person with a confirmed address is
//! verified at once; anyone else confirms through a single-use link sent to the address the
//! request names, and only then is it a case with a clock.

use askama::Template;
use axum::Form;
use axum::Router;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use candour_core::account::Account;
use candour_core::people::Source;
use candour_core::purposes::Channel;
use candour_core::requests::templates::{Step, Value};
use candour_core::requests::{
    Case, Confirmation, CorrectionField, Kind, NewCase, NewRequest, Specifics,
};
use candour_core::session::Secret;
use serde::Deserialize;
use std::net::SocketAddr;
use time::Duration;

use super::{Clock, status_link, status_token_id, today, uk_date};
use crate::AppState;
use crate::kit::auth::SignedIn;
use crate::kit::error::AppError;
use crate::kit::form::{FormData, FormState};
use crate::kit::frame::{Frame, render};
use crate::kit::limits;
use crate::kit::mail::org;
use crate::kit::respond::no_store;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/requests", get(request_page).post(submit))
        .route("/requests/confirm", get(confirm_page).post(confirm))
        .route("/requests/status", get(status_page))
        .route("/requests/mine", get(mine))
}

const FIELDS: &[&str] = &[
    "csrf",
    "kind",
    "name",
    "email",
    "details",
    "correction",
    "correction_field",
    "marketing",
    "elsewhere",
];

/// What a page shows after a submission.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Sent {
    /// The form, not yet sent.
    No,
    /// A confirmation link went to the address.
    CheckEmail,
    /// A case at once (signed in with a confirmed address).
    Received,
}

#[derive(Template)]
#[template(path = "requests/new.html")]
struct RequestPage {
    frame: Frame,
    form: FormState,
    kinds: Vec<(&'static str, &'static str)>,
    sent: Sent,
    hours: u32,
    status: String,
    signed_in: bool,
}

impl RequestPage {
    fn checked(&self, kind: &str) -> bool {
        self.form.value("kind") == kind
    }

    /// The parts of a record a correction can name, as (code, label).
    fn correction_fields(&self) -> Vec<(&'static str, &'static str)> {
        CorrectionField::ALL
            .iter()
            .map(|f| (f.code(), f.label()))
            .collect()
    }

    /// The marketing channels an objection can cover, as (code, words after "by").
    fn channels(&self) -> Vec<(&'static str, &'static str)> {
        Channel::ALL
            .iter()
            .map(|c| (c.as_str(), c.label()))
            .collect()
    }

    fn channel_chosen(&self, code: &str) -> bool {
        self.form.value("marketing").split(' ').any(|c| c == code)
    }
}

fn kinds() -> Vec<(&'static str, &'static str)> {
    Kind::ALL.iter().map(|k| (k.code(), k.label())).collect()
}

/// The request form. Signed in, the name and address are filled in from the account.
async fn request_page(State(state): State<AppState>, frame: Frame) -> Result<Response, AppError> {
    let mut form = FormState::new();
    if let Some(account) = &frame.visitor.account {
        form = form.with_value("email", account.email.as_str());
        form = form.with_value("name", &account.profile.name);
    }
    let signed_in = frame.visitor.account.is_some();
    let page = RequestPage {
        frame,
        form,
        kinds: kinds(),
        sent: Sent::No,
        hours: state.config().requests.confirm_link_hours,
        status: String::new(),
        signed_in,
    };
    Ok(no_store(render(&page)?))
}

async fn submit(
    State(state): State<AppState>,
    frame: Frame,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Result<Response, AppError> {
    let data = FormData::parse(pairs, FIELDS)?;
    state.check_form(&frame.visitor, data.get("csrf"))?;
    let hours = state.config().requests.confirm_link_hours;
    let signed_in = frame.visitor.account.is_some();
    let parsed = NewRequest::parse(
        data.get("kind"),
        data.get("name"),
        data.get("email"),
        data.get("details"),
        data.get("correction"),
        !data.get("elsewhere").is_empty(),
    );
    let specifics = Specifics::parse(
        Kind::parse(data.get("kind").trim()),
        data.get("correction_field"),
        data.get("correction"),
        &data.all("marketing"),
    );
    let parsed = match (parsed, specifics) {
        (Ok(r), Ok(s)) => Ok(r.with(s)),
        (Ok(_), Err(e)) => Err(e),
        (Err(mut e), Err(more)) => {
            for m in more.iter() {
                if e.problem(&m.field).is_none() {
                    e.push(m.clone());
                }
            }
            Err(e)
        }
        (Err(e), Ok(_)) => Err(e),
    };
    let request = match parsed {
        Ok(r) => r,
        Err(errors) => {
            let mut form = FormState::from_data(&data, FIELDS)
                .with_value("marketing", &data.all("marketing").join(" "));
            form.errors = errors;
            let page = RequestPage {
                frame,
                form,
                kinds: kinds(),
                sent: Sent::No,
                hours,
                status: String::new(),
                signed_in,
            };
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, no_store(render(&page)?)).into_response());
        }
    };
    let ip = limits::client_key(&state, peer, &headers);
    limits::hit(&state, limits::DATA_REQUESTS_PER_ADDRESS, &ip).await?;
    let own = frame
        .visitor
        .account
        .as_ref()
        .filter(|a| a.email_verified && a.email == request.email);
    let (sent, status) = match own {
        Some(account) => {
            let id = create_verified(&state, account, request).await?;
            (Sent::Received, status_link(&state, id))
        }
        None => {
            create_by_link(&state, request, hours).await?;
            (Sent::CheckEmail, String::new())
        }
    };
    let page = RequestPage {
        frame,
        form: FormState::new(),
        kinds: kinds(),
        sent,
        hours,
        status,
        signed_in,
    };
    Ok(no_store(render(&page)?))
}

/// A request from the signed-in person about themselves: a case at once.
async fn create_verified(
    state: &AppState,
    account: &Account,
    request: NewRequest,
) -> Result<i64, AppError> {
    // Their record, made now if they have none, so the request is among their data and
    // shows on their account page.
    let person = match state.stores().people.person_for_account(account.id).await? {
        Some(p) => p,
        None => {
            state
                .stores()
                .people
                .ensure_person(&account.email, Source::Request, state.now())
                .await?
        }
    };
    let id = state
        .stores()
        .requests
        .create_request(&NewCase {
            request,
            person: Some(person.id),
            at: state.now(),
            confirmation: Confirmation::Verified {
                received_on: today(state),
            },
        })
        .await?;
    acknowledge(state, id).await?;
    Ok(id)
}

/// A request from anyone else: stored unconfirmed, and a single-use link sent to the address
/// it names. The page says the same whatever happens next.
async fn create_by_link(state: &AppState, request: NewRequest, hours: u32) -> Result<(), AppError> {
    let secret = Secret::from_random(rand::random());
    let to = request.email.clone();
    let kind = request.kind;
    state
        .stores()
        .requests
        .create_request(&NewCase {
            request,
            person: None,
            at: state.now(),
            confirmation: Confirmation::ByLink {
                hash: secret.hash(),
                expires: state.now() + Duration::hours(i64::from(hours)),
            },
        })
        .await?;
    if !limits::within(state, limits::EMAILS_PER_RECIPIENT, to.as_str()).await? {
        return Ok(());
    }
    let link = format!(
        "{}/requests/confirm?token={}",
        state.link_base(),
        secret.expose()
    );
    super::templates::send(
        state,
        Step::Confirm,
        to.as_str(),
        &[
            (Value::Organisation, org(state).to_owned()),
            (Value::Kind, kind.label().to_owned()),
            (Value::Hours, hours.to_string()),
            (Value::ConfirmLink, link),
        ],
    )
    .await?;
    Ok(())
}

/// Tell the person their request is a case: when it is due and where to follow it. An
/// objection to direct marketing takes effect now.
async fn acknowledge(state: &AppState, id: i64) -> Result<(), AppError> {
    let Some(case) = state.stores().requests.request(id).await? else {
        return Ok(());
    };
    super::actions::on_confirmed(state, &case).await?;
    super::templates::tell(state, Step::Acknowledgement, &case, &[]).await
}

#[derive(Deserialize)]
struct TokenQuery {
    #[serde(default)]
    token: String,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Confirming {
    Ask,
    Done,
    Unusable,
}

#[derive(Template)]
#[template(path = "requests/confirm.html")]
struct ConfirmPage {
    frame: Frame,
    token: String,
    state: Confirming,
    status: String,
}

/// The page the emailed link opens: a button, so a mail scanner following links confirms
/// nothing.
async fn confirm_page(frame: Frame, Query(q): Query<TokenQuery>) -> Result<Response, AppError> {
    let valid = Secret::parse(&q.token).is_some();
    let page = ConfirmPage {
        frame,
        token: if valid { q.token } else { String::new() },
        state: if valid {
            Confirming::Ask
        } else {
            Confirming::Unusable
        },
        status: String::new(),
    };
    let code = if valid {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    };
    Ok((code, no_store(render(&page)?)).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfirmForm {
    csrf: String,
    token: String,
}

async fn confirm(
    State(state): State<AppState>,
    frame: Frame,
    Form(f): Form<ConfirmForm>,
) -> Result<Response, AppError> {
    state.check_form(&frame.visitor, &f.csrf)?;
    let id = match Secret::parse(&f.token) {
        Some(secret) => {
            state
                .stores()
                .requests
                .confirm_request(&secret.hash(), state.now(), today(&state))
                .await?
        }
        None => None,
    };
    let (code, confirming, status) = match id {
        Some(id) => {
            acknowledge(&state, id).await?;
            (StatusCode::OK, Confirming::Done, status_link(&state, id))
        }
        None => (StatusCode::BAD_REQUEST, Confirming::Unusable, String::new()),
    };
    let page = ConfirmPage {
        frame,
        token: String::new(),
        state: confirming,
        status,
    };
    Ok((code, no_store(render(&page)?)).into_response())
}

#[derive(Template)]
#[template(path = "requests/status.html")]
struct StatusPage {
    frame: Frame,
    case: Case,
    clock: Clock,
    received: String,
}

impl StatusPage {
    fn answered(&self) -> bool {
        self.case.status == candour_core::requests::Status::Answered
    }
}

/// Where a request stands, for the person who made it. Anything but a genuine link is a
/// 404, so request numbers cannot be walked.
async fn status_page(
    State(state): State<AppState>,
    frame: Frame,
    Query(q): Query<TokenQuery>,
) -> Result<Response, AppError> {
    let Some(id) = status_token_id(&state, &q.token) else {
        return Err(AppError::NotFound);
    };
    let Some(case) = state.stores().requests.request(id).await? else {
        return Err(AppError::NotFound);
    };
    let clock = Clock::of(&case, &state);
    let received = case.timeline.received.map(uk_date).unwrap_or_default();
    Ok(no_store(render(&StatusPage {
        frame,
        case,
        clock,
        received,
    })?))
}

/// One of the signed-in person's requests.
struct Mine {
    case: Case,
    received: String,
    link: String,
}

#[derive(Template)]
#[template(path = "requests/mine.html")]
struct MinePage {
    frame: Frame,
    requests: Vec<Mine>,
}

/// The signed-in person's own requests, newest first, each with its status link.
async fn mine(
    State(state): State<AppState>,
    user: SignedIn,
    frame: Frame,
) -> Result<Response, AppError> {
    let person = state
        .stores()
        .people
        .person_for_account(user.account.id)
        .await?;
    let cases = match person {
        Some(p) => state.stores().requests.person_requests(p.id).await?,
        None => Vec::new(),
    };
    let requests = cases
        .into_iter()
        // One still waiting for its address to confirm it was not necessarily theirs.
        .filter(|c| c.confirmed_at.is_some())
        .map(|case| Mine {
            received: case.timeline.received.map(uk_date).unwrap_or_default(),
            link: status_link(&state, case.id),
            case,
        })
        .collect();
    Ok(no_store(render(&MinePage { frame, requests })?))
}
