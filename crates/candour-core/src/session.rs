//! Sign-in sessions and single-use email links: random secrets given to the browser or put in
//! an email, of which the server keeps only a SHA-256 hash.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use time::{Duration, OffsetDateTime};

use crate::account::EmailAddress;

/// A secret of 256 random bits, as the browser or the email holds it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(…)")
    }
}

/// What the server stores of a [`Secret`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SecretHash(pub [u8; 32]);

impl Secret {
    /// From 32 random bytes supplied by the caller.
    pub fn from_random(bytes: [u8; 32]) -> Secret {
        Secret(URL_SAFE_NO_PAD.encode(bytes))
    }

    /// A value presented by a browser or a link. Anything not of the right shape is refused
    /// before it reaches the database.
    pub fn parse(s: &str) -> Option<Secret> {
        (s.len() == 43 && URL_SAFE_NO_PAD.decode(s).is_ok_and(|b| b.len() == 32))
            .then(|| Secret(s.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn hash(&self) -> SecretHash {
        SecretHash(Sha256::digest(self.0.as_bytes()).into())
    }
}

/// How long a sign-in lasts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionPolicy {
    /// Ended after this long without a request.
    pub idle: Duration,
    /// Ended this long after sign-in, however active.
    pub absolute: Duration,
}

/// A stored session, as the store returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub account: i64,
    pub created_at: OffsetDateTime,
    pub last_seen_at: OffsetDateTime,
}

impl SessionPolicy {
    pub fn is_live(&self, s: &Session, now: OffsetDateTime) -> bool {
        now - s.last_seen_at < self.idle && now - s.created_at < self.absolute
    }

    /// Recording every request's time would make every page a write, so activity is recorded
    /// at most this often: a tenth of the idle timeout, and never less often than once a
    /// minute. The recorded time lags a request by less than this, so a session ends between
    /// nine tenths of the idle timeout and the whole of it after its last request, and any
    /// session with requests closer together than that stays signed in.
    pub fn touch_interval(&self) -> Duration {
        (self.idle / 10_i32).min(Duration::minutes(1))
    }

    pub fn needs_touch(&self, s: &Session, now: OffsetDateTime) -> bool {
        now - s.last_seen_at >= self.touch_interval()
    }
}

/// What a single-use email link is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkPurpose {
    VerifyEmail,
    ResetPassword,
    ChangeEmail,
}

impl LinkPurpose {
    pub fn as_str(self) -> &'static str {
        match self {
            LinkPurpose::VerifyEmail => "verify-email",
            LinkPurpose::ResetPassword => "reset-password",
            LinkPurpose::ChangeEmail => "change-email",
        }
    }

    pub fn parse(s: &str) -> Option<LinkPurpose> {
        [
            LinkPurpose::VerifyEmail,
            LinkPurpose::ResetPassword,
            LinkPurpose::ChangeEmail,
        ]
        .into_iter()
        .find(|p| p.as_str() == s)
    }

    /// How long the link works.
    pub fn lifetime(self) -> Duration {
        match self {
            LinkPurpose::VerifyEmail => Duration::hours(48),
            LinkPurpose::ResetPassword => Duration::minutes(30),
            LinkPurpose::ChangeEmail => Duration::hours(2),
        }
    }
}

/// What a used single-use link was for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkClaim {
    pub account: i64,
    /// For a change of email: the new address.
    pub new_email: Option<EmailAddress>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn secrets_round_trip_and_hash_stably() {
        let s = Secret::from_random([9; 32]);
        assert_eq!(s.expose().len(), 43);
        let back = Secret::parse(s.expose()).unwrap();
        assert_eq!(back.hash(), s.hash());
        assert_ne!(Secret::from_random([8; 32]).hash(), s.hash());
        for bad in [
            "",
            "abc",
            &"A".repeat(44),
            &format!("{}=", &s.expose()[..42]),
        ] {
            assert!(Secret::parse(bad).is_none(), "{bad:?}");
        }
        assert_eq!(format!("{s:?}"), "Secret(…)");
    }

    #[test]
    fn sessions_end_on_idle_or_absolute_timeout() {
        let p = SessionPolicy {
            idle: Duration::minutes(30),
            absolute: Duration::hours(12),
        };
        let t0 = datetime!(2026-01-01 8:00 UTC);
        let mut s = Session {
            account: 1,
            created_at: t0,
            last_seen_at: t0,
        };
        assert!(p.is_live(&s, t0 + Duration::minutes(29)));
        assert!(!p.is_live(&s, t0 + Duration::minutes(30)));
        s.last_seen_at = t0 + Duration::hours(11) + Duration::minutes(50);
        assert!(p.is_live(&s, t0 + Duration::hours(11) + Duration::minutes(59)));
        assert!(!p.is_live(&s, t0 + Duration::hours(12)));
        assert!(!p.needs_touch(&s, s.last_seen_at + Duration::seconds(59)));
        assert!(p.needs_touch(&s, s.last_seen_at + Duration::seconds(60)));
    }

    #[test]
    fn short_idle_timeouts_record_activity_often_enough() {
        let p = SessionPolicy {
            idle: Duration::minutes(1),
            absolute: Duration::hours(12),
        };
        assert_eq!(p.touch_interval(), Duration::seconds(6));
        let t0 = datetime!(2026-01-01 8:00 UTC);
        let mut s = Session {
            account: 1,
            created_at: t0,
            last_seen_at: t0,
        };
        // A request every 40 seconds, each recorded as the store would.
        let mut now = t0;
        for _ in 0..10 {
            now += Duration::seconds(40);
            assert!(p.is_live(&s, now), "active at {now}");
            assert!(p.needs_touch(&s, now));
            s.last_seen_at = now;
        }
        assert!(p.is_live(&s, now + Duration::seconds(59)));
        assert!(!p.is_live(&s, now + Duration::seconds(60)));
    }
}
