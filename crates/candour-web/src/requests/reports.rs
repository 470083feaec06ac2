//! Reports on requests over a chosen range of days received: by type and month, how many
//! were answered on time, and the median days to answer; as an accessible table and as CSV.

use askama::Template;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use candour_core::account::Permission;
use candour_core::fields::{FieldError, FieldErrors};
use candour_core::requests::Kind;
use candour_core::requests::report::{ReportRow, report, report_csv};
use candour_core::uk_time::ISO_DATE;
use serde::Deserialize;
use time::{Date, Duration};

use super::{holidays, today, uk_date};
use crate::AppState;
use crate::kit::auth::Staff;
use crate::kit::error::AppError;
use crate::kit::form::FormState;
use crate::kit::frame::{Frame, render};
use crate::kit::nav::Section;
use crate::kit::respond::{attachment, no_store};

pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/admin/requests/reports", get(reports))
}

#[derive(Deserialize)]
struct Range {
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    format: String,
}

#[derive(Template)]
#[template(path = "admin/request_reports.html")]
struct ReportPage {
    frame: Frame,
    sections: Vec<&'static Section>,
    form: FormState,
    kinds: Vec<&'static str>,
    rows: Vec<ReportRow>,
    range: String,
    csv: String,
}

/// The longest range a report covers.
const MAX_DAYS: i64 = 366 * 10;

/// Reads the range; an empty field takes its default (the year to today).
fn range(q: &Range, today: Date) -> Result<(Date, Date), FieldErrors> {
    let mut errors = FieldErrors::new();
    let mut day = |field: &str, raw: &str, default: Date| match raw.trim() {
        "" => Some(default),
        raw => match Date::parse(raw, ISO_DATE) {
            Ok(d) => Some(d),
            Err(_) => {
                errors.push(
                    FieldError::new(field, "is not a date").with_allowed("a date as YYYY-MM-DD"),
                );
                None
            }
        },
    };
    let from = day("from", &q.from, today - Duration::days(365));
    let to = day("to", &q.to, today);
    match (from, to) {
        (Some(from), Some(to)) if from > to => {
            Err(FieldErrors::one("to", "must be on or after the first day"))
        }
        (Some(from), Some(to)) if (to - from).whole_days() > MAX_DAYS => Err(FieldErrors::one(
            "to",
            "must be within ten years of the first day",
        )),
        (Some(from), Some(to)) if errors.is_empty() => Ok((from, to)),
        _ => Err(errors),
    }
}

async fn reports(
    State(state): State<AppState>,
    staff: Staff,
    frame: Frame,
    Query(q): Query<Range>,
) -> Result<Response, AppError> {
    staff.require(Permission::ManageRequests)?;
    let today = today(&state);
    let mut form = FormState::new()
        .with_value("from", &q.from)
        .with_value("to", &q.to);
    let page = |form, rows, range, csv| ReportPage {
        frame,
        sections: staff.sections.clone(),
        form,
        kinds: Kind::ALL.iter().map(|k| k.code()).collect(),
        rows,
        range,
        csv,
    };
    let (from, to) = match range(&q, today) {
        Ok(r) => r,
        Err(errors) => {
            form.errors = errors;
            let page = page(form, Vec::new(), String::new(), String::new());
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, no_store(render(&page)?)).into_response());
        }
    };
    let cases = state
        .stores()
        .request_actions
        .cases_received_between(from, to)
        .await?;
    let rows = report(&cases, holidays(&state));
    let iso = |d: Date| d.format(ISO_DATE).unwrap_or_default();
    if q.format == "csv" {
        return Ok(attachment(
            "text/csv; charset=utf-8",
            &format!("requests-{}-to-{}.csv", iso(from), iso(to)),
            report_csv(&rows).into_bytes(),
        ));
    }
    let form = FormState::new()
        .with_value("from", &iso(from))
        .with_value("to", &iso(to));
    let range = format!("{} to {}", uk_date(from), uk_date(to));
    let csv = format!(
        "/admin/requests/reports?from={}&to={}&format=csv",
        iso(from),
        iso(to)
    );
    Ok(no_store(render(&page(form, rows, range, csv))?))
}
