//! Creating, editing and previewing a campaign in the console.

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Json, Redirect, Response};
use candour_core::account::Permission;
use candour_core::campaign::FollowUp;

use crate::AppState;
use crate::kit::auth::Staff;
use crate::kit::error::AppError;
use crate::kit::form::{DoneQuery, FormData, FormState};
use crate::kit::frame::{Frame, render};
use crate::kit::respond::no_store;

use super::campaign::page;
use super::form::{FIELDS, form_for, parse};
use super::{load, marketing_purposes, record, state_label};

pub(super) async fn new_form(
    State(state): State<AppState>,
    staff: Staff,
    frame: Frame,
) -> Result<Response, AppError> {
    staff.require(Permission::ManageCampaigns)?;
    let first = marketing_purposes(&state)
        .first()
        .map(|p| p.id.clone())
        .unwrap_or_default();
    let body = "Hello {{name}},\n\nWrite your message here.\n";
    let form = FormState::new()
        .with_value("purpose", &first)
        .with_value("body", body);
    let p = page(&state, &staff, frame, None, form, None).await?;
    Ok(no_store(render(&p)?))
}

pub(super) async fn create(
    State(state): State<AppState>,
    staff: Staff,
    frame: Frame,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Result<Response, AppError> {
    staff.require(Permission::ManageCampaigns)?;
    let data = FormData::parse(pairs, FIELDS)?;
    state.check_form(&frame.visitor, data.get("csrf"))?;
    let mut draft = match parse(&state, &data) {
        Ok(d) => d,
        Err(form) => {
            let p = page(&state, &staff, frame, None, form, None).await?;
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, no_store(render(&p)?)).into_response());
        }
    };
    // Follow-ups are made from a sent campaign's page, which checks it may be followed up.
    draft.follow_up = None;
    let id = state
        .stores()
        .campaigns
        .create_campaign(&draft, state.now())
        .await?;
    record(&state, &staff, "campaign.created", id, draft.name.clone()).await?;
    Ok(Redirect::to(&format!("/admin/campaigns/{id}?done=created")).into_response())
}

pub(super) async fn show(
    State(state): State<AppState>,
    staff: Staff,
    frame: Frame,
    Path(id): Path<String>,
    Query(q): Query<DoneQuery>,
) -> Result<Response, AppError> {
    staff.require(Permission::ManageCampaigns)?;
    let c = load(&state, &id).await?;
    let notice = match q.done.as_str() {
        "created" => Some("The campaign has been saved as a draft.".to_owned()),
        "saved" => Some("The campaign has been saved.".to_owned()),
        "tested" => Some(format!(
            "A test has been sent to {}.",
            staff.account.email.as_str()
        )),
        "scheduled" => Some("The campaign has been scheduled.".to_owned()),
        "unscheduled" => Some("The campaign is a draft again.".to_owned()),
        _ => None,
    };
    let form = form_for(&c.draft);
    let p = page(&state, &staff, frame, Some(c), form, notice).await?;
    Ok(no_store(render(&p)?))
}

pub(super) async fn update(
    State(state): State<AppState>,
    staff: Staff,
    frame: Frame,
    Path(id): Path<String>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Result<Response, AppError> {
    staff.require(Permission::ManageCampaigns)?;
    let c = load(&state, &id).await?;
    let data = FormData::parse(pairs, FIELDS)?;
    state.check_form(&frame.visitor, data.get("csrf"))?;
    let mut draft = match parse(&state, &data) {
        Ok(d) => d,
        Err(form) => {
            let p = page(&state, &staff, frame, Some(c), form, None).await?;
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, no_store(render(&p)?)).into_response());
        }
    };
    // Which campaign a follow-up follows is fixed when it is created.
    draft.follow_up = match (c.draft.follow_up, draft.follow_up) {
        (Some(old), Some(new)) => Some(FollowUp {
            campaign: old.campaign,
            days: new.days,
        }),
        (old, _) => old,
    };
    state
        .stores()
        .campaigns
        .update_campaign(c.id, &draft, state.now())
        .await?;
    record(&state, &staff, "campaign.changed", c.id, String::new()).await?;
    Ok(Redirect::to(&format!("/admin/campaigns/{}?done=saved", c.id)).into_response())
}

/// The message as a recipient without tracking would see it, for the preview frame. Its own
/// policy forbids every script and plugin and sandboxes it, so nothing in a campaign can run
/// in the console's origin, whether framed or opened on its own.
pub(super) async fn preview(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    staff.require(Permission::ManageCampaigns)?;
    let c = load(&state, &id).await?;
    let html = match candour_core::campaign::Compiled::new(
        &c.draft.subject,
        &c.draft.preheader,
        &c.draft.body,
    ) {
        Ok(compiled) => {
            let base = state.link_base();
            let preferences = format!("{base}/preferences");
            compiled
                .render(&candour_core::campaign::Recipient {
                    name: "Jo Example",
                    organisation: &state.config().organisation.name,
                    unsubscribe_url: &format!("{base}/unsubscribe/preview"),
                    preferences_url: &preferences,
                    links: &compiled.links,
                    pixel_url: None,
                })
                .html
        }
        Err(_) => "<p>This campaign cannot be shown: fix the errors in its text.</p>".to_owned(),
    };
    let mut res = html.into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "sandbox; default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'self'",
        ),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    Ok(res)
}

pub(super) async fn progress_json(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    staff.require(Permission::ManageCampaigns)?;
    let c = load(&state, &id).await?;
    let p = state.stores().campaigns.progress(c.id, state.now()).await?;
    let rate = p.sent_last_minute;
    let eta_minutes = (rate > 0).then(|| p.remaining().div_ceil(rate));
    Ok(no_store(
        Json(serde_json::json!({
            "state": c.state.as_str(),
            "status": state_label(c.state),
            "total": p.total(),
            "sent": p.sent,
            "failed": p.failed,
            "skipped": p.skipped,
            "remaining": p.remaining(),
            "per_minute": rate,
            "eta_minutes": eta_minutes,
            "possible_duplicates": p.possible_duplicates,
        }))
        .into_response(),
    ))
}
