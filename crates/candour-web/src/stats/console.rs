//! The statistics dashboard in the console (`Permission::ViewStatistics`): the report for a
//! range with every panel filterable by any row, each panel as CSV, and the live count.

use askama::Template;
use axum::Json;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use candour_core::account::Permission;
use candour_core::people::spreadsheet_safe;
use candour_core::stats::{Dimension, LIVE_WINDOW};
use serde::Deserialize;

use crate::AppState;
use crate::kit::auth::Staff;
use crate::kit::error::AppError;
use crate::kit::frame::{Frame, render};
use crate::kit::nav::Section;
use crate::kit::respond::{attachment, no_store};
use crate::stats::report::{self, Reading, Report, ReportQuery};

/// The most rows a panel's CSV holds.
const CSV_ROWS: u32 = 10_000;
const BASE: &str = "/admin/statistics";

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route(BASE, get(dashboard))
        .route("/admin/statistics.csv", get(export))
        .route("/admin/statistics/live", get(live))
}

/// The configured threshold for small counts (0 shows every count to staff).
fn threshold(state: &AppState) -> u64 {
    u64::from(state.config().stats.suppression_threshold)
}

#[derive(Template)]
#[template(path = "stats/dashboard.html")]
struct DashboardPage {
    frame: Frame,
    sections: Vec<&'static Section>,
    reading: Reading,
    report: Option<Report>,
    live: String,
    can_import: bool,
}

async fn live_count(state: &AppState) -> Result<u64, AppError> {
    Ok(state
        .stores()
        .stats_ingest
        .live_visitors(state.now() - LIVE_WINDOW)
        .await?)
}

async fn dashboard(
    State(state): State<AppState>,
    staff: Staff,
    frame: Frame,
    Query(q): Query<ReportQuery>,
) -> Result<Response, AppError> {
    staff.require(Permission::ViewStatistics)?;
    let reading = report::read(q, state.now(), true);
    let invalid = reading.form.has_errors();
    let report = match reading.range {
        Some(range) if !invalid => {
            Some(report::build(&state, &reading, range, threshold(&state), BASE).await?)
        }
        _ => None,
    };
    let live = candour_core::stats::figures::thousands(live_count(&state).await?);
    let page = DashboardPage {
        frame,
        sections: staff.sections.clone(),
        reading,
        report,
        live,
        can_import: staff.may(Permission::ImportStatistics),
    };
    let status = if invalid {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    Ok((status, no_store(render(&page)?)).into_response())
}

#[derive(Debug, Deserialize)]
struct ExportQuery {
    #[serde(default)]
    panel: String,
    #[serde(flatten)]
    report: ReportQuery,
}

async fn export(
    State(state): State<AppState>,
    staff: Staff,
    Query(q): Query<ExportQuery>,
) -> Result<Response, AppError> {
    staff.require(Permission::ViewStatistics)?;
    let dimension = Dimension::parse(q.panel.trim()).ok_or_else(|| {
        AppError::BadRequest(
            "The panel must be one of the dashboard's: page, entry_page, exit_page, source, \
             utm_source, utm_medium, utm_campaign, browser, os, device, country or goal"
                .to_owned(),
        )
    })?;
    let reading = report::read(q.report, state.now(), true);
    let (Some(range), false) = (reading.range, reading.form.has_errors()) else {
        let why: Vec<String> = reading
            .form
            .errors
            .iter()
            .map(|e| format!("{}: {}", e.field, e.problem))
            .collect();
        return Err(AppError::BadRequest(why.join("; ")));
    };
    let rows = state
        .stores()
        .stats_report
        .stats_breakdown(
            range.instants(),
            dimension,
            reading.filter.as_ref(),
            CSV_ROWS,
        )
        .await?;
    let threshold = threshold(&state);
    let small = |n: i64| {
        let n = u64::try_from(n).unwrap_or(0);
        if n > 0 && n < threshold {
            format!("fewer than {threshold}")
        } else {
            n.to_string()
        }
    };
    let mut out = csv::Writer::from_writer(Vec::new());
    let internal = |e: csv::Error| AppError::Internal(Box::new(e));
    out.write_record([
        dimension.code(),
        "visitors",
        "visits",
        "pageviews",
        "bounces",
        "visit_seconds",
        "events",
    ])
    .map_err(internal)?;
    for r in &rows {
        let m = &r.metrics;
        out.write_record([
            spreadsheet_safe(&r.value),
            small(m.visitors),
            small(m.visits),
            small(m.pageviews),
            small(m.bounces),
            m.duration_seconds.max(0).to_string(),
            small(m.events),
        ])
        .map_err(internal)?;
    }
    let bytes = out
        .into_inner()
        .map_err(|e| AppError::Internal(Box::new(e.into_error())))?;
    let name = format!(
        "statistics-{}-{}-to-{}.csv",
        dimension.code().replace('_', "-"),
        range.first,
        range.last
    );
    Ok(attachment("text/csv; charset=utf-8", &name, bytes))
}

#[derive(serde::Serialize)]
struct Live {
    visitors: u64,
}

/// The live count as JSON, for the dashboard's script to refresh it.
async fn live(State(state): State<AppState>, staff: Staff) -> Result<Response, AppError> {
    staff.require(Permission::ViewStatistics)?;
    let visitors = live_count(&state).await?;
    Ok(no_store(Json(Live { visitors })))
}
