//! The privacy notice, generated from the running configuration and registries.

use askama::Template;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use candour_core::config::ConsentMode;
use candour_core::policy::Policy;

use crate::AppState;
use crate::kit::error::AppError;
use crate::kit::frame::{Frame, render};
use crate::kit::respond::no_store;

#[derive(Template)]
#[template(path = "privacy.html")]
struct PrivacyPage<'a> {
    frame: Frame,
    policy: &'a Policy,
}

impl PrivacyPage<'_> {
    fn opt_in(&self) -> bool {
        self.policy.consent_mode == ConsentMode::OptIn
    }
}

pub(crate) async fn privacy_page(
    State(state): State<AppState>,
    frame: Frame,
) -> Result<Response, AppError> {
    Ok(no_store(render(&PrivacyPage {
        frame,
        policy: &state.inner.policy,
    })?))
}

pub(crate) async fn privacy_json(State(state): State<AppState>) -> Response {
    axum::Json(&state.inner.policy).into_response()
}
