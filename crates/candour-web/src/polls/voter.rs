//! The voter key of an anonymous vote in a poll open to anyone.

use candour_core::poll;
use candour_core::signer::PurposeKey;
use time::OffsetDateTime;

/// A keyed hash, under the day's voter-hash key (derived from the day's salt), of the poll,
/// the client address, the user agent and the half-minute. Two votes from one browser on one
/// connection within moments of each other are one person pressing twice: they share a key,
/// which the store keeps unique; people sharing a connection each get their own.
pub(super) fn voter_key(
    day_key: &PurposeKey,
    poll_id: i64,
    address: &str,
    agent: &str,
    now: OffsetDateTime,
) -> [u8; 32] {
    let window = now.unix_timestamp() / poll::REPEAT_WINDOW_SECONDS;
    day_key.digest(&[
        &poll_id.to_be_bytes(),
        address.as_bytes(),
        agent.as_bytes(),
        &window.to_be_bytes(),
    ])
}
