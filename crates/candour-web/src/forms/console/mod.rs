//! Forms and surveys in the admin console: build them question by question (without
//! JavaScript), open and close them, and read, summarise and export their responses.
//! Editors and administrators build forms and see summaries of the answers; reading and
//! exporting the answers one by one, which can name people, is `Permission::ReadResponses`
//! (administrators and privacy officers by default). Every change, view of the answers and
//! export is audited.

mod responses;

use std::collections::BTreeMap;

use askama::Template;
use axum::Form;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use candour_core::account::Permission;
use candour_core::fields::FieldErrors;
use candour_core::forms::FormRecord;
use candour_core::forms::{Field, FieldKind, FormDefinition, PersonAttr};
use candour_core::purposes::Purpose;

use crate::AppState;
use crate::kit::auth::Staff;
use crate::kit::error::AppError;
use crate::kit::form::{CsrfOnly, DoneQuery, FormState};
use crate::kit::frame::{Frame, render};
use crate::kit::nav::Section;
use crate::kit::respond::no_store;
use responses::{export, preview, responses};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/forms", get(list).post(create))
        .route("/admin/forms/new", get(new_form))
        .route("/admin/forms/{id}", get(edit_form).post(update))
        .route("/admin/forms/{id}/open", post(open))
        .route("/admin/forms/{id}/close", post(close))
        .route("/admin/forms/{id}/delete", post(delete))
        .route("/admin/forms/{id}/preview", get(preview))
        .route("/admin/forms/{id}/responses", get(responses))
        .route("/admin/forms/{id}/responses.csv", post(export))
}

#[derive(Template)]
#[template(path = "admin/forms.html")]
struct ListPage {
    frame: Frame,
    sections: Vec<&'static Section>,
    forms: Vec<FormRecord>,
    notice: Option<&'static str>,
    /// Whether this member of staff may build forms (or only read their responses).
    can_manage: bool,
}

async fn list(
    State(state): State<AppState>,
    staff: Staff,
    frame: Frame,
    Query(q): Query<DoneQuery>,
) -> Result<Response, AppError> {
    staff.require_any(&[Permission::ManageForms, Permission::ReadResponses])?;
    let forms = state.stores().forms.forms().await?;
    let notice = (q.done == "deleted").then_some("The form and its responses have been deleted.");
    Ok(no_store(render(&ListPage {
        frame,
        sections: staff.sections.clone(),
        can_manage: staff.may(Permission::ManageForms),
        forms,
        notice,
    })?))
}

/// One question in the builder.
pub(crate) struct QuestionEdit {
    pub key: String,
    pub label: String,
    pub hint: String,
    pub kind: String,
    pub required: bool,
    pub choices: String,
    pub saves_to: String,
    pub purpose: String,
    pub position: usize,
    pub is_new: bool,
}

#[derive(Template)]
#[template(path = "admin/form_edit.html")]
pub(super) struct EditPage {
    frame: Frame,
    sections: Vec<&'static Section>,
    /// `None` for a new form.
    record: Option<FormRecord>,
    title: String,
    intro: String,
    chosen_purposes: Vec<String>,
    questions: Vec<QuestionEdit>,
    form: FormState,
    kinds: [FieldKind; 10],
    attrs: [PersonAttr; 6],
    purposes: Vec<Purpose>,
    consentable: Vec<Purpose>,
    notice: Option<String>,
}

impl EditPage {
    fn error_for(&self, key: &str) -> Option<String> {
        let messages: Vec<&str> = self
            .form
            .errors
            .iter()
            .filter(|e| e.field == format!("{key}.label") || e.field == key)
            .map(|e| e.problem.as_str())
            .collect();
        (!messages.is_empty()).then(|| messages.join(". "))
    }

    fn purpose_chosen(&self, id: &str) -> bool {
        self.chosen_purposes.iter().any(|p| p == id)
    }
}

fn questions_of(def: &FormDefinition) -> Vec<QuestionEdit> {
    let mut out: Vec<QuestionEdit> = def
        .fields
        .iter()
        .enumerate()
        .map(|(i, f)| QuestionEdit {
            key: f.key.clone(),
            label: f.label.clone(),
            hint: f.hint.clone(),
            kind: f.kind.as_str().to_owned(),
            required: f.required,
            choices: f.choices.join("\n"),
            saves_to: f
                .saves_to
                .map(|a| a.as_str().to_owned())
                .unwrap_or_default(),
            purpose: f.purpose.clone().unwrap_or_default(),
            position: i + 1,
            is_new: false,
        })
        .collect();
    out.extend(blank_questions(def, out.len()));
    out
}

/// How many empty question blocks the builder offers at once; empty ones are ignored.
const NEW_QUESTIONS: usize = 3;

/// Empty blocks for new questions, after `shown` questions already on the page.
fn blank_questions(def: &FormDefinition, shown: usize) -> Vec<QuestionEdit> {
    let first: u32 = def
        .next_key()
        .strip_prefix('q')
        .and_then(|n| n.parse().ok())
        .unwrap_or(1);
    (0..NEW_QUESTIONS)
        .map(|i| QuestionEdit {
            key: format!("q{}", first as usize + i),
            label: String::new(),
            hint: String::new(),
            kind: FieldKind::ShortText.as_str().to_owned(),
            required: false,
            choices: String::new(),
            saves_to: String::new(),
            purpose: String::new(),
            position: shown + i + 1,
            is_new: true,
        })
        .collect()
}

/// A form being built: the definition, its questions as typed, and their errors.
pub(super) struct Draft {
    def: FormDefinition,
    questions: Vec<QuestionEdit>,
    form: FormState,
}

impl Draft {
    fn of(def: FormDefinition) -> Draft {
        Draft {
            questions: questions_of(&def),
            def,
            form: FormState::new(),
        }
    }
}

pub(super) fn page(
    state: &AppState,
    staff: &Staff,
    frame: Frame,
    record: Option<FormRecord>,
    draft: Draft,
    notice: Option<String>,
) -> EditPage {
    let Draft {
        def,
        questions,
        form,
    } = draft;
    EditPage {
        frame,
        sections: staff.sections.clone(),
        record,
        title: def.title.clone(),
        intro: def.intro.clone(),
        chosen_purposes: def.purposes.clone(),
        questions,
        form,
        kinds: FieldKind::ALL,
        attrs: PersonAttr::ALL,
        purposes: state
            .purposes()
            .iter()
            .filter(|p| p.offered_on_forms())
            .cloned()
            .collect(),
        consentable: state
            .purposes()
            .iter()
            .filter(|p| p.is_consented())
            .cloned()
            .collect(),
        notice,
    }
}

fn empty() -> FormDefinition {
    FormDefinition {
        title: String::new(),
        intro: String::new(),
        fields: Vec::new(),
        purposes: Vec::new(),
    }
}

async fn new_form(
    State(state): State<AppState>,
    staff: Staff,
    frame: Frame,
) -> Result<Response, AppError> {
    staff.require(Permission::ManageForms)?;
    Ok(no_store(render(&page(
        &state,
        &staff,
        frame,
        None,
        Draft::of(empty()),
        None,
    ))?))
}

const QUESTION_PARTS: &[&str] = &[
    "label", "hint", "kind", "required", "choices", "saves_to", "purpose", "position", "remove",
];

/// Read the builder's post: the definition, and the questions as typed (to show again).
fn parse_builder(
    pairs: &[(String, String)],
) -> Result<(FormDefinition, Vec<QuestionEdit>, FormState), AppError> {
    let mut title = String::new();
    let mut intro = String::new();
    let mut purposes = Vec::new();
    let mut parts: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for (name, value) in pairs {
        match name.as_str() {
            "csrf" => {}
            "title" => title.clone_from(value),
            "intro" => intro.clone_from(value),
            "purposes" => purposes.push(value.clone()),
            other => {
                let ok = other.split_once('.').filter(|(key, part)| {
                    key.len() <= 5
                        && key
                            .strip_prefix('q')
                            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
                        && QUESTION_PARTS.contains(part)
                });
                let Some((key, part)) = ok else {
                    return Err(AppError::Invalid(FieldErrors::one(
                        other.chars().take(40).collect::<String>(),
                        "This form does not accept that field. Questions are sent as q<number>.<part>",
                    )));
                };
                parts
                    .entry(key.to_owned())
                    .or_default()
                    .insert(part.to_owned(), value.clone());
            }
        }
    }
    let mut state = FormState::new();
    let mut questions = Vec::new();
    let mut fields: Vec<(usize, Field)> = Vec::new();
    let count = parts.len();
    for (i, (key, p)) in parts.into_iter().enumerate() {
        let get = |part: &str| p.get(part).map_or("", String::as_str);
        let position = get("position").trim().parse::<usize>().unwrap_or(count + i);
        let edit = QuestionEdit {
            key: key.clone(),
            label: get("label").to_owned(),
            hint: get("hint").to_owned(),
            kind: get("kind").to_owned(),
            required: get("required") == "yes",
            choices: get("choices").to_owned(),
            saves_to: get("saves_to").to_owned(),
            purpose: get("purpose").to_owned(),
            position,
            is_new: false,
        };
        if get("remove") == "yes" || edit.label.trim().is_empty() && edit.choices.trim().is_empty()
        {
            continue;
        }
        let kind = FieldKind::parse(&edit.kind);
        if kind.is_none() {
            state.add_error(&format!("{key}.label"), "Choose the kind of question");
        }
        let saves_to = match edit.saves_to.as_str() {
            "" => None,
            s => match PersonAttr::parse(s) {
                Some(a) => Some(a),
                None => {
                    state.add_error(&format!("{key}.label"), "Choose what the answer fills in");
                    None
                }
            },
        };
        fields.push((
            position,
            Field {
                key: key.clone(),
                label: edit.label.trim().to_owned(),
                hint: edit.hint.trim().to_owned(),
                kind: kind.unwrap_or(FieldKind::ShortText),
                required: edit.required,
                choices: edit
                    .choices
                    .lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .map(str::to_owned)
                    .collect(),
                saves_to,
                purpose: (!edit.purpose.is_empty()).then(|| edit.purpose.clone()),
            },
        ));
        questions.push(edit);
    }
    fields.sort_by_key(|(pos, _)| *pos);
    questions.sort_by_key(|q| q.position);
    let def = FormDefinition {
        title: title.trim().to_owned(),
        intro: intro.trim().replace("\r\n", "\n"),
        fields: fields.into_iter().map(|(_, f)| f).collect(),
        purposes,
    };
    Ok((def, questions, state))
}

/// Check a builder post: the definition, or the page to show again with its errors.
fn checked(
    state: &AppState,
    pairs: &[(String, String)],
) -> Result<Result<FormDefinition, Draft>, AppError> {
    let (def, mut questions, mut form) = parse_builder(pairs)?;
    for e in def.check(state.purposes()) {
        let field = if e.field.starts_with('q') {
            format!("{}.label", e.field)
        } else {
            e.field
        };
        form.add_error(&field, e.problem);
    }
    if form.has_errors() {
        for (i, q) in questions.iter_mut().enumerate() {
            q.position = i + 1;
        }
        let shown = questions.len();
        questions.extend(blank_questions(&def, shown));
        return Ok(Err(Draft {
            def,
            questions,
            form,
        }));
    }
    Ok(Ok(def))
}

async fn create(
    State(state): State<AppState>,
    staff: Staff,
    frame: Frame,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Result<Response, AppError> {
    staff.require(Permission::ManageForms)?;
    let csrf = pairs
        .iter()
        .find(|(k, _)| k == "csrf")
        .map_or("", |(_, v)| v.as_str());
    state.check_form(&frame.visitor, csrf)?;
    let def = match checked(&state, &pairs)? {
        Ok(def) => def,
        Err(draft) => {
            let p = page(&state, &staff, frame, None, draft, None);
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, no_store(render(&p)?)).into_response());
        }
    };
    let id = state.stores().forms.create_form(&def, state.now()).await?;
    state
        .audit(
            &staff.account,
            "form.created",
            format!("form:{id}"),
            def.title.clone(),
        )
        .await?;
    Ok(Redirect::to(&format!("/admin/forms/{id}?done=created")).into_response())
}

pub(super) async fn load(state: &AppState, id: &str) -> Result<FormRecord, AppError> {
    let id: i64 = id.parse().map_err(|_| AppError::NotFound)?;
    state
        .stores()
        .forms
        .form(id)
        .await?
        .ok_or(AppError::NotFound)
}

async fn edit_form(
    State(state): State<AppState>,
    staff: Staff,
    frame: Frame,
    Path(id): Path<String>,
    Query(q): Query<DoneQuery>,
) -> Result<Response, AppError> {
    staff.require(Permission::ManageForms)?;
    let record = load(&state, &id).await?;
    let notice = match q.done.as_str() {
        "created" => {
            Some("The form has been created. It is open: share its address below.".to_owned())
        }
        "saved" => Some(format!("Saved as version {}.", record.version)),
        "opened" => Some("The form is open.".to_owned()),
        "closed" => Some("The form is closed: it takes no more answers.".to_owned()),
        _ => None,
    };
    let draft = Draft::of(record.definition.clone());
    Ok(no_store(render(&page(
        &state,
        &staff,
        frame,
        Some(record),
        draft,
        notice,
    ))?))
}

async fn update(
    State(state): State<AppState>,
    staff: Staff,
    frame: Frame,
    Path(id): Path<String>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Result<Response, AppError> {
    staff.require(Permission::ManageForms)?;
    let record = load(&state, &id).await?;
    let csrf = pairs
        .iter()
        .find(|(k, _)| k == "csrf")
        .map_or("", |(_, v)| v.as_str());
    state.check_form(&frame.visitor, csrf)?;
    let def = match checked(&state, &pairs)? {
        Ok(def) => def,
        Err(draft) => {
            let p = page(&state, &staff, frame, Some(record), draft, None);
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, no_store(render(&p)?)).into_response());
        }
    };
    let version = state
        .stores()
        .forms
        .save_form(record.id, &def, state.now())
        .await?;
    state
        .audit(
            &staff.account,
            "form.changed",
            format!("form:{}", record.id),
            format!("version {version}"),
        )
        .await?;
    Ok(Redirect::to(&format!("/admin/forms/{}?done=saved", record.id)).into_response())
}

async fn set_open(
    state: &AppState,
    staff: &Staff,
    frame: &Frame,
    id: &str,
    csrf: &str,
    open: bool,
) -> Result<Response, AppError> {
    staff.require(Permission::ManageForms)?;
    state.check_form(&frame.visitor, csrf)?;
    let record = load(state, id).await?;
    state.stores().forms.set_form_open(record.id, open).await?;
    let (action, done) = if open {
        ("form.opened", "opened")
    } else {
        ("form.closed", "closed")
    };
    state
        .audit(
            &staff.account,
            action,
            format!("form:{}", record.id),
            String::new(),
        )
        .await?;
    Ok(Redirect::to(&format!("/admin/forms/{}?done={done}", record.id)).into_response())
}

async fn open(
    State(state): State<AppState>,
    staff: Staff,
    frame: Frame,
    Path(id): Path<String>,
    Form(f): Form<CsrfOnly>,
) -> Result<Response, AppError> {
    set_open(&state, &staff, &frame, &id, &f.csrf, true).await
}

async fn close(
    State(state): State<AppState>,
    staff: Staff,
    frame: Frame,
    Path(id): Path<String>,
    Form(f): Form<CsrfOnly>,
) -> Result<Response, AppError> {
    set_open(&state, &staff, &frame, &id, &f.csrf, false).await
}

async fn delete(
    State(state): State<AppState>,
    staff: Staff,
    frame: Frame,
    Path(id): Path<String>,
    Form(f): Form<CsrfOnly>,
) -> Result<Response, AppError> {
    staff.require(Permission::ManageForms)?;
    state.check_form(&frame.visitor, &f.csrf)?;
    let record = load(&state, &id).await?;
    state.stores().forms.delete_form(record.id).await?;
    state
        .audit(
            &staff.account,
            "form.deleted",
            format!("form:{}", record.id),
            format!("{} responses", record.responses),
        )
        .await?;
    Ok(Redirect::to("/admin/forms?done=deleted").into_response())
}
