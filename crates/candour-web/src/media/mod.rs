//! Embedded media and share links. A provider's address alone on a line of a content page is
//! an embed (`consent::content` turns it into a `[[media:N]]` block); this module renders it
//! for the visitor: a placeholder that loads nothing from the provider until asked, or the
//! player when the visitor asked for it on this page ("Load this video", a GET form to the
//! page with `?load=<provider>`) or chose to load that provider always. "Always" is a consent
//! choice recorded like any other (a receipt, then the consent cookie) and withdrawn on
//! `/cookies`.
//!
//! Architecture invariant: nothing from a provider is requested before the visitor asks. The
//! placeholder holds no frame, image or font from the provider; a response lets a provider's
//! player origin be framed (`kit::edge::FrameOrigins`) only when the server renders that
//! provider's player in it, so no script can frame one; and the server never fetches anything
//! from a provider.

pub(crate) mod share;

use askama::Template;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::post;
use axum::{Form, Router};
use candour_core::media::{EmbedLine, Provider, poster_path};
use serde::Deserialize;

use crate::AppState;
use crate::kit::blocks::{Block, Rendered};
use crate::kit::choice::{record, safe_return};
use crate::kit::edge::wants_json;
use crate::kit::error::AppError;
use crate::kit::frame::Frame;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/media/always", post(always))
        .merge(share::routes())
}

/// `[[media:N]]`: the page's N-th embed, as this visitor sees it.
pub(crate) struct MediaBlock;

impl Block for MediaBlock {
    fn accepts(&self, arg: &str) -> bool {
        arg.parse::<usize>().is_ok()
    }

    fn render<'a>(
        &'a self,
        state: &'a AppState,
        frame: &'a Frame,
        _headers: &'a HeaderMap,
        arg: &'a str,
    ) -> Rendered<'a> {
        Box::pin(async move {
            let Some(embed) = arg
                .parse::<usize>()
                .ok()
                .and_then(|n| state.inner.site.embed(n).map(|e| (n, e)))
            else {
                return Ok(None);
            };
            Ok(Some(embed_html(frame, embed.0, embed.1)?))
        })
    }
}

#[derive(Template)]
#[template(path = "media/embed.html")]
struct EmbedView<'a> {
    n: usize,
    embed: &'a EmbedLine,
    provider: Provider,
    title: String,
    /// The visitor chose to load this provider always: the player, lazily.
    always: bool,
    /// The visitor asked for this provider's media on this page (`?load=`): the player, at once.
    asked: bool,
    csrf: &'a str,
    return_to: &'a str,
    /// The page's own path, for the "Load" link and the link back to the placeholder.
    page_path: &'a str,
}

impl EmbedView<'_> {
    fn noun(&self) -> &'static str {
        self.provider.kind().noun()
    }

    fn plural(&self) -> &'static str {
        self.provider.kind().plural()
    }

    fn player_url(&self) -> String {
        self.embed.media.player_url()
    }

    fn page_url(&self) -> String {
        self.embed.media.page_url()
    }

    fn poster(&self) -> Option<String> {
        self.embed.poster.as_deref().map(poster_path)
    }

    fn is_external(&self, href: &str) -> bool {
        !href.starts_with('/')
    }

    /// The query parameter of "Load this video", a GET form to this page that asks the
    /// server to render this provider's players; its action names this embed's player, which
    /// the browser then focuses (a frame is focusable, so no script keeps the visitor's place).
    fn load_param(&self) -> &'static str {
        crate::consent::content::LOAD_PARAM
    }
}

fn embed_html(frame: &Frame, n: usize, embed: &EmbedLine) -> Result<String, AppError> {
    let provider = embed.media.provider();
    let always = frame.consent.effective().loads_always(provider);
    Ok(EmbedView {
        n,
        embed,
        provider,
        title: embed.accessible_title(),
        always,
        asked: !always && frame.plays(provider),
        csrf: &frame.csrf,
        return_to: &frame.return_to,
        page_path: &frame.path,
    }
    .render()?)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AlwaysForm {
    csrf: String,
    provider: String,
    #[serde(default)]
    return_to: String,
    /// The embed the button was on, to return to its player.
    #[serde(default)]
    embed: Option<usize>,
}

/// "Always load videos from YouTube": the visitor's current choice with this provider added,
/// stored as a receipt, then the consent cookie. The visitor goes back to the page, which now
/// renders the player; asked for JSON, the answer is JSON.
async fn always(
    State(state): State<AppState>,
    frame: Frame,
    headers: HeaderMap,
    Form(form): Form<AlwaysForm>,
) -> Result<Response, AppError> {
    state.check_form(&frame.visitor, &form.csrf)?;
    let Some(provider) = Provider::parse(&form.provider) else {
        let mut errors = candour_core::fields::FieldErrors::new();
        errors.add(
            "provider",
            "must be one of youtube, vimeo, flickr or slideshare",
        );
        return Err(AppError::Invalid(errors));
    };
    // Only a choice the visitor made counts as one; with none yet, nothing else is allowed.
    let current = match &frame.consent {
        candour_core::consent::State::Decided { choice, .. } => *choice,
        _ => candour_core::consent::Choice::NONE,
    };
    let choice = current.with_always(provider, true);
    let (receipt, cookie) = record(
        &state,
        &headers,
        choice,
        candour_core::consent::Method::Embed,
    )
    .await?;
    if wants_json(&headers) {
        let body = serde_json::json!({
            "receipt": receipt.id,
            "always_load": choice.always_load.slugs(),
        });
        return Ok((cookie, axum::Json(body)).into_response());
    }
    let mut back = safe_return(&form.return_to).to_owned();
    if let Some(n) = form.embed {
        back = format!("{}#player-{n}", back.split('#').next().unwrap_or("/"));
    }
    Ok((cookie, Redirect::to(&back)).into_response())
}
