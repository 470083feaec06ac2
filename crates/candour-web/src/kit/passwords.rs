//! Password hashing for request handlers: `candour_core::password` on the blocking pool, so
//! the slow Argon2id work never holds up the threads that answer requests.

use candour_core::password::{self, HashError};

/// Hash a password into a PHC string, off the async threads.
pub(crate) async fn hash(password: &str) -> Result<String, HashError> {
    let password = password.to_owned();
    tokio::task::spawn_blocking(move || password::hash(&password))
        .await
        .map_err(|e| HashError(e.to_string()))?
}

/// Whether `password` matches `phc`, off the async threads. With `None`, check against a
/// dummy hash and say no, so that an unknown account takes as long as a known one.
pub(crate) async fn verify(password: &str, phc: Option<&str>) -> bool {
    let password = password.to_owned();
    let phc = phc.map(str::to_owned);
    tokio::task::spawn_blocking(move || password::verify(&password, phc.as_deref()))
        .await
        .unwrap_or(false)
}
