//! Campaigns in the admin console: write one (Markdown with a fixed set of placeholders),
//! preview it, count its audience, send a test to yourself, schedule it, watch it go out and
//! read its report; follow a sent campaign up to those who did not click.
//!
//! Editors and administrators write campaigns; only administrators and the configured
//! approvers can send one to its audience. Every change is in the audit log.

use askama::Template;
use axum::Form;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Json, Redirect, Response};
use axum::routing::{get, post};
use candour_core::account::{Permission, Role};
use candour_core::campaign::{CampaignDraft, FollowUp, Placeholder, parse_postcode_area};
use candour_core::purposes::{Channel, Purpose};
use candour_core::store::{Campaign, CampaignReport, CampaignState, Engagement, Progress};
use candour_core::uk_time::{from_uk_local, readable_uk, uk_local};
use time::macros::format_description;
use time::{OffsetDateTime, PrimitiveDateTime};

use crate::AppState;
use crate::kit::auth::Staff;
use crate::kit::error::AppError;
use crate::kit::form::{CsrfOnly, DoneQuery, FormData, FormState};
use crate::kit::frame::{Frame, render};
use crate::kit::nav::Section;
use crate::kit::respond::no_store;

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

const DATETIME: &[time::format_description::BorrowedFormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]");
/// A time as people in the UK read it ("2 December 2026 at 9:00am"), or nothing.
pub(crate) fn when(t: Option<OffsetDateTime>) -> String {
    t.map(readable_uk).unwrap_or_default()
}

/// Purposes a campaign can be sent for: direct marketing by email, on consent.
fn marketing_purposes(state: &AppState) -> Vec<&Purpose> {
    state
        .purposes()
        .iter()
        .filter(|p| p.direct_marketing && p.is_consented() && p.channels.contains(&Channel::Email))
        .collect()
}

/// Whether this staff member may send campaigns to their audience.
fn can_send(state: &AppState, staff: &Staff) -> bool {
    staff.role == Role::Admin
        || state
            .config()
            .campaigns
            .approvers
            .iter()
            .any(|a| a.trim().eq_ignore_ascii_case(staff.account.email.as_str()))
}

fn state_label(s: CampaignState) -> &'static str {
    match s {
        CampaignState::Draft => "Draft",
        CampaignState::Scheduled => "Scheduled",
        CampaignState::Sending => "Sending",
        CampaignState::Sent => "Sent",
    }
}

async fn load(state: &AppState, id: &str) -> Result<Campaign, AppError> {
    let id: i64 = id.parse().map_err(|_| AppError::NotFound)?;
    state
        .stores()
        .campaigns
        .campaign(id)
        .await?
        .ok_or(AppError::NotFound)
}

async fn record(
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

// ---------- list ----------

#[derive(Template)]
#[template(path = "admin/campaigns.html")]
struct ListPage {
    frame: Frame,
    sections: Vec<&'static Section>,
    campaigns: Vec<(Campaign, &'static str, Progress)>,
    notice: Option<&'static str>,
}

async fn list(
    State(state): State<AppState>,
    staff: Staff,
    frame: Frame,
    Query(q): Query<DoneQuery>,
) -> Result<Response, AppError> {
    staff.require(Permission::ManageCampaigns)?;
    let store = &state.stores().campaigns;
    let now = state.now();
    let mut campaigns = Vec::new();
    for c in store.campaigns().await? {
        let progress = match c.state {
            CampaignState::Sending | CampaignState::Sent => store.progress(c.id, now).await?,
            _ => Progress::default(),
        };
        let label = state_label(c.state);
        campaigns.push((c, label, progress));
    }
    let notice = match q.done.as_str() {
        "deleted" => Some("The campaign has been deleted."),
        _ => None,
    };
    Ok(no_store(render(&ListPage {
        frame,
        sections: staff.sections.clone(),
        campaigns,
        notice,
    })?))
}

// ---------- the form ----------

const FIELDS: &[&str] = &[
    "csrf",
    "name",
    "subject",
    "preheader",
    "body",
    "purpose",
    "interests",
    "postcode_areas",
    "follow_up_of",
    "follow_up_days",
];
const KEPT: &[&str] = &[
    "name",
    "subject",
    "preheader",
    "body",
    "purpose",
    "postcode_areas",
    "follow_up_of",
    "follow_up_days",
];

/// The label each field's errors follow, as in "Subject is required".
fn label(field: &str) -> &'static str {
    match field {
        "name" => "Name",
        "subject" => "Subject",
        "preheader" => "Preview text",
        "body" => "Message",
        "purpose" => "Purpose",
        "interests" => "Interests",
        "postcode_areas" => "Postcode areas",
        "follow_up_days" => "Days to click",
        _ => "This field",
    }
}

fn parse(state: &AppState, data: &FormData) -> Result<CampaignDraft, FormState> {
    let mut form = FormState::from_data(data, KEPT);
    let interests: Vec<String> = data
        .all("interests")
        .into_iter()
        .map(str::to_owned)
        .collect();
    for i in &interests {
        form = form.with_value(&format!("interest-{i}"), "on");
    }
    let mut areas = Vec::new();
    for raw in data
        .get("postcode_areas")
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|s| !s.is_empty())
    {
        match parse_postcode_area(raw) {
            Some(a) => areas.push(a),
            None => {
                form.add_error(
                    "postcode_areas",
                    "Enter postcode areas or districts, such as NM or NM1, separated by spaces or commas",
                );
                break;
            }
        }
    }
    let follow_up = if data.get("follow_up_of").is_empty() {
        None
    } else {
        let campaign = data.get("follow_up_of").parse::<i64>().ok();
        let days = data.get("follow_up_days").trim().parse::<u32>().ok();
        match (campaign, days) {
            (Some(campaign), Some(days)) => Some(FollowUp { campaign, days }),
            (None, _) => {
                form.add_error("follow_up_days", "The campaign to follow up is not valid");
                None
            }
            (_, None) => {
                form.add_error(
                    "follow_up_days",
                    "Enter the number of days as a whole number, such as 3",
                );
                None
            }
        }
    };
    let draft = CampaignDraft {
        name: data.get("name").trim().to_owned(),
        subject: data.get("subject").trim().to_owned(),
        preheader: data.get("preheader").trim().to_owned(),
        body: data.get("body").replace("\r\n", "\n"),
        purpose: data.get("purpose").to_owned(),
        interests,
        postcode_areas: areas,
        follow_up,
    };
    let purposes = marketing_purposes(state);
    let ids: Vec<&str> = purposes.iter().map(|p| p.id.as_str()).collect();
    let topics: Vec<&str> = state
        .config()
        .topics
        .iter()
        .map(|t| t.id.as_str())
        .collect();
    match draft.check(&ids, &topics) {
        Ok(_) if !form.has_errors() => Ok(draft),
        Ok(_) => Err(form),
        Err(errors) => {
            for e in errors {
                if form.error(&e.field).is_none() {
                    form.add_error(&e.field, format!("{} {}", label(&e.field), e.message));
                }
            }
            Err(form)
        }
    }
}

fn form_for(c: &CampaignDraft) -> FormState {
    let mut form = FormState::new()
        .with_value("name", &c.name)
        .with_value("subject", &c.subject)
        .with_value("preheader", &c.preheader)
        .with_value("body", &c.body)
        .with_value("purpose", &c.purpose)
        .with_value("postcode_areas", &c.postcode_areas.join(" "));
    for i in &c.interests {
        form = form.with_value(&format!("interest-{i}"), "on");
    }
    if let Some(f) = c.follow_up {
        form = form
            .with_value("follow_up_of", &f.campaign.to_string())
            .with_value("follow_up_days", &f.days.to_string());
    }
    form
}

// ---------- one campaign ----------

/// A link and its clicks, for the report.
struct LinkRow {
    url: String,
    clicks: Engagement,
}

/// One bar of the chart.
struct Bar {
    label: String,
    opens: u64,
    clicks: u64,
    x: usize,
    opens_height: u64,
    clicks_height: u64,
}

#[derive(Template)]
#[template(path = "admin/campaign.html")]
struct CampaignPage {
    frame: Frame,
    sections: Vec<&'static Section>,
    /// `None` while creating one.
    campaign: Option<Campaign>,
    status: &'static str,
    form: FormState,
    purposes: Vec<(String, String)>,
    topics: Vec<(String, String)>,
    placeholders: String,
    /// People the draft would go to now.
    audience: Option<u64>,
    can_send: bool,
    notice: Option<String>,
    progress: Progress,
    report: Option<CampaignReport>,
    links: Vec<LinkRow>,
    bars: Vec<Bar>,
    chart_width: usize,
    scheduled: String,
    started: String,
    finished: String,
    /// (title, id) of the campaign a follow-up follows.
    follows: Option<(String, i64)>,
    staff_email: String,
    /// The fingerprint of the version shown, sent back when scheduling.
    content: String,
}

impl CampaignPage {
    fn machine_open_seconds(&self) -> i64 {
        candour_core::campaign::MACHINE_OPEN_SECONDS
    }

    fn bot_click_seconds(&self) -> i64 {
        candour_core::campaign::BOT_CLICK_SECONDS
    }

    fn is_draft(&self) -> bool {
        self.campaign
            .as_ref()
            .is_none_or(|c| c.state == CampaignState::Draft)
    }

    fn is_state(&self, s: &str) -> bool {
        self.campaign
            .as_ref()
            .is_some_and(|c| c.state.as_str() == s)
    }

    fn interest_checked(&self, id: &str) -> bool {
        self.form.value(&format!("interest-{id}")) == "on"
    }

    fn percent(&self, part: &u64, whole: &u64) -> String {
        percent(*part, *whole)
    }
}

fn percent(part: u64, whole: u64) -> String {
    if whole == 0 {
        "–".to_owned()
    } else {
        format!("{:.1}%", part as f64 * 100.0 / whole as f64)
    }
}

const CHART_HEIGHT: u64 = 120;
const BAR_WIDTH: usize = 14;

fn chart(report: &CampaignReport) -> Vec<Bar> {
    let hourly: Vec<_> = report.hourly.iter().rev().take(48).rev().collect();
    let top = hourly
        .iter()
        .map(|(_, o, c)| (*o).max(*c))
        .max()
        .unwrap_or(0)
        .max(1);
    let fmt = format_description!("[day] [month repr:short] [hour]:00");
    hourly
        .iter()
        .enumerate()
        .map(|(i, (at, o, c))| Bar {
            label: uk_local(*at).format(fmt).unwrap_or_default(),
            opens: *o,
            clicks: *c,
            x: i * (2 * BAR_WIDTH + 6),
            opens_height: o * CHART_HEIGHT / top,
            clicks_height: c * CHART_HEIGHT / top,
        })
        .collect()
}

async fn page(
    state: &AppState,
    staff: &Staff,
    frame: Frame,
    campaign: Option<Campaign>,
    form: FormState,
    notice: Option<String>,
) -> Result<CampaignPage, AppError> {
    let store = &state.stores().campaigns;
    let now = state.now();
    let purposes = marketing_purposes(state)
        .into_iter()
        .map(|p| (p.id.clone(), p.name.clone()))
        .collect();
    let topics = state
        .config()
        .topics
        .iter()
        .map(|t| (t.id.clone(), t.label.clone()))
        .collect();
    let mut audience = None;
    let mut progress = Progress::default();
    let mut report = None;
    let mut links = Vec::new();
    let mut follows = None;
    if let Some(c) = &campaign {
        match c.state {
            CampaignState::Draft | CampaignState::Scheduled => {
                audience = Some(store.count_audience(&c.draft, now).await?);
            }
            CampaignState::Sending | CampaignState::Sent => {
                let r = store.report(c.id, now).await?;
                progress = r.progress;
                links = c
                    .links
                    .iter()
                    .zip(r.links.iter())
                    .map(|(url, clicks)| LinkRow {
                        url: url.clone(),
                        clicks: *clicks,
                    })
                    .collect();
                report = Some(r);
            }
        }
        if let Some(f) = c.draft.follow_up
            && let Some(of) = store.campaign(f.campaign).await?
        {
            follows = Some((of.draft.name, of.id));
        }
    }
    let bars = report.as_ref().map(chart).unwrap_or_default();
    let campaign_fingerprint = campaign
        .as_ref()
        .map(|c| c.draft.fingerprint())
        .unwrap_or_default();
    let chart_width = bars.len().max(1) * (2 * BAR_WIDTH + 6);
    Ok(CampaignPage {
        frame,
        sections: staff.sections.clone(),
        status: campaign.as_ref().map_or("", |c| state_label(c.state)),
        scheduled: when(campaign.as_ref().and_then(|c| c.scheduled_at)),
        started: when(campaign.as_ref().and_then(|c| c.started_at)),
        finished: when(campaign.as_ref().and_then(|c| c.finished_at)),
        campaign,
        form,
        purposes,
        topics,
        placeholders: Placeholder::list(),
        audience,
        can_send: can_send(state, staff),
        notice,
        progress,
        report,
        links,
        bars,
        chart_width,
        follows,
        staff_email: staff.account.email.as_str().to_owned(),
        content: campaign_fingerprint,
    })
}

async fn new_form(
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

async fn create(
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

async fn show(
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

async fn update(
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
async fn preview(
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

async fn progress_json(
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

async fn send_test(
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

async fn schedule(
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
                form.add_error(&e.field, format!("{} {}", label(&e.field), e.message));
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
fn people_count(n: u64) -> String {
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

async fn unschedule(
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

async fn delete(
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
async fn follow_up(
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
        return Err(AppError::Invalid(vec![crate::kit::error::FieldError {
            field: "days".to_owned(),
            message:
                "A follow-up can be made only from a sent campaign whose clicks are still kept"
                    .to_owned(),
        }]));
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
