//! Form tokens: every state-changing form carries a token the server signed, so a request
//! forged elsewhere (which cannot read the page) fails even where the browser sends no
//! `Origin` or `Sec-Fetch-Site` header. The token is stateless: no cookie is needed before a
//! visitor has chosen about cookies.

use candour_core::signer::{Purpose, Signer};
use time::OffsetDateTime;

use crate::kit::error::AppError;

/// How long a page's forms stay usable.
const VALID_FOR_SECS: i64 = 12 * 3600;

/// A token for forms on a page rendered at `now` for the session `binding` (empty when no
/// one is signed in): the time it was issued, signed for forms and bound to the session.
pub(crate) fn issue(signer: &Signer, now: OffsetDateTime, binding: &[u8]) -> String {
    let issued = format!("{:x}", now.unix_timestamp());
    signer.sign_bound(Purpose::FormToken, &issued, binding, None)
}

/// Accept a token issued by this server, for this session, within the last twelve hours.
pub(crate) fn verify(
    signer: &Signer,
    token: &str,
    now: OffsetDateTime,
    binding: &[u8],
) -> Result<(), AppError> {
    let forged = || {
        AppError::Forbidden(
            "The form could not be checked. Go back, reload the page and try again.".to_owned(),
        )
    };
    let issued = signer
        .verify_bound(Purpose::FormToken, token, binding, now)
        .map_err(|_| forged())?;
    let issued = i64::from_str_radix(issued, 16).map_err(|_| forged())?;
    let age = now.unix_timestamp() - issued;
    if !(-300..=VALID_FOR_SECS).contains(&age) {
        return Err(AppError::Forbidden(
            "The page was open too long, so the form expired. Reload the page and try again."
                .to_owned(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::Duration;
    use time::macros::datetime;

    static KEY: std::sync::LazyLock<Signer> = std::sync::LazyLock::new(|| Signer::new(b"k"));
    const NOW: OffsetDateTime = datetime!(2026-05-01 10:00 UTC);

    #[test]
    fn a_fresh_token_verifies() {
        assert!(verify(&KEY, &issue(&KEY, NOW, b""), NOW + Duration::hours(1), b"").is_ok());
        assert!(verify(&KEY, &issue(&KEY, NOW, b"s1"), NOW, b"s1").is_ok());
    }

    #[test]
    fn a_token_is_bound_to_its_session() {
        let t = issue(&KEY, NOW, b"session one");
        assert!(verify(&KEY, &t, NOW, b"session two").is_err());
        assert!(verify(&KEY, &t, NOW, b"").is_err());
    }

    #[test]
    fn forged_expired_and_foreign_tokens_fail() {
        let t = issue(&KEY, NOW, b"");
        assert!(verify(&Signer::new(b"other"), &t, NOW, b"").is_err());
        assert!(verify(&KEY, &t, NOW + Duration::hours(13), b"").is_err());
        assert!(verify(&KEY, "", NOW, b"").is_err());
        assert!(verify(&KEY, "zz.zz", NOW, b"").is_err());
        let (issued, sig) = t.split_once('.').unwrap();
        let later = format!("{:x}.{sig}", i64::from_str_radix(issued, 16).unwrap() + 1);
        assert!(
            verify(&KEY, &later, NOW, b"").is_err(),
            "a changed time voids the token"
        );
        assert!(verify(&KEY, &later, NOW, b"").is_err());
    }
}
