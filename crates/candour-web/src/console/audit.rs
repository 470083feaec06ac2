//! The audit log as a data protection officer uses it: who did what to which record, and
//! when, filtered by person, staff member, action and dates, in pages, and exported as CSV
//! (the export is itself written to the log, and recorded as a disclosure: it names staff
//! and the people they acted on).

use askama::Template;
use axum::Form;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use candour_core::account::{EmailAddress, Permission};
use candour_core::audit::{ACTIONS, action_words, is_known_action};
use candour_core::audit::{AuditEntry, AuditFilter};
use candour_core::disclosures::kind;
use candour_core::fields::FieldErrors;
use candour_core::people::spreadsheet_safe;
use candour_core::uk_time::{DateParts, parse_date_input, readable_uk, uk_start_of_day};
use serde::Deserialize;
use time::Duration;

use crate::AppState;
use crate::disclosures::export::{Export, ExportForm, audit_words, record};
use crate::kit::auth::Staff;
use crate::kit::error::AppError;
use crate::kit::form::FormState;
use crate::kit::frame::{Frame, render};
use crate::kit::nav::Section;
use crate::kit::respond::{attachment, no_store, query_value as encode};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/audit", get(audit_log))
        .route("/admin/audit.csv", post(export))
}

/// Entries on one page of the log.
const PAGE_SIZE: u32 = 50;
/// The highest page number asked for that is still read as one.
const LAST_PAGE: u64 = 1_000_000;
/// Entries read from the store at a time while exporting.
const EXPORT_BATCH: u32 = 1000;

/// The filter as typed: every field is text, so that whatever was typed can be shown again.
#[derive(Debug, Clone, Default, Deserialize)]
struct AuditQuery {
    #[serde(default)]
    person: String,
    #[serde(default)]
    staff: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    from_day: String,
    #[serde(default)]
    from_month: String,
    #[serde(default)]
    from_year: String,
    #[serde(default)]
    to_day: String,
    #[serde(default)]
    to_month: String,
    #[serde(default)]
    to_year: String,
    #[serde(default)]
    page: String,
}

impl AuditQuery {
    /// The filter's fields and values, without the page, in the order of the form.
    fn pairs(&self) -> [(&'static str, &str); 9] {
        [
            ("person", &self.person),
            ("staff", &self.staff),
            ("action", &self.action),
            ("from_day", &self.from_day),
            ("from_month", &self.from_month),
            ("from_year", &self.from_year),
            ("to_day", &self.to_day),
            ("to_month", &self.to_month),
            ("to_year", &self.to_year),
        ]
    }

    /// The query string of this filter on `page` (no page for the first), for links.
    fn query_string(&self, page: Option<u64>) -> String {
        let mut parts: Vec<String> = self
            .pairs()
            .iter()
            .filter(|(_, v)| !v.trim().is_empty())
            .map(|(k, v)| format!("{k}={}", encode(v.trim())))
            .collect();
        if let Some(p) = page {
            parts.push(format!("page={p}"));
        }
        parts.join("&")
    }
}

/// One of the two dates of the range, as the template shows it.
struct DateField {
    name: &'static str,
    legend: &'static str,
    day: String,
    month: String,
    year: String,
    error: Option<String>,
    parts: DateParts,
}

/// The filter read from the query, or what was wrong with it (in `form`).
struct Reading {
    filter: AuditFilter,
    /// A person asked for by email address, still to be found.
    person_email: Option<EmailAddress>,
    page: u64,
    form: FormState,
    dates: [DateField; 2],
}

fn read(q: &AuditQuery) -> Reading {
    let mut form = FormState::new();
    for (k, v) in q.pairs() {
        form = form.with_value(k, v);
    }
    let mut filter = AuditFilter::default();

    let person = q.person.trim();
    let mut person_email = None;
    if person.contains('@') {
        match EmailAddress::parse(person) {
            Ok(email) => person_email = Some(email),
            Err(_) => form.add_error(
                "person",
                "Person must be an email address in the correct format, like \
                 name@example.org, or a record number, such as 12",
            ),
        }
    } else if !person.is_empty() {
        match person.parse::<i64>() {
            Ok(id) if id > 0 => filter.target = Some(format!("person:{id}")),
            _ => form.add_error(
                "person",
                "Person must be an email address or a record number, such as 12 (the \
                 number at the end of the address of their record)",
            ),
        }
    }
    let staff = q.staff.trim();
    if !staff.is_empty() {
        match staff.parse::<i64>() {
            Ok(id) if id > 0 => filter.actor = Some(id),
            _ => form.add_error(
                "staff",
                "Staff member must be one of the staff in the list (an account number)",
            ),
        }
    }
    let action = q.action.trim();
    if !action.is_empty() {
        if is_known_action(action) {
            filter.action = Some(action.to_owned());
        } else {
            form.add_error("action", "Action must be one of the actions in the list");
        }
    }

    let mut from = DateField {
        name: "from",
        legend: "From",
        day: q.from_day.clone(),
        month: q.from_month.clone(),
        year: q.from_year.clone(),
        error: None,
        parts: DateParts::default(),
    };
    let mut to = DateField {
        name: "to",
        legend: "To",
        day: q.to_day.clone(),
        month: q.to_month.clone(),
        year: q.to_year.clone(),
        error: None,
        parts: DateParts::default(),
    };
    let mut dates = [None, None];
    for (i, (field, label)) in [(&mut from, "The from date"), (&mut to, "The to date")]
        .into_iter()
        .enumerate()
    {
        match parse_date_input(label, &field.day, &field.month, &field.year) {
            Ok(d) => dates[i] = d,
            Err(problem) => {
                // The summary links to the first field that is wrong.
                let first = if problem.parts.day {
                    "day"
                } else if problem.parts.month {
                    "month"
                } else {
                    "year"
                };
                form.add_error(&format!("{}_{first}", field.name), problem.message.clone());
                field.error = Some(problem.message);
                field.parts = problem.parts;
            }
        }
    }
    if let [Some(start), Some(end)] = dates
        && end < start
    {
        let message = "The to date must be the same as or after the from date".to_owned();
        form.add_error("to_day", message.clone());
        to.error = Some(message);
        to.parts = DateParts {
            day: true,
            month: true,
            year: true,
        };
    }
    filter.from = dates[0].map(uk_start_of_day);
    // The to date is the whole of that day on UK clocks.
    filter.until = dates[1].and_then(|d| d.next_day()).map(uk_start_of_day);

    let page_text = q.page.trim();
    let page = if page_text.is_empty() {
        1
    } else {
        match page_text.parse::<u64>() {
            Ok(p) if (1..=LAST_PAGE).contains(&p) => p,
            _ => {
                form.add_error(
                    "page",
                    format!("Page must be a whole number from 1 to {LAST_PAGE}"),
                );
                1
            }
        }
    };
    filter.offset = (page - 1) * u64::from(PAGE_SIZE);
    filter.limit = PAGE_SIZE;
    Reading {
        filter,
        person_email,
        page,
        form,
        dates: [from, to],
    }
}

/// Find the person asked for by email address; their record number is what the log names.
async fn find_person(state: &AppState, reading: &mut Reading) -> Result<(), AppError> {
    if let Some(email) = reading.person_email.take() {
        match state.stores().people.person_by_email(&email).await? {
            Some(p) => reading.filter.target = Some(format!("person:{}", p.id)),
            None => reading.form.add_error(
                "person",
                "No one on record has that email address. For someone whose record was \
                 erased, use their record number",
            ),
        }
    }
    Ok(())
}

/// A choice in one of the filter's lists.
struct Choice {
    value: String,
    label: String,
    selected: bool,
}

/// One entry of the log as the page shows it.
struct Row {
    when: String,
    email: String,
    words: String,
    target: String,
    /// The console page of the target, for a person's record.
    link: Option<String>,
    detail: String,
}

fn row(e: &AuditEntry) -> Row {
    let link = e
        .target
        .strip_prefix("person:")
        .filter(|id| id.parse::<i64>().is_ok())
        .map(|id| format!("/admin/people/{id}"));
    let target = match e.target.strip_prefix("person:") {
        Some(id) if link.is_some() => format!("Person {id}"),
        _ => e.target.clone(),
    };
    Row {
        when: readable_uk(e.at),
        email: e.actor_email.clone(),
        words: action_words(&e.action).to_owned(),
        target,
        link,
        detail: e.detail.clone(),
    }
}

struct Results {
    rows: Vec<Row>,
    total: u64,
    first: u64,
    last: u64,
    previous: Option<String>,
    next: Option<String>,
    csv: String,
}

#[derive(Template)]
#[template(path = "admin/audit.html")]
struct AuditLogPage {
    frame: Frame,
    sections: Vec<&'static Section>,
    form: FormState,
    staff: Vec<Choice>,
    actions: Vec<Choice>,
    dates: [DateField; 2],
    results: Option<Results>,
    /// The recipients an export may be made for.
    export_for: Vec<candour_core::disclosures::Recipient>,
}

async fn audit_log(
    State(state): State<AppState>,
    staff: Staff,
    frame: Frame,
    Query(q): Query<AuditQuery>,
) -> Result<Response, AppError> {
    staff.require(Permission::ReadAudit)?;
    audit_page(&state, &staff, frame, q, None).await
}

/// The log's page for the filter `q`; after a refused export, `refused` is the export's form
/// and its problems, shown beside its fields (status 422, nothing written).
async fn audit_page(
    state: &AppState,
    staff: &Staff,
    frame: Frame,
    q: AuditQuery,
    refused: Option<(&ExportForm, FieldErrors)>,
) -> Result<Response, AppError> {
    let mut reading = read(&q);
    find_person(state, &mut reading).await?;
    // A person asked for by email address is shown under their record number, so the address
    // stays out of the page's address, its links, logs and the browser's history.
    if q.person.contains('@')
        && let Some(id) = reading
            .filter
            .target
            .as_deref()
            .and_then(|t| t.strip_prefix("person:"))
    {
        let by_number = AuditQuery {
            person: id.to_owned(),
            ..q.clone()
        };
        return Ok(
            Redirect::to(&format!("/admin/audit?{}", by_number.query_string(None))).into_response(),
        );
    }
    let chosen_staff = q.staff.trim();
    let mut staff_choices: Vec<Choice> = state
        .stores()
        .accounts
        .staff()
        .await?
        .into_iter()
        .map(|a| Choice {
            selected: a.id.to_string() == chosen_staff,
            value: a.id.to_string(),
            label: a.email.as_str().to_owned(),
        })
        .collect();
    // Someone no longer on the staff list can still be asked for by number.
    if let Some(id) = reading.filter.actor
        && !staff_choices.iter().any(|c| c.selected)
    {
        staff_choices.push(Choice {
            value: id.to_string(),
            label: format!("Account {id} (no longer staff)"),
            selected: true,
        });
    }
    let chosen_action = q.action.trim();
    let actions = ACTIONS
        .iter()
        .map(|(code, words)| Choice {
            value: (*code).to_owned(),
            label: (*words).to_owned(),
            selected: *code == chosen_action,
        })
        .collect();
    let invalid = reading.form.has_errors();
    let results = if invalid {
        None
    } else {
        let found = state.stores().audit.search(&reading.filter).await?;
        let shown = u64::try_from(found.entries.len()).unwrap_or(0);
        let first = reading.filter.offset + 1;
        let link = |p: u64| {
            let qs = q.query_string((p > 1).then_some(p));
            if qs.is_empty() {
                "/admin/audit".to_owned()
            } else {
                format!("/admin/audit?{qs}")
            }
        };
        Some(Results {
            rows: found.entries.iter().map(row).collect(),
            total: found.total,
            first,
            last: reading.filter.offset + shown,
            previous: (reading.page > 1).then(|| link(reading.page - 1)),
            next: (reading.filter.offset + shown < found.total).then(|| link(reading.page + 1)),
            csv: match q.query_string(None) {
                qs if qs.is_empty() => "/admin/audit.csv".to_owned(),
                qs => format!("/admin/audit.csv?{qs}"),
            },
        })
    };
    let (form, refused) = match refused {
        Some((f, errors)) => (f.refused(reading.form, errors), true),
        None => (reading.form, false),
    };
    let page = AuditLogPage {
        frame,
        sections: staff.sections.clone(),
        form,
        staff: staff_choices,
        actions,
        dates: reading.dates,
        results,
        export_for: crate::disclosures::export::choices(state).await?,
    };
    let status = if invalid || refused {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    Ok((status, no_store(render(&page)?)).into_response())
}

async fn export(
    State(state): State<AppState>,
    staff: Staff,
    frame: Frame,
    Query(q): Query<AuditQuery>,
    Form(f): Form<ExportForm>,
) -> Result<Response, AppError> {
    staff.require(Permission::ReadAudit)?;
    state.check_form(&frame.visitor, &f.csrf)?;
    let mut reading = read(&q);
    find_person(&state, &mut reading).await?;
    if reading.form.has_errors() {
        // The same page, with the same errors, as the filter that led here would show.
        return audit_page(&state, &staff, frame, q, None).await;
    }
    let for_whom = match f.for_whom(&state).await? {
        Ok(w) => w,
        Err(errors) => return audit_page(&state, &staff, frame, q, Some((&f, errors))).await,
    };
    // The people the entries name: the disclosure covers them.
    let mut people: Vec<i64> = Vec::new();
    let mut filter = reading.filter;
    filter.offset = 0;
    filter.limit = EXPORT_BATCH;
    // Entries from after this second are left out, so that new ones do not shift the
    // batches being read.
    let now = state.now() + Duration::seconds(1);
    filter.until = Some(filter.until.map_or(now, |u| u.min(now)));
    let mut out = csv::Writer::from_writer(Vec::new());
    let internal = |e: csv::Error| AppError::Internal(Box::new(e));
    out.write_record([
        "time",
        "staff_email",
        "action",
        "action_in_words",
        "target",
        "detail",
    ])
    .map_err(internal)?;
    let mut count: u64 = 0;
    loop {
        let page = state.stores().audit.search(&filter).await?;
        for e in &page.entries {
            if let Some(Ok(p)) = e.target.strip_prefix("person:").map(str::parse::<i64>) {
                people.push(p);
            }
            let time =
                e.at.to_offset(time::UtcOffset::UTC)
                    .format(&time::format_description::well_known::Rfc3339)
                    .unwrap_or_default();
            out.write_record([
                time,
                spreadsheet_safe(&e.actor_email),
                spreadsheet_safe(&e.action),
                spreadsheet_safe(action_words(&e.action)),
                spreadsheet_safe(&e.target),
                spreadsheet_safe(&e.detail),
            ])
            .map_err(internal)?;
        }
        let n = u64::try_from(page.entries.len()).unwrap_or(0);
        count += n;
        filter.offset += n;
        if n < u64::from(EXPORT_BATCH) || filter.offset >= page.total {
            break;
        }
    }
    let bytes = out
        .into_inner()
        .map_err(|e| AppError::Internal(Box::new(e.into_error())))?;
    let described = q.query_string(None);
    let filter = if described.is_empty() {
        "no filter".to_owned()
    } else {
        format!("filter {described}")
    };
    let disclosure = match record(
        &state,
        &staff,
        Export {
            kind: kind::AUDIT_LOG,
            description: format!("{count} entries, {filter}"),
            people,
            for_whom: &for_whom,
        },
    )
    .await?
    {
        Ok(d) => d,
        Err(errors) => return audit_page(&state, &staff, frame, q, Some((&f, errors))).await,
    };
    state
        .audit(
            &staff.account,
            "audit.exported",
            "audit".to_owned(),
            format!(
                "{count} entries, {filter}, {}",
                audit_words(&for_whom, disclosure)
            ),
        )
        .await?;
    Ok(attachment(
        "text/csv; charset=utf-8",
        "audit-log.csv",
        bytes,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Action codes written in `text`: string literals such as `"person.viewed"` whose first
    /// part is one of the log's kinds of target.
    fn codes_in(text: &str) -> Vec<String> {
        const KINDS: &[&str] = &[
            "account",
            "audit",
            "campaign",
            "disclosure",
            "form",
            "people",
            "person",
            "poll",
            "request",
            "staff",
            "statistics",
        ];
        text.split('"')
            .skip(1)
            .step_by(2)
            .filter(|lit| {
                lit.split_once('.').is_some_and(|(kind, rest)| {
                    KINDS.contains(&kind)
                        && !rest.is_empty()
                        && rest.chars().all(|c| c.is_ascii_lowercase() || c == '-')
                })
            })
            .map(str::to_owned)
            .collect()
    }

    fn sources() -> Vec<(String, String)> {
        let here = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut out = Vec::new();
        let mut dirs = vec![here.join("src"), here.join("../candour/src")];
        // Every folder, so a module moved into one is still read.
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{dir:?}: {e}")) {
                let path = entry.map(|e| e.path()).unwrap_or_default();
                if path.is_dir() {
                    dirs.push(path);
                } else if path.extension().is_some_and(|x| x == "rs") {
                    let text = std::fs::read_to_string(&path).unwrap_or_default();
                    out.push((path.display().to_string(), text));
                }
            }
        }
        out
    }

    #[test]
    fn every_action_code_the_server_writes_has_words() {
        let mut used = Vec::new();
        for (path, text) in sources() {
            for code in codes_in(&text) {
                assert!(
                    is_known_action(&code),
                    "{path} writes `{code}`, which has no words in candour_core::audit::ACTIONS"
                );
                used.push(code);
            }
        }
        assert!(
            used.iter().any(|c| c == "person.viewed"),
            "the scan finds codes"
        );
        for (code, _) in ACTIONS {
            assert!(
                used.iter().any(|c| c == code),
                "`{code}` has words but nothing writes it"
            );
        }
    }

    #[test]
    fn the_code_scan_finds_literals_and_ignores_file_names() {
        let text = r#"state.audit(&a, "person.viewed", x); let f = "candour.css"; ("form.opened", "opened")"#;
        assert_eq!(codes_in(text), ["person.viewed", "form.opened"]);
    }

    #[test]
    fn filter_links_keep_every_field_and_encode_it() {
        let q = AuditQuery {
            person: "12".into(),
            action: "person.viewed".into(),
            from_day: "1".into(),
            from_month: "Jan uary".into(),
            ..AuditQuery::default()
        };
        assert_eq!(
            q.query_string(Some(3)),
            "person=12&action=person.viewed&from_day=1&from_month=Jan%20uary&page=3"
        );
        assert_eq!(AuditQuery::default().query_string(None), "");
    }
}
