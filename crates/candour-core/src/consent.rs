//! Consent to optional cookies: the visitor's choice, its receipt and the cookie that carries it.

use serde::Serialize;
use time::OffsetDateTime;

use crate::cookies::{Category, ConsentMode, PolicyVersion};
use crate::media::{AlwaysLoad, Provider};
use crate::signer::{Purpose, Signer};

/// Which optional categories the visitor allows. Strictly necessary cookies need no consent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Choice {
    pub preferences: bool,
    pub statistics: bool,
    pub marketing: bool,
    /// The providers whose media loads without asking each time. Accepting every category
    /// does not include any: each is the visitor's own choice, provider by provider.
    pub always_load: AlwaysLoad,
}

impl Choice {
    pub const ALL: Choice = Choice {
        preferences: true,
        statistics: true,
        marketing: true,
        always_load: AlwaysLoad::NONE,
    };
    pub const NONE: Choice = Choice {
        preferences: false,
        statistics: false,
        marketing: false,
        always_load: AlwaysLoad::NONE,
    };

    pub fn allows(self, category: Category) -> bool {
        match category {
            Category::Necessary => true,
            Category::Preferences => self.preferences,
            Category::Statistics => self.statistics,
            Category::Marketing => self.marketing,
            // Media is chosen per provider: see `loads_always`.
            Category::Media => false,
        }
    }

    /// Whether this provider's media loads without asking.
    pub fn loads_always(self, provider: Provider) -> bool {
        self.always_load.allows(provider)
    }

    pub fn with_always(mut self, provider: Provider, on: bool) -> Choice {
        self.always_load = self.always_load.with(provider, on);
        self
    }

    pub fn with(mut self, category: Category, allowed: bool) -> Choice {
        match category {
            Category::Necessary => {}
            Category::Preferences => self.preferences = allowed,
            Category::Statistics => self.statistics = allowed,
            Category::Marketing => self.marketing = allowed,
            Category::Media => {}
        }
        self
    }

    /// The categories in the low three bits, the always-loaded providers above them (so
    /// tokens written before providers existed read as none).
    fn bits(self) -> u8 {
        u8::from(self.preferences)
            | u8::from(self.statistics) << 1
            | u8::from(self.marketing) << 2
            | self.always_load.bits() << 3
    }

    fn from_bits(b: u8) -> Option<Choice> {
        Some(Choice {
            preferences: b & 1 != 0,
            statistics: b & 2 != 0,
            marketing: b & 4 != 0,
            always_load: AlwaysLoad::from_bits(b >> 3)?,
        })
    }

    /// The optional categories allowed, as slugs, for the page and the script.
    pub fn granted(self) -> Vec<&'static str> {
        Category::OPTIONAL
            .into_iter()
            .filter(|c| self.allows(*c))
            .map(Category::slug)
            .collect()
    }
}

/// How the choice was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    /// The Accept or Reject button of the banner.
    Banner,
    /// The per-category form on the cookies page.
    Settings,
    /// "Always load" on an embedded video, photo or presentation.
    Embed,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Banner => "banner",
            Method::Settings => "settings",
            Method::Embed => "embed",
        }
    }

    pub fn parse(s: &str) -> Option<Method> {
        match s {
            "banner" => Some(Method::Banner),
            "settings" => Some(Method::Settings),
            "embed" => Some(Method::Embed),
            _ => None,
        }
    }
}

/// A random reference for one recorded choice; shown to the visitor, no link to who they are.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct ReceiptId(String);

impl ReceiptId {
    /// From 16 random bytes supplied by the caller.
    pub fn from_random(bytes: [u8; 16]) -> ReceiptId {
        ReceiptId(hex::encode(bytes))
    }

    pub fn parse(s: &str) -> Option<ReceiptId> {
        (s.len() == 32
            && s.bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()))
        .then(|| ReceiptId(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The server-side record of one choice. It holds no IP address and no account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Receipt {
    pub id: ReceiptId,
    #[serde(with = "time::serde::rfc3339")]
    pub recorded_at: OffsetDateTime,
    pub policy_version: String,
    pub mode: ConsentMode,
    pub method: Method,
    /// Whether the browser sent the Global Privacy Control signal with the choice.
    pub gpc: bool,
    pub choice: Choice,
}

/// Counts of recorded choices for the admin console.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Tally {
    pub receipts: u64,
    pub preferences: u64,
    pub statistics: u64,
    pub marketing: u64,
}

/// What the consent cookie says once its signature has been checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    pub receipt: ReceiptId,
    pub policy_version: String,
    pub choice: Choice,
}

const TOKEN_TAG: &str = "c2";

impl Token {
    /// `c2.<receipt>.<version>.<bits>.<tag>`, signed for [`Purpose::ConsentCookie`]: all
    /// cookie-safe characters. It carries no expiry: the cookie's own lifetime bounds it.
    pub fn encode(&self, signer: &Signer) -> String {
        let body = format!(
            "{TOKEN_TAG}.{}.{}.{}",
            self.receipt.as_str(),
            self.policy_version,
            self.choice.bits()
        );
        signer.sign(Purpose::ConsentCookie, &body, None)
    }

    /// A token whose signature, shape or parts are wrong is no token at all.
    pub fn decode(value: &str, signer: &Signer, now: OffsetDateTime) -> Option<Token> {
        let body = signer.verify(Purpose::ConsentCookie, value, now).ok()?;
        let mut parts = body.split('.');
        if parts.next()? != TOKEN_TAG {
            return None;
        }
        let receipt = ReceiptId::parse(parts.next()?)?;
        let policy_version = parts.next()?.to_owned();
        let bits: u8 = parts.next()?.parse().ok()?;
        if parts.next().is_some() || !policy_version.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        Some(Token {
            receipt,
            policy_version,
            choice: Choice::from_bits(bits)?,
        })
    }
}

/// Where a visitor stands, from their cookie, their browser's signal and the mode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    /// No valid choice for the current policy: show the banner; nothing optional runs.
    Undecided,
    /// The browser sent `Sec-GPC: 1` and no choice has been made: optional categories are off
    /// and no banner is needed.
    GpcRefused,
    /// `implied` mode and no choice yet: optional categories are treated as accepted and the
    /// notice is shown.
    Implied,
    /// A choice for the current policy.
    Decided { receipt: ReceiptId, choice: Choice },
}

impl State {
    pub fn resolve(
        token: Option<Token>,
        current: &PolicyVersion,
        gpc: bool,
        mode: ConsentMode,
    ) -> State {
        match token {
            Some(t) if t.policy_version == current.as_str() => State::Decided {
                receipt: t.receipt,
                choice: t.choice,
            },
            _ if gpc => State::GpcRefused,
            _ if mode == ConsentMode::Implied => State::Implied,
            _ => State::Undecided,
        }
    }

    /// What may run now.
    pub fn effective(&self) -> Choice {
        match self {
            State::Undecided | State::GpcRefused => Choice::NONE,
            State::Implied => Choice::ALL,
            State::Decided { choice, .. } => *choice,
        }
    }

    pub fn shows_banner(&self) -> bool {
        matches!(self, State::Undecided | State::Implied)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::cookies::CookieRegistry;

    const KEY: &[u8] = b"0123456789abcdef0123456789abcdef";
    const NOW: OffsetDateTime = OffsetDateTime::UNIX_EPOCH;

    fn signer(key: &[u8]) -> Signer {
        Signer::new(key)
    }

    fn token(choice: Choice) -> Token {
        Token {
            receipt: ReceiptId::from_random([7; 16]),
            policy_version: "abcdef012345".into(),
            choice,
        }
    }

    #[test]
    fn tokens_round_trip_for_every_choice() {
        for bits in 0..128 {
            let t = token(Choice::from_bits(bits).unwrap());
            assert_eq!(
                Token::decode(&t.encode(&signer(KEY)), &signer(KEY), NOW),
                Some(t)
            );
        }
    }

    #[test]
    fn tampered_tokens_are_no_tokens() {
        let good = token(Choice::NONE).encode(&signer(KEY));
        let flipped = good.replacen(".0.", ".7.", 1);
        assert_ne!(flipped, good);
        assert_eq!(Token::decode(&flipped, &signer(KEY), NOW), None);
        assert_eq!(Token::decode(&good, &signer(b"another key"), NOW), None);
        assert_eq!(
            Token::decode(&good[..good.len() - 2], &signer(KEY), NOW),
            None
        );
        assert_eq!(Choice::from_bits(128), None);
        for junk in ["", ".", "c1", "c1....", "%%%", &"a".repeat(5000)] {
            assert_eq!(Token::decode(junk, &signer(KEY), NOW), None, "{junk:?}");
        }
    }

    #[test]
    fn state_asks_again_when_the_policy_changes() {
        let registry = CookieRegistry::from_config(&Config::default());
        let current = registry.policy_version();
        let mut t = token(Choice::ALL);
        t.policy_version = current.as_str().to_owned();
        let s = State::resolve(Some(t.clone()), current, false, ConsentMode::OptIn);
        assert_eq!(s.effective(), Choice::ALL);
        assert!(!s.shows_banner());

        t.policy_version = "000000000000".into();
        let s = State::resolve(Some(t), current, false, ConsentMode::OptIn);
        assert_eq!(s, State::Undecided);
        assert!(s.shows_banner());
        assert_eq!(s.effective(), Choice::NONE);
    }

    #[test]
    fn gpc_refuses_until_the_visitor_chooses_otherwise() {
        let registry = CookieRegistry::from_config(&Config::default());
        let v = registry.policy_version();
        assert_eq!(
            State::resolve(None, v, true, ConsentMode::OptIn),
            State::GpcRefused
        );
        assert_eq!(
            State::resolve(None, v, true, ConsentMode::Implied).effective(),
            Choice::NONE
        );
        let mut t = token(Choice::ALL.with(Category::Marketing, false));
        t.policy_version = v.as_str().to_owned();
        let s = State::resolve(Some(t), v, true, ConsentMode::OptIn);
        assert!(s.effective().statistics && !s.effective().marketing);
    }

    #[test]
    fn implied_mode_allows_everything_until_a_choice() {
        let registry = CookieRegistry::from_config(&Config::default());
        let s = State::resolve(None, registry.policy_version(), false, ConsentMode::Implied);
        assert_eq!(s.effective(), Choice::ALL);
        assert!(s.shows_banner());
    }
}
