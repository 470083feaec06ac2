//! Sending a campaign: test sends, progress, scheduling (after the count is confirmed),
//! unscheduling, deleting a draft and follow-ups.

use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use candour_core::account::Permission;
use candour_core::campaign::FollowUp;
use candour_core::campaign::{Campaign, CampaignState};
use candour_core::fields::FieldErrors;
use candour_core::uk_time::from_uk_local;
use time::PrimitiveDateTime;

use crate::AppState;
use crate::kit::auth::Staff;
use crate::kit::error::AppError;
use crate::kit::form::{CsrfOnly, FormData};
use crate::kit::frame::{Frame, render};
use crate::kit::nav::Section;
use crate::kit::respond::no_store;

use super::campaign::page;
use super::form::{form_for, label};
use super::{DATETIME, can_send, load, marketing_purposes, record, when};

pub(super) async fn send_test(
    State(state): State<AppState>,
    staff: Staff,
    frame: Frame,
    Path(id): Path<String>,
    Form(f): Form<CsrfOnly>,
) -> Result<Response, AppError> {
    staff.require(Permission::ManageCampaigns)?;
    state.check_form(&frame.visitor, &f.csrf)?;
    let c = load(&state, &id).await?;
    let to = staff.account.email.clone();
    if let Err(e) = state.inner.campaign_sender.send_test(&c, &to).await {
        tracing::error!(error = %e, campaign = c.id, "Could not send a test of a campaign.");
        let notice = Some(
            "The test could not be sent: the mail relay did not accept it. Try again later."
                .to_owned(),
        );
        let form = form_for(&c.draft);
        let p = page(&state, &staff, frame, Some(c), form, notice).await?;
        return Ok((StatusCode::BAD_GATEWAY, no_store(render(&p)?)).into_response());
    }
    record(
        &state,
        &staff,
        "campaign.test-sent",
        c.id,
        to.as_str().to_owned(),
    )
    .await?;
    Ok(Redirect::to(&format!("/admin/campaigns/{}?done=tested", c.id)).into_response())
}

pub(super) async fn schedule(
    State(state): State<AppState>,
    staff: Staff,
    frame: Frame,
    Path(id): Path<String>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Result<Response, AppError> {
    staff.require(Permission::ManageCampaigns)?;
    let data = FormData::parse(pairs, &["csrf", "when", "at", "content", "confirm"])?;
    state.check_form(&frame.visitor, data.get("csrf"))?;
    let c = load(&state, &id).await?;
    if !can_send(&state, &staff) {
        return Err(AppError::Forbidden(
            "Only administrators and the approvers named in the configuration can send a campaign to its audience.".to_owned(),
        ));
    }
    let now = state.now();
    let mut form = form_for(&c.draft)
        .with_value("when", data.get("when"))
        .with_value("at", data.get("at"));
    // The approver sends the version they read, not one changed since they opened the page.
    if data.get("content") != c.draft.fingerprint() {
        form.add_error(
            "when",
            "The campaign was changed after you opened this page. Read it again, then schedule it",
        );
        let p = page(&state, &staff, frame, Some(c), form, None).await?;
        return Ok((StatusCode::CONFLICT, no_store(render(&p)?)).into_response());
    }
    let at = match data.get("when") {
        "now" => Some(now),
        "later" => match PrimitiveDateTime::parse(data.get("at").trim(), DATETIME) {
            Ok(t) if from_uk_local(t) > now => Some(from_uk_local(t)),
            Ok(_) => {
                form.add_error("at", "The time to send must be in the future");
                None
            }
            Err(_) => {
                form.add_error("at", "Enter a date and time like 2026-06-01T09:00");
                None
            }
        },
        _ => {
            form.add_error("when", "Choose when to send the campaign");
            None
        }
    };
    let purposes = marketing_purposes(&state);
    let ids: Vec<&str> = purposes.iter().map(|p| p.id.as_str()).collect();
    let topics: Vec<&str> = state
        .config()
        .topics
        .iter()
        .map(|t| t.id.as_str())
        .collect();
    let compiled = match c.draft.check(&ids, &topics) {
        Ok(compiled) => Some(compiled),
        Err(errors) => {
            for e in errors {
                form.add_error(&e.field, format!("{} {}", label(&e.field), e.problem));
            }
            None
        }
    };
    let (Some(at), Some(compiled)) = (at, compiled) else {
        let p = page(&state, &staff, frame, Some(c), form, None).await?;
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, no_store(render(&p)?)).into_response());
    };
    // Sending reaches real people: say how many and when, and ask once more.
    if data.get("confirm") != "yes" {
        let audience = state
            .stores()
            .campaigns
            .count_audience(&c.draft, now)
            .await?;
        let page = ConfirmPage {
            frame,
            sections: staff.sections.clone(),
            people: people_count(audience),
            now: data.get("when") == "now",
            at: when(Some(at)),
            when_value: data.get("when").to_owned(),
            at_value: data.get("at").to_owned(),
            content: data.get("content").to_owned(),
            campaign: c,
        };
        return Ok(no_store(render(&page)?));
    }
    state
        .stores()
        .campaigns
        .schedule_campaign(c.id, at, &compiled.links)
        .await?;
    record(
        &state,
        &staff,
        "campaign.scheduled",
        c.id,
        format!("for {}", when(Some(at))),
    )
    .await?;
    Ok(Redirect::to(&format!("/admin/campaigns/{}?done=scheduled", c.id)).into_response())
}

#[derive(Template)]
#[template(path = "admin/campaign_confirm.html")]
struct ConfirmPage {
    frame: Frame,
    sections: Vec<&'static Section>,
    campaign: Campaign,
    /// "1 person", "1,234 people".
    people: String,
    now: bool,
    at: String,
    when_value: String,
    at_value: String,
    content: String,
}

/// "1 person", "12 people", "1,234 people".
pub(super) fn people_count(n: u64) -> String {
    let digits = n.to_string();
    let mut grouped = String::new();
    for (i, d) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(d);
    }
    if n == 1 {
        "1 person".to_owned()
    } else {
        format!("{grouped} people")
    }
}

pub(super) async fn unschedule(
    State(state): State<AppState>,
    staff: Staff,
    frame: Frame,
    Path(id): Path<String>,
    Form(f): Form<CsrfOnly>,
) -> Result<Response, AppError> {
    staff.require(Permission::ManageCampaigns)?;
    state.check_form(&frame.visitor, &f.csrf)?;
    let c = load(&state, &id).await?;
    state.stores().campaigns.unschedule_campaign(c.id).await?;
    record(&state, &staff, "campaign.unscheduled", c.id, String::new()).await?;
    Ok(Redirect::to(&format!("/admin/campaigns/{}?done=unscheduled", c.id)).into_response())
}

pub(super) async fn delete(
    State(state): State<AppState>,
    staff: Staff,
    frame: Frame,
    Path(id): Path<String>,
    Form(f): Form<CsrfOnly>,
) -> Result<Response, AppError> {
    staff.require(Permission::ManageCampaigns)?;
    state.check_form(&frame.visitor, &f.csrf)?;
    let c = load(&state, &id).await?;
    state.stores().campaigns.delete_campaign(c.id).await?;
    record(&state, &staff, "campaign.deleted", c.id, c.draft.name).await?;
    Ok(Redirect::to("/admin/campaigns?done=deleted").into_response())
}

/// Start a follow-up draft to the campaign's recipients who did not click.
pub(super) async fn follow_up(
    State(state): State<AppState>,
    staff: Staff,
    frame: Frame,
    Path(id): Path<String>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Result<Response, AppError> {
    staff.require(Permission::ManageCampaigns)?;
    let data = FormData::parse(pairs, &["csrf", "days"])?;
    state.check_form(&frame.visitor, data.get("csrf"))?;
    let c = load(&state, &id).await?;
    if c.state != CampaignState::Sent || c.reduced_at.is_some() {
        return Err(AppError::Invalid(FieldErrors::one(
            "days",
            "A follow-up can be made only from a sent campaign whose clicks are still kept",
        )));
    }
    let days = match data.get("days").trim().parse::<u32>() {
        Ok(d) if (1..=candour_core::campaign::FOLLOW_UP_DAYS_MAX).contains(&d) => d,
        _ => {
            let mut form = form_for(&c.draft).with_value("days", data.get("days"));
            form.add_error(
                "days",
                format!(
                    "Enter the number of days as a whole number from 1 to {}",
                    candour_core::campaign::FOLLOW_UP_DAYS_MAX
                ),
            );
            let p = page(&state, &staff, frame, Some(c), form, None).await?;
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, no_store(render(&p)?)).into_response());
        }
    };
    let mut draft = c.draft.clone();
    draft.name = format!("Follow-up: {}", c.draft.name)
        .chars()
        .take(candour_core::campaign::NAME_MAX)
        .collect();
    draft.follow_up = Some(FollowUp {
        campaign: c.id,
        days,
    });
    let new_id = state
        .stores()
        .campaigns
        .create_campaign(&draft, state.now())
        .await?;
    record(
        &state,
        &staff,
        "campaign.created",
        new_id,
        format!("follow-up of campaign {} after {days} days", c.id),
    )
    .await?;
    Ok(Redirect::to(&format!("/admin/campaigns/{new_id}?done=created")).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audiences_are_counted_in_words() {
        assert_eq!(people_count(0), "0 people");
        assert_eq!(people_count(1), "1 person");
        assert_eq!(people_count(999), "999 people");
        assert_eq!(people_count(1_234), "1,234 people");
        assert_eq!(people_count(1_000_000), "1,000,000 people");
    }
}
