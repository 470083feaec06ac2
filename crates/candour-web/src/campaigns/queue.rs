//! The tracking queue: opens and clicks go through the group commit (`kit::batch`). A handler
//! waits until its event is written, so an answer that says an event was recorded is never
//! lost to a crash; under load one commit covers many events.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use candour_core::campaign::TrackingEvent;
use candour_core::store::TrackingStore;

use crate::kit::batch::{NotWritten, Queue, Settings, Writer, Written};

const MAX_BATCH: usize = 1024;

/// How long the writer lets events gather after the first of a batch: not at all, since each
/// request waits for its event. Under load a batch fills while the one before is written.
const GATHER: Duration = Duration::ZERO;

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
    pub(crate) fn start(store: Arc<dyn TrackingStore>, max_wait: Duration) -> TrackingQueue {
        TrackingQueue(Queue::start(
            TrackingWriter(store),
            Settings {
                name: "tracking",
                max_batch: MAX_BATCH,
                capacity: 16 * MAX_BATCH,
                gather: GATHER,
                retry_after: Duration::from_millis(50),
                own_thread: false,
                max_wait,
            },
        ))
    }

    /// Record an event: true once it is written, false (and logged) when the store refused it
    /// twice, it was not written within the queue's time, or the writer has stopped.
    pub(crate) async fn submit(&self, event: TrackingEvent) -> bool {
        match self.0.submit(event).await {
            Ok(()) => true,
            Err(NotWritten::Failed(e)) => {
                tracing::warn!(error = %e, "An open or click could not be recorded.");
                false
            }
            Err(NotWritten::TimedOut) => {
                tracing::warn!("An open or click was not recorded in time.");
                false
            }
            Err(e) => {
                tracing::error!(error = ?e, "The tracking writer has stopped; an event was not recorded.");
                false
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
