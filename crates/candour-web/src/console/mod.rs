//! The admin console: a shell that each capability adds a section to, with a role check on
//! every route and every action, and an audit log of what staff do.

pub(crate) mod audit;

use askama::Template;
use axum::Form;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use candour_core::account::Account;
use candour_core::account::{EmailAddress, Permission, Role};
use candour_core::consent::Tally;
use candour_core::cookies::Category;
use candour_core::fields::FieldErrors;
use serde::Deserialize;
use time::Duration;

use crate::AppState;
use crate::kit::auth::Staff;
use crate::kit::error::AppError;
use crate::kit::form::{DoneQuery, FormState};
use crate::kit::frame::{Frame, render};
use crate::kit::nav::Section;
use crate::kit::respond::no_store;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin", get(home))
        .route("/admin/staff", get(staff_page).post(add_staff))
        .route("/admin/staff/{id}/role", post(change_role))
        .route("/admin/consent", get(consent_statistics))
}

#[derive(Template)]
#[template(path = "admin/home.html")]
struct HomePage {
    frame: Frame,
    role: Role,
    sections: Vec<&'static Section>,
}

async fn home(staff: Staff, frame: Frame) -> Result<Response, AppError> {
    staff.require(Permission::Console)?;
    Ok(no_store(render(&HomePage {
        frame,
        role: staff.role,
        sections: staff.sections.clone(),
    })?))
}

#[derive(Template)]
#[template(path = "admin/staff.html")]
struct StaffPage {
    frame: Frame,
    sections: Vec<&'static Section>,
    staff: Vec<Account>,
    me: i64,
    form: FormState,
    notice: Option<&'static str>,
    roles: [Role; 3],
}

impl StaffPage {
    fn role_is(&self, a: &Account, r: &Role) -> bool {
        a.role == Some(*r)
    }
}

async fn staff_view(
    state: &AppState,
    staff: &Staff,
    frame: Frame,
    form: FormState,
    notice: Option<&'static str>,
) -> Result<StaffPage, AppError> {
    Ok(StaffPage {
        frame,
        sections: staff.sections.clone(),
        staff: state.stores().accounts.staff().await?,
        me: staff.account.id,
        form,
        notice,
        roles: Role::ALL,
    })
}

async fn staff_page(
    State(state): State<AppState>,
    staff: Staff,
    frame: Frame,
    Query(q): Query<DoneQuery>,
) -> Result<Response, AppError> {
    staff.require(Permission::ManageStaff)?;
    let notice = match q.done.as_str() {
        "added" => Some("The role has been given."),
        "changed" => Some("The role has been changed."),
        _ => None,
    };
    let page = staff_view(&state, &staff, frame, FormState::new(), notice).await?;
    Ok(no_store(render(&page)?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AddStaffForm {
    csrf: String,
    email: String,
    role: String,
}

/// Give a staff role to an existing account (people register, or reset a password, first).
async fn add_staff(
    State(state): State<AppState>,
    staff: Staff,
    frame: Frame,
    Form(f): Form<AddStaffForm>,
) -> Result<Response, AppError> {
    staff.require(Permission::ManageStaff)?;
    state.check_form(&frame.visitor, &f.csrf)?;
    let mut form = FormState::new().with_value("email", &f.email);
    let role = Role::parse(&f.role);
    if role.is_none() {
        form.add_error(
            "role",
            "Choose a role: administrator, editor or privacy officer",
        );
    }
    let target = match EmailAddress::parse(&f.email) {
        Ok(e) => state.stores().accounts.account_by_email(&e).await?,
        Err(e) => {
            form.add_error("email", e.0);
            None
        }
    };
    let (Some(target), Some(role), false) = (target, role, form.has_errors()) else {
        if form.error("email").is_none() {
            form.add_error(
                "email",
                "No account uses that email address. Ask the person to register first",
            );
        }
        let page = staff_view(&state, &staff, frame, form, None).await?;
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, no_store(render(&page)?)).into_response());
    };
    if target.role.is_some() {
        // Changing an existing role goes through the staff table, which keeps at least one
        // administrator.
        form.add_error(
            "email",
            "That person is already staff. Change their role in the table above",
        );
        let page = staff_view(&state, &staff, frame, form, None).await?;
        return Ok((StatusCode::CONFLICT, no_store(render(&page)?)).into_response());
    }
    state
        .stores()
        .accounts
        .set_role(target.id, Some(role))
        .await?;
    state
        .audit(
            &staff.account,
            "staff.role-given",
            format!("account:{}", target.id),
            format!(
                "{} → {}",
                target.role.map_or("none", Role::as_str),
                role.as_str()
            ),
        )
        .await?;
    Ok(Redirect::to("/admin/staff?done=added").into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RoleForm {
    csrf: String,
    role: String,
}

async fn change_role(
    State(state): State<AppState>,
    staff: Staff,
    frame: Frame,
    Path(id): Path<i64>,
    Form(f): Form<RoleForm>,
) -> Result<Response, AppError> {
    staff.require(Permission::ManageStaff)?;
    state.check_form(&frame.visitor, &f.csrf)?;
    let role = match f.role.as_str() {
        "none" => None,
        other => Some(Role::parse(other).ok_or_else(|| {
            AppError::Invalid(FieldErrors::one(
                "role",
                "Choose administrator, editor, privacy officer or no role",
            ))
        })?),
    };
    let target = state
        .stores()
        .accounts
        .account(id)
        .await?
        .ok_or(AppError::NotFound)?;
    if target.role.is_none() {
        return Err(AppError::NotFound);
    }
    if target.role == Some(Role::Admin) && role != Some(Role::Admin) {
        let admins = state
            .stores()
            .accounts
            .staff()
            .await?
            .into_iter()
            .filter(|a| a.role == Some(Role::Admin))
            .count();
        if admins <= 1 {
            return Err(AppError::Conflict(
                "This is the only administrator. Make someone else an administrator first."
                    .to_owned(),
            ));
        }
    }
    state.stores().accounts.set_role(id, role).await?;
    if role.is_none() {
        // Losing the role ends the person's sessions, so the change takes effect at once.
        state.stores().sessions.end_all_sessions(id).await?;
    }
    state
        .audit(
            &staff.account,
            "staff.role-changed",
            format!("account:{id}"),
            format!(
                "{} → {}",
                target.role.map_or("none", Role::as_str),
                role.map_or("none", Role::as_str)
            ),
        )
        .await?;
    Ok(Redirect::to("/admin/staff?done=changed").into_response())
}

#[derive(Template)]
#[template(path = "admin/consent.html")]
struct ConsentPage {
    frame: Frame,
    sections: Vec<&'static Section>,
    month: Tally,
    year: Tally,
    /// The kinds of optional cookie this site has (a declared cookie or a gated script),
    /// with how many allowed each in the last 30 days and 12 months; kinds the site does
    /// not use are left out.
    kinds: Vec<(&'static str, u64, u64)>,
}

impl ConsentPage {
    fn percent(&self, part: &u64, whole: &u64) -> String {
        let (part, whole) = (*part, *whole);
        if whole == 0 {
            "–".to_owned()
        } else {
            format!("{:.0}%", part as f64 * 100.0 / whole as f64)
        }
    }
}

async fn consent_statistics(
    State(state): State<AppState>,
    staff: Staff,
    frame: Frame,
) -> Result<Response, AppError> {
    staff.require(Permission::ReadConsentStatistics)?;
    let now = state.now();
    let consent = &state.stores().consent;
    let month = consent.tally_since(now - Duration::days(30)).await?;
    let year = consent.tally_since(now - Duration::days(365)).await?;
    let allowed = |t: &Tally, c: Category| match c {
        Category::Preferences => t.preferences,
        Category::Statistics => t.statistics,
        Category::Marketing => t.marketing,
        Category::Necessary => t.receipts,
        // Chosen per provider, not counted as a category.
        Category::Media => 0,
    };
    let kinds = Category::OPTIONAL
        .into_iter()
        .filter(|&c| state.uses_category(c))
        .map(|c| {
            let heading = match c {
                Category::Preferences => "Preferences",
                Category::Statistics => "Statistics",
                Category::Marketing => "Marketing",
                Category::Necessary => "Strictly necessary",
                Category::Media => "Embedded media",
            };
            (heading, allowed(&month, c), allowed(&year, c))
        })
        .collect();
    Ok(no_store(render(&ConsentPage {
        frame,
        sections: staff.sections.clone(),
        month,
        year,
        kinds,
    })?))
}
