//! The register of recipients at `/admin/disclosures`: add, change, retire and bring back,
//! each change audited, and the latest disclosures. A recipient is never deleted, so every
//! past disclosure still names who received the data.

use askama::Template;
use axum::Form;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use candour_core::account::Permission;
use candour_core::disclosures::{BASES, Disclosure, Recipient, RecipientDraft, basis_code};
use candour_core::purposes::LawfulBasis;
use candour_core::store::StoreError;
use candour_core::uk_time;
use serde::Deserialize;

use crate::AppState;
use crate::kit::auth::Staff;
use crate::kit::error::AppError;
use crate::kit::form::FormState;
use crate::kit::frame::{Frame, render};
use crate::kit::nav::Section;
use crate::kit::respond::no_store;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/disclosures", get(register_page).post(add))
        .route("/admin/disclosures/{id}", get(edit_page).post(change))
        .route("/admin/disclosures/{id}/active", post(set_active))
}

/// How many recent disclosures the register page lists.
const LATEST: i64 = 50;

/// A basis as the form offers it.
pub(crate) struct BasisChoice {
    pub code: &'static str,
    pub label: &'static str,
}

pub(crate) fn basis_choices() -> Vec<BasisChoice> {
    BASES
        .iter()
        .map(|b| BasisChoice {
            code: basis_code(*b),
            label: basis_label(*b),
        })
        .collect()
}

/// The basis as staff read it (the notice words it for the reader: "your consent").
pub(crate) fn basis_label(b: LawfulBasis) -> &'static str {
    match b {
        LawfulBasis::Consent => "Consent",
        LawfulBasis::LegitimateInterests => "Legitimate interests",
        LawfulBasis::PublicTask => "Public task",
        LawfulBasis::LegalObligation => "Legal obligation",
    }
}

struct DisclosureRow {
    at: String,
    recipient: String,
    kind: String,
    description: String,
    people: i64,
    actor: String,
}

#[derive(Template)]
#[template(path = "admin/disclosures.html")]
struct RegisterPage {
    frame: Frame,
    sections: Vec<&'static Section>,
    recipients: Vec<Recipient>,
    latest: Vec<DisclosureRow>,
    bases: Vec<BasisChoice>,
    form: FormState,
}

impl RegisterPage {
    fn label(&self, b: &LawfulBasis) -> &'static str {
        basis_label(*b)
    }
}

#[derive(Template)]
#[template(path = "admin/disclosure_edit.html")]
struct EditPage {
    frame: Frame,
    sections: Vec<&'static Section>,
    recipient: Recipient,
    bases: Vec<BasisChoice>,
    form: FormState,
}

/// Who a disclosure went to, in words.
pub(crate) fn recipient_name(recipients: &[Recipient], id: Option<i64>) -> String {
    match id {
        None => "Internal use".to_owned(),
        Some(id) => recipients
            .iter()
            .find(|r| r.id == id)
            .map_or_else(|| format!("recipient {id}"), |r| r.name.clone()),
    }
}

async fn show(
    state: &AppState,
    staff: &Staff,
    frame: Frame,
    form: FormState,
) -> Result<RegisterPage, AppError> {
    let stores = state.stores();
    let recipients = stores.disclosures.recipients().await?;
    let staff_list = stores.accounts.staff().await?;
    let latest: Vec<Disclosure> = stores.disclosures.latest_disclosures(LATEST).await?;
    let latest = latest
        .into_iter()
        .map(|d| DisclosureRow {
            at: uk_time::readable_uk(d.at),
            recipient: match d.recipient {
                None => format!("Internal use: {}", d.internal_purpose),
                Some(_) => recipient_name(&recipients, d.recipient),
            },
            kind: d.kind,
            description: d.description,
            people: d.people_count,
            actor: match d.actor {
                None => "command line".to_owned(),
                Some(id) => staff_list
                    .iter()
                    .find(|a| a.id == id)
                    .map_or_else(|| format!("account {id}"), |a| a.email.as_str().to_owned()),
            },
        })
        .collect();
    Ok(RegisterPage {
        frame,
        sections: staff.sections.clone(),
        recipients,
        latest,
        bases: basis_choices(),
        form,
    })
}

async fn register_page(
    State(state): State<AppState>,
    staff: Staff,
    frame: Frame,
) -> Result<Response, AppError> {
    staff.require(Permission::ManageRequests)?;
    let page = show(&state, &staff, frame, FormState::new()).await?;
    Ok(no_store(render(&page)?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RecipientForm {
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    purpose: String,
    #[serde(default)]
    basis: String,
}

impl RecipientForm {
    fn state(&self) -> FormState {
        FormState::new()
            .with_value("name", &self.name)
            .with_value("purpose", &self.purpose)
            .with_value("basis", &self.basis)
    }

    /// The draft, or the form again with each problem beside its field. A name already in
    /// the register is a problem with the name.
    fn parse(&self) -> Result<RecipientDraft, FormState> {
        RecipientDraft::parse(&self.name, &self.purpose, &self.basis).map_err(|errors| {
            let mut form = self.state();
            form.errors = errors;
            form
        })
    }
}

fn taken(form: &RecipientForm) -> FormState {
    let mut state = form.state();
    state.add_error(
        "name",
        "A recipient with this name is already in the register; choose another name",
    );
    state
}

async fn add(
    State(state): State<AppState>,
    staff: Staff,
    frame: Frame,
    Form(f): Form<RecipientForm>,
) -> Result<Response, AppError> {
    staff.require(Permission::ManageRequests)?;
    state.check_form(&frame.visitor, &f.csrf)?;
    let refused = match f.parse() {
        Ok(draft) => {
            match state
                .stores()
                .disclosures
                .add_recipient(&draft, state.now())
                .await
            {
                Ok(id) => {
                    state
                        .audit(
                            &staff.account,
                            "disclosure.recipient-added",
                            format!("recipient:{id}"),
                            describe(&draft),
                        )
                        .await?;
                    return Ok(Redirect::to("/admin/disclosures?done=added").into_response());
                }
                Err(StoreError::Duplicate(_)) => taken(&f),
                Err(e) => return Err(e.into()),
            }
        }
        Err(form) => form,
    };
    let page = show(&state, &staff, frame, refused).await?;
    Ok((StatusCode::UNPROCESSABLE_ENTITY, no_store(render(&page)?)).into_response())
}

/// What the audit log keeps of a recipient's details.
fn describe(draft: &RecipientDraft) -> String {
    format!(
        "name: {}; basis: {}; purpose: {}",
        draft.name,
        basis_code(draft.basis),
        draft.purpose
    )
}

async fn load(state: &AppState, id: i64) -> Result<Recipient, AppError> {
    state
        .stores()
        .disclosures
        .recipients()
        .await?
        .into_iter()
        .find(|r| r.id == id)
        .ok_or(AppError::NotFound)
}

async fn edit_page(
    State(state): State<AppState>,
    staff: Staff,
    frame: Frame,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    staff.require(Permission::ManageRequests)?;
    let recipient = load(&state, id).await?;
    let form = FormState::new()
        .with_value("name", &recipient.name)
        .with_value("purpose", &recipient.purpose)
        .with_value("basis", basis_code(recipient.basis));
    Ok(no_store(render(&EditPage {
        frame,
        sections: staff.sections.clone(),
        recipient,
        bases: basis_choices(),
        form,
    })?))
}

async fn change(
    State(state): State<AppState>,
    staff: Staff,
    frame: Frame,
    Path(id): Path<i64>,
    Form(f): Form<RecipientForm>,
) -> Result<Response, AppError> {
    staff.require(Permission::ManageRequests)?;
    state.check_form(&frame.visitor, &f.csrf)?;
    let recipient = load(&state, id).await?;
    let refused = match f.parse() {
        Ok(draft) => match state
            .stores()
            .disclosures
            .change_recipient(id, &draft)
            .await
        {
            Ok(true) => {
                state
                    .audit(
                        &staff.account,
                        "disclosure.recipient-changed",
                        format!("recipient:{id}"),
                        describe(&draft),
                    )
                    .await?;
                return Ok(Redirect::to("/admin/disclosures?done=changed").into_response());
            }
            Ok(false) => return Err(AppError::NotFound),
            Err(StoreError::Duplicate(_)) => taken(&f),
            Err(e) => return Err(e.into()),
        },
        Err(form) => form,
    };
    let page = EditPage {
        frame,
        sections: staff.sections.clone(),
        recipient,
        bases: basis_choices(),
        form: refused,
    };
    Ok((StatusCode::UNPROCESSABLE_ENTITY, no_store(render(&page)?)).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ActiveForm {
    csrf: String,
    active: String,
}

async fn set_active(
    State(state): State<AppState>,
    staff: Staff,
    frame: Frame,
    Path(id): Path<i64>,
    Form(f): Form<ActiveForm>,
) -> Result<Response, AppError> {
    staff.require(Permission::ManageRequests)?;
    state.check_form(&frame.visitor, &f.csrf)?;
    let active = match f.active.as_str() {
        "yes" => true,
        "no" => false,
        _ => {
            return Err(AppError::Invalid(candour_core::fields::FieldErrors::one(
                "active",
                "must be yes (bring back) or no (retire)",
            )));
        }
    };
    if !state
        .stores()
        .disclosures
        .set_recipient_active(id, active)
        .await?
    {
        return Err(AppError::NotFound);
    }
    state
        .audit(
            &staff.account,
            if active {
                "disclosure.recipient-restored"
            } else {
                "disclosure.recipient-retired"
            },
            format!("recipient:{id}"),
            String::new(),
        )
        .await?;
    let done = if active { "restored" } else { "retired" };
    Ok(Redirect::to(&format!("/admin/disclosures?done={done}")).into_response())
}
