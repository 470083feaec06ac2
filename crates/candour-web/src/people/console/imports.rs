//! Importing people from a spreadsheet: upload, preview, confirm.

use askama::Template;
use axum::Form;
use axum::extract::{Multipart, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use candour_core::account::{Permission, plain_text};
use candour_core::import::{self, ImportCheck, ImportRefused};
use candour_core::import::{ImportEvidence, ImportOutcome};
use candour_core::purposes::{Channel, Purpose};

use crate::AppState;
use crate::kit::auth::Staff;
use crate::kit::error::AppError;
use crate::kit::form::{FormData, FormState};
use crate::kit::frame::{Frame, render};
use crate::kit::nav::Section;
use crate::kit::respond::no_store;

#[derive(Template)]
#[template(path = "admin/import.html")]
struct ImportPage {
    frame: Frame,
    sections: Vec<&'static Section>,
    form: FormState,
    columns: &'static [&'static str],
    max_rows: usize,
}

pub(super) async fn import_page(staff: Staff, frame: Frame) -> Result<Response, AppError> {
    staff.require(Permission::ManagePeople)?;
    Ok(no_store(render(&ImportPage {
        frame,
        sections: staff.sections.clone(),
        form: FormState::new(),
        columns: import::COLUMNS,
        max_rows: import::MAX_ROWS,
    })?))
}

fn topic_ids(state: &AppState) -> Vec<String> {
    state.config().topics.iter().map(|t| t.id.clone()).collect()
}

pub(super) async fn upload(
    State(state): State<AppState>,
    staff: Staff,
    frame: Frame,
    mut multipart: Multipart,
) -> Result<Response, AppError> {
    staff.require(Permission::ManagePeople)?;
    let mut csrf = String::new();
    let mut file: Option<Vec<u8>> = None;
    let unreadable = |e: axum::extract::multipart::MultipartError| {
        AppError::BadRequest(format!("The upload could not be read: {}", e.body_text()))
    };
    while let Some(field) = multipart.next_field().await.map_err(unreadable)? {
        match field.name() {
            Some("csrf") => csrf = field.text().await.map_err(unreadable)?,
            Some("file") => file = Some(field.bytes().await.map_err(unreadable)?.to_vec()),
            other => {
                return Err(AppError::BadRequest(format!(
                    "This form does not accept the field `{}`. Accepted fields: csrf, file",
                    other.unwrap_or("").chars().take(40).collect::<String>()
                )));
            }
        }
    }
    state.check_form(&frame.visitor, &csrf)?;
    let bytes = file.unwrap_or_default();
    let refused = import::check(&bytes, &topic_ids(&state)).err();
    if let Some(why) = refused {
        let mut form = FormState::new();
        form.add_error("file", why.to_string());
        let page = ImportPage {
            frame,
            sections: staff.sections.clone(),
            form,
            columns: import::COLUMNS,
            max_rows: import::MAX_ROWS,
        };
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, no_store(render(&page)?)).into_response());
    }
    // `check` accepted the bytes as UTF-8.
    let text = String::from_utf8(bytes).map_err(|e| AppError::Internal(Box::new(e)))?;
    let id = state
        .stores()
        .imports
        .stage_import(staff.account.id, &text, state.now())
        .await?;
    state
        .audit(
            &staff.account,
            "people.import-uploaded",
            format!("import:{id}"),
            format!("{} bytes", text.len()),
        )
        .await?;
    Ok(Redirect::to(&format!("/admin/people/import/{id}")).into_response())
}

#[derive(Template)]
#[template(path = "admin/import_preview.html")]
struct PreviewPage {
    frame: Frame,
    sections: Vec<&'static Section>,
    id: i64,
    check: ImportCheck,
    /// Consents a file can carry evidence of: `purpose|channel` and their words.
    consents: Vec<(String, String)>,
    form: FormState,
    done: Option<ImportOutcome>,
}

impl PreviewPage {
    fn chosen(&self, key: &str) -> bool {
        self.form.value("consents").split('\n').any(|k| k == key)
    }
}

fn consent_choices(purposes: &[Purpose]) -> Vec<(String, String)> {
    purposes
        .iter()
        .filter(|p| p.is_consented())
        .flat_map(|p| {
            p.consent_channels().into_iter().map(|c| {
                (
                    format!("{}|{}", p.id, c.map_or("", Channel::as_str)),
                    candour_core::people::consent_wording(p, c, false),
                )
            })
        })
        .collect()
}

/// The staged file, re-checked (it is kept as uploaded, not as parsed).
async fn staged(
    state: &AppState,
    staff: &Staff,
    id: &str,
) -> Result<(i64, Option<ImportCheck>), AppError> {
    let id: i64 = id.parse().map_err(|_| AppError::NotFound)?;
    let staged = state
        .stores()
        .imports
        .staged_import(id)
        .await?
        .ok_or(AppError::NotFound)?;
    if staged.actor != staff.account.id {
        return Err(AppError::Forbidden(
            "Only the person who uploaded a file can import it.".to_owned(),
        ));
    }
    if staged.committed_at.is_some() {
        return Ok((id, None));
    }
    let check = import::check(staged.csv.as_bytes(), &topic_ids(state))
        .map_err(|e: ImportRefused| AppError::Conflict(e.to_string()))?;
    Ok((id, Some(check)))
}

pub(super) async fn preview(
    State(state): State<AppState>,
    staff: Staff,
    frame: Frame,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    staff.require(Permission::ManagePeople)?;
    let (id, check) = staged(&state, &staff, &id).await?;
    let Some(check) = check else {
        return Err(AppError::Conflict(
            "This file has already been imported.".to_owned(),
        ));
    };
    Ok(no_store(render(&PreviewPage {
        frame,
        sections: staff.sections.clone(),
        id,
        check,
        consents: consent_choices(state.purposes()),
        form: FormState::new().with_value("evidence", "none"),
        done: None,
    })?))
}

pub(super) async fn confirm(
    State(state): State<AppState>,
    staff: Staff,
    frame: Frame,
    Path(id): Path<String>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Result<Response, AppError> {
    staff.require(Permission::ManagePeople)?;
    let data = FormData::parse(pairs, &["csrf", "evidence", "consents", "source"])?;
    state.check_form(&frame.visitor, data.get("csrf"))?;
    let (id, check) = staged(&state, &staff, &id).await?;
    let Some(check) = check else {
        return Err(AppError::Conflict(
            "This file has already been imported.".to_owned(),
        ));
    };
    let choices = consent_choices(state.purposes());
    let mut form = FormState::new()
        .with_value("evidence", data.get("evidence"))
        .with_value("source", data.get("source"))
        .with_value("consents", &data.all("consents").join("\n"));
    let evidence = match data.get("evidence") {
        "none" => None,
        "consent" => {
            let picked: Vec<&str> = data.all("consents");
            if picked.is_empty() {
                form.add_error("consents", "Choose what the people in the file agreed to");
            }
            if picked.iter().any(|k| !choices.iter().any(|(c, _)| c == k)) {
                form.add_error("consents", "Choose from the consents listed");
            }
            let source = match plain_text(data.get("source"), 500, "The source") {
                Ok(s) if s.is_empty() => {
                    form.add_error(
                        "source",
                        "Say where the file came from and when its people agreed",
                    );
                    s
                }
                Ok(s) => s,
                Err(e) => {
                    form.add_error("source", e.0);
                    String::new()
                }
            };
            let consents = picked
                .iter()
                .filter_map(|k| k.split_once('|'))
                .map(|(p, c)| (p.to_owned(), Channel::parse(c)))
                .collect();
            Some(ImportEvidence { consents, source })
        }
        _ => {
            form.add_error("evidence", "Choose whether the file records consent");
            None
        }
    };
    if check.rows.is_empty() {
        form.add_error("evidence", "No row of the file can be imported");
    }
    if form.has_errors() {
        let page = PreviewPage {
            frame,
            sections: staff.sections.clone(),
            id,
            check,
            consents: choices,
            form,
            done: None,
        };
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, no_store(render(&page)?)).into_response());
    }
    let outcome = state
        .stores()
        .imports
        .commit_import(
            id,
            &check.rows,
            evidence.as_ref(),
            state.purposes(),
            state.now(),
        )
        .await?;
    state
        .audit(
            &staff.account,
            "people.imported",
            format!("import:{id}"),
            format!(
                "{} created, {} updated, {} consents, {} consents refused by objections, {} kept the person's own choice, {} rows left out",
                outcome.created,
                outcome.updated,
                outcome.consents,
                outcome.suppressed,
                outcome.kept,
                check.errors.len()
            ),
        )
        .await?;
    Ok(no_store(render(&PreviewPage {
        frame,
        sections: staff.sections.clone(),
        id,
        check,
        consents: choices,
        form: FormState::new(),
        done: Some(outcome),
    })?))
}
