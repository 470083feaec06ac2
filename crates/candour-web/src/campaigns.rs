//! What campaign emails link to: the open pixel, click links and one-click unsubscribe.
//!
//! Tracking links carry a signed token (message, link, when it was sent), so they are checked
//! without a database read; the event is handed to a group-commit writer and the answer goes
//! out at once. A click redirects only to the link of that index in the campaign's own list
//! of links; nothing in the request chooses where it goes, and a bad token gets the same
//! plain "not found" page whatever it held.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration as StdDuration, Instant};

use askama::Template;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use candour_core::campaign::{ClickRequest, Token, TokenKind, is_bot_click, is_machine_open};
use candour_core::people::{Method, NewConsent};
use candour_core::purposes::Channel;
use candour_core::store::{CampaignStore, ConsentChange, TrackingEvent};
use tokio::sync::mpsc;

use crate::AppState;
use crate::content::no_store;
use crate::error::AppError;
use crate::frame::{Frame, render};

pub(crate) fn routes() -> Router<AppState> {
    Router::new().route(
        "/unsubscribe/{token}",
        get(unsubscribe_page).post(unsubscribe),
    )
}

/// The open pixel and click redirect. They are served outside the page middleware (sessions,
/// cookies, HTML error pages, the request timeout): they read no cookie, set none, never wait
/// on anything slow, and set the few headers they need themselves.
pub(crate) fn tracking_routes() -> Router<AppState> {
    Router::new()
        .route("/t/o/{token}", get(open))
        .route("/t/c/{token}", get(click))
}

/// Headers every tracking answer carries. `no-referrer` keeps the signed token out of the
/// `Referer` the destination of a click would otherwise receive.
fn plain_headers(res: &mut Response) {
    let h = res.headers_mut();
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-store, private"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
}

/// A transparent 1×1 GIF.
const PIXEL: [u8; 43] = [
    0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 0x01, 0x00, 0x01, 0x00, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00,
    0xff, 0xff, 0xff, 0x21, 0xf9, 0x04, 0x01, 0x00, 0x00, 0x00, 0x00, 0x2c, 0x00, 0x00, 0x00, 0x00,
    0x01, 0x00, 0x01, 0x00, 0x00, 0x02, 0x02, 0x44, 0x01, 0x00, 0x3b,
];

// ---------- group commit for tracking events ----------

const MAX_BATCH: usize = 1024;

/// The queue in front of the tracking-event store. Handlers wait only for room in the
/// queue, never for the database.
pub(crate) struct TrackingQueue {
    tx: mpsc::Sender<TrackingEvent>,
}

impl TrackingQueue {
    pub fn start(store: Arc<dyn CampaignStore>) -> TrackingQueue {
        let (tx, rx) = mpsc::channel(16 * MAX_BATCH);
        tokio::spawn(write_batches(store, rx));
        TrackingQueue { tx }
    }

    async fn submit(&self, event: TrackingEvent) {
        // A full queue (the database slow) slows the answer for up to a second rather than
        // losing the event; beyond that the event is dropped, and the answer still goes out.
        match tokio::time::timeout(StdDuration::from_secs(1), self.tx.send(event)).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) => {
                tracing::error!("The tracking writer has stopped; an event was not recorded.")
            }
            Err(_) => tracing::warn!("The tracking queue is full; an event was not recorded."),
        }
    }
}

/// How long the writer lets events gather after the first of a batch. Nobody waits for a
/// tracking event to be written, so a short wait costs nothing and turns many small
/// transactions (each with its own sync to disk) into a few large ones under load.
const GATHER: StdDuration = StdDuration::from_millis(10);

async fn write_batches(store: Arc<dyn CampaignStore>, mut rx: mpsc::Receiver<TrackingEvent>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    let mut seen = std::collections::HashSet::new();
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        if batch.len() < MAX_BATCH {
            tokio::time::sleep(GATHER).await;
            while batch.len() < MAX_BATCH
                && let Ok(event) = rx.try_recv()
            {
                batch.push(event);
            }
        }
        // The same open or click twice in one batch counts once, as the store does within a
        // minute.
        seen.clear();
        batch.retain(|e| seen.insert((e.delivery, e.click, e.link, e.machine)));
        let mut result = store.record_tracking(&batch).await;
        if result.is_err() {
            tokio::time::sleep(StdDuration::from_millis(50)).await;
            result = store.record_tracking(&batch).await;
        }
        if let Err(e) = result {
            tracing::error!(error = %e, events = batch.len(), "Could not record tracking events.");
        }
        batch.clear();
    }
}

/// Campaigns' link lists, kept a minute: they never change once a campaign is scheduled.
/// Each link is kept as the `Location` value it becomes; a link that cannot be one (it was
/// stored before links were percent-encoded) is `None`. The lock is never held across an
/// await.
#[derive(Default)]
pub(crate) struct LinkCache(std::sync::RwLock<HashMap<i64, CachedLinks>>);

/// When a campaign's links were read, and the links.
type CachedLinks = (Instant, Arc<Vec<Option<HeaderValue>>>);

const LINK_CACHE_TTL: StdDuration = StdDuration::from_secs(60);

impl LinkCache {
    fn cached(&self, campaign: i64) -> Option<Arc<Vec<Option<HeaderValue>>>> {
        let map = self
            .0
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        map.get(&campaign)
            .filter(|(at, _)| at.elapsed() < LINK_CACHE_TTL)
            .map(|(_, links)| links.clone())
    }

    /// The `Location` for link `link` of `campaign`, if the campaign has such a link.
    async fn link(
        &self,
        store: &dyn CampaignStore,
        campaign: i64,
        link: u16,
    ) -> Result<Option<HeaderValue>, candour_core::store::StoreError> {
        let links = match self.cached(campaign) {
            Some(l) => l,
            None => {
                let Some(c) = store.campaign(campaign).await? else {
                    return Ok(None);
                };
                let links: Arc<Vec<Option<HeaderValue>>> = Arc::new(
                    c.links
                        .iter()
                        .map(|l| HeaderValue::from_str(l).ok())
                        .collect(),
                );
                self.0
                    .write()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .insert(campaign, (Instant::now(), links.clone()));
                links
            }
        };
        Ok(links.get(usize::from(link)).cloned().flatten())
    }
}

fn user_agent(headers: &HeaderMap) -> &str {
    headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

fn not_found() -> Response {
    let mut res = (StatusCode::NOT_FOUND, "This link is not valid.").into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    plain_headers(&mut res);
    res
}

async fn open(
    State(state): State<AppState>,
    Path(token): Path<String>,
    headers: HeaderMap,
) -> Response {
    let key = &state.inner.keys.campaigns;
    let token = token.strip_suffix(".gif").unwrap_or(&token);
    if let Some(t) = Token::verify(key, TokenKind::Open, token) {
        let now = state.now();
        let after = now.unix_timestamp() - t.issued;
        state
            .inner
            .tracking
            .submit(TrackingEvent {
                delivery: t.delivery,
                campaign: t.campaign,
                click: false,
                link: 0,
                at: now,
                machine: is_machine_open(user_agent(&headers), after),
            })
            .await;
    }
    // The image is the same whether or not the token was good: nothing to learn from it.
    let mut res = ([(header::CONTENT_TYPE, "image/gif")], PIXEL).into_response();
    plain_headers(&mut res);
    res
}

async fn click(
    State(state): State<AppState>,
    Path(token): Path<String>,
    method: axum::http::Method,
    headers: HeaderMap,
) -> Response {
    let key = &state.inner.keys.campaigns;
    let Some(t) = Token::verify(key, TokenKind::Click, &token) else {
        return not_found();
    };
    let store = state.stores().campaigns.as_ref();
    let location = match state.inner.link_cache.link(store, t.campaign, t.link).await {
        Ok(Some(location)) => location,
        Ok(None) => return not_found(),
        Err(e) => {
            tracing::error!(error = %e, "Could not read a campaign's links for a click.");
            let mut res = (
                StatusCode::SERVICE_UNAVAILABLE,
                "This link cannot be followed just now. Please try again in a minute.",
            )
                .into_response();
            plain_headers(&mut res);
            return res;
        }
    };
    let now = state.now();
    let after = now.unix_timestamp() - t.issued;
    state
        .inner
        .tracking
        .submit(TrackingEvent {
            delivery: t.delivery,
            campaign: t.campaign,
            click: true,
            link: t.link,
            at: now,
            machine: is_bot_click(&ClickRequest {
                user_agent: user_agent(&headers),
                seconds_after_send: after,
                inspection: method == axum::http::Method::HEAD || is_prefetch(&headers),
                user_activated: headers
                    .get("sec-fetch-user")
                    .is_some_and(|v| v.as_bytes() == b"?1"),
            }),
        })
        .await;
    let mut res = StatusCode::FOUND.into_response();
    res.headers_mut().insert(header::LOCATION, location);
    plain_headers(&mut res);
    res
}

/// Whether the browser fetched this ahead of a person's click (`Sec-Purpose: prefetch`, or
/// the older `Purpose: prefetch`).
fn is_prefetch(headers: &HeaderMap) -> bool {
    ["sec-purpose", "purpose"].iter().any(|name| {
        headers
            .get(*name)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.to_ascii_lowercase().contains("prefetch"))
    })
}

// ---------- unsubscribe ----------

#[derive(Template)]
#[template(path = "unsubscribe.html")]
struct UnsubscribePage {
    frame: Frame,
    token: String,
    /// Whether this request did it (or it was already done).
    done: bool,
    valid: bool,
}

/// The page an unsubscribe link opens: a button, never an action, because mail scanners
/// open links.
async fn unsubscribe_page(
    State(state): State<AppState>,
    frame: Frame,
    Path(token): Path<String>,
) -> Result<Response, AppError> {
    let valid =
        Token::verify(&state.inner.keys.campaigns, TokenKind::Unsubscribe, &token).is_some();
    let page = UnsubscribePage {
        frame,
        token: if valid { token } else { String::new() },
        done: false,
        valid,
    };
    let status = if valid {
        StatusCode::OK
    } else {
        StatusCode::NOT_FOUND
    };
    Ok((status, no_store(render(&page)?)).into_response())
}

/// RFC 8058 one-click unsubscribe, and the confirmation page's button: the signed token is
/// the authority, so no cookie or form token is needed. The withdrawal is in the ledger
/// before the answer goes out, so the next message of any campaign is not sent.
async fn unsubscribe(
    State(state): State<AppState>,
    frame: Frame,
    Path(token): Path<String>,
) -> Result<Response, AppError> {
    let Some(t) = Token::verify(&state.inner.keys.campaigns, TokenKind::Unsubscribe, &token) else {
        let page = UnsubscribePage {
            frame,
            token: String::new(),
            done: false,
            valid: false,
        };
        return Ok((StatusCode::NOT_FOUND, no_store(render(&page)?)).into_response());
    };
    withdraw(&state, t.delivery).await?;
    let page = UnsubscribePage {
        frame,
        token: String::new(),
        done: true,
        valid: true,
    };
    Ok(no_store(render(&page)?))
}

/// Withdraw the recipient's email consent to the campaign's purpose, once.
async fn withdraw(state: &AppState, delivery: i64) -> Result<(), AppError> {
    let stores = state.stores();
    let Some(r) = stores.campaigns.delivery_recipient(delivery).await? else {
        return Ok(());
    };
    let Some(person) = r.person else {
        return Ok(());
    };
    let now = state.now();
    let events = stores.people.consent_events(person).await?;
    let current = candour_core::people::current_consents(&events);
    let granted = current
        .get(&(r.purpose.clone(), Some(Channel::Email)))
        .is_some_and(|e| e.granted);
    if granted {
        let event = NewConsent {
            purpose: r.purpose.clone(),
            channel: Some(Channel::Email),
            granted: false,
            method: Method::Unsubscribe,
            wording: None,
            actor: None,
            note: format!("campaign {}", r.campaign),
        };
        stores
            .people
            .append_consents(ConsentChange {
                person,
                events: std::slice::from_ref(&event),
                objections: &[],
                actor: None,
                purposes: state.purposes(),
                at: now,
            })
            .await?;
    }
    stores.campaigns.mark_unsubscribed(delivery, now).await?;
    Ok(())
}
