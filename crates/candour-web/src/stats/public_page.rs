//! `/statistics`: the same report for anyone, when `[stats] public_page` is on (a 404 when
//! it is off). Small counts are always hidden, whatever the console's threshold, and rows
//! are not links: a filter could narrow a panel to a handful of visitors.

use askama::Template;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use candour_core::config::StatsSettings;

use crate::AppState;
use crate::kit::error::AppError;
use crate::kit::frame::{Frame, render};
use crate::kit::respond::no_store;
use crate::stats::report::{self, Reading, Report, ReportQuery};

pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/statistics", get(page))
}

#[derive(Template)]
#[template(path = "stats/public.html")]
struct PublicPage {
    frame: Frame,
    reading: Reading,
    report: Option<Report>,
}

async fn page(
    State(state): State<AppState>,
    frame: Frame,
    Query(q): Query<ReportQuery>,
) -> Result<Response, AppError> {
    let settings = &state.config().stats;
    if !settings.public_page {
        return Err(AppError::NotFound);
    }
    // Suppression is never off here: a threshold that hides nothing is read as the default.
    let threshold = match settings.suppression_threshold {
        0 | 1 => u64::from(StatsSettings::default().suppression_threshold),
        t => u64::from(t),
    };
    let reading = report::read(q, state.now(), false);
    let invalid = reading.form.has_errors();
    let report = match reading.range {
        Some(range) if !invalid => {
            Some(report::build(&state, &reading, range, threshold, "/statistics").await?)
        }
        _ => None,
    };
    let status = if invalid {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        no_store(render(&PublicPage {
            frame,
            reading,
            report,
        })?),
    )
        .into_response())
}
