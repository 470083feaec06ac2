//! People in the admin console: find a person, see and change their record, record a
//! consent or an objection they sent by letter, call or email, export and erase their data,
//! and import people from a CSV file. Privacy officers and administrators; every view of a
//! person, every change and every export is in the audit log.

mod consents;
mod erase;
mod imports;
mod person;
mod restriction;
mod search;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use tower_http::limit::RequestBodyLimitLayer;

use crate::AppState;
use consents::{record_consent, record_objection};
use erase::{erase, export};
use imports::{confirm, import_page, preview, upload};
use person::{show, update};
use search::search;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/people", get(search))
        .route("/admin/people/{id}", get(show).post(update))
        .route("/admin/people/{id}/consent", post(record_consent))
        .route("/admin/people/{id}/object", post(record_objection))
        .route("/admin/people/{id}/export", post(export))
        .route("/admin/people/{id}/erase", post(erase))
        .route(
            "/admin/people/{id}/lift-restriction",
            post(restriction::lift_restriction),
        )
        .route("/admin/people/import", get(import_page))
        .route("/admin/people/import/{id}", get(preview).post(confirm))
}

/// The largest import file: about 50,000 rows with every column filled in.
pub(crate) const IMPORT_LIMIT_BYTES: usize = 16 * 1024 * 1024;

/// The upload route, with a body limit of its own (the site's is far smaller).
pub(crate) fn upload_routes() -> Router<AppState> {
    Router::new()
        .route("/admin/people/import", post(upload))
        .layer(DefaultBodyLimit::disable())
        .layer(RequestBodyLimitLayer::new(IMPORT_LIMIT_BYTES))
}

pub(super) fn date(t: time::OffsetDateTime) -> String {
    candour_core::uk_time::readable_uk(t)
}
