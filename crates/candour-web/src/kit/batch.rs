//! The group commit: one generic queue in front of a store call that writes many items at
//! once. Requests hand their items to the queue; a writer task takes every item waiting (up
//! to a batch's worth), writes them with one store call, and answers each waiter with its
//! own outcome, so under load one sync to disk covers many items. Votes and tracking events
//! use it; each request waits until its item is durable.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};

/// What a writer's store call gives back.
pub(crate) type Written<'a, O> = Pin<Box<dyn Future<Output = Result<Vec<O>, String>> + Send + 'a>>;

/// The store call behind a queue.
pub(crate) trait Writer: Send + Sync + 'static {
    type Item: Send + 'static;
    type Outcome: Send + 'static;

    /// Write `items` in one store call: one outcome per item, in order. An error is read as
    /// nothing written; the queue tries once more, then answers every waiter with it.
    fn write<'a>(&'a self, items: &'a [Self::Item]) -> Written<'a, Self::Outcome>;
}

/// How a queue gathers its batches.
pub(crate) struct Settings {
    /// Names the writer's thread and its log lines.
    pub name: &'static str,
    /// The most items written in one store call.
    pub max_batch: usize,
    /// How many items may wait before submitting waits for room.
    pub capacity: usize,
    /// How long to let items gather after the first of a batch; zero writes at once what
    /// has arrived (under load a batch fills while the previous one is being written).
    pub gather: Duration,
    /// The pause before the one retry of a failed write.
    pub retry_after: Duration,
    /// Run the writer on a thread of its own rather than on the shared runtime.
    pub own_thread: bool,
    /// How long a submitter waits for its item to be written. Past it the answer is
    /// `NotWritten::TimedOut` (the item may still be written later), so a database that is
    /// gone costs a request this long, not a wait behind every failing batch before it.
    pub max_wait: Duration,
}

type Reply<O> = oneshot::Sender<Result<O, String>>;

enum Message<T, O> {
    Item(T, Option<Reply<O>>),
    /// Answered once everything submitted before it is written.
    Flush(oneshot::Sender<()>),
}

/// Why a submitted item has no outcome.
#[derive(Debug)]
pub(crate) enum NotWritten {
    /// The writer has stopped.
    Stopped,
    /// The writer dropped the item without answering.
    Dropped,
    /// The store call failed, twice.
    Failed(String),
    /// Not written within the queue's `max_wait`.
    TimedOut,
}

/// A group-commit queue in front of a `Writer`.
pub(crate) struct Queue<W: Writer> {
    tx: mpsc::Sender<Message<W::Item, W::Outcome>>,
    /// Items submitted and not yet written (waiting, or in the batch being written). Counted
    /// once an item is in the channel (a send cut short queues nothing, so a cancelled
    /// request leaves no count behind); the writer may take it away first, so it can be
    /// below zero for a moment.
    pending: Arc<AtomicIsize>,
    name: &'static str,
    max_wait: Duration,
}

impl<W: Writer> Queue<W> {
    /// Start the writer and return its queue.
    pub(crate) fn start(writer: W, settings: Settings) -> Queue<W> {
        let (tx, rx) = mpsc::channel(settings.capacity);
        let pending = Arc::new(AtomicIsize::new(0));
        let name = settings.name;
        let counted = pending.clone();
        let max_wait = settings.max_wait;
        if settings.own_thread {
            // On the shared runtime the writer would wait its turn behind every request task
            // at each step of a batch, and batches would take longer than their writes do.
            let spawned = std::thread::Builder::new()
                .name(format!("candour-{name}"))
                .spawn(move || {
                    match tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                    {
                        Ok(rt) => rt.block_on(run(writer, settings, rx, counted)),
                        Err(e) => tracing::error!(error = %e, queue = name, "Could not start a batch writer."),
                    }
                });
            if let Err(e) = spawned {
                tracing::error!(error = %e, queue = name, "Could not start a batch writer's thread.");
            }
        } else {
            tokio::spawn(run(writer, settings, rx, counted));
        }
        Queue {
            tx,
            pending,
            name,
            max_wait,
        }
    }

    /// How many items are submitted and not yet written, for the metrics endpoint.
    pub(crate) fn depth(&self) -> usize {
        usize::try_from(self.pending.load(Ordering::Relaxed)).unwrap_or(0)
    }

    /// Queue an item and wait until it is written (or refused), at most `max_wait`.
    pub(crate) async fn submit(&self, item: W::Item) -> Result<W::Outcome, NotWritten> {
        let written = async {
            let (reply, answer) = oneshot::channel();
            self.tx
                .send(Message::Item(item, Some(reply)))
                .await
                .map_err(|_| NotWritten::Stopped)?;
            self.pending.fetch_add(1, Ordering::Relaxed);
            match answer.await {
                Ok(Ok(outcome)) => Ok(outcome),
                Ok(Err(e)) => Err(NotWritten::Failed(e)),
                Err(_) => Err(NotWritten::Dropped),
            }
        };
        tokio::time::timeout(self.max_wait, written)
            .await
            .unwrap_or_else(|_| {
                metrics::counter!("candour_queue_timed_out_total", "queue" => self.name)
                    .increment(1);
                Err(NotWritten::TimedOut)
            })
    }

    /// Queue an item, waiting for room but not for it to be written: `false` when the writer
    /// has stopped. For a producer that must not drop what it already accepted.
    pub(crate) async fn put(&self, item: W::Item) -> bool {
        let sent = self.tx.send(Message::Item(item, None)).await.is_ok();
        if sent {
            self.pending.fetch_add(1, Ordering::Relaxed);
        }
        sent
    }

    /// Wait until everything submitted before this call has been written (or has failed).
    pub(crate) async fn flush(&self) {
        let (done, written) = oneshot::channel();
        if self.tx.send(Message::Flush(done)).await.is_ok() {
            let _ = written.await;
        }
    }
}

/// A batch as the writer gathers it.
struct Batch<T, O> {
    items: Vec<T>,
    replies: Vec<Option<Reply<O>>>,
    flushes: Vec<oneshot::Sender<()>>,
}

impl<T, O> Batch<T, O> {
    fn take(&mut self, message: Message<T, O>) {
        match message {
            Message::Item(item, reply) => {
                self.items.push(item);
                self.replies.push(reply);
            }
            Message::Flush(done) => self.flushes.push(done),
        }
    }
}

async fn run<W: Writer>(
    writer: W,
    settings: Settings,
    mut rx: mpsc::Receiver<Message<W::Item, W::Outcome>>,
    pending: Arc<AtomicIsize>,
) {
    let max = settings.max_batch;
    let mut received = Vec::with_capacity(max);
    let mut batch = Batch {
        items: Vec::with_capacity(max),
        replies: Vec::with_capacity(max),
        flushes: Vec::new(),
    };
    // Wait for one item, then take whatever else has arrived meanwhile.
    while rx.recv_many(&mut received, max).await > 0 {
        for message in received.drain(..) {
            batch.take(message);
        }
        if !settings.gather.is_zero() && !batch.items.is_empty() && batch.items.len() < max {
            tokio::time::sleep(settings.gather).await;
            while batch.items.len() < max
                && let Ok(message) = rx.try_recv()
            {
                batch.take(message);
            }
        }
        if !batch.items.is_empty() {
            let items = isize::try_from(batch.items.len()).unwrap_or(isize::MAX);
            write(&writer, &settings, &mut batch).await;
            pending.fetch_sub(items, Ordering::Relaxed);
        }
        for done in batch.flushes.drain(..) {
            let _ = done.send(());
        }
    }
}

async fn write<W: Writer>(writer: &W, settings: &Settings, batch: &mut Batch<W::Item, W::Outcome>) {
    let started = Instant::now();
    let mut result = writer.write(&batch.items).await;
    let took = started.elapsed();
    tracing::debug!(
        queue = settings.name,
        items = batch.items.len(),
        micros = took.as_micros() as u64,
        "Wrote a batch."
    );
    let queue = settings.name;
    metrics::histogram!("candour_queue_flush_items", "queue" => queue)
        .record(batch.items.len() as f64);
    metrics::histogram!("candour_queue_flush_seconds", "queue" => queue).record(took);
    if result.is_err() {
        // One retry covers a transient failure (a deadlock between instances, a dropped
        // connection).
        tokio::time::sleep(settings.retry_after).await;
        result = writer.write(&batch.items).await;
    }
    match result {
        Ok(outcomes) => {
            metrics::counter!("candour_queue_items_total", "queue" => queue, "result" => "written")
                .increment(batch.items.len() as u64);
            for (reply, outcome) in batch.replies.drain(..).zip(outcomes) {
                if let Some(reply) = reply {
                    let _ = reply.send(Ok(outcome));
                }
            }
        }
        Err(e) => {
            tracing::error!(error = %e, queue = settings.name, items = batch.items.len(), "Could not write a batch.");
            metrics::counter!("candour_queue_items_total", "queue" => queue, "result" => "failed")
                .increment(batch.items.len() as u64);
            for reply in batch.replies.drain(..).flatten() {
                let _ = reply.send(Err(e.clone()));
            }
        }
    }
    batch.items.clear();
    batch.replies.clear();
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use tokio::sync::Semaphore;

    use super::*;

    /// Writes a batch only when the test gives it a permit.
    struct Gated(Arc<Semaphore>);

    impl Writer for Gated {
        type Item = u32;
        type Outcome = ();

        fn write<'a>(&'a self, items: &'a [u32]) -> Written<'a, ()> {
            Box::pin(async move {
                self.0.acquire().await.map_err(|e| e.to_string())?.forget();
                Ok(vec![(); items.len()])
            })
        }
    }

    fn settings(name: &'static str, max_batch: usize, capacity: usize, wait: Duration) -> Settings {
        Settings {
            name,
            max_batch,
            capacity,
            gather: Duration::ZERO,
            retry_after: Duration::from_millis(1),
            own_thread: false,
            max_wait: wait,
        }
    }

    #[tokio::test]
    async fn depth_counts_what_is_submitted_and_not_yet_written() {
        let gate = Arc::new(Semaphore::new(0));
        let queue = Arc::new(Queue::start(
            Gated(gate.clone()),
            settings("test", 2, 8, Duration::from_secs(30)),
        ));
        assert_eq!(queue.depth(), 0);
        let mut waiting = tokio::task::JoinSet::new();
        for i in 0..5 {
            let q = queue.clone();
            waiting.spawn(async move { q.submit(i).await });
        }
        for _ in 0..100 {
            if queue.depth() == 5 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert_eq!(
            queue.depth(),
            5,
            "two in the batch being written, three waiting"
        );
        // A submission given up while the queue is full leaves no count behind.
        let tiny = Arc::new(Queue::start(
            Gated(Arc::new(Semaphore::new(0))),
            settings("tiny", 1, 1, Duration::from_secs(30)),
        ));
        let mut stuck = tokio::task::JoinSet::new();
        for i in 1..=2 {
            let t = tiny.clone();
            stuck.spawn(async move { t.submit(i).await });
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let cut_short = tokio::time::timeout(Duration::from_millis(20), tiny.submit(4)).await;
        assert!(cut_short.is_err());
        assert_eq!(tiny.depth(), 2);
        stuck.abort_all();

        gate.add_permits(3);
        while let Some(done) = waiting.join_next().await {
            assert!(done.unwrap().is_ok());
        }
        queue.flush().await;
        assert_eq!(queue.depth(), 0);
    }

    #[tokio::test]
    async fn a_waiter_gives_up_after_max_wait_and_is_told_so() {
        let queue = Queue::start(
            Gated(Arc::new(Semaphore::new(0))),
            settings("slow", 4, 8, Duration::from_millis(30)),
        );
        let started = Instant::now();
        assert!(matches!(queue.submit(1).await, Err(NotWritten::TimedOut)));
        assert!(started.elapsed() < Duration::from_secs(5));
    }
}
