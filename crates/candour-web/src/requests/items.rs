//! Before a copy of a person's data is released, staff with `ManageRequests` add files from
//! other systems to it and withhold items from it, each with a ground, on the case page.
//! Every change is audited, and a bundle built before it must be built again before it is
//! released (`release.rs` checks `ItemVersions::stale`).
//!
//! An added file is kept in the database (`RequestItemStore`), under a sanitised name, and
//! only ever leaves inside the person's bundle (a ZIP served as an attachment): it is never
//! served on its own, opened or run.
//!
//! Once the case is answered or refused they are fixed (see `answer_panel.rs`): a change is
//! refused with the case page drawn again (409) saying why, and the page shows them without
//! the forms that change them. A change refused for its input draws the page again (422) with
//! the problem beside the field and what was typed kept.

use axum::Form;
use axum::Router;
use axum::extract::{DefaultBodyLimit, Multipart, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::post;
use candour_core::account::Permission;
use candour_core::fields::FieldErrors;
use candour_core::requests::Case;
use candour_core::requests::answer;
use candour_core::requests::items::{self, FILES_TABLE, NewRequestFile, NewWithholding, Withhold};
use candour_core::store::StoreError;
use tower_http::limit::RequestBodyLimitLayer;

use crate::AppState;
use crate::kit::auth::Staff;
use crate::kit::error::AppError;
use crate::kit::form::{CsrfOnly, FormData, FormState};
use crate::kit::frame::Frame;

/// The upload's route, with its own body limit: the configured file limit and room for the
/// form around it (the site's limit is far smaller).
pub(crate) fn upload_routes(file_limit: usize) -> Router<AppState> {
    Router::new()
        .route("/admin/requests/{id}/files", post(add_file))
        .layer(DefaultBodyLimit::disable())
        .layer(RequestBodyLimitLayer::new(file_limit + 64 * 1024))
}

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/admin/requests/{id}/files/{file}/remove",
            post(remove_file),
        )
        .route("/admin/requests/{id}/withhold", post(withhold))
        .route("/admin/requests/{id}/withheld/{item}/lift", post(lift))
}

/// A case whose answer is a bundle, with the person it is for; or the case and why its
/// answer cannot change now (answered or refused, or identity awaited).
async fn bundled_case(
    state: &AppState,
    id: i64,
) -> Result<Result<(Case, i64), (Case, &'static str)>, AppError> {
    let case = match state.stores().requests.request(id).await? {
        Some(case) if case.confirmed_at.is_some() => case,
        _ => return Err(AppError::NotFound),
    };
    Ok(match answer::bundle_for(&case) {
        Ok(person) => Ok((case, person)),
        Err(answer::NotYet::Closed) => {
            let built = state.stores().answers.answer(id).await?.is_some();
            let why = super::answer_panel::locked_words(case.status, built);
            Err((case, why))
        }
        Err(why) => Err((case, why.words())),
    })
}

/// The case page again, saying why the answer's items cannot change now (`#items`): a
/// closed case is a conflict (409), any other reason a refusal of the form (422).
async fn locked(
    state: &AppState,
    staff: &Staff,
    frame: Frame,
    case: Case,
    why: &str,
) -> Result<Response, AppError> {
    let status = if case.status.is_open() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::CONFLICT
    };
    let mut form = FormState::new();
    form.add_error("items", why);
    super::console::case_again(state, staff, frame, case, form, status).await
}

/// The case page again with `form`'s problems beside the answer's fields (422).
async fn invalid(
    state: &AppState,
    staff: &Staff,
    frame: Frame,
    case: Case,
    form: FormState,
) -> Result<Response, AppError> {
    super::console::case_again(
        state,
        staff,
        frame,
        case,
        form,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await
}

/// A withholding's problems under the names of the case page's fields (`withhold-…`: the
/// page has another form with a `note`).
fn withhold_errors(errors: FieldErrors, data: &FormData) -> FormState {
    let mut form = FormState::new();
    for name in ["table", "row", "ground", "note"] {
        form = form.with_value(&format!("withhold-{name}"), data.get(name));
    }
    for e in errors.iter() {
        let mut e = e.clone();
        e.field = format!("withhold-{}", e.field);
        form.errors.push(e);
    }
    form
}

fn unreadable(e: &axum::extract::multipart::MultipartError) -> AppError {
    AppError::BadRequest(format!("The upload could not be read: {}", e.body_text()))
}

fn back(id: i64, done: &str) -> Response {
    Redirect::to(&format!("/admin/requests/{id}?done={done}#answer-heading")).into_response()
}

async fn add_file(
    State(state): State<AppState>,
    staff: Staff,
    frame: Frame,
    Path(id): Path<i64>,
    mut multipart: Multipart,
) -> Result<Response, AppError> {
    staff.require(Permission::ManageRequests)?;
    let limit = state.config().requests.file_limit_bytes();
    let mut csrf = String::new();
    let mut file: Option<(String, Vec<u8>)> = None;
    // Read to the end, or until the file passes the limit (then `too_big`: the rest is never
    // read, and the page says so once the form token is known good).
    let mut too_big = false;
    'read: while let Some(mut field) = match multipart.next_field().await {
        Ok(f) => f,
        Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            too_big = true;
            break 'read;
        }
        Err(e) => return Err(unreadable(&e)),
    } {
        match field.name() {
            Some("csrf") => csrf = field.text().await.map_err(|e| unreadable(&e))?,
            Some("file") => {
                let name = field.file_name().unwrap_or_default().to_owned();
                let mut bytes = Vec::new();
                // Read in chunks so a file over the limit is refused without holding it all.
                loop {
                    match field.chunk().await {
                        Ok(Some(chunk)) if bytes.len() + chunk.len() > limit => {
                            too_big = true;
                            break 'read;
                        }
                        Ok(Some(chunk)) => bytes.extend_from_slice(&chunk),
                        Ok(None) => break,
                        Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                            too_big = true;
                            break 'read;
                        }
                        Err(e) => return Err(unreadable(&e)),
                    }
                }
                file = Some((name, bytes));
            }
            other => {
                return Err(AppError::BadRequest(format!(
                    "This form does not accept the field `{}`. Accepted fields: csrf, file",
                    other.unwrap_or("").chars().take(40).collect::<String>()
                )));
            }
        }
    }
    state.check_form(&frame.visitor, &csrf)?;
    let case = match bundled_case(&state, id).await? {
        Ok((case, _)) => case,
        Err((case, why)) => return locked(&state, &staff, frame, case, why).await,
    };
    if too_big {
        let mut form = FormState::new();
        form.add_error(
            "file",
            format!(
                "The file is larger than {} MiB, the most a file added to an answer may be",
                state.config().requests.file_limit_mib
            ),
        );
        return invalid(&state, &staff, frame, case, form).await;
    }
    let (raw, content) = file.unwrap_or_default();
    if content.is_empty() {
        let mut form = FormState::new();
        form.add_error("file", "Choose a file that is not empty");
        return invalid(&state, &staff, frame, case, form).await;
    }
    let name = match items::file_name(&raw) {
        Ok(name) => name,
        Err(e) => {
            let mut form = FormState::new();
            form.errors.push(e);
            return invalid(&state, &staff, frame, case, form).await;
        }
    };
    let bytes = content.len();
    let file = state
        .stores()
        .request_items
        .add_request_file(&NewRequestFile {
            request: id,
            name: name.clone(),
            content,
            by: staff.account.id,
            at: state.now(),
        })
        .await?;
    state
        .audit(
            &staff.account,
            "request.file-added",
            format!("request:{id}"),
            format!("file {file}: {name}, {bytes} bytes"),
        )
        .await?;
    Ok(back(id, "file-added"))
}

async fn remove_file(
    State(state): State<AppState>,
    staff: Staff,
    frame: Frame,
    Path((id, file)): Path<(i64, i64)>,
    Form(form): Form<CsrfOnly>,
) -> Result<Response, AppError> {
    staff.require(Permission::ManageRequests)?;
    state.check_form(&frame.visitor, &form.csrf)?;
    if let Err((case, why)) = bundled_case(&state, id).await? {
        return locked(&state, &staff, frame, case, why).await;
    }
    let stores = state.stores();
    let name = stores
        .request_items
        .request_files(id)
        .await?
        .into_iter()
        .find(|f| f.id == file)
        .map(|f| f.name)
        .ok_or(AppError::NotFound)?;
    if !stores.request_items.remove_request_file(id, file).await? {
        return Err(AppError::NotFound);
    }
    state
        .audit(
            &staff.account,
            "request.file-removed",
            format!("request:{id}"),
            format!("file {file}: {name}"),
        )
        .await?;
    Ok(back(id, "file-removed"))
}

const WITHHOLD_FIELDS: &[&str] = &["csrf", "table", "row", "ground", "note"];

async fn withhold(
    State(state): State<AppState>,
    staff: Staff,
    frame: Frame,
    Path(id): Path<i64>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Result<Response, AppError> {
    staff.require(Permission::ManageRequests)?;
    let data = FormData::parse(pairs, WITHHOLD_FIELDS)?;
    state.check_form(&frame.visitor, data.get("csrf"))?;
    let (case, person) = match bundled_case(&state, id).await? {
        Ok(found) => found,
        Err((case, why)) => return locked(&state, &staff, frame, case, why).await,
    };
    let w = match Withhold::parse(
        data.get("table"),
        data.get("row"),
        data.get("ground"),
        data.get("note"),
    ) {
        Ok(w) => w,
        Err(errors) => {
            let form = withhold_errors(errors, &data);
            return invalid(&state, &staff, frame, case, form).await;
        }
    };
    if let Some(row) = w.item.row
        && !holds_row(&state, id, person, &w.item.table, row).await?
    {
        let errors = FieldErrors::one(
            "row",
            format!(
                "The person has no row {row} of {}: give the id of one of their rows, or leave it empty for the whole kind",
                w.item.table
            ),
        );
        let form = withhold_errors(errors, &data);
        return invalid(&state, &staff, frame, case, form).await;
    }
    let done = state
        .stores()
        .request_items
        .withhold(&NewWithholding {
            request: id,
            item: w.item.clone(),
            ground: w.ground,
            note: w.note.clone(),
            by: staff.account.id,
            at: state.now(),
        })
        .await;
    let item = match done {
        Ok(item) => item,
        Err(StoreError::Duplicate(_)) => {
            let errors =
                FieldErrors::one("row", format!("{} is withheld already", w.item.describe()));
            let form = withhold_errors(errors, &data);
            return invalid(&state, &staff, frame, case, form).await;
        }
        Err(e) => return Err(e.into()),
    };
    state
        .audit(
            &staff.account,
            "request.item-withheld",
            format!("request:{id}"),
            format!(
                "withholding {item}: {}, {}",
                w.item.describe(),
                w.ground.code()
            ),
        )
        .await?;
    Ok(back(id, "withheld"))
}

/// Whether row `row` of `table` is the person's (an added file: the case's).
async fn holds_row(
    state: &AppState,
    request: i64,
    person: i64,
    table: &str,
    row: i64,
) -> Result<bool, AppError> {
    if table == FILES_TABLE {
        let files = state.stores().request_items.request_files(request).await?;
        return Ok(files.iter().any(|f| f.id == row));
    }
    let page = state
        .stores()
        .subjects
        .export_page(table, person, Some(row - 1), 1)
        .await?;
    Ok(page
        .rows
        .first()
        .and_then(|r| r.get("id"))
        .and_then(serde_json::Value::as_i64)
        == Some(row))
}

async fn lift(
    State(state): State<AppState>,
    staff: Staff,
    frame: Frame,
    Path((id, item)): Path<(i64, i64)>,
    Form(form): Form<CsrfOnly>,
) -> Result<Response, AppError> {
    staff.require(Permission::ManageRequests)?;
    state.check_form(&frame.visitor, &form.csrf)?;
    if let Err((case, why)) = bundled_case(&state, id).await? {
        return locked(&state, &staff, frame, case, why).await;
    }
    let stores = state.stores();
    let found = stores
        .request_items
        .withholdings(id)
        .await?
        .into_iter()
        .find(|w| w.id == item)
        .ok_or(AppError::NotFound)?;
    if !stores.request_items.lift_withholding(id, item).await? {
        return Err(AppError::NotFound);
    }
    state
        .audit(
            &staff.account,
            "request.withholding-lifted",
            format!("request:{id}"),
            format!("withholding {item}: {}", found.item.describe()),
        )
        .await?;
    Ok(back(id, "withholding-lifted"))
}
