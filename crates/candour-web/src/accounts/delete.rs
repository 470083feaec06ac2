//! Deleting the account, after the password is entered again.

use askama::Template;
use axum::Form;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use candour_core::account::Role;

use crate::AppState;
use crate::kit::auth::{SignedIn, end_session_cookie};
use crate::kit::error::AppError;
use crate::kit::form::{FormData, FormState};
use crate::kit::frame::{Frame, render};
use crate::kit::respond::no_store;

use super::{MessagePage, reauthenticate};

#[derive(Template)]
#[template(path = "account/delete.html")]
struct DeletePage {
    frame: Frame,
    form: FormState,
}

pub(super) async fn delete_page(_user: SignedIn, frame: Frame) -> Result<Response, AppError> {
    Ok(no_store(render(&DeletePage {
        frame,
        form: FormState::new(),
    })?))
}

pub(super) async fn delete_account(
    State(state): State<AppState>,
    user: SignedIn,
    frame: Frame,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Result<Response, AppError> {
    let data = FormData::parse(pairs, &["csrf", "password"])?;
    state.check_form(&frame.visitor, data.get("csrf"))?;
    if !reauthenticate(&state, &user.account, data.get("password")).await? {
        let mut form = FormState::new();
        form.add_error("password", "Your password is not right");
        return Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            no_store(render(&DeletePage { frame, form })?),
        )
            .into_response());
    }
    if user.account.role == Some(Role::Admin) {
        let admins = state
            .stores()
            .accounts
            .staff()
            .await?
            .into_iter()
            .filter(|a| a.role == Some(Role::Admin))
            .count();
        if admins <= 1 {
            return Err(AppError::Conflict("You are the only administrator. Make someone else an administrator before deleting your account.".to_owned()));
        }
    }
    if user.account.role.is_some() {
        state
            .audit(
                &user.account,
                "staff.account-deleted",
                format!("account:{}", user.account.id),
                String::new(),
            )
            .await?;
    }
    state
        .stores()
        .accounts
        .delete_account(user.account.id)
        .await?;
    let page = MessagePage {
        frame: Frame::plain(&state, "/account/delete"),
        title: "Your account has been deleted".to_owned(),
        paragraphs: vec![
            "Your account, your profile and your sign-ins have been deleted.".to_owned(),
        ],
        link: Some(("/".to_owned(), "Go to the home page".to_owned())),
    };
    Ok((end_session_cookie(&state)?, no_store(render(&page)?)).into_response())
}
