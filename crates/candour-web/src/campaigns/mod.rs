//! Campaigns: the console (`console`: compose, preview, approve, schedule, report), and what
//! the emails link to: the open pixel and click redirect (`tracking`, with the group-commit
//! `queue` and the `links` cache) and one-click unsubscribe (`unsubscribe`).

pub(crate) mod console;
pub(crate) mod links;
pub(crate) mod queue;
pub(crate) mod tracking;
pub(crate) mod unsubscribe;

use candour_core::campaign::{Token, TokenKind, earlier_links};

use crate::AppState;

/// The token of a link in a campaign email, if this server signed it for `kind`: in the
/// signer's format, or in the earlier one that messages already delivered still carry.
pub(crate) fn read_token(state: &AppState, kind: TokenKind, text: &str) -> Option<Token> {
    Token::verify(&state.inner.signer, kind, text, state.now())
        .or_else(|| earlier_links::verify(&state.inner.keys.earlier_campaign_links, kind, text))
}
