//! Disclosures: the register of recipients that privacy officers keep (`register.rs`), and
//! the record each export of personal data from the console writes before its bytes go out.
//!
//! Architecture invariant: no console export of personal data without a disclosure row.

pub(crate) mod register;

use axum::Router;

use crate::AppState;

pub(crate) fn routes() -> Router<AppState> {
    register::routes()
}
