//! Importing page views from Google Analytics (`Permission::ImportStatistics`): a file is
//! checked first (what it holds, or every problem by line and column), then imported in one
//! store call. A day imported again replaces what it said, so importing twice is harmless.
//! Each import is written to the audit log.

use askama::Template;
use axum::Router;
use axum::extract::{DefaultBodyLimit, Multipart, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use candour_core::account::Permission;
use candour_core::stats::figures::thousands;
use candour_core::stats::history::{History, MOST_ROWS, parse_history};
use tower_http::limit::RequestBodyLimitLayer;

use crate::AppState;
use crate::kit::auth::Staff;
use crate::kit::error::AppError;
use crate::kit::form::FormState;
use crate::kit::frame::{Frame, render};
use crate::kit::nav::Section;
use crate::kit::respond::no_store;

/// The largest file accepted: a year of 1,000 pages a day is about 15 MiB.
const UPLOAD_LIMIT_BYTES: usize = 64 * 1024 * 1024;
const PATH: &str = "/admin/statistics/import";

/// The import's routes, with their own body limit (the site's is far smaller).
pub(crate) fn upload_routes() -> Router<AppState> {
    Router::new()
        .route(PATH, get(import_page).post(upload))
        .layer(DefaultBodyLimit::disable())
        .layer(RequestBodyLimitLayer::new(UPLOAD_LIMIT_BYTES))
}

/// What a checked file holds, as the page shows it.
struct Preview {
    rows: String,
    pages: String,
    first: String,
    last: String,
    views: String,
    ignored: usize,
    sample: Vec<(String, String, String)>,
}

fn preview(h: &History) -> Preview {
    let day = |d: Option<time::Date>| {
        d.map(|d| candour_core::uk_time::uk_date(candour_core::uk_time::uk_start_of_day(d)))
            .unwrap_or_default()
    };
    Preview {
        rows: thousands(u64::try_from(h.rows).unwrap_or(0)),
        pages: thousands(u64::try_from(h.pages()).unwrap_or(0)),
        first: day(h.first_day()),
        last: day(h.last_day()),
        views: thousands(u64::try_from(h.total_views()).unwrap_or(0)),
        ignored: h.ignored_lines,
        sample: h
            .days
            .iter()
            .take(5)
            .map(|d| {
                (
                    d.day.to_string(),
                    d.path.clone(),
                    thousands(u64::try_from(d.pageviews).unwrap_or(0)),
                )
            })
            .collect(),
    }
}

#[derive(Template)]
#[template(path = "stats/import.html")]
struct ImportPage {
    frame: Frame,
    sections: Vec<&'static Section>,
    form: FormState,
    preview: Option<Preview>,
    /// Set after an import: how many rows went in.
    imported: Option<String>,
    most_rows: String,
}

fn page(frame: Frame, staff: &Staff, form: FormState) -> ImportPage {
    ImportPage {
        frame,
        sections: staff.sections.clone(),
        form,
        preview: None,
        imported: None,
        most_rows: thousands(u64::try_from(MOST_ROWS).unwrap_or(0)),
    }
}

async fn import_page(staff: Staff, frame: Frame) -> Result<Response, AppError> {
    staff.require(Permission::ImportStatistics)?;
    Ok(no_store(render(&page(frame, &staff, FormState::new()))?))
}

async fn upload(
    State(state): State<AppState>,
    staff: Staff,
    frame: Frame,
    mut multipart: Multipart,
) -> Result<Response, AppError> {
    staff.require(Permission::ImportStatistics)?;
    let mut csrf = String::new();
    let mut action = String::new();
    let mut file: Option<Vec<u8>> = None;
    let unreadable = |e: axum::extract::multipart::MultipartError| {
        AppError::BadRequest(format!("The upload could not be read: {}", e.body_text()))
    };
    while let Some(field) = multipart.next_field().await.map_err(unreadable)? {
        match field.name() {
            Some("csrf") => csrf = field.text().await.map_err(unreadable)?,
            Some("action") => action = field.text().await.map_err(unreadable)?,
            Some("file") => file = Some(field.bytes().await.map_err(unreadable)?.to_vec()),
            other => {
                return Err(AppError::BadRequest(format!(
                    "This form does not accept the field `{}`. Accepted fields: csrf, action, file",
                    other.unwrap_or("").chars().take(40).collect::<String>()
                )));
            }
        }
    }
    state.check_form(&frame.visitor, &csrf)?;
    let importing = match action.as_str() {
        "check" => false,
        "import" => true,
        _ => {
            return Err(AppError::BadRequest(
                "The action must be check or import".to_owned(),
            ));
        }
    };
    let bytes = file.unwrap_or_default();
    let mut form = FormState::new();
    if bytes.is_empty() {
        form.add_error("file", "Choose a CSV file exported from Google Analytics");
    }
    let history = if form.has_errors() {
        None
    } else {
        match parse_history(&bytes) {
            Ok(h) => Some(h),
            Err(problems) => {
                for e in problems.iter() {
                    form.add_error("file", format!("The file's {} {}", e.field, e.problem));
                }
                None
            }
        }
    };
    let Some(history) = history else {
        let body = render(&page(frame, &staff, form))?;
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, no_store(body)).into_response());
    };
    let mut shown = page(frame, &staff, form);
    shown.preview = Some(preview(&history));
    if importing {
        let n = state
            .stores()
            .stats_report
            .import_history(&history.days)
            .await?;
        state
            .audit(
                &staff.account,
                "statistics.history-imported",
                "statistics".to_owned(),
                format!(
                    "{n} rows of page views per page and day from {} to {}, {} page views",
                    history
                        .first_day()
                        .map(|d| d.to_string())
                        .unwrap_or_default(),
                    history
                        .last_day()
                        .map(|d| d.to_string())
                        .unwrap_or_default(),
                    history.total_views()
                ),
            )
            .await?;
        shown.imported = Some(thousands(n));
    }
    Ok(no_store(render(&shown)?))
}
