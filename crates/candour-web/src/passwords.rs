//! Password hashing with Argon2id, at the parameters OWASP's Password Storage Cheat Sheet
//! recommends as a minimum (19 MiB of memory, two passes, one lane). Hashing is slow on
//! purpose, so it runs on the blocking pool, never on the threads that answer requests.

use std::sync::{Arc, LazyLock};

use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Params, Version};

/// Memory in KiB, passes, lanes.
pub const MEMORY_KIB: u32 = 19 * 1024;
pub const PASSES: u32 = 2;
pub const LANES: u32 = 1;

#[derive(Debug, thiserror::Error)]
#[error("password hashing failed: {0}")]
pub struct HashError(String);

fn argon2() -> Result<Argon2<'static>, HashError> {
    let params =
        Params::new(MEMORY_KIB, PASSES, LANES, None).map_err(|e| HashError(e.to_string()))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// Hash a password into a PHC string, off the async threads.
pub async fn hash(password: &str) -> Result<String, HashError> {
    let password = password.to_owned();
    tokio::task::spawn_blocking(move || hash_now(&password))
        .await
        .map_err(|e| HashError(e.to_string()))?
}

/// Hash on this thread (for the command line and benchmarks).
pub fn hash_now(password: &str) -> Result<String, HashError> {
    argon2()?
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| HashError(e.to_string()))
}

/// A hash of a password nobody knows, checked when an account does not exist, so that
/// answering about an unknown address takes as long as about a known one.
static DUMMY: LazyLock<Arc<String>> =
    LazyLock::new(|| Arc::new(hash_now("not a password anyone has: 8c1f3a2e").unwrap_or_default()));

/// Whether `password` matches `phc`. With `None`, check against a dummy hash and say no.
pub async fn verify(password: &str, phc: Option<&str>) -> bool {
    let password = password.to_owned();
    let (phc, real) = match phc {
        Some(p) => (p.to_owned(), true),
        None => (DUMMY.as_ref().clone(), false),
    };
    let ok = tokio::task::spawn_blocking(move || {
        argon2().is_ok_and(|a| a.verify_password(password.as_bytes(), phc.as_str()).is_ok())
    })
    .await
    .unwrap_or(false);
    ok && real
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_verify_and_carry_their_parameters() {
        let h = hash("lantern orbit cabbage").await.unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert!(verify("lantern orbit cabbage", Some(&h)).await);
        assert!(!verify("lantern orbit cabbagE", Some(&h)).await);
        assert!(!verify("anything", None).await);
        assert!(!verify("x", Some("not a hash")).await);
        assert_ne!(
            hash("same").await.unwrap(),
            hash("same").await.unwrap(),
            "salted"
        );
    }
}
