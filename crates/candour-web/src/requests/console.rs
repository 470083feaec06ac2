//! The privacy officer's queue: open requests by due date with the days left, and each
//! case with its clock, its history and the steps that can be taken next. Every view and
//! every step is in the audit log; the person is emailed at each step that concerns them.

use askama::Template;
use axum::Form;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use candour_core::account::{Account, Permission};
use candour_core::fields::FieldErrors;
use candour_core::requests::templates::{Step, Value};
use candour_core::requests::{BankHolidays, Case, CaseEvent, Change, case};
use candour_core::uk_time;
use serde::Deserialize;
use time::Date;

use super::{Clock, holidays, today, uk_date};
use crate::AppState;
use crate::kit::auth::Staff;
use crate::kit::error::AppError;
use crate::kit::form::{FormData, FormState};
use crate::kit::frame::{Frame, render};
use crate::kit::nav::Section;
use crate::kit::respond::no_store;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/requests", get(queue))
        .route("/admin/requests/{id}", get(case_page))
        .route("/admin/requests/{id}/change", post(change))
        .route("/admin/requests/{id}/assign", post(assign))
        .route("/admin/requests/{id}/note", post(note))
}

/// A line of the queue.
struct Row {
    case: Case,
    clock: Clock,
    received: String,
    assigned: String,
}

/// A line of the list of closed cases.
struct ClosedRow {
    case: Case,
    received: String,
    closed: String,
}

#[derive(Template)]
#[template(path = "admin/requests.html")]
struct QueuePage {
    frame: Frame,
    sections: Vec<&'static Section>,
    rows: Vec<Row>,
    overdue: usize,
    due_soon: usize,
    /// Cases answered or refused, received within [`CLOSED_DAYS`], latest closed first.
    closed: Vec<ClosedRow>,
    closed_days: i64,
}

/// How far back (by the day received) the queue lists closed cases, and at most how many.
const CLOSED_DAYS: i64 = 365;
const CLOSED_SHOWN: usize = 50;

/// Staff names by account id, for "assigned to" and the history.
async fn staff_names(state: &AppState) -> Result<Vec<Account>, AppError> {
    Ok(state.stores().accounts.staff().await?)
}

fn name_of(staff: &[Account], id: Option<i64>) -> String {
    match id {
        None => String::new(),
        Some(id) => staff
            .iter()
            .find(|a| a.id == id)
            .map_or_else(|| format!("account {id}"), |a| a.email.as_str().to_owned()),
    }
}

async fn queue(
    State(state): State<AppState>,
    staff: Staff,
    frame: Frame,
) -> Result<Response, AppError> {
    staff.require(Permission::ManageRequests)?;
    let everyone = staff_names(&state).await?;
    let mut rows: Vec<Row> = state
        .stores()
        .requests
        .open_requests()
        .await?
        .into_iter()
        .map(|case| Row {
            clock: Clock::of(&case, &state),
            received: case.timeline.received.map(uk_date).unwrap_or_default(),
            assigned: name_of(&everyone, case.assigned_to),
            case,
        })
        .collect();
    // Soonest due first; cases waiting on the person (no running clock) after them.
    rows.sort_by_key(|r| (r.clock.due.is_none(), r.clock.due, r.case.id));
    let overdue = rows.iter().filter(|r| r.clock.overdue()).count();
    let due_soon = rows
        .iter()
        .filter(|r| r.clock.days_left.is_some_and(|d| (0..=7).contains(&d)))
        .count();
    // Closed cases stay reachable: their history, their answer, a new download link.
    let to = today(&state);
    let mut closed: Vec<Case> = state
        .stores()
        .request_actions
        .cases_received_between(to - time::Duration::days(CLOSED_DAYS), to)
        .await?
        .into_iter()
        .filter(|c| !c.status.is_open())
        .collect();
    closed.sort_by_key(|c| std::cmp::Reverse((c.closed_at, c.id)));
    let closed = closed
        .into_iter()
        .take(CLOSED_SHOWN)
        .map(|case| ClosedRow {
            received: case.timeline.received.map(uk_date).unwrap_or_default(),
            closed: case
                .closed_at
                .map(|t| uk_date(uk_time::uk_local(t).date()))
                .unwrap_or_default(),
            case,
        })
        .collect();
    Ok(no_store(render(&QueuePage {
        frame,
        sections: staff.sections.clone(),
        rows,
        overdue,
        due_soon,
        closed,
        closed_days: CLOSED_DAYS,
    })?))
}

/// The steps the case page offers: exactly those `case::plan` would accept today, so the
/// page never offers a step the rules refuse (an extension after the first month, say).
struct Offer {
    ask_identity: bool,
    verify_identity: bool,
    clarify: bool,
    clarified: bool,
    start: bool,
    extend: bool,
    close: bool,
}

impl Offer {
    fn of(case: &Case, today: Date, holidays: &BankHolidays) -> Offer {
        let may = |change: Change| {
            case::plan(case.status, &case.timeline, &change, today, holidays).is_ok()
        };
        // Any words will do: only whether the step is allowed is asked.
        let words = || "-".to_owned();
        Offer {
            ask_identity: may(Change::AskForIdentity),
            // Checked once is enough, whether or not proof was asked for.
            verify_identity: case.identity_how.is_none()
                && may(Change::IdentityVerified { how: words() }),
            clarify: may(Change::AskForClarification { question: words() }),
            clarified: may(Change::Clarified),
            start: may(Change::Start),
            extend: may(Change::Extend {
                months: 1,
                reasons: words(),
            }),
            close: may(Change::Answer),
        }
    }
}

struct HistoryLine {
    at: String,
    who: String,
    what: String,
    detail: String,
}

#[derive(Template)]
#[template(path = "admin/request.html")]
struct CasePage {
    frame: Frame,
    sections: Vec<&'static Section>,
    case: Case,
    clock: Clock,
    received: String,
    identity: String,
    clarifications: Vec<String>,
    history: Vec<HistoryLine>,
    offer: Offer,
    answer: Option<super::answer_panel::Panel>,
    staff: Vec<Account>,
    form: FormState,
    notice: Option<&'static str>,
}

impl CasePage {
    fn assigned(&self, id: &i64) -> bool {
        self.case.assigned_to == Some(*id)
    }
}

#[derive(Deserialize)]
struct Done {
    #[serde(default)]
    done: String,
}

fn history_line(e: &CaseEvent, staff: &[Account]) -> HistoryLine {
    let what = match e.action.as_str() {
        "submitted" => "Request made",
        "confirmed" => "Confirmed by the person",
        "identity-asked" => "Asked for proof of identity",
        "identity-verified" => "Identity checked",
        "clarification-asked" => "Asked the person to clarify",
        "clarified" => "The person clarified",
        "started" => "Work started",
        "extended" => "Time extended",
        "answered" => "Answered",
        "refused" => "Refused",
        "assigned" => "Assigned",
        "note" => "Note",
        other => super::actions::outcome_label(other).unwrap_or(other),
    };
    let detail = if e.action == "assigned" {
        e.detail
            .parse::<i64>()
            .map_or_else(|_| "nobody".to_owned(), |id| name_of(staff, Some(id)))
    } else if e.action == "submitted" {
        // The kind, as the person chose it (stored as its code).
        candour_core::requests::Kind::parse(&e.detail)
            .map_or_else(|| e.detail.clone(), |k| k.label().to_owned())
    } else {
        e.detail.clone()
    };
    HistoryLine {
        at: uk_time::readable_uk(e.at),
        who: match e.actor {
            Some(_) => name_of(staff, e.actor),
            None => "The person or the system".to_owned(),
        },
        what: what.to_owned(),
        detail,
    }
}

async fn load(state: &AppState, id: i64) -> Result<Case, AppError> {
    match state.stores().requests.request(id).await? {
        // A request whose address has not confirmed it is not a case yet.
        Some(case) if case.confirmed_at.is_some() => Ok(case),
        _ => Err(AppError::NotFound),
    }
}

async fn show(
    state: &AppState,
    staff: &Staff,
    frame: Frame,
    case: Case,
    form: FormState,
    notice: Option<&'static str>,
) -> Result<CasePage, AppError> {
    let everyone = staff_names(state).await?;
    let events = state.stores().requests.request_events(case.id).await?;
    let identity = match case.timeline.identity {
        None => match &case.identity_how {
            Some(how) => format!("Checked: {how}"),
            None => "Not asked for".to_owned(),
        },
        Some(w) => match w.answered {
            None => format!("Asked for on {}; not yet received", uk_date(w.asked)),
            Some(a) => format!(
                "Asked for on {}; received on {} ({})",
                uk_date(w.asked),
                uk_date(a),
                case.identity_how.clone().unwrap_or_default()
            ),
        },
    };
    let clarifications = case
        .timeline
        .clarifications
        .iter()
        .map(|w| match w.answered {
            None => format!("Asked on {}; waiting", uk_date(w.asked)),
            Some(a) => format!("Asked on {}; answered on {}", uk_date(w.asked), uk_date(a)),
        })
        .collect();
    // Building the bundle asks for whom; a case's own answer goes to the person who asked,
    // so internal use for this request is offered ready, unless another answer was given.
    let form = if form.value("for").is_empty()
        && form.error("for").is_none()
        && form.error("for_purpose").is_none()
    {
        form.with_value("for", "internal").with_value(
            "for_purpose",
            &format!("Answering request {} from the person", case.id),
        )
    } else {
        form
    };
    Ok(CasePage {
        frame,
        sections: staff.sections.clone(),
        clock: Clock::of(&case, state),
        received: case.timeline.received.map(uk_date).unwrap_or_default(),
        identity,
        clarifications,
        history: events.iter().map(|e| history_line(e, &everyone)).collect(),
        offer: Offer::of(&case, today(state), holidays(state)),
        answer: super::answer_panel::Panel::of(state, &case).await?,
        staff: everyone,
        case,
        form,
        notice,
    })
}

/// The case page again after something on it was refused, with `form`'s problems beside
/// their fields and in the summary at the top; nothing was changed.
pub(super) async fn case_again(
    state: &AppState,
    staff: &Staff,
    frame: Frame,
    case: Case,
    form: FormState,
    status: StatusCode,
) -> Result<Response, AppError> {
    let page = show(state, staff, frame, case, form, None).await?;
    Ok((status, no_store(render(&page)?)).into_response())
}

async fn case_page(
    State(state): State<AppState>,
    staff: Staff,
    frame: Frame,
    Path(id): Path<i64>,
    Query(q): Query<Done>,
) -> Result<Response, AppError> {
    staff.require(Permission::ManageRequests)?;
    let case = load(&state, id).await?;
    state
        .audit(
            &staff.account,
            "request.viewed",
            format!("request:{id}"),
            String::new(),
        )
        .await?;
    let notice = match q.done.as_str() {
        "changed" => {
            Some("The request has been updated, and the person told where it concerns them.")
        }
        "assigned" => Some("The request has been assigned."),
        "noted" => Some("Your note has been added."),
        "built" => Some(
            "The bundle has been built. Download it to check it, then release it to the person.",
        ),
        "released" => Some("The person has been emailed a link to download the bundle."),
        "file-added" => Some("The file has been added. Build the bundle again to include it."),
        "file-removed" => Some("The file has been removed. Build the bundle again."),
        "withheld" => {
            Some("The item is withheld; the bundle will say so and why. Build the bundle again.")
        }
        "withholding-lifted" => Some("The item is no longer withheld. Build the bundle again."),
        _ => None,
    };
    let page = show(&state, &staff, frame, case, FormState::new(), notice).await?;
    Ok(no_store(render(&page)?))
}

const CHANGE_FIELDS: &[&str] = &["csrf", "action", "how", "question", "months", "reasons"];

/// The change a form asks for; errors name the field.
fn change_of(data: &FormData) -> Result<Change, FieldErrors> {
    Ok(match data.get("action") {
        "ask-identity" => Change::AskForIdentity,
        "verify-identity" => Change::IdentityVerified {
            how: data.get("how").to_owned(),
        },
        "ask-clarification" => Change::AskForClarification {
            question: data.get("question").to_owned(),
        },
        "clarified" => Change::Clarified,
        "start" => Change::Start,
        "extend" => Change::Extend {
            months: match data.get("months").trim() {
                "1" => 1,
                "2" => 2,
                _ => {
                    let mut e = FieldErrors::new();
                    e.push(
                        candour_core::fields::FieldError::new(
                            "months",
                            "Choose how many months to add",
                        )
                        .with_allowed("1 or 2"),
                    );
                    return Err(e);
                }
            },
            reasons: data.get("reasons").to_owned(),
        },
        "answer" => Change::Answer,
        "refuse" => Change::Refuse {
            reasons: data.get("reasons").to_owned(),
        },
        _ => {
            let mut e = FieldErrors::new();
            e.push(
                candour_core::fields::FieldError::new("action", "is not a step a request can take")
                    .with_allowed(
                        "ask-identity, verify-identity, ask-clarification, clarified, start, extend, answer, refuse",
                    ),
            );
            return Err(e);
        }
    })
}

/// The audit log's code for a change (each written out, so the log's words are checked).
fn audit_code(change: &Change) -> &'static str {
    match change {
        Change::AskForIdentity => "request.identity-asked",
        Change::IdentityVerified { .. } => "request.identity-verified",
        Change::AskForClarification { .. } => "request.clarification-asked",
        Change::Clarified => "request.clarified",
        Change::Start => "request.started",
        Change::Extend { .. } => "request.extended",
        Change::Answer => "request.answered",
        Change::Refuse { .. } => "request.refused",
    }
}

async fn change(
    State(state): State<AppState>,
    staff: Staff,
    frame: Frame,
    Path(id): Path<i64>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Result<Response, AppError> {
    staff.require(Permission::ManageRequests)?;
    let data = FormData::parse(pairs, CHANGE_FIELDS)?;
    state.check_form(&frame.visitor, data.get("csrf"))?;
    let case = load(&state, id).await?;
    let planned = change_of(&data).and_then(|change| {
        case::plan(
            case.status,
            &case.timeline,
            &change,
            today(&state),
            holidays(&state),
        )
        .map(|p| (change, p))
    });
    let (change, planned) = match planned {
        Ok(p) => p,
        Err(errors) => {
            let mut form = FormState::from_data(&data, CHANGE_FIELDS);
            form.errors = errors;
            let page = show(&state, &staff, frame, case, form, None).await?;
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, no_store(render(&page)?)).into_response());
        }
    };
    state
        .stores()
        .requests
        .change_request(id, case.status, &planned, staff.account.id, state.now())
        .await?;
    state
        .audit(
            &staff.account,
            audit_code(&change),
            format!("request:{id}"),
            planned.detail.clone(),
        )
        .await?;
    tell_the_person(&state, &case, &change).await?;
    Ok(Redirect::to(&format!("/admin/requests/{id}?done=changed")).into_response())
}

/// The email a step sends the person, if it concerns them (the step's wording, as the
/// privacy officer keeps it).
async fn tell_the_person(state: &AppState, before: &Case, change: &Change) -> Result<(), AppError> {
    let Some(case) = state.stores().requests.request(before.id).await? else {
        return Ok(());
    };
    let (step, more) = match change {
        Change::AskForIdentity => (Step::IdentityRequest, vec![]),
        Change::AskForClarification { question } => (
            Step::Clarification,
            vec![(Value::Question, question.clone())],
        ),
        Change::Extend { months, reasons } => (
            Step::Extension,
            vec![
                (Value::Months, months.to_string()),
                (Value::Reasons, reasons.clone()),
            ],
        ),
        Change::Answer => (Step::Answer, vec![]),
        Change::Refuse { reasons } => (Step::Refusal, vec![(Value::Reasons, reasons.clone())]),
        Change::IdentityVerified { .. } | Change::Clarified | Change::Start => return Ok(()),
    };
    super::templates::tell(state, step, &case, &more).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AssignForm {
    csrf: String,
    #[serde(default)]
    staff: String,
}

async fn assign(
    State(state): State<AppState>,
    staff: Staff,
    frame: Frame,
    Path(id): Path<i64>,
    Form(f): Form<AssignForm>,
) -> Result<Response, AppError> {
    staff.require(Permission::ManageRequests)?;
    state.check_form(&frame.visitor, &f.csrf)?;
    load(&state, id).await?;
    let to = match f.staff.trim() {
        "" => None,
        raw => {
            let everyone = staff_names(&state).await?;
            let found = raw
                .parse::<i64>()
                .ok()
                .filter(|n| everyone.iter().any(|a| a.id == *n));
            match found {
                Some(n) => Some(n),
                None => {
                    return Err(AppError::Invalid(FieldErrors::one(
                        "staff",
                        "is not a member of staff; choose one from the list",
                    )));
                }
            }
        }
    };
    state
        .stores()
        .requests
        .assign_request(id, to, staff.account.id, state.now())
        .await?;
    state
        .audit(
            &staff.account,
            "request.assigned",
            format!("request:{id}"),
            to.map_or_else(|| "nobody".to_owned(), |n| format!("account:{n}")),
        )
        .await?;
    Ok(Redirect::to(&format!("/admin/requests/{id}?done=assigned")).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NoteForm {
    csrf: String,
    note: String,
}

async fn note(
    State(state): State<AppState>,
    staff: Staff,
    frame: Frame,
    Path(id): Path<i64>,
    Form(f): Form<NoteForm>,
) -> Result<Response, AppError> {
    staff.require(Permission::ManageRequests)?;
    state.check_form(&frame.visitor, &f.csrf)?;
    let case = load(&state, id).await?;
    let text = match candour_core::account::multi_line(&f.note, 4000, "The note") {
        Ok(t) if !t.is_empty() => t,
        Ok(_) => {
            let mut form = FormState::new();
            form.add_error("note", "Enter a note");
            let page = show(&state, &staff, frame, case, form, None).await?;
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, no_store(render(&page)?)).into_response());
        }
        Err(e) => {
            let mut form = FormState::new().with_value("note", &f.note);
            form.add_error("note", e.0);
            let page = show(&state, &staff, frame, case, form, None).await?;
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, no_store(render(&page)?)).into_response());
        }
    };
    state
        .stores()
        .requests
        .note_request(id, staff.account.id, &text, state.now())
        .await?;
    state
        .audit(
            &staff.account,
            "request.noted",
            format!("request:{id}"),
            String::new(),
        )
        .await?;
    Ok(Redirect::to(&format!("/admin/requests/{id}?done=noted")).into_response())
}
