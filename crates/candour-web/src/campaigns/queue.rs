//! The tracking queue: opens and clicks go through the group commit (`kit::batch`). Handlers
//! wait only for room in the queue, never for the database.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use candour_core::campaign::TrackingEvent;
use candour_core::store::TrackingStore;

use crate::kit::batch::{NotWritten, Queue, Settings, Writer, Written};

const MAX_BATCH: usize = 1024;

/// How long the writer lets events gather after the first of a batch. Nobody waits for a
/// tracking event to be written, so a short wait costs nothing and turns many small
/// transactions (each with its own sync to disk) into a few large ones under load.
const GATHER: Duration = Duration::from_millis(10);

/// Writes a batch of tracking events with one store call.
struct TrackingWriter(Arc<dyn TrackingStore>);

impl Writer for TrackingWriter {
    type Item = TrackingEvent;
    type Outcome = ();

    fn write<'a>(&'a self, events: &'a [TrackingEvent]) -> Written<'a, ()> {
        Box::pin(async move {
            // The same open or click twice in one batch counts once, as the store does
            // within a minute.
            let mut seen = HashSet::with_capacity(events.len());
            let unique: Vec<TrackingEvent> = events
                .iter()
                .filter(|e| seen.insert((e.delivery, e.click, e.link, e.machine)))
                .cloned()
                .collect();
            self.0
                .record_tracking(&unique)
                .await
                .map(|()| vec![(); events.len()])
                .map_err(|e| e.to_string())
        })
    }
}

/// The queue in front of the tracking-event store.
pub(crate) struct TrackingQueue(Queue<TrackingWriter>);

impl TrackingQueue {
    pub(crate) fn start(store: Arc<dyn TrackingStore>) -> TrackingQueue {
        TrackingQueue(Queue::start(
            TrackingWriter(store),
            Settings {
                name: "tracking",
                max_batch: MAX_BATCH,
                capacity: 16 * MAX_BATCH,
                gather: GATHER,
                retry_after: Duration::from_millis(50),
                own_thread: false,
            },
        ))
    }

    /// Queue an event. A full queue (the database slow) slows the answer for up to a second
    /// rather than losing the event; beyond that the event is dropped, and the answer still
    /// goes out.
    pub(crate) async fn submit(&self, event: TrackingEvent) {
        match self.0.offer(event, Duration::from_secs(1)).await {
            Ok(()) => {}
            Err(NotWritten::Full) => {
                tracing::warn!("The tracking queue is full; an event was not recorded.")
            }
            Err(_) => {
                tracing::error!("The tracking writer has stopped; an event was not recorded.")
            }
        }
    }

    /// Items submitted and not yet written.
    pub(crate) fn depth(&self) -> usize {
        self.0.depth()
    }

    /// Wait until every event submitted so far is written.
    pub(crate) async fn flush(&self) {
        self.0.flush().await;
    }
}
