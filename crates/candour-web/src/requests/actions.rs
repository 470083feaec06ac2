//! Acting on a case: erasure through the data map (or the legal duty that keeps the data),
//! the correction the person proposed beside what the record says now, restriction of the
//! person's record, and an objection to direct marketing put on the suppression list. Each
//! act is written on the case in the same transaction as the change, audited, and the
//! person is told.
//!
//! An objection to direct marketing needs no decision: it is applied as soon as the request
//! is a case ([`on_confirmed`]).

use askama::Template;
use axum::Form;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use candour_core::account::{EmailAddress, Permission};
use candour_core::fields::FieldErrors;
use candour_core::people::{ConsentChange, Method, Source};
use candour_core::purposes::Channel;
use candour_core::requests::actions::{self, Fee, channels_text};
use candour_core::requests::templates::{Step, Value};
use candour_core::requests::{Case, CorrectionDecision, ErasureDecision, Kind};
use candour_core::uk_time;
use serde::Deserialize;

use super::templates::tell;
use crate::AppState;
use crate::kit::auth::Staff;
use crate::kit::error::AppError;
use crate::kit::form::{FormData, FormState};
use crate::kit::frame::{Frame, render};
use crate::kit::nav::Section;
use crate::kit::respond::no_store;

pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/admin/requests/{id}/act", get(act_page).post(act))
}

/// The history's words for the outcomes written here.
pub(crate) fn outcome_label(code: &str) -> Option<&'static str> {
    Some(match code {
        "erased" => "The person's data was erased",
        "erasure-kept" => "Data kept under a legal duty",
        "correction-accepted" => "Correction made",
        "correction-rejected" => "Correction rejected",
        "restricted" => "The person's record was restricted",
        "objection-applied" => "Direct marketing stopped",
        "fee" => "Fee recorded",
        _ => return None,
    })
}

#[derive(Template)]
#[template(path = "admin/request_act.html")]
struct ActPage {
    frame: Frame,
    sections: Vec<&'static Section>,
    case: Case,
    /// Why nothing can be done now, when that is so.
    blocked: Option<&'static str>,
    /// For a correction: the field's label, the record's value and the proposal.
    field: String,
    current: String,
    restricted: Option<String>,
    /// Channels the address is suppressed on.
    suppressed: Vec<&'static str>,
    /// Whether the configuration lets staff record a fee.
    fee_allowed: bool,
    form: FormState,
    notice: Option<&'static str>,
}

async fn load(state: &AppState, id: i64) -> Result<Case, AppError> {
    match state.stores().requests.request(id).await? {
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
) -> Result<ActPage, AppError> {
    let blocked = actions::may_act(&case).err();
    let person = match case.person {
        Some(p) => state.stores().people.person(p).await?,
        None => None,
    };
    let (field, current) = match (case.correction_field, &person) {
        (Some(f), Some(p)) => (f.label().to_owned(), f.current(&p.details)),
        (Some(f), None) => (f.label().to_owned(), String::new()),
        (None, _) => (String::new(), String::new()),
    };
    let restricted = match &person {
        Some(p) => state
            .stores()
            .request_actions
            .restricted_since(p.id)
            .await?
            .map(uk_time::readable_uk),
        None => None,
    };
    let suppressed = match EmailAddress::parse(&case.email) {
        Ok(e) => state
            .stores()
            .ledger
            .suppressed_channels(&e)
            .await?
            .into_iter()
            .map(Channel::label)
            .collect(),
        Err(_) => Vec::new(),
    };
    Ok(ActPage {
        frame,
        sections: staff.sections.clone(),
        case,
        blocked,
        field,
        current,
        restricted,
        suppressed,
        fee_allowed: state.config().requests.fee_for_manifestly_unfounded,
        form,
        notice,
    })
}

#[derive(Deserialize)]
struct Done {
    #[serde(default)]
    done: String,
}

async fn act_page(
    State(state): State<AppState>,
    staff: Staff,
    frame: Frame,
    Path(id): Path<i64>,
    Query(q): Query<Done>,
) -> Result<Response, AppError> {
    staff.require(Permission::ManageRequests)?;
    let case = load(&state, id).await?;
    // The page shows the person's record beside the request.
    state
        .audit(
            &staff.account,
            "request.viewed",
            format!("request:{id}"),
            "actions".to_owned(),
        )
        .await?;
    let notice = match q.done.as_str() {
        "erased" => Some("The person's data has been erased and they have been told."),
        "kept" => Some("The reason for keeping the data is recorded and the person has been told."),
        "corrected" => Some("The record has been corrected and the person has been told."),
        "rejected" => Some("The rejection is recorded and the person has been told."),
        "restricted" => Some("The person's record is restricted and they have been told."),
        "objection" => Some("Direct marketing has been stopped and the person has been told."),
        "fee" => Some(
            "The fee and its reason are recorded on the request, and the person has been told.",
        ),
        _ => None,
    };
    let page = show(&state, &staff, frame, case, FormState::new(), notice).await?;
    Ok(no_store(render(&page)?))
}

const FIELDS: &[&str] = &[
    "csrf", "action", "decision", "confirm", "reason", "amount", "ground",
];

/// What the form asks for, read and checked against the case.
enum Act {
    Erasure(ErasureDecision),
    Correction(CorrectionDecision),
    Restrict,
    Object,
    Fee(Fee),
}

fn read(case: &Case, data: &FormData) -> Result<Act, FieldErrors> {
    let wrong = || {
        FieldErrors::one(
            "action",
            format!(
                "is not a step for a request of this kind ({})",
                case.kind.label()
            ),
        )
    };
    match (data.get("action"), case.kind) {
        ("erase", Kind::Erasure) => Ok(Act::Erasure(ErasureDecision::parse(
            data.get("decision"),
            data.get("confirm"),
            data.get("reason"),
        )?)),
        ("correct", Kind::Correction) => {
            if case.correction_field.is_none() {
                return Err(FieldErrors::one(
                    "action",
                    "The person did not name a part of their record: change it on their record page and add a note",
                ));
            }
            Ok(Act::Correction(CorrectionDecision::parse(
                data.get("decision"),
                data.get("reason"),
            )?))
        }
        ("restrict", Kind::Restriction) if data.get("confirm") == "yes" => Ok(Act::Restrict),
        ("restrict", Kind::Restriction) => Err(FieldErrors::one(
            "confirm",
            "Tick the box to confirm the restriction",
        )),
        ("object", Kind::Objection) if !case.marketing.is_empty() => Ok(Act::Object),
        _ => Err(wrong()),
    }
}

/// A fee, only where the configuration allows one and only on an open request.
fn read_fee(state: &AppState, case: &Case, data: &FormData) -> Result<Act, FieldErrors> {
    if !state.config().requests.fee_for_manifestly_unfounded {
        return Err(FieldErrors::one(
            "action",
            "Requests are free here: no fee can be recorded",
        ));
    }
    if !case.status.is_open() {
        return Err(FieldErrors::one("action", "The request is closed."));
    }
    Ok(Act::Fee(Fee::parse(
        data.get("amount"),
        data.get("ground"),
        data.get("reason"),
    )?))
}

async fn act(
    State(state): State<AppState>,
    staff: Staff,
    frame: Frame,
    Path(id): Path<i64>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Result<Response, AppError> {
    staff.require(Permission::ManageRequests)?;
    let data = FormData::parse(pairs, FIELDS)?;
    state.check_form(&frame.visitor, data.get("csrf"))?;
    let case = load(&state, id).await?;
    let checked = if data.get("action") == "fee" {
        read_fee(&state, &case, &data)
    } else {
        actions::may_act(&case)
            .map_err(|why| FieldErrors::one("action", why))
            .and_then(|_| read(&case, &data))
    };
    let act = match checked {
        Ok(a) => a,
        Err(errors) => {
            let mut form =
                FormState::from_data(&data, &["action", "decision", "reason", "amount", "ground"]);
            form.errors = errors;
            let page = show(&state, &staff, frame, case, form, None).await?;
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, no_store(render(&page)?)).into_response());
        }
    };
    let stores = state.stores();
    let now = state.now();
    let target = format!("request:{id}");
    let done = match act {
        Act::Erasure(ErasureDecision::Erase) => {
            stores
                .request_actions
                .erase_for_request(id, staff.account.id, now)
                .await?;
            state
                .audit(&staff.account, "request.erased", target, String::new())
                .await?;
            tell(&state, Step::ErasureDone, &case, &[]).await?;
            "erased"
        }
        Act::Erasure(ErasureDecision::Keep { reason }) => {
            stores
                .request_actions
                .record_outcome(id, Some(staff.account.id), "erasure-kept", &reason, now)
                .await?;
            state
                .audit(
                    &staff.account,
                    "request.erasure-kept",
                    target,
                    reason.clone(),
                )
                .await?;
            tell(
                &state,
                Step::ErasureKept,
                &case,
                &[(Value::Reasons, reason)],
            )
            .await?;
            "kept"
        }
        Act::Correction(decision) => correct(&state, &staff, &case, decision).await?,
        Act::Restrict => {
            stores
                .request_actions
                .restrict_for_request(id, staff.account.id, now)
                .await?;
            state
                .audit(&staff.account, "request.restricted", target, String::new())
                .await?;
            tell(&state, Step::Restricted, &case, &[]).await?;
            "restricted"
        }
        Act::Object => {
            apply_objection(&state, &case, Some(&staff)).await?;
            "objection"
        }
        Act::Fee(fee) => {
            let detail = fee.describe();
            stores
                .request_actions
                .record_outcome(id, Some(staff.account.id), "fee", &detail, now)
                .await?;
            state
                .audit(&staff.account, "request.fee-recorded", target, detail)
                .await?;
            tell(
                &state,
                Step::FeeCharged,
                &case,
                &[
                    (Value::Fee, fee.amount()),
                    (Value::Reasons, fee.reason.clone()),
                ],
            )
            .await?;
            "fee"
        }
    };
    Ok(Redirect::to(&format!("/admin/requests/{id}/act?done={done}")).into_response())
}

async fn correct(
    state: &AppState,
    staff: &Staff,
    case: &Case,
    decision: CorrectionDecision,
) -> Result<&'static str, AppError> {
    let id = case.id;
    let target = format!("request:{id}");
    let now = state.now();
    match decision {
        CorrectionDecision::Accept => {
            let (Some(field), Some(value), Some(person)) =
                (case.correction_field, &case.correction, case.person)
            else {
                return Err(AppError::NotFound);
            };
            let person = state
                .stores()
                .people
                .person(person)
                .await?
                .ok_or(AppError::NotFound)?;
            let details = field
                .apply(&person.details, value)
                .map_err(|e| AppError::Invalid(FieldErrors::one("correction", e)))?;
            let detail = format!("{} changed", field.label());
            state
                .stores()
                .request_actions
                .correct_for_request(id, &details, staff.account.id, &detail, now)
                .await?;
            state
                .audit(
                    &staff.account,
                    "request.corrected",
                    target,
                    format!("person:{}: {detail}", person.id),
                )
                .await?;
            tell(
                state,
                Step::CorrectionDone,
                case,
                &[(Value::Correction, format!("{}: {value}", field.label()))],
            )
            .await?;
            Ok("corrected")
        }
        CorrectionDecision::Reject { reason } => {
            state
                .stores()
                .request_actions
                .record_outcome(
                    id,
                    Some(staff.account.id),
                    "correction-rejected",
                    &reason,
                    now,
                )
                .await?;
            state
                .audit(
                    &staff.account,
                    "request.correction-rejected",
                    target,
                    reason.clone(),
                )
                .await?;
            tell(
                state,
                Step::CorrectionRejected,
                case,
                &[(Value::Reasons, reason)],
            )
            .await?;
            Ok("rejected")
        }
    }
}

/// Put the case's address on the suppression list for the channels it names, so no direct
/// marketing reaches it, and write it on the case. A person with no record gets one holding
/// only the address (source: a request), as the suppression list needs a person to append
/// to; a channel already suppressed stays as it was.
async fn apply_objection(
    state: &AppState,
    case: &Case,
    staff: Option<&Staff>,
) -> Result<(), AppError> {
    let Ok(email) = EmailAddress::parse(&case.email) else {
        return Ok(());
    };
    let person = match case.person {
        Some(p) => p,
        None => {
            state
                .stores()
                .people
                .ensure_person(&email, Source::Request, state.now())
                .await?
                .id
        }
    };
    let method = Method::Request { request: case.id };
    let objections: Vec<(Channel, Method)> = case.marketing.iter().map(|c| (*c, method)).collect();
    state
        .stores()
        .ledger
        .append_consents(ConsentChange {
            person,
            events: &[],
            objections: &objections,
            actor: staff.map(|s| s.account.id),
            purposes: state.purposes(),
            at: state.now(),
        })
        .await?;
    let channels = channels_text(&case.marketing);
    state
        .stores()
        .request_actions
        .record_outcome(
            case.id,
            staff.map(|s| s.account.id),
            "objection-applied",
            &channels,
            state.now(),
        )
        .await?;
    if let Some(staff) = staff {
        state
            .audit(
                &staff.account,
                "request.objection-applied",
                format!("request:{}", case.id),
                channels,
            )
            .await?;
    }
    let by: Vec<&str> = case.marketing.iter().map(|c| c.label()).collect();
    tell(
        state,
        Step::ObjectionApplied,
        case,
        &[(Value::Channels, by.join(", "))],
    )
    .await
}

/// Called once a request becomes a case: an objection to direct marketing is applied at
/// once, with no decision to wait for.
pub(crate) async fn on_confirmed(state: &AppState, case: &Case) -> Result<(), AppError> {
    if case.kind == Kind::Objection && !case.marketing.is_empty() && !case.elsewhere {
        apply_objection(state, case, None).await?;
    }
    Ok(())
}
