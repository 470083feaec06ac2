//! Disclosures: the register of recipients that privacy officers keep (`register.rs`), what
//! every console export shares to record one (`export.rs`), and the disclosures about a
//! person as their bundle lists them.

pub(crate) mod export;
pub(crate) mod register;

use axum::Router;
use candour_core::bundle::{DisclosureLine, disclosure_lines};
use candour_core::store::{StoreError, Stores};

use crate::AppState;

pub(crate) fn routes() -> Router<AppState> {
    register::routes()
}

/// The disclosures that covered `person` (none without a person record), oldest first,
/// naming each recipient from the register.
pub(crate) async fn about(
    stores: &Stores,
    person: Option<i64>,
) -> Result<Vec<DisclosureLine>, StoreError> {
    let Some(person) = person else {
        return Ok(Vec::new());
    };
    let made = stores.disclosures.disclosures_about(person).await?;
    if made.is_empty() {
        return Ok(Vec::new());
    }
    let register = stores.disclosures.recipients().await?;
    Ok(disclosure_lines(&made, &register))
}
