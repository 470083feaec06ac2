//! Password hashing with Argon2id, at the parameters OWASP's Password Storage Cheat Sheet
//! recommends as a minimum (19 MiB of memory, two passes, one lane). Hashing is slow on
//! purpose: these functions run on the calling thread, so async callers run them on a
//! blocking pool, never on the threads that answer requests.

use std::sync::LazyLock;

use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Params, Version};

/// Memory in KiB, passes, lanes.
pub const MEMORY_KIB: u32 = 19 * 1024;
pub const PASSES: u32 = 2;
pub const LANES: u32 = 1;

#[derive(Debug, thiserror::Error)]
#[error("password hashing failed: {0}")]
pub struct HashError(pub String);

fn argon2() -> Result<Argon2<'static>, HashError> {
    let params =
        Params::new(MEMORY_KIB, PASSES, LANES, None).map_err(|e| HashError(e.to_string()))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// Hash a password into a PHC string.
pub fn hash(password: &str) -> Result<String, HashError> {
    argon2()?
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| HashError(e.to_string()))
}

/// A hash of a password nobody knows, checked when an account does not exist, so that
/// answering about an unknown address takes as long as about a known one.
static DUMMY: LazyLock<String> =
    LazyLock::new(|| hash("not a password anyone has: 8c1f3a2e").unwrap_or_default());

/// Whether `password` matches `phc`. With `None`, check against a dummy hash and say no.
pub fn verify(password: &str, phc: Option<&str>) -> bool {
    let (phc, real) = match phc {
        Some(p) => (p, true),
        None => (DUMMY.as_str(), false),
    };
    let ok = argon2().is_ok_and(|a| a.verify_password(password.as_bytes(), phc).is_ok());
    ok && real
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_and_carry_their_parameters() {
        let h = hash("lantern orbit cabbage").unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert!(verify("lantern orbit cabbage", Some(&h)));
        assert!(!verify("lantern orbit cabbagE", Some(&h)));
        assert!(!verify("anything", None));
        assert!(!verify("x", Some("not a hash")));
        assert_ne!(hash("same").unwrap(), hash("same").unwrap(), "salted");
    }
}
