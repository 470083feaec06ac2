//! The requests room's emails: every one is a step's wording (the built-in default, or the
//! privacy officer's edit) with the case's values filled in. Privacy officers edit the
//! wording at `/admin/requests/templates`, with a preview and a reset to the default; each
//! save and reset is audited.

use askama::Template;
use axum::Form;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use candour_core::account::{EmailAddress, Permission};
use candour_core::requests::Case;
use candour_core::requests::templates::{Step, Value, Wording};
use candour_mail::Email;
use serde::Deserialize;

use super::{Clock, ICO_COMPLAINT, status_link, uk_date};
use crate::AppState;
use crate::kit::auth::Staff;
use crate::kit::error::AppError;
use crate::kit::form::{FormData, FormState};
use crate::kit::frame::{Frame, render};
use crate::kit::mail::{org, send_later};
use crate::kit::nav::Section;
use crate::kit::respond::no_store;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/requests/templates", get(list))
        .route(
            "/admin/requests/templates/{step}",
            get(edit_page).post(edit),
        )
}

/// The wording a step's email uses now.
async fn wording(state: &AppState, step: Step) -> Result<(Wording, bool), AppError> {
    let edits = state.stores().request_templates.request_wordings().await?;
    Ok(edits
        .into_iter()
        .find(|(code, _)| code == step.code())
        .map_or_else(|| (Wording::default_for(step), false), |(_, w)| (w, true)))
}

/// The values of a case every step can use.
pub(crate) fn case_values(state: &AppState, case: &Case) -> Vec<(Value, String)> {
    vec![
        (Value::Name, case.name.clone()),
        (Value::Organisation, org(state).to_owned()),
        (Value::Number, case.id.to_string()),
        (Value::Kind, case.kind.label().to_owned()),
        (
            Value::Received,
            case.timeline.received.map(uk_date).unwrap_or_default(),
        ),
        (Value::Due, Clock::of(case, state).words),
        (Value::StatusLink, status_link(state, case.id)),
        (Value::Ico, ICO_COMPLAINT.to_owned()),
    ]
}

/// Send `step`'s email to `to`, with `values` filled in and the organisation's name below.
pub(crate) async fn send(
    state: &AppState,
    step: Step,
    to: &str,
    values: &[(Value, String)],
) -> Result<(), AppError> {
    let Ok(to) = EmailAddress::parse(to) else {
        return Ok(());
    };
    let (wording, _) = wording(state, step).await?;
    let (subject, body) = wording.fill(values);
    send_later(
        state,
        Email {
            to,
            subject,
            text: format!("{body}\n\n{org}\n", org = org(state)),
        },
    );
    Ok(())
}

/// Send `step`'s email about `case` to the person, with the case's values and `more`.
pub(crate) async fn tell(
    state: &AppState,
    step: Step,
    case: &Case,
    more: &[(Value, String)],
) -> Result<(), AppError> {
    let mut values = case_values(state, case);
    values.extend_from_slice(more);
    send(state, step, &case.email, &values).await
}

struct Row {
    step: Step,
    edited: bool,
}

#[derive(Template)]
#[template(path = "admin/request_templates.html")]
struct ListPage {
    frame: Frame,
    sections: Vec<&'static Section>,
    rows: Vec<Row>,
}

async fn list(
    State(state): State<AppState>,
    staff: Staff,
    frame: Frame,
) -> Result<Response, AppError> {
    staff.require(Permission::ManageRequests)?;
    let edits = state.stores().request_templates.request_wordings().await?;
    let rows = Step::ALL
        .into_iter()
        .map(|step| Row {
            step,
            edited: edits.iter().any(|(c, _)| c == step.code()),
        })
        .collect();
    Ok(no_store(render(&ListPage {
        frame,
        sections: staff.sections.clone(),
        rows,
    })?))
}

#[derive(Template)]
#[template(path = "admin/request_template.html")]
struct EditPage {
    frame: Frame,
    sections: Vec<&'static Section>,
    step: Step,
    edited: bool,
    placeholders: Vec<String>,
    required: Vec<String>,
    form: FormState,
    /// The filled-in subject and body, with made-up values.
    preview: Option<(String, String)>,
    notice: Option<&'static str>,
}

/// What the answer's email says when items were left out of the bundle.
pub(crate) const WITHHELD_WORDS: &str = "We have left some information out of your copy, as the \
    law allows; the page index.html in it says what and why.";

/// Made-up values for the preview, one for every placeholder.
fn sample(state: &AppState) -> Vec<(Value, String)> {
    Value::ALL
        .into_iter()
        .map(|v| {
            let text = match v {
                Value::Name => "Robin Example".to_owned(),
                Value::Organisation => org(state).to_owned(),
                Value::Number => "123".to_owned(),
                Value::Kind => "A copy of the data you hold about me".to_owned(),
                Value::Received => "1 June 2026".to_owned(),
                Value::Due => "Due 1 July 2026".to_owned(),
                Value::StatusLink => format!("{}/requests/status?token=…", state.link_base()),
                Value::ConfirmLink => format!("{}/requests/confirm?token=…", state.link_base()),
                Value::Hours => state.config().requests.confirm_link_hours.to_string(),
                Value::Question => "Which years do you mean?".to_owned(),
                Value::Months => "2".to_owned(),
                Value::Reasons => "(the reasons staff give)".to_owned(),
                Value::Correction => "NM1 2AB".to_owned(),
                Value::Channels => "email, post".to_owned(),
                Value::Ico => ICO_COMPLAINT.to_owned(),
                Value::DownloadLink => format!("{}/requests/answer?token=…", state.link_base()),
                Value::Until => "8 June 2026, 9:00am".to_owned(),
                Value::Withheld => WITHHELD_WORDS.to_owned(),
                Value::Fee => "£10.00 (manifestly excessive)".to_owned(),
            };
            (v, text)
        })
        .collect()
}

fn step_of(code: &str) -> Result<Step, AppError> {
    Step::parse(code).ok_or(AppError::NotFound)
}

fn braces(values: &[Value]) -> Vec<String> {
    values
        .iter()
        .map(|v| format!("{{{{{}}}}}", v.code()))
        .collect()
}

fn page(
    state: &AppState,
    staff: &Staff,
    frame: Frame,
    step: Step,
    edited: bool,
    form: FormState,
    notice: Option<&'static str>,
) -> EditPage {
    let preview = Wording::parse(step, form.value("subject"), form.value("body"))
        .ok()
        .map(|w| w.fill(&sample(state)));
    EditPage {
        frame,
        sections: staff.sections.clone(),
        step,
        edited,
        placeholders: braces(&step.allowed()),
        required: braces(step.required()),
        form,
        preview,
        notice,
    }
}

#[derive(Deserialize)]
struct Done {
    #[serde(default)]
    done: String,
}

async fn edit_page(
    State(state): State<AppState>,
    staff: Staff,
    frame: Frame,
    Path(code): Path<String>,
    Query(q): Query<Done>,
) -> Result<Response, AppError> {
    staff.require(Permission::ManageRequests)?;
    let step = step_of(&code)?;
    let (w, edited) = wording(&state, step).await?;
    let form = FormState::new()
        .with_value("subject", &w.subject)
        .with_value("body", &w.body);
    let notice = match q.done.as_str() {
        "saved" => Some("The wording is saved: the next email of this step uses it."),
        "reset" => Some("The built-in wording is back."),
        _ => None,
    };
    Ok(no_store(render(&page(
        &state, &staff, frame, step, edited, form, notice,
    ))?))
}

const FIELDS: &[&str] = &["csrf", "action", "subject", "body"];

async fn edit(
    State(state): State<AppState>,
    staff: Staff,
    frame: Frame,
    Path(code): Path<String>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Result<Response, AppError> {
    staff.require(Permission::ManageRequests)?;
    let step = step_of(&code)?;
    let data = FormData::parse(pairs, FIELDS)?;
    state.check_form(&frame.visitor, data.get("csrf"))?;
    let path = format!("/admin/requests/templates/{}", step.code());
    let target = format!("request-template:{}", step.code());
    if data.get("action") == "reset" {
        if state
            .stores()
            .request_templates
            .reset_request_wording(step.code())
            .await?
        {
            state
                .audit(
                    &staff.account,
                    "request.template-reset",
                    target,
                    String::new(),
                )
                .await?;
        }
        return Ok(Redirect::to(&format!("{path}?done=reset")).into_response());
    }
    let (_, edited) = wording(&state, step).await?;
    let mut form = FormState::from_data(&data, &["subject", "body"]);
    let parsed = Wording::parse(step, data.get("subject"), data.get("body"));
    match (parsed, data.get("action")) {
        (Ok(w), "save") => {
            state
                .stores()
                .request_templates
                .save_request_wording(step.code(), &w, staff.account.id, state.now())
                .await?;
            state
                .audit(
                    &staff.account,
                    "request.template-saved",
                    target,
                    String::new(),
                )
                .await?;
            Ok(Redirect::to(&format!("{path}?done=saved")).into_response())
        }
        (Ok(_), _) => Ok(no_store(render(&page(
            &state, &staff, frame, step, edited, form, None,
        ))?)),
        (Err(errors), _) => {
            form.errors = errors;
            let page = page(&state, &staff, frame, step, edited, form, None);
            Ok((StatusCode::UNPROCESSABLE_ENTITY, no_store(render(&page)?)).into_response())
        }
    }
}
