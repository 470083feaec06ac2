//! Share links for a page: plain links (no script, nothing asked of a network before a
//! click), shown on content pages that ask for them and on poll pages. A link to a network
//! goes through this site's `/share/{network}` route (`media::share`); email opens the
//! visitor's own program directly.

use askama::Template;
use candour_core::share::Network;

use crate::AppState;

pub(crate) struct ShareLink {
    pub href: String,
    pub label: &'static str,
    pub slug: &'static str,
    pub external: bool,
}

/// The share links of one page, ready for `media/share.html`.
#[derive(Template)]
#[template(path = "media/share.html")]
pub(crate) struct ShareLinks {
    pub links: Vec<ShareLink>,
    /// The page's full address, for "Copy link".
    pub url: String,
}

/// The links for a page of this site at `path` (a path, checked by the caller's route).
pub(crate) fn links_for(state: &AppState, path: &str, title: &str) -> Option<ShareLinks> {
    let settings = &state.inner.config.share;
    if settings.networks.is_empty() {
        return None;
    }
    let url = format!("{}{path}", state.link_base());
    let query = percent_encoding::utf8_percent_encode(path, percent_encoding::NON_ALPHANUMERIC);
    let links = settings
        .networks
        .iter()
        .map(|n| ShareLink {
            href: match n {
                // Email opens the visitor's own program: nothing to go through.
                Network::Email => n.share_url(&url, title),
                _ => format!("/share/{}?page={query}", n.slug()),
            },
            label: n.label(),
            slug: n.slug(),
            external: n.is_external(),
        })
        .collect();
    Some(ShareLinks { links, url })
}
