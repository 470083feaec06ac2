//! The folder: every ten seconds (and once more when the server stops) the waiting hits are
//! folded into the totals and idle visits are ended. When a UK day has ended, and hourly
//! besides, the day's salt, its marks and visits, and totals past `[stats]
//! retention_months` are deleted. Several instances may fold at once: the store lets one
//! fold at a time and every total is added to, never overwritten.
//!
//! The folder has a thread of its own, and gives way to visitors: through a backlog (more
//! than a batch of hits waiting to be folded) while hits keep arriving, each batch first
//! lets every hit in memory be written, then rests as long as it took, so a burst of
//! traffic is answered first and folded after.

use std::time::{Duration, Instant};

use candour_core::stats::{totals_kept_from, uk_day};
use candour_core::store::StoreError;

use crate::AppState;

/// How often waiting hits are folded.
const EVERY: Duration = Duration::from_secs(10);
/// Hits folded in one transaction: small enough that a fold holds the lock briefly (under
/// a second), large enough that a busy minute's hits share their rows' updates (a
/// popular page's row is written once per batch, not once per hit). `bench/statistics.sh`
/// loads its events in batches of the same size.
const BATCH: u32 = 5_000;
/// Hits folded in one transaction while hits wait in memory to be recorded: the writer is
/// the database's one, so a shorter fold lets them in sooner. A fold of 5,000 hits from as
/// many new visitors can take most of a second on a busy 2-core machine, long enough for a
/// burst of beacons to fill the counting queues. One of 1,000 holds the writer less than
/// half as long, though each hit costs about twice as much to fold (a fold's cost is mostly
/// the rows of totals it touches, much the same for 1,000 hits as for 5,000): on SQLite with
/// nothing else running, 50,000 new visitors took about 0.06 s a batch of 1,000 and about
/// 0.14 s a batch of 5,000.
const BUSY_BATCH: u32 = 1_000;
/// The longest rest between two batches while hits keep arriving.
const MAX_REST: Duration = Duration::from_secs(1);

impl AppState {
    /// Fold every waiting hit, end idle visits and, when due, forget the days that are over
    /// and totals past retention. Returns how many hits were folded.
    pub async fn fold_statistics(&self) -> Result<u64, StoreError> {
        let store = &self.inner.stores.stats_ingest;
        let mut folded = 0;
        let mut now;
        loop {
            // Read the clock for each batch: under a backlog the loop can run for minutes.
            now = self.now();
            let limit = if self.inner.stats.depth() > 0 {
                BUSY_BATCH
            } else {
                BATCH
            };
            let started = Instant::now();
            let f = store.fold_hits(now, limit).await?;
            let took = started.elapsed();
            metrics::histogram!("candour_stats_fold_seconds").record(took);
            metrics::counter!("candour_stats_hits_folded_total").increment(f.hits);
            folded += f.hits;
            if f.hits < u64::from(limit) {
                break;
            }
            // Recording goes first: every hit waiting in memory (with the counting worker
            // or in the hit queue) is written before the next batch is folded, so each fold
            // starts with the queues' whole room free and a backlog to fold does not keep
            // them full (turning visitors' hits away) while the store is busy folding. Hits
            // still to fold wait in the store, where nothing is lost.
            if self.inner.stats.depth() > 0 {
                self.inner.stats.flush().await;
                // Visitors go first too: while hits keep arriving the fold rests as long as
                // its batch took, so it takes at most half of its thread's time and a burst
                // keeps the cores it needs; the backlog is folded at full speed once the
                // burst has passed.
                tokio::time::sleep(took.min(MAX_REST)).await;
            }
        }
        let today = uk_day(now);
        let mut purged = self.inner.stats.purged.lock().await;
        let due = purged.is_none_or(|(day, at)| day != today || now - at >= time::Duration::HOUR);
        if due {
            let months = self.inner.config.stats.retention_months;
            let gone = store
                .purge_stats(totals_kept_from(now, months), today)
                .await?;
            if gone > 0 {
                tracing::info!(rows = gone, "Forgot the statistics of days that are over.");
            }
            *purged = Some((today, now));
        }
        Ok(folded)
    }

    /// Fold statistics every ten seconds until `stop`, on a thread of its own. A fold's own
    /// work (reading thousands of hits back, working out their totals, binding the rows to
    /// write) keeps a thread busy for tens of milliseconds at a time: as a task on the
    /// shared runtime it would hold up every request queued behind it on the same worker,
    /// while on a thread of its own the system shares the cores out between it and the
    /// requests. Its connections and timers stay the runtime's (`Handle::block_on`), so a
    /// database connection it opens serves requests as well, and outlives the folder. Must
    /// be called within a multi-threaded runtime (a current-thread runtime drives its
    /// connections and timers only inside its own `block_on`). The receiver is answered
    /// when the folder has stopped (or could not start).
    pub fn spawn_statistics_folder(
        &self,
        stop: tokio::sync::watch::Receiver<bool>,
    ) -> tokio::sync::oneshot::Receiver<()> {
        let (stopped, answer) = tokio::sync::oneshot::channel();
        let runtime = match tokio::runtime::Handle::try_current() {
            Ok(handle) => handle,
            Err(e) => {
                tracing::error!(error = %e, "The statistics folder was started outside the runtime.");
                return answer;
            }
        };
        let state = self.clone();
        let spawned = std::thread::Builder::new()
            .name("candour-folder".to_owned())
            .spawn(move || {
                runtime.block_on(state.run_statistics_until(stop));
                let _ = stopped.send(());
            });
        if let Err(e) = spawned {
            tracing::error!(error = %e, "Could not start the statistics folder's thread.");
        }
        answer
    }

    /// Fold statistics every ten seconds until `stop`, then write the hits in memory and
    /// fold once more.
    async fn run_statistics_until(&self, mut stop: tokio::sync::watch::Receiver<bool>) {
        if !self.inner.config.stats.enabled {
            return;
        }
        let mut tick = tokio::time::interval(EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = stop.wait_for(|s| *s) => break,
            }
            if let Err(e) = self.fold_statistics().await {
                tracing::warn!(error = %e, "Could not fold the statistics; will try again.");
            }
        }
        self.inner.stats.flush().await;
        if let Err(e) = self.fold_statistics().await {
            tracing::warn!(error = %e, "Could not fold the statistics before stopping.");
        }
    }
}
