//! A signed-in person downloads their own data at once, from their account: the same bundle
//! a request for a copy is answered with, without waiting for staff, since it holds only
//! what Candour keeps about their own account and record. Limited per account and audited.

use askama::Template;
use axum::Form;
use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use time::Duration;

use super::bundle::{self, Extras, Holder};
use crate::AppState;
use crate::kit::auth::SignedIn;
use crate::kit::error::AppError;
use crate::kit::form::CsrfOnly;
use crate::kit::frame::{Frame, render};
use crate::kit::limits::{self, Limit};
use crate::kit::respond::{no_store, zip_download};

pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/requests/my-data", get(page).post(download))
}

/// Each download reads every table of the person's data: a few an hour is plenty.
const DOWNLOADS: Limit = Limit {
    name: "own-data-download",
    max: 5,
    window: Duration::hours(1),
};

#[derive(Template)]
#[template(path = "requests/my_data.html")]
struct Page {
    frame: Frame,
}

async fn page(_user: SignedIn, frame: Frame) -> Result<Response, AppError> {
    Ok(no_store(render(&Page { frame })?))
}

async fn download(
    State(state): State<AppState>,
    user: SignedIn,
    frame: Frame,
    Form(form): Form<CsrfOnly>,
) -> Result<Response, AppError> {
    state.check_form(&frame.visitor, &form.csrf)?;
    let account = &user.account;
    limits::hit(&state, DOWNLOADS, &format!("account:{}", account.id)).await?;
    let holder = Holder::account(state.stores(), account.id).await?;
    let dir = bundle::folder(
        state.config().requests.bundle_dir.as_deref(),
        state.config().database_url.expose(),
    );
    let written = bundle::write(
        state.stores(),
        &state.inner.policy,
        holder,
        &dir,
        state.now(),
        Extras::default(),
    )
    .await
    .map_err(|e| AppError::Internal(Box::new(e)))?;
    // Deleted at once: the open file is streamed from, and no name leads to it any more.
    let file = std::fs::File::open(&written.path);
    let _ = std::fs::remove_file(&written.path);
    let file = file.map_err(|e| AppError::Internal(Box::new(e)))?;
    state
        .audit(
            account,
            "request.own-data-downloaded",
            holder.person.map_or_else(
                || format!("account:{}", account.id),
                |p| format!("person:{p}"),
            ),
            format!("{} rows, {} bytes", written.rows, written.bytes),
        )
        .await?;
    Ok(zip_download(file, written.bytes))
}
