//! Answering a request for a copy of one's data: staff build the bundle on the case page,
//! then release it. Release emails the person a link that downloads it once, before it
//! expires, bound to the address the case was confirmed from; only the hash of the link's
//! secret is stored. The case moves to answered through `case::plan`, like any other step,
//! and staff can issue a fresh link later (a new one stops the old one working).
//!
//! Before releasing it, staff can download the built bundle to check it. That is the
//! organisation reading its own answer, not a disclosure to anyone: it is audited
//! (`request.bundle-checked`: who, when, which bundle) and records no further disclosure,
//! since the bundle's own was recorded, for whom it was built, when it was built.
//!
//! Once the case is answered (or refused) its answer is fixed: the bundle cannot be built
//! again and its files and withheld items cannot change (`items.rs` refuses, and the page
//! says why), so the case stays a true record of what the person was sent. A new link to
//! the same bundle can still be sent.

use axum::Form;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::post;
use candour_core::account::{EmailAddress, Permission};
use candour_core::disclosures::kind;
use candour_core::requests::answer::{self, NotYet};
use candour_core::requests::templates::{Step, Value};
use candour_core::requests::{Case, Change, case};
use candour_core::session::Secret;
use candour_core::signer::Purpose;
use candour_core::store::NewAnswer;
use candour_core::uk_time;
use time::Duration;

use super::answer_panel::{locked_words, may_release};
use super::bundle::{self, Extras, Holder};
use super::templates::{WITHHELD_WORDS, tell};
use super::{holidays, today};
use crate::AppState;
use crate::disclosures::export::{Export, ExportForm, audit_words, record};
use crate::kit::auth::Staff;
use crate::kit::error::AppError;
use crate::kit::form::{CsrfOnly, FormState};
use crate::kit::frame::Frame;
use crate::kit::respond::zip_download_as;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/requests/{id}/bundle", post(build))
        .route("/admin/requests/{id}/release", post(release))
        .route("/admin/requests/{id}/bundle/check", post(check))
}

/// The case page again with `problem` beside the answer (`#bundle`); nothing changed.
async fn refuse(
    state: &AppState,
    staff: &Staff,
    frame: Frame,
    case: Case,
    status: StatusCode,
    problem: &str,
) -> Result<Response, AppError> {
    let mut form = FormState::new();
    form.add_error("bundle", problem);
    super::console::case_again(state, staff, frame, case, form, status).await
}

/// The case page again with the "for whom" form's problems beside its fields (422).
async fn unanswered(
    state: &AppState,
    staff: &Staff,
    frame: Frame,
    case: Case,
    form: FormState,
) -> Result<Response, AppError> {
    super::console::case_again(
        state,
        staff,
        frame,
        case,
        form,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await
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
    let person = match answer::bundle_for(&case) {
        Ok(p) => p,
        Err(NotYet::Closed) => {
            let built = state.stores().answers.answer(id).await?.is_some();
            let words = locked_words(case.status, built);
            return refuse(&state, &staff, frame, case, StatusCode::CONFLICT, words).await;
        }
        Err(why) => {
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            return refuse(&state, &staff, frame, case, status, why.words()).await;
        }
    };
    let for_whom = match form.for_whom(&state).await? {
        Ok(w) => w,
        Err(errors) => {
            let refused = form.refused(FormState::new(), errors);
            return unanswered(&state, &staff, frame, case, refused).await;
        }
    };
    let holder = Holder::person(state.stores(), person)
        .await?
        .ok_or(AppError::NotFound)?;
    // The version first: a change made while the bundle is written leaves it stale.
    let items = &state.stores().request_items;
    let version = items.item_versions(id).await?.current;
    let extras = Extras {
        withheld: items.withholdings(id).await?,
        files: items.request_files(id).await?,
        ..Extras::default()
    };
    let withheld = extras.withheld.len();
    let written = bundle::write(
        state.stores(),
        &state.inner.policy,
        holder,
        &folder(&state),
        state.now(),
        extras,
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
        Ok(Ok(d)) => d,
        Ok(Err(errors)) => {
            let _ = std::fs::remove_file(&written.path);
            let refused = form.refused(FormState::new(), errors);
            return unanswered(&state, &staff, frame, case, refused).await;
        }
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
    items.items_built(id, version).await?;
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
                "person:{person}, {} rows, {} bytes, {withheld} items withheld, {}",
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
    let problem = if state.stores().answers.answer(id).await?.is_none() {
        Some("Build the bundle before releasing it")
    } else if state
        .stores()
        .request_items
        .item_versions(id)
        .await?
        .stale()
    {
        Some(
            "The added files or withheld items changed after the bundle was built: build it again before releasing it",
        )
    } else if !may_release(&case) {
        Some("A refused request cannot be answered with a bundle")
    } else if EmailAddress::parse(&case.email).is_err() {
        Some("The request's email address cannot be written to")
    } else {
        None
    };
    if let Some(problem) = problem {
        let status = StatusCode::UNPROCESSABLE_ENTITY;
        return refuse(&state, &staff, frame, case, status, problem).await;
    }
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
    let withheld = !state
        .stores()
        .request_items
        .withholdings(id)
        .await?
        .is_empty();
    tell(
        &state,
        Step::AnswerReady,
        &case,
        &[
            (Value::DownloadLink, link),
            (Value::Until, uk_time::readable_uk(expires)),
            (
                Value::Withheld,
                if withheld {
                    WITHHELD_WORDS.to_owned()
                } else {
                    String::new()
                },
            ),
        ],
    )
    .await?;
    Ok(Redirect::to(&format!("/admin/requests/{id}?done=released")).into_response())
}

/// Staff download the built bundle to check it before (or after) it is released: audited,
/// not a disclosure (see the module's notes). The file is read, never spent: the person's
/// link still downloads it.
async fn check(
    State(state): State<AppState>,
    staff: Staff,
    frame: Frame,
    Path(id): Path<i64>,
    Form(form): Form<CsrfOnly>,
) -> Result<Response, AppError> {
    staff.require(Permission::ManageRequests)?;
    state.check_form(&frame.visitor, &form.csrf)?;
    let case = load(&state, id).await?;
    let Some(answer) = state.stores().answers.answer(id).await? else {
        let problem = "No bundle has been built for this request yet";
        return refuse(&state, &staff, frame, case, StatusCode::CONFLICT, problem).await;
    };
    let file = match std::fs::File::open(folder(&state).join(&answer.file)) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let problem = if case.status.is_open() {
                "The bundle's file is no longer on this server: build it again"
            } else {
                "The bundle's file is no longer on this server"
            };
            return refuse(&state, &staff, frame, case, StatusCode::CONFLICT, problem).await;
        }
        Err(e) => return Err(AppError::Internal(Box::new(e))),
    };
    let len = file
        .metadata()
        .map_err(|e| AppError::Internal(Box::new(e)))?
        .len();
    let stale = state
        .stores()
        .request_items
        .item_versions(id)
        .await?
        .stale();
    state
        .audit(
            &staff.account,
            "request.bundle-checked",
            format!("request:{id}"),
            format!(
                "bundle built {}, {len} bytes{}; a check by staff, not a disclosure",
                uk_time::readable_uk(answer.built_at),
                if stale { ", out of date" } else { "" }
            ),
        )
        .await?;
    let name = HeaderValue::from_str(&format!("attachment; filename=\"request-{id}-bundle.zip\""))
        .map_err(|e| AppError::Internal(Box::new(e)))?;
    Ok(zip_download_as(file, len, name))
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
