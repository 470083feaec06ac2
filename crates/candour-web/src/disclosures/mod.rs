//! Disclosures: the register of recipients that privacy officers keep (`register.rs`) and
//! the latest disclosures recorded through `DisclosureStore::record_disclosure`. The console's
//! exports do not record one yet (see ARCHITECTURE.md).

pub(crate) mod register;

use axum::Router;

use crate::AppState;

pub(crate) fn routes() -> Router<AppState> {
    register::routes()
}
