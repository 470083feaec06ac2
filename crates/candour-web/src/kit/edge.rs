//! The rules applied to every request and response, whatever the route.

use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use candour_core::config::Config;
use candour_core::fields::FieldErrors;
use tower::ServiceBuilder;
use tower_http::request_id::{
    MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;
use tracing::Span;

use crate::AppState;
use crate::kit::error::ErrorDetail;
use crate::kit::frame::Frame;

/// The longest path and query accepted, in bytes.
const MAX_URI_BYTES: usize = 2048;

static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Request ids are random, so they say nothing about the visitor or the order of requests.
#[derive(Clone, Copy)]
struct RandomId;

impl MakeRequestId for RandomId {
    fn make_request_id<B>(&mut self, _: &axum::http::Request<B>) -> Option<RequestId> {
        let id = format!("{:016x}", rand::random::<u64>());
        HeaderValue::from_str(&id).ok().map(RequestId::new)
    }
}

pub(crate) fn request_id(parts: &axum::http::Extensions) -> String {
    parts
        .get::<RequestId>()
        .and_then(|id| id.header_value().to_str().ok())
        .unwrap_or("-")
        .to_owned()
}

pub(crate) fn apply(
    routes: Router<AppState>,
    state: AppState,
    timeout: Duration,
) -> Router<AppState> {
    let trace = TraceLayer::new_for_http()
        .make_span_with(|req: &Request| {
            // The route template, never the raw path: paths can carry tokens.
            let route = req
                .extensions()
                .get::<MatchedPath>()
                .map_or("(content or unmatched)", MatchedPath::as_str);
            tracing::info_span!(
                "request",
                id = %request_id(req.extensions()),
                method = %req.method(),
                route,
            )
        })
        .on_request(())
        .on_response(|res: &Response, latency: Duration, _: &Span| {
            tracing::info!(
                status = res.status().as_u16(),
                micros = latency.as_micros() as u64,
                "Answered the request."
            );
        });
    routes.layer(
        ServiceBuilder::new()
            .layer(SetRequestIdLayer::new(X_REQUEST_ID.clone(), RandomId))
            .layer(trace)
            .layer(PropagateRequestIdLayer::new(X_REQUEST_ID.clone()))
            .layer(middleware::from_fn_with_state(state, guard_and_finish))
            .layer(TimeoutLayer::with_status_code(
                StatusCode::REQUEST_TIMEOUT,
                timeout,
            )),
    )
}

/// The page rules in one layer (each layer costs every request a boxed future and a clone of
/// the state): refuse what no route should see, then, on the way out, render error statuses
/// as pages, drop undeclared cookies and add the security headers, in that order, so an
/// error page is filtered and carries the headers like any other answer.
async fn guard_and_finish(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let json = wants_json(req.headers());
    let id = req.extensions().get::<RequestId>().cloned();
    // Cheap to keep (shared bytes); the frame is built only if an error page is needed.
    let uri = req.uri().clone();
    let res = match refusal(&state, &req) {
        Some(refused) => refused.into_response(),
        None => next.run(req).await,
    };
    let res = error_page(&state, res, json, id, &uri).await;
    let res = cookie_filter(&state, res);
    security_headers(&state, res)
}

/// The Content-Security-Policy: this site only, plus the origins of gated scripts the
/// organisation configured. No inline script or style, ever.
pub(crate) fn content_security_policy(config: &Config) -> String {
    let mut script_src = vec!["'self'".to_owned()];
    for script in &config.scripts {
        if let Some(origin) = script.origin()
            && !script_src.iter().any(|s| s == origin)
        {
            script_src.push(origin.to_owned());
        }
    }
    format!(
        "default-src 'none'; script-src {}; style-src 'self'; img-src 'self'; font-src 'self'; \
         connect-src 'self'; frame-src 'self'; form-action 'self'; frame-ancestors 'none'; \
         base-uri 'none'; \
         manifest-src 'self'",
        script_src.join(" ")
    )
}

/// The player origins a response may frame, put on it by a content page that renders those
/// providers' players (asked for with `?load=`, or loaded always); they join `frame-src` for
/// that response only.
#[derive(Debug, Clone, Default)]
pub(crate) struct FrameOrigins(pub Vec<&'static str>);

impl FrameOrigins {
    pub(crate) fn of(providers: &[candour_core::media::Provider]) -> FrameOrigins {
        FrameOrigins(providers.iter().map(|p| p.frame_origin()).collect())
    }
}

fn security_headers(state: &AppState, mut res: Response) -> Response {
    let h = res.headers_mut();
    // A handler that set its own policy (the sandboxed campaign preview) keeps it, and may
    // be framed by this site's own pages.
    let own_policy = h.contains_key(header::CONTENT_SECURITY_POLICY);
    let frames = res
        .extensions_mut()
        .remove::<FrameOrigins>()
        .filter(|f| !f.0.is_empty());
    let h = res.headers_mut();
    if !own_policy {
        // A page that renders a provider's player may frame that provider, and only that one.
        let csp = frames
            .and_then(|f| {
                let base = content_security_policy(&state.inner.config);
                let with = format!("frame-src 'self' {};", f.0.join(" "));
                HeaderValue::from_str(&base.replacen("frame-src 'self';", &with, 1)).ok()
            })
            .unwrap_or_else(|| state.inner.csp.clone());
        h.insert(header::CONTENT_SECURITY_POLICY, csp);
    }
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.insert(
        header::X_FRAME_OPTIONS,
        HeaderValue::from_static(if own_policy { "SAMEORIGIN" } else { "DENY" }),
    );
    h.insert(
        HeaderName::from_static("cross-origin-opener-policy"),
        HeaderValue::from_static("same-origin"),
    );
    h.insert(
        HeaderName::from_static("cross-origin-resource-policy"),
        HeaderValue::from_static("same-origin"),
    );
    h.insert(
        HeaderName::from_static("permissions-policy"),
        HeaderValue::from_static(
            "camera=(), microphone=(), geolocation=(), payment=(), usb=(), browsing-topics=()",
        ),
    );
    if state.inner.config.served_over_https() {
        h.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=63072000; includeSubDomains"),
        );
    }
    res
}

/// The last guard of the cookie registry: a `Set-Cookie` for a name the registry does not
/// declare never leaves the server. Handlers cannot build one (see `candour_core::cookies`),
/// so this only fires on a programming error, which it logs.
fn cookie_filter(state: &AppState, mut res: Response) -> Response {
    let headers = res.headers_mut();
    if !headers.contains_key(header::SET_COOKIE) {
        return res;
    }
    let all: Vec<HeaderValue> = headers
        .get_all(header::SET_COOKIE)
        .iter()
        .cloned()
        .collect();
    headers.remove(header::SET_COOKIE);
    for value in all {
        let name = value
            .to_str()
            .ok()
            .and_then(|v| v.split_once('='))
            .map(|(n, _)| n.trim());
        match name {
            Some(n) if state.inner.cookies.declaration_for(n).is_some() => {
                headers.append(header::SET_COOKIE, value);
            }
            _ => {
                tracing::error!(cookie = ?name, "Dropped a cookie that the registry does not declare.")
            }
        }
    }
    res
}

/// Refuse what no route should see: over-long addresses, and state-changing requests from
/// another site (the CSRF defence that needs no token; forms carry a token as well).
fn refusal(state: &AppState, req: &Request) -> Option<AppErrorStatus> {
    let uri_len = req.uri().path_and_query().map_or(0, |pq| pq.as_str().len());
    if uri_len > MAX_URI_BYTES {
        return Some(AppErrorStatus(
            StatusCode::URI_TOO_LONG,
            format!("The address is too long: at most {MAX_URI_BYTES} characters are accepted."),
        ));
    }
    let safe = matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    // One-click unsubscribe (RFC 8058) is posted by mail providers, from anywhere; its signed
    // token is its authority, and a forged request cannot carry one.
    let own_authority =
        *req.method() == Method::POST && req.uri().path().starts_with("/unsubscribe/");
    if !safe && !own_authority && !same_origin(state, req) {
        return Some(AppErrorStatus(
            StatusCode::FORBIDDEN,
            "This form was sent from another website, so it was not accepted.".to_owned(),
        ));
    }
    None
}

fn same_origin(state: &AppState, req: &Request) -> bool {
    let headers = req.headers();
    let mut fetch_site = headers.get_all("sec-fetch-site").iter().peekable();
    if fetch_site.peek().is_some() {
        return fetch_site.all(|site| matches!(site.as_bytes(), b"same-origin" | b"none"));
    }
    let Some(origin) = headers.get(header::ORIGIN).and_then(|o| o.to_str().ok()) else {
        // Neither header: not a modern browser's cross-site request. The form token decides.
        return true;
    };
    if let Some(expected) = state.inner.config.public_origin() {
        return origin == expected;
    }
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    let origin_host = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"));
    host.is_some() && origin_host == host
}

struct AppErrorStatus(StatusCode, String);

impl IntoResponse for AppErrorStatus {
    fn into_response(self) -> Response {
        let mut res = self.0.into_response();
        res.extensions_mut().insert(ErrorDetail {
            message: self.1,
            fields: FieldErrors::new(),
        });
        res
    }
}

pub(crate) fn wants_json(headers: &axum::http::HeaderMap) -> bool {
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|a| a.to_str().ok())
        .unwrap_or("");
    let json = accept.find("application/json");
    let html = accept.find("text/html");
    match (json, html) {
        (Some(j), Some(h)) => j < h,
        (Some(_), None) => true,
        _ => false,
    }
}

/// Render every error response, from a handler or from a layer, as a page or as JSON.
async fn error_page(
    state: &AppState,
    res: Response,
    json: bool,
    id: Option<RequestId>,
    uri: &axum::http::Uri,
) -> Response {
    let status = res.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return res;
    }
    let id = id
        .as_ref()
        .and_then(|id| id.header_value().to_str().ok())
        .unwrap_or("-")
        .to_owned();
    let frame = Frame::plain(state, uri.path());
    let (mut parts, body) = res.into_parts();
    let detail = match parts.extensions.remove::<ErrorDetail>() {
        Some(d) => d,
        // A handler that rendered its own page (a form shown again with its errors).
        None if is_page(&parts.headers) => return Response::from_parts(parts, body),
        None => {
            // A rejection from axum (a malformed form, a wrong method) or a bare status from
            // a layer: keep its short text, which names the problem.
            let text = axum::body::to_bytes(body, 2048).await.unwrap_or_default();
            let text = String::from_utf8_lossy(&text).trim().to_owned();
            ErrorDetail {
                message: text,
                fields: FieldErrors::new(),
            }
        }
    };
    let (title, message) = describe(status, detail.message);
    let mut res = if json {
        let body = serde_json::json!({
            "status": status.as_u16(),
            "error": title,
            "message": message,
            "fields": detail.fields,
            "request_id": id,
        });
        (status, axum::Json(body)).into_response()
    } else {
        let page = crate::kit::frame::ErrorPage {
            frame,
            status: status.as_u16(),
            title,
            message,
            fields: detail.fields,
            request_id: id,
        };
        match crate::kit::frame::render(&page) {
            Ok(html) => (status, html).into_response(),
            Err(_) => (status, message_only(status)).into_response(),
        }
    };
    // Keep what the layers below said about the response (an Allow list, a Set-Cookie
    // clearing a bad cookie) but not the length of the body that was replaced.
    for (name, value) in parts.headers.iter() {
        if name != header::CONTENT_LENGTH && name != header::CONTENT_TYPE {
            res.headers_mut().append(name.clone(), value.clone());
        }
    }
    res
}

fn is_page(headers: &axum::http::HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .is_some_and(|t| t.as_bytes().starts_with(b"text/html"))
}

fn message_only(status: StatusCode) -> Body {
    Body::from(status.canonical_reason().unwrap_or("Error").to_owned())
}

fn describe(status: StatusCode, message: String) -> (&'static str, String) {
    let fallback = |m: &str| {
        if message.is_empty() {
            m.to_owned()
        } else {
            message.clone()
        }
    };
    match status {
        StatusCode::NOT_FOUND => (
            "Page not found",
            fallback(
                "If you typed the web address, check it is correct. If you pasted it, check you copied all of it.",
            ),
        ),
        StatusCode::METHOD_NOT_ALLOWED => (
            "Not allowed",
            "This address does not accept that kind of request.".to_owned(),
        ),
        StatusCode::PAYLOAD_TOO_LARGE => (
            "Too much was sent",
            "What you sent is larger than this site accepts. Send less and try again.".to_owned(),
        ),
        StatusCode::REQUEST_TIMEOUT => (
            "The request took too long",
            "The page took too long to answer. Please try again.".to_owned(),
        ),
        StatusCode::URI_TOO_LONG => (
            "The address is too long",
            fallback("The address is too long."),
        ),
        StatusCode::FORBIDDEN => ("Not allowed", fallback("You cannot do that here.")),
        StatusCode::BAD_REQUEST => (
            "The request could not be understood",
            fallback("The request could not be understood."),
        ),
        StatusCode::UNPROCESSABLE_ENTITY => (
            "There is a problem",
            fallback("Some of what was sent is not valid."),
        ),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => (
            "Not understood",
            fallback("Send the form as a normal web form."),
        ),
        StatusCode::CONFLICT => (
            "That has already been done",
            fallback("That has already been done."),
        ),
        StatusCode::SERVICE_UNAVAILABLE => (
            "Sorry, the service is unavailable",
            fallback("The service is unavailable for a moment. Please try again shortly."),
        ),
        s if s.is_server_error() => (
            "Sorry, there is a problem with the service",
            "Something went wrong on our side. It has been logged. Please try again later."
                .to_owned(),
        ),
        _ => (
            "There is a problem",
            fallback("The request could not be completed."),
        ),
    }
}
