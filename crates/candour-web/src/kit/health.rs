//! Liveness and readiness, for load balancers and orchestrators.

use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;

use crate::AppState;

/// The process is up and answering.
pub(crate) async fn healthz() -> &'static str {
    "ok\n"
}

/// The process can serve: within two seconds, its database answers a query and takes a
/// write (a read-only file, a full disk or a standby server answers reads but not this).
pub(crate) async fn readyz(State(state): State<AppState>) -> (StatusCode, &'static str) {
    let stores = state.stores();
    let check = async {
        stores.health.ping().await?;
        stores.health.check_write(state.now()).await
    };
    match tokio::time::timeout(Duration::from_secs(2), check).await {
        Ok(Ok(())) => (StatusCode::OK, "ready\n"),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "Not ready: the database did not answer or take a write.");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable\n")
        }
        Err(_) => {
            tracing::warn!("Not ready: the database did not answer within two seconds.");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable\n")
        }
    }
}
