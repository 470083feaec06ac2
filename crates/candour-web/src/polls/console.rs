//! Polls in the admin console: create, change, open, close and delete them, and see results.
//! Editors and administrators only; every change is in the audit log.

use askama::Template;
use axum::Form;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use candour_core::account::Permission;
use candour_core::poll::{Phase, Poll, PollDraft, ResultsShown, Voters};
use candour_core::store::StoreError;
use candour_core::uk_time::{from_uk_local, uk_input_value};
use time::macros::format_description;
use time::{OffsetDateTime, PrimitiveDateTime};

use crate::AppState;
use crate::kit::auth::Staff;
use crate::kit::error::AppError;
use crate::kit::form::{CsrfOnly, DoneQuery, FormData, FormState};
use crate::kit::frame::{Frame, render};
use crate::kit::nav::Section;
use crate::kit::respond::no_store;
use crate::polls::public::{Bar, bars};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/polls", get(list).post(create))
        .route("/admin/polls/new", get(new_form))
        .route("/admin/polls/{id}", get(edit_form).post(update))
        .route("/admin/polls/{id}/close", post(close))
        .route("/admin/polls/{id}/reopen", post(reopen))
        .route("/admin/polls/{id}/delete", post(delete))
}

/// Record a change in the audit log, and drop this instance's cached copy of the poll.
async fn record(
    state: &AppState,
    staff: &Staff,
    action: &str,
    poll: i64,
    detail: String,
) -> Result<(), AppError> {
    // The vote path keeps polls for a moment; this instance forgets its copy at once.
    state.inner.poll_cache.forget(poll).await;
    state
        .audit(&staff.account, action, format!("poll:{poll}"), detail)
        .await
}

fn phase_label(p: &Poll, now: OffsetDateTime) -> &'static str {
    match p.phase(now) {
        Phase::NotYetOpen => "Not yet open",
        Phase::Open => "Open",
        Phase::Closed => "Closed",
    }
}

#[derive(Template)]
#[template(path = "admin/polls.html")]
struct ListPage {
    frame: Frame,
    sections: Vec<&'static Section>,
    polls: Vec<(Poll, &'static str)>,
    notice: Option<&'static str>,
}

async fn list(
    State(state): State<AppState>,
    staff: Staff,
    frame: Frame,
    Query(q): Query<DoneQuery>,
) -> Result<Response, AppError> {
    staff.require(Permission::ManagePolls)?;
    let now = state.now();
    let polls = state
        .stores()
        .polls
        .polls()
        .await?
        .into_iter()
        .map(|p| {
            let label = phase_label(&p, now);
            (p, label)
        })
        .collect();
    let notice = match q.done.as_str() {
        "deleted" => Some("The poll has been deleted."),
        _ => None,
    };
    Ok(no_store(render(&ListPage {
        frame,
        sections: staff.sections.clone(),
        polls,
        notice,
    })?))
}

#[derive(Template)]
#[template(path = "admin/poll_form.html")]
struct FormPage {
    frame: Frame,
    sections: Vec<&'static Section>,
    form: FormState,
    /// `None` for a new poll.
    poll: Option<Poll>,
    phase: &'static str,
    /// Closed, whether closed by staff or by its closing time.
    closed: bool,
    results: Vec<Bar>,
    options_locked: bool,
    choices: [ResultsShown; 3],
    notice: Option<&'static str>,
}

impl FormPage {
    fn results_checked(&self, r: &ResultsShown) -> bool {
        self.form.value("results") == r.as_str()
    }

    fn voters_checked(&self, v: &Voters) -> bool {
        self.form.value("voters") == v.as_str()
    }

    fn voter_rules(&self) -> [Voters; 2] {
        Voters::ALL
    }
}

const DATETIME: &[time::format_description::BorrowedFormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]");

/// A time as the form shows it: on UK clocks.
fn format_time(t: Option<OffsetDateTime>) -> String {
    t.map(uk_input_value).unwrap_or_default()
}

fn form_for(p: &Poll) -> FormState {
    let options: Vec<&str> = p.options.iter().map(|o| o.label.as_str()).collect();
    FormState::new()
        .with_value("question", &p.question)
        .with_value("options", &options.join("\n"))
        .with_value("opens_at", &format_time(p.opens_at))
        .with_value("closes_at", &format_time(p.closes_at))
        .with_value("results", p.results.as_str())
        .with_value("voters", p.voters.as_str())
}

async fn new_form(staff: Staff, frame: Frame) -> Result<Response, AppError> {
    staff.require(Permission::ManagePolls)?;
    let form = FormState::new()
        .with_value("results", ResultsShown::AfterVoting.as_str())
        .with_value("voters", Voters::default().as_str());
    let page = FormPage {
        frame,
        sections: staff.sections.clone(),
        form,
        poll: None,
        phase: "",
        closed: false,
        results: Vec::new(),
        options_locked: false,
        choices: ResultsShown::ALL,
        notice: None,
    };
    Ok(no_store(render(&page)?))
}

const FIELDS: &[&str] = &[
    "csrf",
    "question",
    "options",
    "opens_at",
    "closes_at",
    "results",
    "voters",
];

/// Parse the form; on errors, the state to show it again with them.
fn parse(data: &FormData) -> Result<PollDraft, FormState> {
    let mut form = FormState::from_data(
        data,
        &[
            "question",
            "options",
            "opens_at",
            "closes_at",
            "results",
            "voters",
        ],
    );
    let mut time_of = |field: &str| -> Option<OffsetDateTime> {
        let raw = data.get(field).trim();
        if raw.is_empty() {
            return None;
        }
        match PrimitiveDateTime::parse(raw, DATETIME) {
            Ok(t) => Some(from_uk_local(t)),
            Err(_) => {
                form.add_error(field, "Enter a date and time like 2026-06-01T09:00");
                None
            }
        }
    };
    let opens_at = time_of("opens_at");
    let closes_at = time_of("closes_at");
    let results = ResultsShown::parse(data.get("results"));
    if results.is_none() {
        form.add_error("results", "Choose who sees the results");
    }
    // Anyone, once per browser, unless the form says otherwise.
    let voters = match data.get("voters") {
        "" => Some(Voters::default()),
        v => Voters::parse(v),
    };
    if voters.is_none() {
        form.add_error("voters", "Choose who can vote");
    }
    let options: Vec<&str> = data.get("options").lines().collect();
    match PollDraft::parse(
        data.get("question"),
        &options,
        opens_at,
        closes_at,
        results.unwrap_or(ResultsShown::StaffOnly),
    ) {
        Ok(mut d) if !form.has_errors() => {
            d.voters = voters.unwrap_or_default();
            Ok(d)
        }
        Ok(_) => Err(form),
        Err(errors) => {
            form.errors.extend(errors);
            Err(form)
        }
    }
}

async fn create(
    State(state): State<AppState>,
    staff: Staff,
    frame: Frame,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Result<Response, AppError> {
    staff.require(Permission::ManagePolls)?;
    let data = FormData::parse(pairs, FIELDS)?;
    state.check_form(&frame.visitor, data.get("csrf"))?;
    let draft = match parse(&data) {
        Ok(d) => d,
        Err(form) => {
            let page = FormPage {
                frame,
                sections: staff.sections.clone(),
                form,
                poll: None,
                phase: "",
                closed: false,
                results: Vec::new(),
                options_locked: false,
                choices: ResultsShown::ALL,
                notice: None,
            };
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, no_store(render(&page)?)).into_response());
        }
    };
    let id = state
        .stores()
        .polls
        .create_poll(&draft, state.now())
        .await?;
    record(&state, &staff, "poll.created", id, String::new()).await?;
    Ok(Redirect::to(&format!("/admin/polls/{id}?done=created")).into_response())
}

async fn load(state: &AppState, id: &str) -> Result<Poll, AppError> {
    let id: i64 = id.parse().map_err(|_| AppError::NotFound)?;
    state
        .stores()
        .polls
        .poll(id)
        .await?
        .ok_or(AppError::NotFound)
}

fn edit_page(
    state: &AppState,
    staff: &Staff,
    frame: Frame,
    poll: Poll,
    form: FormState,
    notice: Option<&'static str>,
) -> FormPage {
    FormPage {
        frame,
        sections: staff.sections.clone(),
        form,
        phase: phase_label(&poll, state.now()),
        closed: poll.phase(state.now()) == Phase::Closed,
        results: bars(&poll, 0),
        options_locked: poll.has_votes(),
        choices: ResultsShown::ALL,
        notice,
        poll: Some(poll),
    }
}

async fn edit_form(
    State(state): State<AppState>,
    staff: Staff,
    frame: Frame,
    Path(id): Path<String>,
    Query(q): Query<DoneQuery>,
) -> Result<Response, AppError> {
    staff.require(Permission::ManagePolls)?;
    let poll = load(&state, &id).await?;
    let notice = match q.done.as_str() {
        "created" => Some("The poll has been created."),
        "saved" => Some("The poll has been saved."),
        "closed" => Some("The poll has been closed."),
        "reopened" => Some("The poll has been opened again."),
        _ => None,
    };
    let form = form_for(&poll);
    Ok(no_store(render(&edit_page(
        &state, &staff, frame, poll, form, notice,
    ))?))
}

async fn update(
    State(state): State<AppState>,
    staff: Staff,
    frame: Frame,
    Path(id): Path<String>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Result<Response, AppError> {
    staff.require(Permission::ManagePolls)?;
    let poll = load(&state, &id).await?;
    let data = FormData::parse(pairs, FIELDS)?;
    state.check_form(&frame.visitor, data.get("csrf"))?;
    let draft = match parse(&data) {
        Ok(d) => d,
        Err(form) => {
            let page = edit_page(&state, &staff, frame, poll, form, None);
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, no_store(render(&page)?)).into_response());
        }
    };
    match state.stores().polls.update_poll(poll.id, &draft).await {
        Ok(()) => {}
        // The store refuses new options once anyone voted.
        Err(StoreError::Refused(why)) => {
            let mut form = FormState::from_data(
                &data,
                &["question", "options", "opens_at", "closes_at", "results"],
            );
            form.add_error("options", &why);
            let page = edit_page(&state, &staff, frame, poll, form, None);
            return Ok((StatusCode::CONFLICT, no_store(render(&page)?)).into_response());
        }
        Err(e) => return Err(e.into()),
    }
    record(&state, &staff, "poll.changed", poll.id, String::new()).await?;
    Ok(Redirect::to(&format!("/admin/polls/{}?done=saved", poll.id)).into_response())
}

async fn close(
    State(state): State<AppState>,
    staff: Staff,
    frame: Frame,
    Path(id): Path<String>,
    Form(f): Form<CsrfOnly>,
) -> Result<Response, AppError> {
    staff.require(Permission::ManagePolls)?;
    state.check_form(&frame.visitor, &f.csrf)?;
    let poll = load(&state, &id).await?;
    state
        .stores()
        .polls
        .close_poll(poll.id, state.now())
        .await?;
    record(&state, &staff, "poll.closed", poll.id, String::new()).await?;
    Ok(Redirect::to(&format!("/admin/polls/{}?done=closed", poll.id)).into_response())
}

async fn reopen(
    State(state): State<AppState>,
    staff: Staff,
    frame: Frame,
    Path(id): Path<String>,
    Form(f): Form<CsrfOnly>,
) -> Result<Response, AppError> {
    staff.require(Permission::ManagePolls)?;
    state.check_form(&frame.visitor, &f.csrf)?;
    let poll = load(&state, &id).await?;
    state.stores().polls.reopen_poll(poll.id).await?;
    record(&state, &staff, "poll.reopened", poll.id, String::new()).await?;
    Ok(Redirect::to(&format!("/admin/polls/{}?done=reopened", poll.id)).into_response())
}

async fn delete(
    State(state): State<AppState>,
    staff: Staff,
    frame: Frame,
    Path(id): Path<String>,
    Form(f): Form<CsrfOnly>,
) -> Result<Response, AppError> {
    staff.require(Permission::ManagePolls)?;
    state.check_form(&frame.visitor, &f.csrf)?;
    let poll = load(&state, &id).await?;
    state.stores().polls.delete_poll(poll.id).await?;
    record(
        &state,
        &staff,
        "poll.deleted",
        poll.id,
        format!("{} votes", poll.total()),
    )
    .await?;
    Ok(Redirect::to("/admin/polls?done=deleted").into_response())
}
