//! The frame around every page: the organisation's header and footer, navigation, and the
//! cookie banner in the state this visitor's choice puts it.

use askama::Template;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, Uri, header};
use axum::response::Html;
use candour_core::config::{ConsentMode, GatedScript, Organisation};
use candour_core::consent::{self, Choice, State};
use candour_core::cookies::{CONSENT_COOKIE, read_cookie};
use candour_core::media::Provider;

use crate::AppState;
use crate::kit::auth::Visitor;
use crate::kit::csrf;
use crate::kit::error::AppError;
use crate::kit::nav::NavLink;

/// The query parameter that asks the banner to confirm a choice made without JavaScript.
pub(crate) const SAVED_PARAM: &str = "cookies";

pub(crate) struct Frame {
    state: AppState,
    /// Who is asking, signed in or not.
    pub visitor: Visitor,
    /// The path of this page, for the current-page marker in the navigation.
    pub path: String,
    /// Where the banner's form returns the visitor: this page, without the confirmation flag.
    pub return_to: String,
    pub consent: State,
    /// `Some("accepted")` or `Some("rejected")` right after a choice made without JavaScript.
    pub confirmation: Option<&'static str>,
    pub csrf: String,
    pub show_banner: bool,
    /// The provider whose embeds the visitor asked to load on this page (a content page's
    /// `?load=`), set by the content page once it has checked the page embeds it.
    pub load: Option<Provider>,
}

impl Frame {
    /// The frame for a visitor, from their request.
    pub fn for_request(
        state: &AppState,
        uri: &Uri,
        headers: &HeaderMap,
        visitor: Visitor,
    ) -> Frame {
        let consent = consent_state(state, headers);
        let path = uri.path().to_owned();
        let (return_to, saved) = strip_saved_flag(&path, uri.query());
        let confirmation = match (&consent, saved) {
            (State::Decided { choice, .. }, true) => Some(if *choice == Choice::NONE {
                "rejected"
            } else if *choice == Choice::ALL {
                "accepted"
            } else {
                "saved"
            }),
            _ => None,
        };
        let needs_banner = state.has_optional_cookies() && consent.shows_banner();
        Frame {
            csrf: csrf::issue(&state.inner.signer, state.now(), visitor.binding()),
            visitor,
            state: state.clone(),
            path,
            return_to,
            show_banner: needs_banner || confirmation.is_some(),
            consent,
            confirmation,
            load: None,
        }
    }

    /// A frame with no banner, for error pages.
    pub fn plain(state: &AppState, path: &str) -> Frame {
        Frame {
            state: state.clone(),
            visitor: Visitor::default(),
            path: path.to_owned(),
            return_to: "/".to_owned(),
            consent: State::Undecided,
            confirmation: None,
            csrf: String::new(),
            show_banner: false,
            load: None,
        }
    }

    /// Whether this response renders `provider`'s player (and so must let it be framed):
    /// the visitor chose to load it always, or asked for it on this page.
    pub fn plays(&self, provider: Provider) -> bool {
        self.load == Some(provider) || self.consent.effective().loads_always(provider)
    }

    pub fn org(&self) -> &Organisation {
        &self.state.inner.config.organisation
    }

    pub fn nav(&self) -> &[NavLink] {
        self.state.inner.site.nav()
    }

    /// Whether the front door for requests about personal data is open.
    pub fn requests_enabled(&self) -> bool {
        self.state.inner.config.requests.enabled
    }

    pub fn has_page(&self, path: &str) -> bool {
        self.state.inner.site.has_page(path)
    }

    pub fn implied(&self) -> bool {
        self.state.inner.config.cookies.consent_mode == ConsentMode::Implied
    }

    /// The gated scripts for this page: none on account and admin pages, whose addresses can
    /// hold single-use tokens and whose content is personal data, whatever was consented to.
    pub fn scripts(&self) -> &[GatedScript] {
        // Pages behind sign-in, and pages whose address can carry a secret (an emailed
        // unsubscribe or preference link), run no added script.
        if ["/account", "/admin", "/unsubscribe", "/preferences"]
            .iter()
            .any(|p| self.path.starts_with(p))
        {
            &[]
        } else {
            &self.state.inner.config.scripts
        }
    }

    /// The optional categories in force, for the consent script, space-separated.
    pub fn granted(&self) -> String {
        self.consent.effective().granted().join(" ")
    }

    pub fn signed_in(&self) -> bool {
        self.visitor.account.is_some()
    }

    /// Whether the site statistics are on (the cookie page then says how to object).
    pub fn statistics_on(&self) -> bool {
        self.state.inner.config.stats.enabled
    }

    pub fn is_staff(&self) -> bool {
        self.visitor.role().is_some()
    }

    /// Whether the campaign pages of the console exist (`[campaigns] enabled`).
    pub fn campaigns_on(&self) -> bool {
        crate::kit::nav::Feature::Campaigns.enabled(&self.state.inner.config)
    }

    pub fn registration_open(&self) -> bool {
        self.state.inner.config.accounts.public_registration
    }

    pub fn is_current(&self, href: &str) -> bool {
        self.path == href
    }

    pub fn asset_version(&self) -> &str {
        crate::kit::assets::VERSION.as_str()
    }
}

impl FromRequestParts<AppState> for Frame {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let visitor = Visitor::from_request_parts(parts, state).await?;
        Ok(Frame::for_request(
            state,
            &parts.uri,
            &parts.headers,
            visitor,
        ))
    }
}

/// The visitor's consent, from their cookie (if its signature holds), their browser's Global
/// Privacy Control signal, and the configured mode.
pub(crate) fn consent_state(state: &AppState, headers: &HeaderMap) -> State {
    let token = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|h| h.to_str().ok())
        .find_map(|h| read_cookie(h, CONSENT_COOKIE))
        .and_then(|v| consent::Token::decode(v, &state.inner.signer, state.now()));
    State::resolve(
        token,
        state.inner.cookies.policy_version(),
        sends_gpc(headers),
        state.inner.config.cookies.consent_mode,
    )
}

pub(crate) fn sends_gpc(headers: &HeaderMap) -> bool {
    headers
        .get("sec-gpc")
        .is_some_and(|v| v.as_bytes().trim_ascii() == b"1")
}

/// The page's address without the confirmation flag, and whether the flag was there.
fn strip_saved_flag(path: &str, query: Option<&str>) -> (String, bool) {
    let Some(query) = query else {
        return (path.to_owned(), false);
    };
    let mut saved = false;
    let kept: Vec<&str> = query
        .split('&')
        .filter(|pair| {
            let is_flag = pair.split('=').next() == Some(SAVED_PARAM);
            saved |= is_flag;
            !is_flag && !pair.is_empty()
        })
        .collect();
    if kept.is_empty() {
        (path.to_owned(), saved)
    } else {
        (format!("{path}?{}", kept.join("&")), saved)
    }
}

/// Render a template into an HTML response.
pub(crate) fn render<T: Template>(t: &T) -> Result<Html<String>, AppError> {
    Ok(Html(render_string(t)?))
}

/// What a page's HTML is first given room for. Askama's own hint counts only the template's
/// fixed text, and a page's body (content, a block) is more: growing the string from there
/// copies the page several times over.
const PAGE_ROOM: usize = 16 * 1024;

/// Render a template into a string with room for a whole page.
pub(crate) fn render_string<T: Template>(t: &T) -> Result<String, askama::Error> {
    let mut html = String::with_capacity(PAGE_ROOM.max(T::SIZE_HINT));
    t.render_into(&mut html)?;
    Ok(html)
}

#[derive(Template)]
#[template(path = "error.html")]
pub(crate) struct ErrorPage {
    pub frame: Frame,
    pub status: u16,
    pub title: &'static str,
    pub message: String,
    pub fields: candour_core::fields::FieldErrors,
    pub request_id: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_confirmation_flag_is_removed_from_the_return_address() {
        assert_eq!(strip_saved_flag("/a", None), ("/a".to_owned(), false));
        assert_eq!(
            strip_saved_flag("/a", Some("cookies=saved")),
            ("/a".to_owned(), true)
        );
        assert_eq!(
            strip_saved_flag("/a", Some("x=1&cookies=saved&y=2")),
            ("/a?x=1&y=2".to_owned(), true)
        );
        assert_eq!(
            strip_saved_flag("/a", Some("cookiesx=1")),
            ("/a?cookiesx=1".to_owned(), false)
        );
    }
}
