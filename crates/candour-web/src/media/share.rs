//! The share route: a link to a network (`kit::share`) goes through
//! `/share/{network}?page=…`, which only ever redirects to that network's own fixed share
//! address for a page of this site that offers share links: never an open redirect.
//!
//! A share followed is counted as a goal in the site statistics (`Share link: <network>`,
//! on the shared page), unless the visitor objects; nothing else is stored.

use std::net::SocketAddr;

use axum::Router;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use candour_core::fields::FieldErrors;
use candour_core::share::Network;
use serde::Deserialize;

use crate::AppState;
use crate::kit::error::AppError;

pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/share/{network}", get(share))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ShareQuery {
    page: String,
}

/// The title a shared page goes with, when `path` is a page that shows share links.
async fn shared_page_title(state: &AppState, path: &str) -> Result<Option<String>, AppError> {
    if let Some(page) = state.inner.site.page(path).filter(|p| p.share) {
        return Ok(Some(page.title.clone()));
    }
    let Some(id) = path.strip_prefix("/polls/") else {
        return Ok(None);
    };
    if !state.inner.config.share.polls || !state.inner.config.polls.enabled {
        return Ok(None);
    }
    let Ok(id) = id.parse::<i64>() else {
        return Ok(None);
    };
    let poll = state
        .inner
        .poll_cache
        .get(state.stores().polls.as_ref(), id)
        .await?;
    Ok(poll.map(|p| p.question.clone()))
}

/// Redirect to the network's own share address for one of this site's shareable pages.
async fn share(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: axum::http::HeaderMap,
    Path(network): Path<String>,
    query: Result<Query<ShareQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, AppError> {
    let network = Network::parse(&network)
        .filter(|n| *n != Network::Email && state.inner.config.share.offers(*n))
        .ok_or(AppError::NotFound)?;
    let invalid = |problem: &str| {
        let mut errors = FieldErrors::new();
        errors.add("page", problem.to_owned());
        AppError::Invalid(errors)
    };
    let Ok(Query(query)) = query else {
        return Err(invalid(
            "is missing: give the path of a page on this site, such as /news",
        ));
    };
    let path = query.page.as_str();
    if !path.starts_with('/') || path.starts_with("//") || path.len() > 300 {
        return Err(invalid(
            "must be the path of a page on this site, such as /news",
        ));
    }
    let title = shared_page_title(&state, path)
        .await?
        .ok_or_else(|| invalid("is not a page of this site that offers share links"))?;
    crate::stats::count::count_event(
        &state,
        &headers,
        peer,
        path,
        &format!("Share link: {}", network.slug()),
    );
    let url = format!("{}{path}", state.link_base());
    Ok((
        axum::http::StatusCode::SEE_OTHER,
        [
            (header::LOCATION, network.share_url(&url, &title)),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
    )
        .into_response())
}
