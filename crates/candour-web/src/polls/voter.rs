//! The voter key of an anonymous vote in a poll open to anyone.

use candour_core::poll;
use hmac::digest::InvalidLength;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use time::OffsetDateTime;

/// An HMAC, under the day's salt, of the poll, the client address, the user agent and the
/// half-minute. Two votes from one browser on one connection within moments of each other
/// are one person pressing twice: they share a key, which the store keeps unique; people
/// sharing a connection each get their own.
pub(super) fn voter_key(
    salt: &[u8],
    poll_id: i64,
    address: &str,
    agent: &str,
    now: OffsetDateTime,
) -> Result<[u8; 32], InvalidLength> {
    let mut m = Hmac::<Sha256>::new_from_slice(salt)?;
    m.update(&poll_id.to_be_bytes());
    m.update(address.as_bytes());
    m.update(b"\0");
    m.update(agent.as_bytes());
    m.update(b"\0");
    m.update(&(now.unix_timestamp() / poll::REPEAT_WINDOW_SECONDS).to_be_bytes());
    Ok(m.finalize().into_bytes().into())
}
