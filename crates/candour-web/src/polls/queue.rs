//! The vote queue: votes are written through the group commit (`kit::batch`). Requests that
//! arrive while a batch is being written wait for the next batch, which is one transaction
//! (`VoteStore::record_votes`), and each request is answered only once its vote is durable.

use std::sync::Arc;
use std::time::Duration;

use candour_core::poll::{NewVote, VoteOutcome};
use candour_core::store::{StoreError, VoteStore};

use crate::kit::batch::{NotWritten, Queue, Settings, Writer, Written};
use crate::kit::error::AppError;

/// The most votes written in one transaction.
const MAX_BATCH: usize = 512;

/// Writes a batch of votes with one store call.
struct VoteWriter(Arc<dyn VoteStore>);

impl Writer for VoteWriter {
    type Item = NewVote;
    type Outcome = VoteOutcome;

    fn write<'a>(&'a self, votes: &'a [NewVote]) -> Written<'a, VoteOutcome> {
        // Most failures come before anything is written; one that comes after (while the
        // store reads back what it inserted) leaves those votes counted, and the queue's
        // retry answers them as repeats: the counts stay right.
        Box::pin(async move { self.0.record_votes(votes).await.map_err(|e| e.to_string()) })
    }
}

/// The queue in front of the vote store.
pub(crate) struct VoteQueue(Queue<VoteWriter>);

impl VoteQueue {
    pub(crate) fn start(store: Arc<dyn VoteStore>, max_wait: Duration) -> VoteQueue {
        VoteQueue(Queue::start(
            VoteWriter(store),
            Settings {
                name: "votes",
                max_batch: MAX_BATCH,
                capacity: 8 * MAX_BATCH,
                gather: Duration::ZERO,
                retry_after: Duration::from_millis(20),
                // Request tasks must not delay the writer.
                own_thread: true,
                max_wait,
            },
        ))
    }

    /// Queue a vote and wait until it is written (or refused).
    pub(crate) async fn submit(&self, vote: NewVote) -> Result<VoteOutcome, AppError> {
        self.0.submit(vote).await.map_err(|e| match e {
            NotWritten::Failed(e) => AppError::Unavailable(StoreError::Unavailable(e.into())),
            NotWritten::TimedOut => AppError::Unavailable(StoreError::Unavailable(
                "the vote was not written in time".into(),
            )),
            NotWritten::Dropped => AppError::Internal("the vote writer dropped a vote".into()),
            NotWritten::Stopped => AppError::Internal("the vote writer has stopped".into()),
        })
    }

    /// Items submitted and not yet written.
    pub(crate) fn depth(&self) -> usize {
        self.0.depth()
    }

    /// Wait until every vote submitted so far is written.
    pub(crate) async fn flush(&self) {
        self.0.flush().await;
    }
}
