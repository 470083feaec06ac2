//! Campaigns in the admin console: write one (Markdown with a fixed set of placeholders),
//! preview it, count its audience, send a test to yourself, schedule it, watch it go out and
//! read its report; follow a sent campaign up to those who did not click.
//!
//! Editors and administrators write campaigns; only administrators and the configured
//! approvers can send one to its audience. Every change is in the audit log.

mod campaign;
mod edit;
mod form;
mod list;
mod send;

use axum::Router;
use axum::routing::{get, post};
use candour_core::account::Role;
use candour_core::campaign::{Campaign, CampaignState};
use candour_core::purposes::{Channel, Purpose};
use candour_core::uk_time::readable_uk;
use time::OffsetDateTime;
use time::macros::format_description;

use crate::AppState;
use crate::kit::auth::Staff;
use crate::kit::error::AppError;
use edit::{create, new_form, preview, progress_json, show, update};
use list::list;
use send::{delete, follow_up, schedule, send_test, unschedule};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/campaigns", get(list).post(create))
        .route("/admin/campaigns/new", get(new_form))
        .route("/admin/campaigns/{id}", get(show).post(update))
        .route("/admin/campaigns/{id}/preview", get(preview))
        .route("/admin/campaigns/{id}/progress.json", get(progress_json))
        .route("/admin/campaigns/{id}/test", post(send_test))
        .route("/admin/campaigns/{id}/schedule", post(schedule))
        .route("/admin/campaigns/{id}/unschedule", post(unschedule))
        .route("/admin/campaigns/{id}/delete", post(delete))
        .route("/admin/campaigns/{id}/follow-up", post(follow_up))
}

pub(super) const DATETIME: &[time::format_description::BorrowedFormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]");
/// A time as people in the UK read it ("2 December 2026 at 9:00am"), or nothing.
pub(crate) fn when(t: Option<OffsetDateTime>) -> String {
    t.map(readable_uk).unwrap_or_default()
}

/// Purposes a campaign can be sent for: direct marketing by email, on consent.
pub(super) fn marketing_purposes(state: &AppState) -> Vec<&Purpose> {
    state
        .purposes()
        .iter()
        .filter(|p| p.direct_marketing && p.is_consented() && p.channels.contains(&Channel::Email))
        .collect()
}

/// Whether this staff member may send campaigns to their audience.
pub(super) fn can_send(state: &AppState, staff: &Staff) -> bool {
    staff.role == Role::Admin
        || state
            .config()
            .campaigns
            .approvers
            .contains(&staff.account.email)
}

pub(super) fn state_label(s: CampaignState) -> &'static str {
    match s {
        CampaignState::Draft => "Draft",
        CampaignState::Scheduled => "Scheduled",
        CampaignState::Sending => "Sending",
        CampaignState::Sent => "Sent",
    }
}

pub(super) async fn load(state: &AppState, id: &str) -> Result<Campaign, AppError> {
    let id: i64 = id.parse().map_err(|_| AppError::NotFound)?;
    state
        .stores()
        .campaigns
        .campaign(id)
        .await?
        .ok_or(AppError::NotFound)
}

pub(super) async fn record(
    state: &AppState,
    staff: &Staff,
    action: &str,
    id: i64,
    detail: String,
) -> Result<(), AppError> {
    state
        .audit(&staff.account, action, format!("campaign:{id}"), detail)
        .await
}
