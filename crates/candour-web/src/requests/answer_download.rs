//! The person downloads the answer to their request from the emailed link. Opening the link
//! shows a button, so a mail scanner that follows links spends nothing; pressing it serves
//! the bundle once. A used or expired link gets a page saying so and how to ask for a new
//! one; a link that is not genuine for its case is a 404. Every download is audited.

use askama::Template;
use axum::Form;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use candour_core::audit::AuditEntry;
use candour_core::requests::Case;
use candour_core::session::Secret;
use candour_core::store::Taken;
use candour_core::uk_time;
use serde::Deserialize;

use super::release::{claimed_case, folder, read_link};
use crate::AppState;
use crate::kit::error::AppError;
use crate::kit::frame::{Frame, render};
use crate::kit::respond::{no_store, zip_download};

pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/requests/answer", get(page).post(download))
}

enum Showing {
    Ready,
    Used(String),
    Expired,
}

#[derive(Template)]
#[template(path = "requests/answer.html")]
struct Page {
    frame: Frame,
    token: String,
    case: i64,
    showing: Showing,
}

#[derive(Deserialize)]
struct TokenQuery {
    #[serde(default)]
    token: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DownloadForm {
    csrf: String,
    token: String,
}

/// The case a link names and its secret; a 404 for anything not genuine.
async fn genuine(state: &AppState, token: &str) -> Result<(Case, Secret), AppError> {
    let id = claimed_case(token).ok_or(AppError::NotFound)?;
    let case = state
        .stores()
        .requests
        .request(id)
        .await?
        .ok_or(AppError::NotFound)?;
    let secret = read_link(state, &case, token).ok_or(AppError::NotFound)?;
    Ok((case, secret))
}

fn spent_page(frame: Frame, case: i64, taken: Taken) -> Result<Response, AppError> {
    let showing = match taken {
        Taken::Used(at) => Showing::Used(uk_time::readable_uk(at)),
        Taken::Expired => Showing::Expired,
        Taken::Unknown | Taken::Yours(_) => return Err(AppError::NotFound),
    };
    let page = Page {
        frame,
        token: String::new(),
        case,
        showing,
    };
    Ok((StatusCode::GONE, no_store(render(&page)?)).into_response())
}

async fn page(
    State(state): State<AppState>,
    frame: Frame,
    Query(q): Query<TokenQuery>,
) -> Result<Response, AppError> {
    let (case, secret) = genuine(&state, &q.token).await?;
    match state
        .stores()
        .answers
        .peek_answer(case.id, &secret.hash(), state.now())
        .await?
    {
        Taken::Yours(_) => Ok(no_store(render(&Page {
            frame,
            token: q.token,
            case: case.id,
            showing: Showing::Ready,
        })?)),
        other => spent_page(frame, case.id, other),
    }
}

async fn download(
    State(state): State<AppState>,
    frame: Frame,
    Form(f): Form<DownloadForm>,
) -> Result<Response, AppError> {
    state.check_form(&frame.visitor, &f.csrf)?;
    let (case, secret) = genuine(&state, &f.token).await?;
    let answer = match state
        .stores()
        .answers
        .take_answer(case.id, &secret.hash(), state.now())
        .await?
    {
        Taken::Yours(a) => a,
        other => return spent_page(frame, case.id, other),
    };
    // The link is spent (above) before a byte is served; the file is opened now and streamed.
    let file = std::fs::File::open(folder(&state).join(&answer.file))
        .map_err(|e| AppError::Internal(Box::new(e)))?;
    let len = file
        .metadata()
        .map_err(|e| AppError::Internal(Box::new(e)))?
        .len();
    state
        .stores()
        .audit
        .record(&AuditEntry {
            at: state.now(),
            actor: None,
            actor_email: String::new(),
            action: "request.answer-downloaded".to_owned(),
            target: format!("request:{}", case.id),
            detail: format!("{len} bytes, by the emailed link"),
        })
        .await?;
    Ok(zip_download(file, len))
}
