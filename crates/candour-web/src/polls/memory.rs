//! What the vote handler keeps in memory: polls for two seconds, the day's salt, and each
//! address's tally of votes today.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration as StdDuration, Instant};

use candour_core::poll::Poll;
use candour_core::signer::{Purpose, PurposeKey, Signer};
use candour_core::store::{PollStore, VoteStore};
use tokio::sync::{Mutex, RwLock};

use crate::kit::error::AppError;

/// Polls as the vote handler needs them (question, options, times), kept for two seconds so a
/// burst of votes does not read the same poll thousands of times. The store checks again, in
/// the vote's own transaction, that the poll is still open, so a poll closed meanwhile takes
/// no votes; admin changes on this instance forget the entry at once.
#[derive(Default)]
pub(crate) struct PollCache(RwLock<HashMap<i64, (Instant, Arc<Poll>)>>);

const POLL_CACHE_TTL: StdDuration = StdDuration::from_secs(2);

impl PollCache {
    pub(crate) async fn get(
        &self,
        store: &dyn PollStore,
        id: i64,
    ) -> Result<Option<Arc<Poll>>, AppError> {
        if let Some((at, poll)) = self.0.read().await.get(&id)
            && at.elapsed() < POLL_CACHE_TTL
        {
            return Ok(Some(poll.clone()));
        }
        let Some(poll) = store.poll(id).await? else {
            self.forget(id).await;
            return Ok(None);
        };
        let poll = Arc::new(poll);
        let mut map = self.0.write().await;
        if map.len() > 1000 {
            map.retain(|_, (at, _)| at.elapsed() < POLL_CACHE_TTL);
        }
        map.insert(id, (Instant::now(), poll.clone()));
        Ok(Some(poll))
    }

    pub(crate) async fn forget(&self, id: i64) {
        self.0.write().await.remove(&id);
    }
}

/// The salt of the day for anonymous voter hashes, cached for the day.
#[derive(Default)]
pub(crate) struct DaySalt(RwLock<Option<(String, Arc<PurposeKey>)>>);

impl DaySalt {
    /// The voter-hash key of `day`: derived from the day's salt, which every instance shares
    /// through the store and which is forgotten with the day's hashes.
    pub(crate) async fn get(
        &self,
        store: &dyn VoteStore,
        day: &str,
    ) -> Result<Arc<PurposeKey>, AppError> {
        if let Some((d, key)) = self.0.read().await.as_ref()
            && d == day
        {
            return Ok(key.clone());
        }
        let fresh: [u8; 32] = rand::random();
        let salt = store.day_salt(day, &fresh).await?;
        let key = Arc::new(PurposeKey::derive(&salt, Purpose::VoterHash));
        *self.0.write().await = Some((day.to_owned(), key.clone()));
        Ok(key)
    }
}

/// Votes from each internet address in each poll today, counted in this process so that the
/// ceiling costs no database write on the vote's path (with several instances, each counts
/// its own). Keys are keyed hashes: no address is held, even in memory.
#[derive(Default)]
pub(crate) struct AddressVotes(Mutex<(String, HashMap<[u8; 16], u32>)>);

/// Past this many addresses in a day the tally stops growing; an address it has not seen is
/// then not held back (failing open keeps a flood of addresses from using up memory).
const MAX_ADDRESSES: usize = 1_000_000;

impl AddressVotes {
    /// The tally's key for `address` in `poll`.
    pub(crate) fn key(signer: &Signer, poll: i64, address: &str) -> [u8; 16] {
        let digest = signer.digest(
            Purpose::PollAddress,
            &[&poll.to_be_bytes(), address.as_bytes()],
        );
        let mut id = [0u8; 16];
        id.copy_from_slice(&digest[..16]);
        id
    }

    /// Take one of the address's `ceiling` votes for `day`, checking and counting together so
    /// votes sent at once cannot all pass; `false` when none is left. A vote that is then not
    /// counted gives its place back (`give_back`).
    pub(crate) async fn take(&self, id: [u8; 16], day: &str, ceiling: u32) -> bool {
        let mut guard = self.0.lock().await;
        let (today, counts) = &mut *guard;
        if today != day {
            *today = day.to_owned();
            counts.clear();
        }
        match counts.get_mut(&id) {
            Some(n) if *n >= ceiling => false,
            Some(n) => {
                *n += 1;
                true
            }
            None => {
                if counts.len() < MAX_ADDRESSES {
                    counts.insert(id, 1);
                }
                true
            }
        }
    }

    /// Give back a place taken for a vote that was not counted.
    pub(crate) async fn give_back(&self, id: [u8; 16], day: &str) {
        let mut guard = self.0.lock().await;
        if guard.0 == day
            && let Some(n) = guard.1.get_mut(&id)
        {
            *n = n.saturating_sub(1);
        }
    }
}
