//! Rate limits on sign-in, registration and password resets, counted in the database so they
//! hold across instances. Keys are keyed hashes of the address or account: the counters hold
//! no IP address or email address.

use std::net::{IpAddr, SocketAddr};

use axum::http::HeaderMap;
use candour_core::signer::Purpose;
use time::{Duration, OffsetDateTime};

use crate::AppState;
use crate::kit::error::AppError;

#[derive(Debug, Clone, Copy)]
pub(crate) struct Limit {
    pub name: &'static str,
    pub max: u32,
    pub window: Duration,
}

/// Failed sign-ins from one address, whatever the account. Past this, the address may still
/// try an account that has not failed from it in the window, once (see [`begin_sign_in`]).
pub(crate) const SIGN_IN_FAILURES_PER_ADDRESS: Limit = Limit {
    name: "sign-in-ip",
    max: 50,
    window: Duration::minutes(15),
};
/// Every sign-in attempt from one address, right or wrong: a hard ceiling far above what an
/// office's people need, so one address cannot try leaked passwords across many accounts
/// (each of which gets a first try past the failures ceiling) or keep the cores hashing.
pub(crate) const SIGN_IN_ATTEMPTS_PER_ADDRESS: Limit = Limit {
    name: "sign-in-ip-all",
    max: 300,
    window: Duration::minutes(15),
};
/// Failed sign-ins for one account from one address. An attacker elsewhere does not use up
/// the real person's allowance.
pub(crate) const SIGN_IN_FAILURES: Limit = Limit {
    name: "sign-in-account",
    max: 10,
    window: Duration::minutes(15),
};
/// Wrong passwords after sign-in (changing email or password, deleting the account, the
/// second factor), per account: a stolen session cannot be used to guess the password.
pub(crate) const REAUTHENTICATE: Limit = Limit {
    name: "reauth",
    max: 5,
    window: Duration::minutes(15),
};
/// Wrong second-factor codes for one account.
pub(crate) const SECOND_FACTOR: Limit = Limit {
    name: "totp",
    max: 5,
    window: Duration::minutes(15),
};
/// Registrations from one address, at most `max` an hour
/// (`accounts.registrations_per_address_per_hour`).
pub(crate) fn register_per_address(max: u32) -> Limit {
    Limit {
        name: "register-ip",
        max,
        window: Duration::hours(1),
    }
}
pub(crate) const RESET_PER_ADDRESS: Limit = Limit {
    name: "reset-ip",
    max: 10,
    window: Duration::hours(1),
};
/// Form submissions from one address: generous for a shared office connection, but a
/// script cannot fill the people table.
pub(crate) const FORM_SUBMISSIONS_PER_ADDRESS: Limit = Limit {
    name: "form-ip",
    max: 60,
    window: Duration::hours(1),
};
/// Requests for a preference-centre link from one address.
pub(crate) const PREFERENCE_LINKS_PER_ADDRESS: Limit = Limit {
    name: "preferences-ip",
    max: 10,
    window: Duration::hours(1),
};
/// Requests about personal data from one address: generous for a shared connection, and
/// each unconfirmed one is only a row until its link expires.
pub(crate) const DATA_REQUESTS_PER_ADDRESS: Limit = Limit {
    name: "requests-ip",
    max: 20,
    window: Duration::hours(1),
};
/// Emails sent to one address (resets, "you already have an account"), to stop the site
/// being used to flood someone's inbox.
pub(crate) const EMAILS_PER_RECIPIENT: Limit = Limit {
    name: "mail-to",
    max: 3,
    window: Duration::hours(1),
};

fn window_start(now: OffsetDateTime, window: Duration) -> OffsetDateTime {
    let secs = window.whole_seconds().max(1);
    let t = now.unix_timestamp();
    OffsetDateTime::from_unix_timestamp(t - t.rem_euclid(secs)).unwrap_or(now)
}

fn key(state: &AppState, limit: Limit, subject: &str) -> String {
    let digest = state
        .inner
        .signer
        .digest(Purpose::RateLimitKey, &[subject.as_bytes()]);
    format!("{}:{}", limit.name, hex::encode(&digest[..12]))
}

fn too_many(limit: Limit) -> AppError {
    AppError::TooManyRequests(format!(
        "There have been too many attempts. Wait {} minutes and try again.",
        limit.window.whole_minutes()
    ))
}

/// Count one event; refuse once the limit is passed.
pub(crate) async fn hit(state: &AppState, limit: Limit, subject: &str) -> Result<(), AppError> {
    let n = state
        .stores()
        .rate_limits
        .hit(
            &key(state, limit, subject),
            window_start(state.now(), limit.window),
        )
        .await?;
    if n > limit.max {
        Err(too_many(limit))
    } else {
        Ok(())
    }
}

/// One attempt, counted as a failure before its outcome is known (so parallel guesses cannot
/// slip past the limit) and taken back with [`Counted::forgive`] when it succeeds: only
/// failures use up the allowance.
#[must_use = "an attempt that succeeds must be forgiven"]
pub(crate) struct Counted {
    key: String,
    window_start: OffsetDateTime,
    /// The count in this window, this attempt included.
    count: u32,
}

impl Counted {
    /// The attempt succeeded: it no longer counts.
    pub(crate) async fn forgive(self, state: &AppState) -> Result<(), AppError> {
        state
            .stores()
            .rate_limits
            .forgive(&self.key, self.window_start)
            .await?;
        Ok(())
    }
}

async fn count_attempt(state: &AppState, limit: Limit, subject: &str) -> Result<Counted, AppError> {
    let key = key(state, limit, subject);
    let window_start = window_start(state.now(), limit.window);
    let count = state.stores().rate_limits.hit(&key, window_start).await?;
    Ok(Counted {
        key,
        window_start,
        count,
    })
}

/// Count an attempt as a failure; refuse it when earlier failures have used up the limit.
pub(crate) async fn attempt(
    state: &AppState,
    limit: Limit,
    subject: &str,
) -> Result<Counted, AppError> {
    let counted = count_attempt(state, limit, subject).await?;
    if counted.count > limit.max {
        return Err(too_many(limit));
    }
    Ok(counted)
}

/// A sign-in attempt, counted as a failure of the account from this address and of the
/// address before the password is checked, and forgiven both ways once it proves right.
#[must_use = "a sign-in with the right password must be forgiven"]
pub(crate) struct SignInAttempt {
    account: Counted,
    address: Counted,
}

impl SignInAttempt {
    /// The password was right: neither the account nor the address failed.
    pub(crate) async fn forgive(self, state: &AppState) -> Result<(), AppError> {
        self.account.forgive(state).await?;
        self.address.forgive(state).await
    }
}

/// Count a sign-in attempt for `email` from the client `address`, and refuse it:
///
/// - when this account has failed from this address `SIGN_IN_FAILURES.max` times in the
///   window (someone guessing one account's password), or
/// - when the address has failed `SIGN_IN_FAILURES_PER_ADDRESS.max` times and this account
///   has already failed from it in the window, or another attempt for it is under way.
///
/// So failures from a shared address (an office, a mobile network) do not lock out a person
/// there whose password is right: their account has not failed, so their password is
/// checked. Someone guessing across many accounts from one address is left with one guess
/// per account per window once the address is past its ceiling, and with no more than
/// `SIGN_IN_ATTEMPTS_PER_ADDRESS` attempts in all.
pub(crate) async fn begin_sign_in(
    state: &AppState,
    email: &str,
    address: &str,
) -> Result<SignInAttempt, AppError> {
    hit(state, SIGN_IN_ATTEMPTS_PER_ADDRESS, address).await?;
    let account = count_attempt(state, SIGN_IN_FAILURES, &format!("{email} {address}")).await?;
    let address = count_attempt(state, SIGN_IN_FAILURES_PER_ADDRESS, address).await?;
    if account.count > SIGN_IN_FAILURES.max {
        return Err(too_many(SIGN_IN_FAILURES));
    }
    if address.count > SIGN_IN_FAILURES_PER_ADDRESS.max && account.count > 1 {
        return Err(too_many(SIGN_IN_FAILURES_PER_ADDRESS));
    }
    Ok(SignInAttempt { account, address })
}

/// Count one event and say whether it is still within the limit, without refusing.
pub(crate) async fn within(
    state: &AppState,
    limit: Limit,
    subject: &str,
) -> Result<bool, AppError> {
    let n = state
        .stores()
        .rate_limits
        .hit(
            &key(state, limit, subject),
            window_start(state.now(), limit.window),
        )
        .await?;
    Ok(n <= limit.max)
}

/// The client as limits and vote de-duplication count it: its address, or for IPv6 its /64
/// network (one household or device is given a whole /64 and can change address at will).
pub(crate) fn client_key(state: &AppState, peer: SocketAddr, headers: &HeaderMap) -> String {
    client_key_of(client_ip(state, peer, headers))
}

/// The key of a client's address: the address itself, or its IPv6 /64.
pub(crate) fn client_key_of(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
    }
}

/// The client's address: the peer, or, when the peer is a trusted proxy, the last address in
/// `X-Forwarded-For` that is not itself a trusted proxy.
pub(crate) fn client_ip(state: &AppState, peer: SocketAddr, headers: &HeaderMap) -> IpAddr {
    let trusted = &state.inner.config.http.trusted_proxies;
    // An IPv4 peer on an IPv6 socket arrives as ::ffff:a.b.c.d; compare it as IPv4.
    let peer = peer.ip().to_canonical();
    if !trusted.contains(&peer) {
        return peer;
    }
    let forwarded: Vec<IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|s| s.trim().parse::<IpAddr>().ok())
        .map(|ip| ip.to_canonical())
        .collect();
    forwarded
        .into_iter()
        .rev()
        .find(|ip| !trusted.contains(ip))
        .unwrap_or(peer)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn ipv6_clients_are_counted_by_their_network() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let IpAddr::V6(v6) = a else { unreachable!() };
        let s = v6.segments();
        assert_eq!(
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3]),
            "2001:db8:1:2::/64"
        );
    }

    #[test]
    fn windows_start_on_their_boundary() {
        let w = window_start(datetime!(2026-01-01 10:07:30 UTC), Duration::minutes(15));
        assert_eq!(w, datetime!(2026-01-01 10:00 UTC));
        let w = window_start(datetime!(2026-01-01 10:15:00 UTC), Duration::minutes(15));
        assert_eq!(w, datetime!(2026-01-01 10:15 UTC));
    }
}
