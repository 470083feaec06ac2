//! One signer for every token Candour hands out and takes back, and for the keyed hashes it
//! keeps instead of what people send.
//!
//! A [`Signer`] is built once from the site's master key. Each [`Purpose`] gets its own key,
//! derived from the master key and the purpose's name, so a token made for one purpose is never
//! accepted for another even when its text would parse. A token is the caller's text (the
//! body, which it reads back after the check) followed by a dot and a tag: the expiry, when
//! the token has one, and a MAC over the expiry, the body and anything the token is bound to
//! without carrying it (a session, a password hash). The MAC is compared in constant time by
//! the `hmac` crate, and a token that fails any check (shape, MAC, purpose, expiry) is refused
//! with the one [`BadToken`], which says nothing about which check failed.
//!
//! The consent cookie (`consent::Token`) and the campaign links (`campaign::Token`) are signed
//! here; every other token format belongs here too, and secrets are compared with
//! [`same_secret`], never by hand. (TOTP's HMAC-SHA1 is the code algorithm of RFC 6238, not a
//! token, and stays in `totp`.)

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq as _;
use time::OffsetDateTime;

type HmacSha256 = Hmac<Sha256>;

/// What a token or a keyed hash is for: one key, and one token format, each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Purpose {
    /// The consent cookie (`consent::Token`).
    ConsentCookie = 0,
    /// The tracking image in a campaign email (`campaign::Token`, `TokenKind::Open`).
    CampaignOpen = 1,
    /// A tracked link in a campaign email (`TokenKind::Click`).
    CampaignClick = 2,
    /// The unsubscribe link and header of a campaign email (`TokenKind::Unsubscribe`).
    CampaignUnsubscribe = 3,
    /// The hidden token in every state-changing form.
    FormToken = 4,
    /// The preference-centre visit cookie opened from an emailed link.
    PreferenceVisit = 5,
    /// The `PollTimeout-<id>` cookie that says a browser voted.
    PollCookie = 6,
    /// The per-address vote tally kept in memory.
    PollAddress = 7,
    /// The one-way code that tells a repeated vote within the half-minute.
    VoterHash = 8,
    /// The step between a correct password and the second-factor code.
    SignInStep = 9,
    /// The authenticator secret shown on the set-up page.
    TotpSetup = 10,
    /// The hashes of addresses and accounts in rate-limit counters.
    RateLimitKey = 11,
    /// The link to a request's status page, given to the person who made it.
    RequestStatus = 12,
    /// The day hash of a visitor in the site statistics (keyed further by the day's salt).
    StatsVisitor = 13,
    /// The single-use link that downloads the answer to a request for a copy of one's data,
    /// bound to the case's confirmed address.
    AnswerLink = 15,
}

impl Purpose {
    /// Every purpose, in the order of their numbers.
    pub const ALL: [Purpose; 15] = [
        Purpose::ConsentCookie,
        Purpose::CampaignOpen,
        Purpose::CampaignClick,
        Purpose::CampaignUnsubscribe,
        Purpose::FormToken,
        Purpose::PreferenceVisit,
        Purpose::PollCookie,
        Purpose::PollAddress,
        Purpose::VoterHash,
        Purpose::SignInStep,
        Purpose::TotpSetup,
        Purpose::RateLimitKey,
        Purpose::RequestStatus,
        Purpose::StatsVisitor,
        Purpose::AnswerLink,
    ];

    /// The name the purpose's key is derived under. Changing one voids that purpose's tokens.
    pub fn name(self) -> &'static str {
        match self {
            Purpose::ConsentCookie => "consent-cookie",
            Purpose::CampaignOpen => "campaign-open",
            Purpose::CampaignClick => "campaign-click",
            Purpose::CampaignUnsubscribe => "campaign-unsubscribe",
            Purpose::FormToken => "form-token",
            Purpose::PreferenceVisit => "preference-visit",
            Purpose::PollCookie => "poll-cookie",
            Purpose::PollAddress => "poll-address",
            Purpose::VoterHash => "voter-hash",
            Purpose::SignInStep => "sign-in-step",
            Purpose::TotpSetup => "totp-setup",
            Purpose::RateLimitKey => "rate-limit-key",
            Purpose::RequestStatus => "request-status",
            Purpose::StatsVisitor => "stats-visitor",
            Purpose::AnswerLink => "answer-link",
        }
    }
}

/// A token that is not one this signer made for this purpose, or whose time is over. Nothing
/// more is said, so that a visitor probing tokens learns nothing from the refusal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the token is not valid")]
pub struct BadToken;

/// Longer tokens are refused before anything is decoded.
pub const MAX_TOKEN_LEN: usize = 4096;

/// Bytes of the MAC a token carries (128 bits).
const MAC_LEN: usize = 16;

const NO_EXPIRY: u8 = 0;
const EXPIRES: u8 = 1;

/// The key of one purpose, derived from the master key. Holding one is enough to sign and
/// check that purpose's tokens (a daily salt, say, can be made into one for the voter hash).
#[derive(Clone)]
pub struct PurposeKey {
    /// Keyed once; each use works on a copy.
    mac: HmacSha256,
}

impl fmt::Debug for PurposeKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PurposeKey([redacted])")
    }
}

impl PurposeKey {
    /// The key of `purpose` under `master`.
    pub fn derive(master: &[u8], purpose: Purpose) -> PurposeKey {
        let mut m = keyed(master);
        m.update(b"candour-signer-1\0");
        m.update(purpose.name().as_bytes());
        PurposeKey {
            mac: keyed(&m.finalize().into_bytes()),
        }
    }

    /// `body`, a dot and the tag. The body should be text that can travel where the token
    /// goes (a cookie, a URL path, a form field); the signer does not encode it.
    pub fn sign(&self, body: &str, expires: Option<OffsetDateTime>) -> String {
        self.sign_bound(body, b"", expires)
    }

    /// Like [`PurposeKey::sign`], and the token is valid only with the same `bound_to` given
    /// to the check (such as the session it was issued to), which it does not carry.
    pub fn sign_bound(
        &self,
        body: &str,
        bound_to: &[u8],
        expires: Option<OffsetDateTime>,
    ) -> String {
        let mut tag = Vec::with_capacity(1 + 8 + MAC_LEN);
        match expires {
            Some(at) => {
                tag.push(EXPIRES);
                tag.extend_from_slice(&at.unix_timestamp().to_be_bytes());
            }
            None => tag.push(NO_EXPIRY),
        }
        let mac = self.mac_of(&tag, bound_to, body);
        tag.extend_from_slice(&mac[..MAC_LEN]);
        format!("{body}.{}", URL_SAFE_NO_PAD.encode(tag))
    }

    /// The body of `token` if this key signed it and, when it has an expiry, `now` is before
    /// it.
    pub fn verify<'t>(&self, token: &'t str, now: OffsetDateTime) -> Result<&'t str, BadToken> {
        self.verify_bound(token, b"", now)
    }

    /// Like [`PurposeKey::verify`], for a token signed with [`PurposeKey::sign_bound`].
    pub fn verify_bound<'t>(
        &self,
        token: &'t str,
        bound_to: &[u8],
        now: OffsetDateTime,
    ) -> Result<&'t str, BadToken> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(BadToken);
        }
        let (body, tag) = token.rsplit_once('.').ok_or(BadToken)?;
        let tag = URL_SAFE_NO_PAD.decode(tag).map_err(|_| BadToken)?;
        let header_len = match tag.first() {
            Some(&NO_EXPIRY) => 1,
            Some(&EXPIRES) => 1 + 8,
            _ => return Err(BadToken),
        };
        if tag.len() != header_len + MAC_LEN {
            return Err(BadToken);
        }
        let (header, given) = tag.split_at(header_len);
        let mut m = self.mac.clone();
        feed(&mut m, header, bound_to, body);
        m.verify_truncated_left(given).map_err(|_| BadToken)?;
        if let Some(expiry) = header.get(1..9) {
            let expiry: [u8; 8] = expiry.try_into().map_err(|_| BadToken)?;
            if now.unix_timestamp() >= i64::from_be_bytes(expiry) {
                return Err(BadToken);
            }
        }
        Ok(body)
    }

    /// A keyed one-way code of `parts` (each length-prefixed, so no two lists of parts give
    /// the same input): for what is kept or compared instead of what a person sent.
    pub fn digest(&self, parts: &[&[u8]]) -> [u8; 32] {
        let mut m = self.mac.clone();
        for part in parts {
            m.update(&(part.len() as u64).to_be_bytes());
            m.update(part);
        }
        m.finalize().into_bytes().into()
    }

    fn mac_of(&self, header: &[u8], bound_to: &[u8], body: &str) -> [u8; 32] {
        let mut m = self.mac.clone();
        feed(&mut m, header, bound_to, body);
        m.finalize().into_bytes().into()
    }
}

fn feed(m: &mut HmacSha256, header: &[u8], bound_to: &[u8], body: &str) {
    m.update(header);
    m.update(&(bound_to.len() as u64).to_be_bytes());
    m.update(bound_to);
    m.update(body.as_bytes());
}

/// HMAC takes a key of any length, so the error arm is never taken; the zero key keeps the
/// function total without a panic.
fn keyed(key: &[u8]) -> HmacSha256 {
    match <HmacSha256 as Mac>::new_from_slice(key) {
        Ok(m) => m,
        Err(_) => <HmacSha256 as Mac>::new(&Default::default()),
    }
}

/// Every purpose's key, derived once from the master key.
#[derive(Clone)]
pub struct Signer {
    keys: [PurposeKey; Purpose::ALL.len()],
}

impl fmt::Debug for Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Signer([redacted])")
    }
}

impl Signer {
    pub fn new(master: &[u8]) -> Signer {
        Signer {
            keys: Purpose::ALL.map(|p| PurposeKey::derive(master, p)),
        }
    }

    /// The key of one purpose.
    pub fn key(&self, purpose: Purpose) -> &PurposeKey {
        // Numbers are handed out ahead of use, so they may have gaps: find the key by place.
        let at = Purpose::ALL
            .iter()
            .position(|p| *p == purpose)
            .unwrap_or_default();
        &self.keys[at]
    }

    /// See [`PurposeKey::sign`].
    pub fn sign(&self, purpose: Purpose, body: &str, expires: Option<OffsetDateTime>) -> String {
        self.key(purpose).sign(body, expires)
    }

    /// See [`PurposeKey::sign_bound`].
    pub fn sign_bound(
        &self,
        purpose: Purpose,
        body: &str,
        bound_to: &[u8],
        expires: Option<OffsetDateTime>,
    ) -> String {
        self.key(purpose).sign_bound(body, bound_to, expires)
    }

    /// See [`PurposeKey::verify`].
    pub fn verify<'t>(
        &self,
        purpose: Purpose,
        token: &'t str,
        now: OffsetDateTime,
    ) -> Result<&'t str, BadToken> {
        self.key(purpose).verify(token, now)
    }

    /// See [`PurposeKey::verify_bound`].
    pub fn verify_bound<'t>(
        &self,
        purpose: Purpose,
        token: &'t str,
        bound_to: &[u8],
        now: OffsetDateTime,
    ) -> Result<&'t str, BadToken> {
        self.key(purpose).verify_bound(token, bound_to, now)
    }

    /// See [`PurposeKey::digest`].
    pub fn digest(&self, purpose: Purpose, parts: &[&[u8]]) -> [u8; 32] {
        self.key(purpose).digest(parts)
    }
}

/// Whether two secrets (codes, MACs) are equal, in a time that does not depend on where they
/// differ. Of different lengths they are unequal.
pub fn same_secret(a: &[u8], b: &[u8]) -> bool {
    bool::from(a.ct_eq(b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::Duration;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-05-01 10:00 UTC);

    fn signer() -> Signer {
        Signer::new(b"0123456789abcdef0123456789abcdef")
    }

    #[test]
    fn tokens_round_trip_with_and_without_expiry() {
        let s = signer();
        let t = s.sign(Purpose::ConsentCookie, "c2.abc.0", None);
        assert!(t.starts_with("c2.abc.0."));
        assert_eq!(s.verify(Purpose::ConsentCookie, &t, NOW), Ok("c2.abc.0"));
        let t = s.sign(Purpose::PollCookie, "", Some(NOW + Duration::hours(1)));
        assert_eq!(s.verify(Purpose::PollCookie, &t, NOW), Ok(""));
        let t = s.sign_bound(Purpose::FormToken, "1", b"session", None);
        assert_eq!(
            s.verify_bound(Purpose::FormToken, &t, b"session", NOW),
            Ok("1")
        );
    }

    #[test]
    fn a_token_of_another_purpose_or_key_is_refused() {
        let s = signer();
        let t = s.sign(Purpose::CampaignClick, "x", None);
        for p in Purpose::ALL {
            let expected = if p == Purpose::CampaignClick {
                Ok("x")
            } else {
                Err(BadToken)
            };
            assert_eq!(s.verify(p, &t, NOW), expected, "{p:?}");
        }
        assert_eq!(
            Signer::new(b"another").verify(Purpose::CampaignClick, &t, NOW),
            Err(BadToken)
        );
    }

    #[test]
    fn tampered_tokens_are_refused() {
        let s = signer();
        let t = s.sign(
            Purpose::PreferenceVisit,
            "42.1700000000",
            Some(NOW + Duration::hours(1)),
        );
        assert_eq!(
            s.verify(Purpose::PreferenceVisit, &t.replacen("42", "43", 1), NOW),
            Err(BadToken)
        );
        // Every change of one character of the tag.
        let dot = t.rfind('.').unwrap();
        for i in dot + 1..t.len() {
            let mut chars: Vec<char> = t.chars().collect();
            chars[i] = if chars[i] == 'A' { 'B' } else { 'A' };
            let bad: String = chars.into_iter().collect();
            assert_eq!(
                s.verify(Purpose::PreferenceVisit, &bad, NOW),
                Err(BadToken),
                "{bad}"
            );
        }
        // Bound to something else.
        let t = s.sign_bound(Purpose::SignInStep, "7", b"hash-1", None);
        assert_eq!(
            s.verify_bound(Purpose::SignInStep, &t, b"hash-2", NOW),
            Err(BadToken)
        );
        assert_eq!(s.verify(Purpose::SignInStep, &t, NOW), Err(BadToken));
    }

    #[test]
    fn expired_tokens_are_refused() {
        let s = signer();
        let t = s.sign(Purpose::PollCookie, "1", Some(NOW));
        assert_eq!(
            s.verify(Purpose::PollCookie, &t, NOW - Duration::seconds(1)),
            Ok("1")
        );
        assert_eq!(s.verify(Purpose::PollCookie, &t, NOW), Err(BadToken));
        assert_eq!(
            s.verify(Purpose::PollCookie, &t, NOW + Duration::days(1)),
            Err(BadToken)
        );
    }

    #[test]
    fn truncated_and_malformed_tokens_are_refused() {
        let s = signer();
        let t = s.sign(
            Purpose::CampaignOpen,
            "body",
            Some(NOW + Duration::hours(1)),
        );
        for n in 0..t.len() {
            assert_eq!(
                s.verify(Purpose::CampaignOpen, &t[..n], NOW),
                Err(BadToken),
                "{n}"
            );
        }
        let long = format!("{}{t}", "a".repeat(MAX_TOKEN_LEN));
        for junk in ["", ".", "..", "body.", "body.%%%", "body.AA", long.as_str()] {
            assert_eq!(
                s.verify(Purpose::CampaignOpen, junk, NOW),
                Err(BadToken),
                "{junk:?}"
            );
        }
    }

    #[test]
    fn digests_are_keyed_by_purpose_and_keep_parts_apart() {
        let s = signer();
        let a = s.digest(Purpose::VoterHash, &[b"ab", b"c"]);
        assert_eq!(a, s.digest(Purpose::VoterHash, &[b"ab", b"c"]));
        assert_ne!(a, s.digest(Purpose::VoterHash, &[b"a", b"bc"]));
        assert_ne!(a, s.digest(Purpose::RateLimitKey, &[b"ab", b"c"]));
        assert_ne!(
            a,
            Signer::new(b"salt").digest(Purpose::VoterHash, &[b"ab", b"c"])
        );
        assert_eq!(
            PurposeKey::derive(b"salt", Purpose::VoterHash).digest(&[b"x"]),
            Signer::new(b"salt").digest(Purpose::VoterHash, &[b"x"])
        );
    }

    #[test]
    fn secrets_compare_whole() {
        assert!(same_secret(b"123456", b"123456"));
        assert!(!same_secret(b"123456", b"123457"));
        assert!(!same_secret(b"12345", b"123456"));
        assert_eq!(format!("{:?}", signer()), "Signer([redacted])");
    }
}
