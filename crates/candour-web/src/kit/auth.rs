//! Who is asking: the sign-in session behind the `clientvars` cookie, and the checks that
//! admin routes make against the staff role.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Redirect, Response};
use candour_core::account::Account;
use candour_core::account::{Permission, Role};
use candour_core::cookies::{CookieId, read_cookie};
use candour_core::session::{Secret, SecretHash};

use crate::AppState;
use crate::kit::error::AppError;

/// The visitor, signed in or not. Looked up once per request and kept in its extensions.
#[derive(Clone, Debug, Default)]
pub(crate) struct Visitor {
    pub account: Option<Account>,
    pub session: Option<SecretHash>,
}

impl Visitor {
    /// What form tokens are bound to: the session, so a token from one sign-in is no use in
    /// another.
    pub fn binding(&self) -> &[u8] {
        self.session.as_ref().map_or(&[], |s| &s.0[..])
    }

    pub fn role(&self) -> Option<Role> {
        self.account.as_ref().and_then(|a| a.role)
    }
}

impl FromRequestParts<AppState> for Visitor {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        if let Some(v) = parts.extensions.get::<Visitor>() {
            return Ok(v.clone());
        }
        let visitor = look_up(&parts.headers, state).await?;
        parts.extensions.insert(visitor.clone());
        Ok(visitor)
    }
}

/// The visitor behind a request's cookies: also for work done after the answer went out.
pub(crate) async fn look_up(headers: &HeaderMap, state: &AppState) -> Result<Visitor, AppError> {
    let name = state.inner.config.accounts.cookie_name();
    let secret = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|h| h.to_str().ok())
        .find_map(|h| read_cookie(h, &name))
        .and_then(Secret::parse);
    let Some(secret) = secret else {
        return Ok(Visitor::default());
    };
    let hash = secret.hash();
    let stores = state.stores();
    let Some(session) = stores.sessions.session(&hash).await? else {
        return Ok(Visitor::default());
    };
    let now = state.now();
    let policy = state.inner.session_policy;
    if !policy.is_live(&session, now) {
        stores.sessions.end_session(&hash).await?;
        return Ok(Visitor::default());
    }
    if policy.needs_touch(&session, now) {
        stores.sessions.touch_session(&hash, now).await?;
    }
    let account = stores.accounts.account(session.account).await?;
    Ok(Visitor {
        session: account.as_ref().map(|_| hash),
        account,
    })
}

/// A signed-in person. Anyone else is sent to the sign-in page, and brought back after.
pub(crate) struct SignedIn {
    pub account: Account,
}

pub(crate) struct ToSignIn(String);

impl IntoResponse for ToSignIn {
    fn into_response(self) -> Response {
        Redirect::to(&format!("/account/sign-in?return_to={}", self.0)).into_response()
    }
}

impl IntoResponse for SignInRejection {
    fn into_response(self) -> Response {
        match self {
            SignInRejection::Redirect(r) => r.into_response(),
            SignInRejection::Error(e) => e.into_response(),
        }
    }
}

pub(crate) enum SignInRejection {
    Redirect(ToSignIn),
    Error(AppError),
}

impl FromRequestParts<AppState> for SignedIn {
    type Rejection = SignInRejection;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let visitor = Visitor::from_request_parts(parts, state)
            .await
            .map_err(SignInRejection::Error)?;
        match (visitor.account, visitor.session) {
            (Some(account), Some(_)) => Ok(SignedIn { account }),
            _ => {
                let path = parts.uri.path();
                // Only plain paths come back through the query string.
                let back = if crate::kit::respond::is_plain_local_path(path) {
                    path
                } else {
                    "/account"
                };
                Err(SignInRejection::Redirect(ToSignIn(back.to_owned())))
            }
        }
    }
}

/// A signed-in member of staff who may see the admin console.
pub(crate) struct Staff {
    pub account: Account,
    pub role: Role,
    /// The console sections this member of staff may use.
    pub sections: Vec<&'static crate::kit::nav::Section>,
    /// The roles the configuration lets read individual form responses.
    response_readers: Vec<Role>,
}

impl Staff {
    /// Whether the role grants `p`, under the configuration.
    pub fn may(&self, p: Permission) -> bool {
        self.role.may(p, &self.response_readers)
    }

    /// Refuse, with a page that says why, unless the role grants `p`.
    pub fn require(&self, p: Permission) -> Result<(), AppError> {
        self.require_any(&[p])
    }

    /// Refuse, with a page that says why, unless the role grants one of `ps`.
    pub fn require_any(&self, ps: &[Permission]) -> Result<(), AppError> {
        if ps.iter().any(|&p| self.may(p)) {
            Ok(())
        } else {
            Err(AppError::Forbidden(format!(
                "Your role ({}) does not allow this. Ask an administrator if you need it.",
                self.role.label()
            )))
        }
    }
}

impl FromRequestParts<AppState> for Staff {
    type Rejection = SignInRejection;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let SignedIn { account, .. } = SignedIn::from_request_parts(parts, state).await?;
        let Some(role) = account.role else {
            return Err(SignInRejection::Error(AppError::Forbidden(
                "This part of the site is for staff only.".to_owned(),
            )));
        };
        if state.inner.config.accounts.require_staff_totp && account.totp_secret.is_none() {
            return Err(SignInRejection::Error(AppError::SeeOther(
                "/account/two-factor?required=staff".to_owned(),
            )));
        }
        let config = &state.inner.config;
        Ok(Staff {
            sections: crate::kit::nav::sections(config, role),
            response_readers: config.people.response_readers.clone(),
            account,
            role,
        })
    }
}

/// The `Set-Cookie` that starts a session for `account`, after storing it.
pub(crate) async fn start_session(
    state: &AppState,
    account: i64,
) -> Result<[(header::HeaderName, header::HeaderValue); 1], AppError> {
    let secret = Secret::from_random(rand::random());
    state
        .stores()
        .sessions
        .create_session(&secret.hash(), account, state.now())
        .await?;
    crate::kit::cookie_jar::set(state, CookieId::Session, secret.expose())
}

/// The `Set-Cookie` that removes the session cookie.
pub(crate) fn end_session_cookie(
    state: &AppState,
) -> Result<[(header::HeaderName, header::HeaderValue); 1], AppError> {
    crate::kit::cookie_jar::clear(state, CookieId::Session)
}
