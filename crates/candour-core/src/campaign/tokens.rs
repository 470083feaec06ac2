//! The signed tokens in tracking and unsubscribe links.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use time::OffsetDateTime;

use crate::signer::{Purpose, Signer};

/// What a signed link does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    Open = 1,
    Click = 2,
    Unsubscribe = 3,
}

/// The contents of a signed link: which message, and for clicks which of its links.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Token {
    pub kind: TokenKind,
    pub campaign: i64,
    /// The delivery (one row of the outbox).
    pub delivery: i64,
    pub link: u16,
    /// When the message was rendered, in Unix seconds: how soon after delivery an open or a
    /// click came, without a database read.
    pub issued: i64,
}

/// Campaign, delivery, link and issue time, before base64.
const TOKEN_BODY: usize = 8 + 8 + 2 + 8;

/// Longer texts are refused before anything is decoded (a token is 59 characters).
const TOKEN_TEXT_MAX: usize = 64;

impl TokenKind {
    /// Each kind is signed under its own purpose, so one cannot stand for another.
    fn purpose(self) -> Purpose {
        match self {
            TokenKind::Open => Purpose::CampaignOpen,
            TokenKind::Click => Purpose::CampaignClick,
            TokenKind::Unsubscribe => Purpose::CampaignUnsubscribe,
        }
    }
}

impl Token {
    /// The numbers in base64, a dot and the signer's tag: all URL-path-safe characters. The
    /// token has no expiry: a link in an email works as long as the key.
    pub fn sign(&self, signer: &Signer) -> String {
        let mut bytes = Vec::with_capacity(TOKEN_BODY);
        bytes.extend_from_slice(&self.campaign.to_be_bytes());
        bytes.extend_from_slice(&self.delivery.to_be_bytes());
        bytes.extend_from_slice(&self.link.to_be_bytes());
        bytes.extend_from_slice(&self.issued.to_be_bytes());
        signer.sign(self.kind.purpose(), &URL_SAFE_NO_PAD.encode(bytes), None)
    }

    /// The token, if it is one this signer signed for `kind`; `None` for anything tampered,
    /// truncated or of another kind.
    pub fn verify(
        signer: &Signer,
        kind: TokenKind,
        text: &str,
        now: OffsetDateTime,
    ) -> Option<Token> {
        if text.len() > TOKEN_TEXT_MAX {
            return None;
        }
        let body = signer.verify(kind.purpose(), text, now).ok()?;
        let body = URL_SAFE_NO_PAD.decode(body).ok()?;
        let num = |r: std::ops::Range<usize>| -> Option<[u8; 8]> { body.get(r)?.try_into().ok() };
        if body.len() != TOKEN_BODY {
            return None;
        }
        Some(Token {
            kind,
            campaign: i64::from_be_bytes(num(0..8)?),
            delivery: i64::from_be_bytes(num(8..16)?),
            link: u16::from_be_bytes(body.get(16..18)?.try_into().ok()?),
            issued: i64::from_be_bytes(num(18..26)?),
        })
    }
}

/// Links in messages sent before campaign tokens moved to the [`Signer`]: the kind, the
/// numbers and a 16-byte HMAC-SHA-256 tag in one base64 run, under the key the server kept as
/// `campaign-links`. They are only read, never issued, so an unsubscribe or tracking link in
/// a message already delivered keeps working.
pub mod earlier_links {
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use hmac::{Hmac, Mac};
    use sha2::Sha256;

    use super::{Token, TokenKind};

    const BODY: usize = 1 + 8 + 8 + 2 + 8;
    const TAG: usize = 16;

    /// The token, if `key` signed it for `kind` in the earlier format.
    pub fn verify(key: &[u8], kind: TokenKind, text: &str) -> Option<Token> {
        if text.len() > 64 {
            return None;
        }
        let bytes = URL_SAFE_NO_PAD.decode(text).ok()?;
        if bytes.len() != BODY + TAG {
            return None;
        }
        let (body, tag) = bytes.split_at(BODY);
        let mut mac = Hmac::<Sha256>::new_from_slice(key).ok()?;
        mac.update(body);
        mac.verify_truncated_left(tag).ok()?;
        if body[0] != kind as u8 {
            return None;
        }
        let num = |at: usize| -> Option<[u8; 8]> { body.get(at..at + 8)?.try_into().ok() };
        Some(Token {
            kind,
            campaign: i64::from_be_bytes(num(1)?),
            delivery: i64::from_be_bytes(num(9)?),
            link: u16::from_be_bytes(body.get(17..19)?.try_into().ok()?),
            issued: i64::from_be_bytes(num(19)?),
        })
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        /// A link as the earlier code wrote it.
        fn earlier(key: &[u8], t: &Token) -> String {
            let mut bytes = vec![t.kind as u8];
            bytes.extend_from_slice(&t.campaign.to_be_bytes());
            bytes.extend_from_slice(&t.delivery.to_be_bytes());
            bytes.extend_from_slice(&t.link.to_be_bytes());
            bytes.extend_from_slice(&t.issued.to_be_bytes());
            let mut mac = Hmac::<Sha256>::new_from_slice(key).unwrap();
            mac.update(&bytes);
            bytes.extend_from_slice(&mac.finalize().into_bytes()[..TAG]);
            URL_SAFE_NO_PAD.encode(bytes)
        }

        #[test]
        fn a_link_already_sent_still_reads_and_nothing_else_does() {
            let t = Token {
                kind: TokenKind::Unsubscribe,
                campaign: 4,
                delivery: 99,
                link: 0,
                issued: 1_700_000_000,
            };
            let text = earlier(b"stored key", &t);
            assert_eq!(
                verify(b"stored key", TokenKind::Unsubscribe, &text),
                Some(t)
            );
            assert_eq!(verify(b"stored key", TokenKind::Click, &text), None);
            assert_eq!(verify(b"other key", TokenKind::Unsubscribe, &text), None);
            assert_eq!(
                verify(b"stored key", TokenKind::Unsubscribe, &text[1..]),
                None
            );
        }
    }
}
