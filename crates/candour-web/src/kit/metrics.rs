//! `/metrics` in the Prometheus text format: requests by route template and status with
//! their latency, the group-commit queues, the campaign worker's outcomes and the database
//! pools. Off unless `[metrics] enabled`; then served on a listener of its own or on the
//! site's, behind a bearer token when one is configured.
//!
//! Counters are kept through the `metrics` facade, so the campaign worker in `candour-mail`
//! counts with one line and no handle passed to it; the recorder is installed once per
//! process, the first time a site with metrics on is assembled.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::AppState;

/// The route label of a request no route matched: content pages and unknown paths alike,
/// so the label set stays as small as the router.
const UNMATCHED: &str = "(content or unmatched)";

const LATENCY_SECONDS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];
const FLUSH_ITEMS: &[f64] = &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0];
const FLUSH_SECONDS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0,
];

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// The process's recorder, installed on first use; `None` when another recorder was
/// installed first (then nothing is exported).
pub(crate) fn install() -> Option<PrometheusHandle> {
    HANDLE.get_or_init(build).clone()
}

fn build() -> Option<PrometheusHandle> {
    let builder = PrometheusBuilder::new()
        .set_buckets_for_metric(
            Matcher::Full("candour_http_request_duration_seconds".into()),
            LATENCY_SECONDS,
        )
        .and_then(|b| {
            b.set_buckets_for_metric(
                Matcher::Full("candour_queue_flush_items".into()),
                FLUSH_ITEMS,
            )
        })
        .and_then(|b| {
            b.set_buckets_for_metric(
                Matcher::Full("candour_queue_flush_seconds".into()),
                FLUSH_SECONDS,
            )
        })
        .and_then(|b| {
            b.set_buckets_for_metric(
                Matcher::Full("candour_stats_fold_seconds".into()),
                FLUSH_SECONDS,
            )
        });
    let recorder = match builder {
        Ok(b) => b.build_recorder(),
        Err(e) => {
            tracing::error!(error = %e, "Could not set up the metrics recorder.");
            return None;
        }
    };
    let handle = recorder.handle();
    if let Err(e) = metrics::set_global_recorder(recorder) {
        tracing::error!(error = %e, "Another metrics recorder is installed; /metrics stays empty.");
        return None;
    }
    describe();
    // Histograms gather samples until they are summarised; do it between scrapes too, so
    // a server nobody scrapes does not grow.
    let upkeep = handle.clone();
    let spawned = std::thread::Builder::new()
        .name("candour-metrics".into())
        .spawn(move || {
            loop {
                std::thread::sleep(Duration::from_secs(5));
                upkeep.run_upkeep();
            }
        });
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "Could not start the metrics upkeep thread.");
    }
    Some(handle)
}

fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram};
    describe_gauge!(
        "candour_build_info",
        "Always 1; the running version is in its label."
    );
    metrics::gauge!("candour_build_info", "version" => env!("CARGO_PKG_VERSION")).set(1.0);
    describe_counter!(
        "candour_http_requests_total",
        "Requests answered, by route template, method and status code."
    );
    describe_histogram!(
        "candour_http_request_duration_seconds",
        metrics::Unit::Seconds,
        "Time to answer a request, by route template, method and status class."
    );
    describe_gauge!(
        "candour_queue_depth",
        "Items submitted to a group-commit queue and not yet written."
    );
    describe_histogram!(
        "candour_queue_flush_items",
        "Items written by one store call of a group-commit queue."
    );
    describe_histogram!(
        "candour_queue_flush_seconds",
        metrics::Unit::Seconds,
        "Time one store call of a group-commit queue took."
    );
    describe_histogram!(
        "candour_stats_fold_seconds",
        metrics::Unit::Seconds,
        "Time one fold of waiting statistics hits (a batch of at most 5,000) took."
    );
    describe_counter!(
        "candour_stats_hits_folded_total",
        "Statistics hits folded into the totals by this instance."
    );
    describe_counter!(
        "candour_queue_items_total",
        "Items a group-commit queue wrote, or failed to write after its retry."
    );
    describe_counter!(
        "candour_queue_timed_out_total",
        "Submissions answered without waiting longer for their write ([database] acquire_timeout_ms)."
    );
    describe_counter!(
        "candour_campaign_messages_total",
        "Campaign messages whose outcome was recorded: sent, retry, failed or skipped."
    );
    describe_counter!(
        "candour_campaign_handovers_total",
        "Times a campaign message's final `.` went to the relay; beyond the messages sent, \
         copies the relay may hold twice."
    );
    describe_gauge!(
        "candour_db_pool_connections",
        "Open database connections, by pool and state (busy or idle)."
    );
    describe_gauge!(
        "candour_db_pool_max_connections",
        "The most connections a database pool opens."
    );
}

/// Count a request under its route template (never its path) with its latency.
pub(crate) async fn track(req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or(UNMATCHED.to_owned(), |m| m.as_str().to_owned());
    let method = match *req.method() {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        _ => "other",
    };
    let started = Instant::now();
    let res = next.run(req).await;
    let status = res.status().as_u16();
    let class = match status {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    };
    metrics::counter!(
        "candour_http_requests_total",
        "route" => route.clone(),
        "method" => method,
        "status" => status.to_string(),
    )
    .increment(1);
    metrics::histogram!(
        "candour_http_request_duration_seconds",
        "route" => route,
        "method" => method,
        "class" => class,
    )
    .record(started.elapsed());
    res
}

/// `GET /metrics`.
pub(crate) async fn metrics_page(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let token = &state.config().metrics.token;
    if !token.is_empty() && !bearer_matches(&headers, token.expose()) {
        return (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"))],
            "a bearer token is required\n",
        )
            .into_response();
    }
    let Some(handle) = state.inner.metrics.as_ref() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    state.sample_gauges();
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        handle.render(),
    )
        .into_response()
}

fn bearer_matches(headers: &HeaderMap, token: &str) -> bool {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|sent| candour_core::signer::same_secret(sent.as_bytes(), token.as_bytes()))
}

impl AppState {
    /// Gauges read at scrape time: the queues' depth and the pools' use.
    fn sample_gauges(&self) {
        metrics::gauge!("candour_queue_depth", "queue" => "votes")
            .set(self.inner.votes.depth() as f64);
        metrics::gauge!("candour_queue_depth", "queue" => "tracking")
            .set(self.inner.tracking.depth() as f64);
        metrics::gauge!("candour_queue_depth", "queue" => "hits")
            .set(self.inner.stats.depth() as f64);
        for pool in self.inner.stores.health.pool_use() {
            let busy = pool.size.saturating_sub(pool.idle);
            metrics::gauge!("candour_db_pool_connections", "pool" => pool.pool, "state" => "busy")
                .set(f64::from(busy));
            metrics::gauge!("candour_db_pool_connections", "pool" => pool.pool, "state" => "idle")
                .set(f64::from(pool.idle));
            metrics::gauge!("candour_db_pool_max_connections", "pool" => pool.pool)
                .set(f64::from(pool.max));
        }
    }
}
