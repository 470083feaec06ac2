//! Share links: plain links to each network's own share address, built from the page's
//! address and title. No script, no request to a network until the visitor clicks.
//!
//! The address a visitor is sent to is always one of the fixed templates below with the
//! page's address filled in, so the share route can never become an open redirect.

use serde::{Deserialize, Serialize};

/// The networks a page can be shared on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Network {
    Email,
    X,
    Facebook,
    LinkedIn,
    WhatsApp,
    Bluesky,
    Nextdoor,
}

impl Network {
    pub const ALL: [Network; 7] = [
        Network::Email,
        Network::X,
        Network::Facebook,
        Network::LinkedIn,
        Network::WhatsApp,
        Network::Bluesky,
        Network::Nextdoor,
    ];

    pub fn slug(self) -> &'static str {
        match self {
            Network::Email => "email",
            Network::X => "x",
            Network::Facebook => "facebook",
            Network::LinkedIn => "linkedin",
            Network::WhatsApp => "whatsapp",
            Network::Bluesky => "bluesky",
            Network::Nextdoor => "nextdoor",
        }
    }

    pub fn parse(slug: &str) -> Option<Network> {
        Network::ALL.into_iter().find(|n| n.slug() == slug)
    }

    /// The words of the link: "Share by email", "Share on X".
    pub fn label(self) -> &'static str {
        match self {
            Network::Email => "Share by email",
            Network::X => "Share on X",
            Network::Facebook => "Share on Facebook",
            Network::LinkedIn => "Share on LinkedIn",
            Network::WhatsApp => "Share on WhatsApp",
            Network::Bluesky => "Share on Bluesky",
            Network::Nextdoor => "Share on Nextdoor",
        }
    }

    /// Whether the link leaves for another website (email opens the visitor's own program).
    pub fn is_external(self) -> bool {
        self != Network::Email
    }

    /// The network's own share address for a page: the only place a share link leads.
    pub fn share_url(self, page_url: &str, title: &str) -> String {
        let u = encode(page_url);
        let t = encode(title);
        let both = encode(&format!("{title} {page_url}"));
        match self {
            Network::Email => format!("mailto:?subject={t}&body={u}"),
            Network::X => format!("https://x.com/intent/post?url={u}&text={t}"),
            Network::Facebook => format!("https://www.facebook.com/sharer/sharer.php?u={u}"),
            Network::LinkedIn => format!("https://www.linkedin.com/sharing/share-offsite/?url={u}"),
            Network::WhatsApp => format!("https://wa.me/?text={both}"),
            Network::Bluesky => format!("https://bsky.app/intent/compose?text={both}"),
            Network::Nextdoor => format!("https://nextdoor.com/sharekit/?source={u}&body={both}"),
        }
    }
}

/// Everything but unreserved characters, percent-encoded, so a title or address cannot add
/// a parameter or change the share address's host.
fn encode(s: &str) -> String {
    const SET: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'.')
        .remove(b'_')
        .remove(b'~');
    percent_encoding::utf8_percent_encode(s, SET).to_string()
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn share_addresses_are_the_networks_own() {
        let url = "https://www.example.police.uk/news/open-day";
        assert_eq!(
            Network::Facebook.share_url(url, "Open day"),
            "https://www.facebook.com/sharer/sharer.php?u=https%3A%2F%2Fwww.example.police.uk%2Fnews%2Fopen-day"
        );
        assert_eq!(
            Network::Email.share_url(url, "Open day & more"),
            "mailto:?subject=Open%20day%20%26%20more&body=https%3A%2F%2Fwww.example.police.uk%2Fnews%2Fopen-day"
        );
        for n in Network::ALL {
            assert_eq!(Network::parse(n.slug()), Some(n));
        }
        assert_eq!(Network::parse("myspace"), None);
    }

    proptest! {
        #[test]
        fn nothing_in_a_title_or_address_changes_where_the_link_goes(
            page in ".{0,80}", title in ".{0,80}",
        ) {
            for n in Network::ALL {
                let out = n.share_url(&page, &title);
                let fixed = Network::ALL.iter().find(|m| **m == n).map(|m| m.share_url("", "")).unwrap_or_default();
                let stem = fixed.split('?').next().unwrap_or_default();
                prop_assert!(out.starts_with(&format!("{stem}?")), "{out}");
                prop_assert_eq!(out.matches('?').count(), 1);
                prop_assert!(!out.contains('#') && !out.contains(' '));
            }
        }
    }
}
