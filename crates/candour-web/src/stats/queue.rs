//! Hits go to the store through the group commit (`kit::batch`): a page never waits for
//! its hit to be written. A crash loses at most the hits still in memory: those waiting
//! for the counting worker (`worker::CAPACITY`), those waiting here (at most `CAPACITY`) and
//! those of the batch being written, in practice the last few milliseconds' worth. The
//! worker waits for room here, so only its own full channel drops a hit
//! (`candour_queue_dropped_total{queue="counting"}`).

use std::sync::Arc;
use std::time::Duration;

use candour_core::stats::Hit;
use candour_core::store::StatsIngestStore;

use crate::kit::batch::{Queue, Settings, Writer, Written};

/// The most hits written in one transaction.
const MAX_BATCH: usize = 1024;
/// How many hits may wait in memory: enough for the next batches while one is written
/// (under load a batch fills while the one before it is being written), and a bound on the
/// memory they hold (a hit is at most about 6 KiB, usually under 1 KiB).
const CAPACITY: usize = 8 * MAX_BATCH;

struct HitWriter(Arc<dyn StatsIngestStore>);

impl Writer for HitWriter {
    type Item = Hit;
    type Outcome = ();

    fn write<'a>(&'a self, hits: &'a [Hit]) -> Written<'a, ()> {
        Box::pin(async move {
            self.0
                .record_hits(hits)
                .await
                .map(|()| vec![(); hits.len()])
                .map_err(|e| e.to_string())
        })
    }
}

pub(crate) struct HitQueue(Queue<HitWriter>);

impl HitQueue {
    pub(crate) fn start(store: Arc<dyn StatsIngestStore>, max_wait: Duration) -> HitQueue {
        HitQueue(Queue::start(
            HitWriter(store),
            Settings {
                name: "hits",
                max_batch: MAX_BATCH,
                capacity: CAPACITY,
                gather: Duration::ZERO,
                retry_after: Duration::from_millis(50),
                own_thread: true,
                max_wait,
            },
        ))
    }

    /// Queue a hit, waiting for room but not for the write; `false` when the writer has
    /// stopped.
    pub(crate) async fn put(&self, hit: Hit) -> bool {
        self.0.put(hit).await
    }

    pub(crate) fn depth(&self) -> usize {
        self.0.depth()
    }

    pub(crate) async fn flush(&self) {
        self.0.flush().await;
    }
}
