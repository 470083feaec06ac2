//! Before a copy of a person's data is released, staff with `ManageRequests` add files from
//! other systems to it and withhold items from it, each with a ground, on the case page.
//! Every change is audited, and a bundle built before it must be built again before it is
//! released (`release.rs` checks `ItemVersions::stale`).
//!
//! An added file is kept in the database (`RequestItemStore`), under a sanitised name, and
//! only ever leaves inside the person's bundle (a ZIP served as an attachment): it is never
//! served on its own, opened or run.

use axum::Form;
use axum::Router;
use axum::extract::{DefaultBodyLimit, Multipart, Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::post;
use candour_core::account::Permission;
use candour_core::fields::FieldErrors;
use candour_core::requests::Case;
use candour_core::requests::answer;
use candour_core::requests::items::{
    self, FILES_TABLE, Ground, NewRequestFile, NewWithholding, Withhold,
};
use candour_core::store::StoreError;
use tower_http::limit::RequestBodyLimitLayer;

use crate::AppState;
use crate::kit::auth::Staff;
use crate::kit::error::AppError;
use crate::kit::form::{CsrfOnly, FormData};
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

/// A case whose answer is a bundle, with the person it is for.
async fn bundled_case(state: &AppState, id: i64) -> Result<(Case, i64), AppError> {
    let case = match state.stores().requests.request(id).await? {
        Some(case) if case.confirmed_at.is_some() => case,
        _ => return Err(AppError::NotFound),
    };
    let person = answer::bundle_for(&case)
        .map_err(|why| AppError::Invalid(FieldErrors::one("bundle", why.words())))?;
    Ok((case, person))
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
    let too_big = || {
        AppError::Invalid(FieldErrors::one(
            "file",
            format!(
                "is larger than {} MiB, the most a file added to an answer may be ([requests] file_limit_mib)",
                state.config().requests.file_limit_mib
            ),
        ))
    };
    let unreadable = |e: axum::extract::multipart::MultipartError| {
        if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
            too_big()
        } else {
            AppError::BadRequest(format!("The upload could not be read: {}", e.body_text()))
        }
    };
    let mut csrf = String::new();
    let mut file: Option<(String, Vec<u8>)> = None;
    while let Some(mut field) = multipart.next_field().await.map_err(unreadable)? {
        match field.name() {
            Some("csrf") => csrf = field.text().await.map_err(unreadable)?,
            Some("file") => {
                let name = field.file_name().unwrap_or_default().to_owned();
                let mut bytes = Vec::new();
                // Read in chunks so a file over the limit is refused without holding it all.
                while let Some(chunk) = field.chunk().await.map_err(unreadable)? {
                    if bytes.len() + chunk.len() > limit {
                        return Err(too_big());
                    }
                    bytes.extend_from_slice(&chunk);
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
    let (_, _) = bundled_case(&state, id).await?;
    let (raw, content) = file.unwrap_or_default();
    if content.is_empty() {
        return Err(AppError::Invalid(FieldErrors::one(
            "file",
            "Choose a file that is not empty",
        )));
    }
    let name = items::file_name(&raw).map_err(|e| {
        let mut errors = FieldErrors::new();
        errors.push(e);
        AppError::Invalid(errors)
    })?;
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
    bundled_case(&state, id).await?;
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
    let (_, person) = bundled_case(&state, id).await?;
    let w = Withhold::parse(
        data.get("table"),
        data.get("row"),
        data.get("ground"),
        data.get("note"),
    )
    .map_err(AppError::Invalid)?;
    if let Some(row) = w.item.row
        && !holds_row(&state, id, person, &w.item.table, row).await?
    {
        return Err(AppError::Invalid(FieldErrors::one(
            "row",
            format!(
                "The person has no row {row} of {}: give the id of one of their rows, or leave it empty for the whole kind",
                w.item.table
            ),
        )));
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
            return Err(AppError::Invalid(FieldErrors::one(
                "row",
                format!("{} is withheld already", w.item.describe()),
            )));
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
    bundled_case(&state, id).await?;
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

/// What the case page shows of the added files and withheld items.
pub(crate) struct ItemsPanel {
    pub files: Vec<(i64, String, String)>,
    /// Id, item, ground, note.
    pub withheld: Vec<(i64, String, &'static str, String)>,
    /// The kinds an item may be withheld from.
    pub tables: Vec<&'static str>,
    pub grounds: Vec<(&'static str, &'static str)>,
    pub limit_mib: u32,
}

impl ItemsPanel {
    pub(crate) async fn of(state: &AppState, id: i64) -> Result<ItemsPanel, AppError> {
        let stores = state.stores();
        let files = stores
            .request_items
            .request_files(id)
            .await?
            .into_iter()
            .map(|f| (f.id, f.name, super::size_words(f.bytes)))
            .collect();
        let withheld = stores
            .request_items
            .withholdings(id)
            .await?
            .into_iter()
            .map(|w| {
                let ground = Ground::parse(&w.ground).map_or("(unknown ground)", Ground::short);
                (w.id, w.item.describe(), ground, w.note)
            })
            .collect();
        Ok(ItemsPanel {
            files,
            withheld,
            tables: candour_core::datamap::PERSONAL
                .iter()
                .map(|m| m.table)
                .filter(|t| *t != items::WITHHELD_TABLE)
                .collect(),
            grounds: Ground::ALL.iter().map(|g| (g.code(), g.short())).collect(),
            limit_mib: state.config().requests.file_limit_mib,
        })
    }
}
