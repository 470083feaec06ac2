//! A form's responses in the console: summaries, one by one, and the CSV export.

use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use candour_core::account::Permission;
use candour_core::disclosures::kind;
use candour_core::forms::{Answer, FieldKind, FormDefinition};
use candour_core::forms::{FormRecord, StoredResponse};
use candour_core::people::spreadsheet_safe;

use crate::AppState;
use crate::disclosures::export::{Export, ExportForm, audit_words, record as record_disclosure};
use crate::kit::auth::Staff;
use crate::kit::error::AppError;
use crate::kit::form::FormState;
use crate::kit::frame::{Frame, render};
use crate::kit::nav::Section;
use crate::kit::respond::{attachment, no_store};

use super::load;

/// A question's column: every key any version used, in the order of the current version
/// and then of older ones, with the newest label.
fn columns(record: &FormRecord, older: &[FormDefinition]) -> Vec<(String, String, FieldKind)> {
    let mut out: Vec<(String, String, FieldKind)> = Vec::new();
    for def in std::iter::once(&record.definition).chain(older.iter().rev()) {
        for f in &def.fields {
            if f.kind != FieldKind::Consent && !out.iter().any(|(k, _, _)| k == &f.key) {
                out.push((f.key.clone(), f.label.clone(), f.kind));
            }
        }
    }
    out
}

/// The form as the public sees it, before it is opened or changed.
pub(super) async fn preview(
    State(state): State<AppState>,
    staff: Staff,
    frame: Frame,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    staff.require(Permission::ManageForms)?;
    let record = load(&state, &id).await?;
    crate::forms::public::preview(&state, frame, record)
}

async fn older_versions(
    state: &AppState,
    record: &FormRecord,
) -> Result<Vec<FormDefinition>, AppError> {
    let mut all = state.stores().forms.form_versions(record.id).await?;
    // The last is the current version, which the caller has already.
    all.pop();
    Ok(all)
}

/// Counts for one choice question.
struct Tally {
    label: String,
    answered: usize,
    rows: Vec<(String, usize, u32)>,
}

impl Tally {
    /// The bar's width out of 200 for a count.
    fn width(&self, count: &usize) -> usize {
        (count * 200).checked_div(self.answered).unwrap_or(0)
    }
}

fn tallies(
    cols: &[(String, String, FieldKind)],
    record: &FormRecord,
    all: &[StoredResponse],
) -> Vec<Tally> {
    cols.iter()
        .filter(|(_, _, k)| k.has_choices() || *k == FieldKind::Rating)
        .map(|(key, label, kind)| {
            let choices: Vec<String> = if *kind == FieldKind::Rating {
                (1..=5).map(|n| n.to_string()).collect()
            } else {
                record
                    .definition
                    .fields
                    .iter()
                    .find(|f| &f.key == key)
                    .map(|f| f.choices.clone())
                    .unwrap_or_default()
            };
            let mut counts: Vec<(String, usize, u32)> =
                choices.into_iter().map(|c| (c, 0, 0)).collect();
            let mut answered = 0;
            for r in all {
                let Some((_, a)) = r.answers.iter().find(|(k, _)| k == key) else {
                    continue;
                };
                answered += 1;
                let picked: Vec<&str> = match a {
                    Answer::Text(t) => vec![t.as_str()],
                    Answer::Choices(c) => c.iter().map(String::as_str).collect(),
                };
                for p in picked {
                    match counts.iter_mut().find(|(c, _, _)| c == p) {
                        Some(row) => row.1 += 1,
                        None => counts.push((p.to_owned(), 1, 0)),
                    }
                }
            }
            for row in &mut counts {
                row.2 =
                    u32::try_from((row.1 * 100).checked_div(answered).unwrap_or(0)).unwrap_or(100);
            }
            Tally {
                label: label.clone(),
                answered,
                rows: counts,
            }
        })
        .collect()
}

#[derive(Template)]
#[template(path = "admin/form_responses.html")]
struct ResponsesPage {
    frame: Frame,
    sections: Vec<&'static Section>,
    record: FormRecord,
    columns: Vec<(String, String, FieldKind)>,
    tallies: Vec<Tally>,
    /// The newest responses, when this member of staff may read them one by one.
    responses: Option<Vec<StoredResponse>>,
    total: usize,
    can_manage: bool,
    /// The recipients the export may be made for.
    export_for: Vec<candour_core::disclosures::Recipient>,
    /// The export's form: empty, or refused with what was chosen and why.
    form: FormState,
}

impl ResponsesPage {
    fn cell(&self, r: &StoredResponse, key: &str) -> String {
        r.answers
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, a)| a.display())
            .unwrap_or_default()
    }
}

/// The newest responses shown on the page; the export has them all.
const SHOWN: usize = 200;

pub(super) async fn responses(
    State(state): State<AppState>,
    staff: Staff,
    frame: Frame,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    staff.require_any(&[Permission::ManageForms, Permission::ReadResponses])?;
    let record = load(&state, &id).await?;
    let page = responses_page(&state, &staff, frame, record, FormState::new()).await?;
    Ok(no_store(render(&page)?))
}

/// The responses page, with the export's form as given.
async fn responses_page(
    state: &AppState,
    staff: &Staff,
    frame: Frame,
    record: FormRecord,
    form: FormState,
) -> Result<ResponsesPage, AppError> {
    let older = older_versions(state, &record).await?;
    let all = state.stores().forms.responses(record.id).await?;
    // Summaries for everyone here; the answers one by one, which can name people, only for
    // those who may read personal data, and every such view is audited.
    let readable = staff.may(Permission::ReadResponses);
    if readable {
        state
            .audit(
                &staff.account,
                "form.responses-viewed",
                format!("form:{}", record.id),
                format!("{} responses", all.len()),
            )
            .await?;
    }
    let cols = columns(&record, &older);
    let tallies = tallies(&cols, &record, &all);
    let total = all.len();
    let export_for = if readable {
        crate::disclosures::export::choices(state).await?
    } else {
        Vec::new()
    };
    let responses = readable.then(|| {
        all.into_iter()
            .rev()
            .take(SHOWN)
            .collect::<Vec<StoredResponse>>()
    });
    Ok(ResponsesPage {
        frame,
        sections: staff.sections.clone(),
        columns: cols,
        tallies,
        responses,
        total,
        can_manage: staff.may(Permission::ManageForms),
        export_for,
        record,
        form,
    })
}

/// The page again after a refused export: nothing was written, and the form says why.
async fn refused(
    state: &AppState,
    staff: &Staff,
    frame: Frame,
    record: FormRecord,
    form: FormState,
) -> Result<Response, AppError> {
    let page = responses_page(state, staff, frame, record, form).await?;
    Ok((StatusCode::UNPROCESSABLE_ENTITY, no_store(render(&page)?)).into_response())
}

/// Every response as CSV. A POST that says for whom: recorded as a disclosure covering the
/// people who answered, and in the audit log, before the file is handed over.
pub(super) async fn export(
    State(state): State<AppState>,
    staff: Staff,
    frame: Frame,
    Path(id): Path<String>,
    Form(f): Form<ExportForm>,
) -> Result<Response, AppError> {
    staff.require(Permission::ReadResponses)?;
    state.check_form(&frame.visitor, &f.csrf)?;
    let record = load(&state, &id).await?;
    let for_whom = match f.for_whom(&state).await? {
        Ok(w) => w,
        Err(errors) => {
            let form = f.refused(FormState::new(), errors);
            return refused(&state, &staff, frame, record, form).await;
        }
    };
    let older = older_versions(&state, &record).await?;
    let all = state.stores().forms.responses(record.id).await?;
    let cols = columns(&record, &older);
    let mut out = csv::Writer::from_writer(Vec::new());
    let internal = |e: csv::Error| AppError::Internal(Box::new(e));
    let mut header = vec![
        "response".to_owned(),
        "version".to_owned(),
        "submitted_at".to_owned(),
        "person".to_owned(),
    ];
    header.extend(cols.iter().map(|(_, label, _)| spreadsheet_safe(label)));
    out.write_record(&header).map_err(internal)?;
    for r in &all {
        let mut row = vec![
            r.id.to_string(),
            r.version.to_string(),
            r.submitted_at
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default(),
            r.person.map(|p| p.to_string()).unwrap_or_default(),
        ];
        for (key, _, _) in &cols {
            let value = r
                .answers
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, a)| a.display())
                .unwrap_or_default();
            row.push(spreadsheet_safe(&value));
        }
        out.write_record(&row).map_err(internal)?;
    }
    let bytes = out
        .into_inner()
        .map_err(|e| AppError::Internal(Box::new(e.into_error())))?;
    let disclosure = match record_disclosure(
        &state,
        &staff,
        Export {
            kind: kind::FORM_RESPONSES,
            description: format!("form {}: {}", record.id, record.definition.title),
            people: all.iter().filter_map(|r| r.person).collect(),
            for_whom: &for_whom,
        },
    )
    .await?
    {
        Ok(d) => d,
        Err(errors) => {
            let form = f.refused(FormState::new(), errors);
            return refused(&state, &staff, frame, record, form).await;
        }
    };
    state
        .audit(
            &staff.account,
            "form.responses-exported",
            format!("form:{}", record.id),
            format!(
                "{} responses, {}",
                all.len(),
                audit_words(&for_whom, disclosure)
            ),
        )
        .await?;
    Ok(attachment(
        "text/csv; charset=utf-8",
        &format!("form-{}-responses.csv", record.id),
        bytes,
    ))
}
