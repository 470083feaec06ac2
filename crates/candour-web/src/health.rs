//! Liveness and readiness, for load balancers and orchestrators.

use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;

use crate::AppState;

/// The process is up and answering.
pub(crate) async fn healthz() -> &'static str {
    "ok\n"
}

/// The process can serve: its database answers within two seconds.
pub(crate) async fn readyz(State(state): State<AppState>) -> (StatusCode, &'static str) {
    let ping = tokio::time::timeout(Duration::from_secs(2), state.stores().health.ping()).await;
    match ping {
        Ok(Ok(())) => (StatusCode::OK, "ready\n"),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "Not ready: the database did not answer.");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable\n")
        }
        Err(_) => {
            tracing::warn!("Not ready: the database did not answer within two seconds.");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable\n")
        }
    }
}
