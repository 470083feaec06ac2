//! The privacy notice, generated from the running configuration and registries.

use askama::Template;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use candour_core::config::ConsentMode;
use candour_core::disclosures::basis_code;
use candour_core::policy::Policy;
use serde::Serialize;

use crate::AppState;
use crate::kit::error::AppError;
use crate::kit::frame::{Frame, render};
use crate::kit::respond::no_store;

#[derive(Template)]
#[template(path = "privacy.html")]
struct PrivacyPage<'a> {
    frame: Frame,
    policy: &'a Policy,
    recipients: Vec<Shared>,
}

/// A recipient of the register of disclosures, as the notice names it: those the privacy
/// officer has recorded that personal data may be passed to, and why.
#[derive(Serialize)]
struct Shared {
    name: String,
    purpose: String,
    /// The basis's code (`legitimate-interests`).
    lawful_basis: &'static str,
    /// The basis in the notice's words ("our legitimate interests").
    lawful_basis_in_words: &'static str,
}

/// The register's active recipients, read from the store each time so the notice is never
/// behind the register.
async fn shared(state: &AppState) -> Result<Vec<Shared>, AppError> {
    Ok(crate::disclosures::export::choices(state)
        .await?
        .into_iter()
        .map(|r| Shared {
            name: r.name,
            purpose: r.purpose,
            lawful_basis: basis_code(r.basis),
            lawful_basis_in_words: r.basis.label(),
        })
        .collect())
}

/// `/privacy.json`: the policy, with the register's recipients beside it.
#[derive(Serialize)]
struct PrivacyJson<'a> {
    #[serde(flatten)]
    policy: &'a Policy,
    disclosure_recipients: Vec<Shared>,
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
    let recipients = shared(&state).await?;
    Ok(no_store(render(&PrivacyPage {
        frame,
        policy: &state.inner.policy,
        recipients,
    })?))
}

pub(crate) async fn privacy_json(State(state): State<AppState>) -> Result<Response, AppError> {
    let disclosure_recipients = shared(&state).await?;
    Ok(axum::Json(PrivacyJson {
        policy: &state.inner.policy,
        disclosure_recipients,
    })
    .into_response())
}
