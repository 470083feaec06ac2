//! Answering a request for a copy of one's data: staff build the bundle on the case page,
//! then release it. Release emails the person a link that downloads it once, before it
//! expires, bound to the address the case was confirmed from; only the hash of the link's
//! secret is stored. The case moves to answered through `case::plan`, like any other step,
//! and staff can issue a fresh link later (a new one stops the old one working).

use axum::Form;
use axum::Router;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::post;
use candour_core::account::{EmailAddress, Permission};
use candour_core::disclosures::kind;
use candour_core::fields::FieldErrors;
use candour_core::requests::answer::{self, NotYet};
use candour_core::requests::{Case, Change, case};
use candour_core::session::Secret;
use candour_core::signer::Purpose;
use candour_core::store::{Answer, NewAnswer};
use candour_core::uk_time;
use candour_mail::Email;
use time::Duration;

use super::bundle::{self, Extras, Holder};
use super::{holidays, status_link, today};
use crate::AppState;
use crate::disclosures::export::{Export, ExportForm, audit_words, record};
use crate::kit::auth::Staff;
use crate::kit::error::AppError;
use crate::kit::form::CsrfOnly;
use crate::kit::frame::Frame;
use crate::kit::mail::{org, send_later};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/requests/{id}/bundle", post(build))
        .route("/admin/requests/{id}/release", post(release))
}

/// What the case page shows of the answer.
pub(crate) struct Panel {
    /// Why no bundle can be built now; `None` when one can.
    pub not_yet: Option<&'static str>,
    pub built: Option<String>,
    pub size: String,
    pub rows: i64,
    pub released: Option<String>,
    pub expires: Option<String>,
    pub downloaded: Option<String>,
    /// A bundle exists and the case is open or answered: it can be (re)released.
    pub may_release: bool,
    /// The recipients a bundle may be built for (building it is an export).
    pub export_for: Vec<candour_core::disclosures::Recipient>,
}

impl Panel {
    pub(crate) async fn of(state: &AppState, case: &Case) -> Result<Option<Panel>, AppError> {
        if !matches!(
            case.kind,
            candour_core::requests::Kind::Access | candour_core::requests::Kind::Portability
        ) {
            return Ok(None);
        }
        let answer = state.stores().answers.answer(case.id).await?;
        let not_yet = answer::bundle_for(case).err().map(NotYet::words);
        let export_for = crate::disclosures::export::choices(state).await?;
        let when = |t: Option<time::OffsetDateTime>| t.map(uk_time::readable_uk);
        Ok(Some(match answer {
            None => Panel {
                not_yet,
                built: None,
                size: String::new(),
                rows: 0,
                released: None,
                expires: None,
                downloaded: None,
                may_release: false,
                export_for,
            },
            Some(a) => Panel {
                not_yet,
                built: Some(uk_time::readable_uk(a.built_at)),
                size: size_words(a.bytes),
                rows: a.rows,
                released: when(a.released_at),
                expires: when(a.link_expires_at),
                downloaded: when(a.downloaded_at),
                may_release: may_release(case),
                export_for,
            },
        }))
    }
}

fn size_words(bytes: i64) -> String {
    match bytes {
        b if b < 1024 => format!("{b} bytes"),
        b if b < 1024 * 1024 => format!("{:.1} KB", b as f64 / 1024.0),
        b => format!("{:.1} MB", b as f64 / (1024.0 * 1024.0)),
    }
}

/// Released while the case is open (which answers it), or again once answered.
fn may_release(case: &Case) -> bool {
    case.status == candour_core::requests::Status::Answered || case.status.is_open()
}

async fn load(state: &AppState, id: i64) -> Result<Case, AppError> {
    match state.stores().requests.request(id).await? {
        Some(case) if case.confirmed_at.is_some() => Ok(case),
        _ => Err(AppError::NotFound),
    }
}

async fn build(
    State(state): State<AppState>,
    staff: Staff,
    frame: Frame,
    Path(id): Path<i64>,
    Form(form): Form<ExportForm>,
) -> Result<Response, AppError> {
    staff.require(Permission::ManageRequests)?;
    state.check_form(&frame.visitor, &form.csrf)?;
    let case = load(&state, id).await?;
    let person = answer::bundle_for(&case)
        .map_err(|why| AppError::Invalid(FieldErrors::one("bundle", why.words())))?;
    let for_whom = form.for_whom(&state).await?;
    let holder = Holder::person(state.stores(), person)
        .await?
        .ok_or(AppError::NotFound)?;
    let written = bundle::write(
        state.stores(),
        &state.inner.policy,
        holder,
        &folder(&state),
        state.now(),
        Extras::default(),
    )
    .await
    .map_err(|e| AppError::Internal(Box::new(e)))?;
    // Recorded with the bundle: when it cannot be, the bundle goes too.
    let disclosure = match record(
        &state,
        &staff,
        Export {
            kind: kind::REQUEST_BUNDLE,
            description: format!("request {id}"),
            people: vec![person],
            for_whom: &for_whom,
        },
    )
    .await
    {
        Ok(d) => d,
        Err(e) => {
            let _ = std::fs::remove_file(&written.path);
            return Err(e);
        }
    };
    let file = written
        .path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let earlier = state.stores().answers.answer(id).await?;
    state
        .stores()
        .answers
        .record_answer(&NewAnswer {
            request: id,
            file,
            bytes: i64::try_from(written.bytes).unwrap_or(i64::MAX),
            rows: i64::try_from(written.rows).unwrap_or(i64::MAX),
            built_at: state.now(),
            built_by: staff.account.id,
        })
        .await?;
    // The bundle it replaces is not needed any more.
    if let Some(old) = earlier {
        let _ = std::fs::remove_file(folder(&state).join(old.file));
    }
    state
        .audit(
            &staff.account,
            "request.bundle-built",
            format!("request:{id}"),
            format!(
                "person:{person}, {} rows, {} bytes, {}",
                written.rows,
                written.bytes,
                audit_words(&for_whom, disclosure)
            ),
        )
        .await?;
    Ok(Redirect::to(&format!("/admin/requests/{id}?done=built")).into_response())
}

pub(crate) fn folder(state: &AppState) -> std::path::PathBuf {
    bundle::folder(
        state.config().requests.bundle_dir.as_deref(),
        state.config().database_url.expose(),
    )
}

/// The link for the case's answer: the case's number and a fresh secret, signed for this
/// purpose and bound to the address the case was confirmed from, so a link copied onto
/// another case or kept after the address changed is refused.
fn answer_link(state: &AppState, case: &Case, secret: &Secret) -> String {
    let token = state.inner.signer.sign_bound(
        Purpose::AnswerLink,
        &format!("{}-{}", case.id, secret.expose()),
        case.email.as_bytes(),
        None,
    );
    format!("{}/requests/answer?token={token}", state.link_base())
}

async fn release(
    State(state): State<AppState>,
    staff: Staff,
    frame: Frame,
    Path(id): Path<i64>,
    Form(form): Form<CsrfOnly>,
) -> Result<Response, AppError> {
    staff.require(Permission::ManageRequests)?;
    state.check_form(&frame.visitor, &form.csrf)?;
    let case = load(&state, id).await?;
    let Some(Answer { .. }) = state.stores().answers.answer(id).await? else {
        return Err(AppError::Invalid(FieldErrors::one(
            "bundle",
            "Build the bundle before releasing it",
        )));
    };
    if !may_release(&case) {
        return Err(AppError::Invalid(FieldErrors::one(
            "bundle",
            "A refused request cannot be answered with a bundle",
        )));
    }
    let Ok(to) = EmailAddress::parse(&case.email) else {
        return Err(AppError::Invalid(FieldErrors::one(
            "bundle",
            "The request's email address cannot be written to",
        )));
    };
    // Answer the case first, through the same rules as every step; a case answered already
    // only gets a fresh link.
    let first = case.status.is_open();
    if first {
        let planned = case::plan(
            case.status,
            &case.timeline,
            &Change::Answer,
            today(&state),
            holidays(&state),
        )
        .map_err(AppError::Invalid)?;
        state
            .stores()
            .requests
            .change_request(id, case.status, &planned, staff.account.id, state.now())
            .await?;
    }
    let secret = Secret::from_random(rand::random());
    let hours = i64::from(state.config().requests.answer_link_hours);
    let expires = state.now() + Duration::hours(hours);
    state
        .stores()
        .answers
        .release_answer(id, &secret.hash(), expires, state.now())
        .await?;
    state
        .audit(
            &staff.account,
            if first {
                "request.answer-released"
            } else {
                "request.answer-link-renewed"
            },
            format!("request:{id}"),
            format!("link works until {}", uk_time::readable_uk(expires)),
        )
        .await?;
    let link = answer_link(&state, &case, &secret);
    send_later(
        &state,
        Email {
            to,
            subject: format!("Your data is ready to download (request {id})"),
            text: format!(
                "We have answered your request for a copy of your data. Download it from this \
                 link:\n\n{link}\n\nThe link works once, until {until}. If it has expired or \
                 was used already, reply to this email and we will send a new one.\n\n\
                 Where your request stands: {status}\n\nIf you are unhappy with how we have \
                 handled your request, you can complain to the Information Commissioner's \
                 Office: ico.org.uk/make-a-complaint, or 0303 123 1113.\n\n{org}\n",
                until = uk_time::readable_uk(expires),
                status = status_link(&state, id),
                org = org(&state),
            ),
        },
    );
    Ok(Redirect::to(&format!("/admin/requests/{id}?done=released")).into_response())
}

/// The case and the secret a link names, if the signature holds for the case's address.
pub(crate) fn read_link(state: &AppState, case: &Case, token: &str) -> Option<Secret> {
    let body = state
        .inner
        .signer
        .verify_bound(
            Purpose::AnswerLink,
            token,
            case.email.as_bytes(),
            state.now(),
        )
        .ok()?;
    let (id, secret) = body.split_once('-')?;
    (id.parse::<i64>().ok()? == case.id)
        .then(|| Secret::parse(secret))
        .flatten()
}

/// The case number a link claims, before its signature is checked against the case.
pub(crate) fn claimed_case(token: &str) -> Option<i64> {
    token.split_once('-')?.0.parse().ok()
}
