//! Lifting the restriction of a person's record (UK GDPR Art 18): a record restricted through
//! a request's case is marked on the person page, and staff who handle requests can lift it.
//! The lift is audited, written on the case that restricted the record, and the person is
//! told by email (Art 18(3)), in the wording of the requests room's templates.

use axum::Form;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use candour_core::account::Permission;
use candour_core::requests::templates::{Step, Value};
use candour_core::store::Lifted;

use super::person::load;
use crate::AppState;
use crate::kit::auth::Staff;
use crate::kit::error::AppError;
use crate::kit::form::CsrfOnly;
use crate::kit::frame::Frame;
use crate::kit::mail::org;
use crate::requests::templates::{send, tell};

pub(super) async fn lift_restriction(
    State(state): State<AppState>,
    staff: Staff,
    frame: Frame,
    Path(id): Path<String>,
    Form(f): Form<CsrfOnly>,
) -> Result<Response, AppError> {
    staff.require(Permission::ManagePeople)?;
    staff.require(Permission::ManageRequests)?;
    state.check_form(&frame.visitor, &f.csrf)?;
    let person = load(&state, &id).await?;
    let lifted = state
        .stores()
        .request_actions
        .lift_restriction(person.id, staff.account.id, state.now())
        .await?;
    let Lifted::Lifted(case) = lifted else {
        return Err(AppError::Conflict(
            "The record is not restricted: there is nothing to lift".to_owned(),
        ));
    };
    state
        .audit(
            &staff.account,
            "person.restriction-lifted",
            format!("person:{}", person.id),
            case.map(|c| format!("restricted through request:{c}"))
                .unwrap_or_default(),
        )
        .await?;
    let case = match case {
        Some(c) => state.stores().requests.request(c).await?,
        None => None,
    };
    match case {
        Some(case) => tell(&state, Step::RestrictionLifted, &case, &[]).await?,
        None => {
            let values = [
                (Value::Name, person.details.name.clone()),
                (Value::Organisation, org(&state).to_owned()),
                (Value::Ico, crate::requests::ICO_COMPLAINT.to_owned()),
            ];
            send(
                &state,
                Step::RestrictionLifted,
                person.email.as_str(),
                &values,
            )
            .await?;
        }
    }
    Ok(Redirect::to(&format!(
        "/admin/people/{}?done=restriction-lifted",
        person.id
    ))
    .into_response())
}
