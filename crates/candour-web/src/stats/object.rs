//! `/statistics/object`: where a visitor turns the statistics off for their browser, or back
//! on. Turning off sets the one declared cookie (`candour_no_stats`, strictly necessary: it
//! exists only to carry the objection); nothing is set for anyone who does not object.
//! `Sec-GPC: 1` and `DNT: 1` count as an objection without it. Plain forms: the page works
//! the same with and without JavaScript.

use askama::Template;
use axum::extract::State;
use axum::http::{HeaderMap, Uri};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Form, Router};
use candour_core::cookies::{CookieId, STATS_OBJECTION_COOKIE};
use serde::Deserialize;

use super::count::objects;
use crate::AppState;
use crate::kit::auth::Visitor;
use crate::kit::cookie_jar;
use crate::kit::error::AppError;
use crate::kit::frame::{Frame, render};
use crate::kit::respond::no_store;

pub(crate) const PATH: &str = "/statistics/object";

pub(crate) fn routes() -> Router<AppState> {
    Router::new().route(PATH, get(page).post(save))
}

#[derive(Template)]
#[template(path = "stats/object.html")]
struct ObjectPage {
    frame: Frame,
    cookie: bool,
    browser: bool,
    saved: Option<&'static str>,
    retention_months: u32,
    countries: bool,
    cookie_name: &'static str,
    /// The organisation's other sites count their pages here too (`[stats] sites`).
    other_sites: bool,
}

async fn page(
    State(state): State<AppState>,
    visitor: Visitor,
    uri: Uri,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let config = state.config();
    if !config.stats.enabled {
        return Err(AppError::NotFound);
    }
    let (cookie, browser) = objects(&headers);
    let saved = match uri.query() {
        Some("saved=off") => Some("off"),
        Some("saved=on") => Some("on"),
        _ => None,
    };
    let page = ObjectPage {
        cookie,
        browser,
        saved,
        retention_months: config.stats.retention_months,
        countries: config.stats.geoip_database.is_some(),
        cookie_name: STATS_OBJECTION_COOKIE,
        other_sites: !config.stats.sites.is_empty(),
        frame: Frame::for_request(&state, &uri, &headers, visitor),
    };
    Ok(no_store(render(&page)?))
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "lowercase")]
enum OnOff {
    On,
    Off,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ObjectForm {
    csrf: String,
    statistics: OnOff,
}

async fn save(
    State(state): State<AppState>,
    visitor: Visitor,
    Form(form): Form<ObjectForm>,
) -> Result<Response, AppError> {
    if !state.config().stats.enabled {
        return Err(AppError::NotFound);
    }
    state.check_form(&visitor, &form.csrf)?;
    Ok(match form.statistics {
        OnOff::Off => (
            cookie_jar::set(&state, CookieId::StatsObjection, "1")?,
            Redirect::to(&format!("{PATH}?saved=off")),
        )
            .into_response(),
        OnOff::On => (
            cookie_jar::clear(&state, CookieId::StatsObjection)?,
            Redirect::to(&format!("{PATH}?saved=on")),
        )
            .into_response(),
    })
}
