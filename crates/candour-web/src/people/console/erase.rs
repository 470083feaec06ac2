//! A person's export and erasure.

use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use candour_core::account::Permission;
use candour_core::disclosures::kind;
use serde::Deserialize;

use super::person::{details_form, load, person_page};
use crate::AppState;
use crate::disclosures::export::{Export, ExportForm, audit_words, record};
use crate::kit::auth::Staff;
use crate::kit::error::AppError;
use crate::kit::frame::{Frame, render};
use crate::kit::respond::{attachment, no_store};

/// Everything held about the person, as JSON, from the data map. A POST, so that a
/// download is always a deliberate act: it says for whom, and is recorded as a disclosure
/// and in the audit log before the file is handed over.
pub(super) async fn export(
    State(state): State<AppState>,
    staff: Staff,
    frame: Frame,
    Path(id): Path<String>,
    Form(f): Form<ExportForm>,
) -> Result<Response, AppError> {
    staff.require(Permission::ManagePeople)?;
    state.check_form(&frame.visitor, &f.csrf)?;
    let person = load(&state, &id).await?;
    let for_whom = match f.for_whom(&state).await? {
        Ok(w) => w,
        Err(errors) => return refused(&state, &staff, frame, person, &f, errors).await,
    };
    let data = state
        .stores()
        .subjects
        .export_person(person.id)
        .await?
        .ok_or(AppError::NotFound)?;
    let body = serde_json::to_vec_pretty(&data).map_err(|e| AppError::Internal(Box::new(e)))?;
    let disclosure = match record(
        &state,
        &staff,
        Export {
            kind: kind::PERSON,
            description: format!("person {}", person.id),
            people: vec![person.id],
            for_whom: &for_whom,
        },
    )
    .await?
    {
        Ok(d) => d,
        Err(errors) => return refused(&state, &staff, frame, person, &f, errors).await,
    };
    state
        .audit(
            &staff.account,
            "person.exported",
            format!("person:{}", person.id),
            audit_words(&for_whom, disclosure),
        )
        .await?;
    Ok(attachment(
        "application/json",
        &format!("person-{}.json", person.id),
        body,
    ))
}

/// The person's page again after a refused export: nothing was written or handed over.
async fn refused(
    state: &AppState,
    staff: &Staff,
    frame: Frame,
    person: candour_core::people::Person,
    f: &ExportForm,
    errors: candour_core::fields::FieldErrors,
) -> Result<Response, AppError> {
    let form = f.refused(details_form(&person), errors);
    let page = person_page(state, staff, frame, person, form, None).await?;
    Ok((StatusCode::UNPROCESSABLE_ENTITY, no_store(render(&page)?)).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct EraseForm {
    csrf: String,
    #[serde(default)]
    confirm: String,
}

pub(super) async fn erase(
    State(state): State<AppState>,
    staff: Staff,
    frame: Frame,
    Path(id): Path<String>,
    Form(f): Form<EraseForm>,
) -> Result<Response, AppError> {
    staff.require(Permission::ManagePeople)?;
    state.check_form(&frame.visitor, &f.csrf)?;
    let person = load(&state, &id).await?;
    if f.confirm != "yes" {
        let mut form = details_form(&person);
        form.add_error("confirm", "Tick the box to confirm the erasure");
        let page = person_page(&state, &staff, frame, person, form, None).await?;
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, no_store(render(&page)?)).into_response());
    }
    state.stores().subjects.erase_person(person.id).await?;
    state
        .audit(
            &staff.account,
            "person.erased",
            format!("person:{}", person.id),
            String::new(),
        )
        .await?;
    Ok(Redirect::to("/admin/people?done=erased").into_response())
}
