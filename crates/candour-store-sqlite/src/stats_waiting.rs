//! Hits waiting to be folded, as SQLite keeps them: a row of `stats_hits` per group commit,
//! holding that batch's hits as a JSON array in the order they arrived. A row per batch
//! rather than per hit keeps the beacon's share of the one writer small: the queue's commit
//! is a single insert, and a fold reads and deletes a few rows, not thousands.
//!
//! Each hit is the array `[at, event, path, visitor, referrer, utm_source, utm_medium,
//! utm_campaign, browser, os, device, country]`: `at` in Unix seconds, `event` empty for a
//! page view, `visitor` the day hash in lowercase hex, and `null` for what is not known
//! (migration 0030 wrote the hits it found in the same form).

use candour_core::stats::{Device, Hit, HitKind, VisitorHash};
use candour_core::store::{StoreError, StoreResult};
use serde::{Deserialize, Serialize};
use sqlx::{SqliteConnection, SqliteExecutor};

use crate::{db, from_unix, unix};

/// One hit in a batch's JSON (see the module's documentation for the order).
#[derive(Serialize, Deserialize)]
struct Stored<S>(
    i64,
    S,
    S,
    S,
    Option<S>,
    Option<S>,
    Option<S>,
    Option<S>,
    Option<S>,
    Option<S>,
    Option<S>,
    Option<S>,
);

/// `hits` as a batch's JSON.
fn encode(hits: &[Hit]) -> StoreResult<String> {
    let visitors: Vec<String> = hits.iter().map(|h| hex::encode(h.visitor.0)).collect();
    let stored: Vec<Stored<&str>> = hits
        .iter()
        .zip(&visitors)
        .map(|(h, visitor)| {
            Stored(
                unix(h.at),
                match &h.kind {
                    HitKind::PageView => "",
                    HitKind::Event(name) => name,
                },
                &h.path,
                visitor,
                h.referrer.as_deref(),
                h.utm_source.as_deref(),
                h.utm_medium.as_deref(),
                h.utm_campaign.as_deref(),
                h.browser.as_deref(),
                h.os.as_deref(),
                h.device.map(Device::code),
                h.country.as_deref(),
            )
        })
        .collect();
    serde_json::to_string(&stored).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// A batch's hits, from its JSON.
fn decode(json: &str) -> StoreResult<Vec<Hit>> {
    let corrupt = |what: String| StoreError::Corrupt(format!("a batch of waiting hits: {what}"));
    let stored: Vec<Stored<String>> =
        serde_json::from_str(json).map_err(|e| corrupt(e.to_string()))?;
    stored
        .into_iter()
        .map(|s| {
            let mut visitor = [0; 16];
            hex::decode_to_slice(&s.3, &mut visitor)
                .map_err(|_| corrupt(format!("the visitor {:?} is not 16 bytes in hex", s.3)))?;
            Ok(Hit {
                at: from_unix(s.0)?,
                kind: if s.1.is_empty() {
                    HitKind::PageView
                } else {
                    HitKind::Event(s.1)
                },
                path: s.2,
                visitor: VisitorHash(visitor),
                referrer: s.4,
                utm_source: s.5,
                utm_medium: s.6,
                utm_campaign: s.7,
                browser: s.8,
                os: s.9,
                device: s.10.as_deref().and_then(Device::parse),
                country: s.11,
            })
        })
        .collect()
}

/// Store `hits` as one batch (nothing for none).
pub(crate) async fn record(conn: impl SqliteExecutor<'_>, hits: &[Hit]) -> StoreResult<()> {
    let Some((first, last)) = span(hits) else {
        return Ok(());
    };
    sqlx::query("INSERT INTO stats_hits (first_at, last_at, count, hits) VALUES (?, ?, ?, ?)")
        .bind(first)
        .bind(last)
        .bind(hits.len() as i64)
        .bind(encode(hits)?)
        .execute(conn)
        .await
        .map_err(db)?;
    Ok(())
}

/// The earliest and latest time in `hits`, in Unix seconds.
fn span(hits: &[Hit]) -> Option<(i64, i64)> {
    let first = hits.iter().map(|h| unix(h.at)).min()?;
    let last = hits.iter().map(|h| unix(h.at)).max()?;
    Some((first, last))
}

/// Write a batch's remaining `hits` back in place of `id`, or delete it when none remain.
async fn rewrite(conn: &mut SqliteConnection, id: i64, hits: &[Hit]) -> StoreResult<()> {
    match span(hits) {
        Some((first, last)) => {
            sqlx::query(
                "UPDATE stats_hits SET first_at = ?, last_at = ?, count = ?, hits = ? WHERE id = ?",
            )
            .bind(first)
            .bind(last)
            .bind(hits.len() as i64)
            .bind(encode(hits)?)
            .bind(id)
            .execute(&mut *conn)
            .await
            .map_err(db)?;
        }
        None => {
            sqlx::query("DELETE FROM stats_hits WHERE id = ?")
                .bind(id)
                .execute(&mut *conn)
                .await
                .map_err(db)?;
        }
    }
    Ok(())
}

/// Take up to `limit` waiting hits, oldest batch first, out of the table: whole batches
/// while they fit, then the first part of the next (its rest stays, in order). The caller
/// holds the write lock, and rolls the taking back with its transaction if the fold fails.
pub(crate) async fn take(conn: &mut SqliteConnection, limit: u32) -> StoreResult<Vec<Hit>> {
    let limit = limit as usize;
    // Every batch holds at least one hit, so no more than `limit` batches are needed.
    let sizes: Vec<(i64, i64)> =
        sqlx::query_as("SELECT id, count FROM stats_hits ORDER BY id LIMIT ?")
            .bind(limit as i64)
            .fetch_all(&mut *conn)
            .await
            .map_err(db)?;
    let mut whole_to = None;
    let mut partial = None;
    let mut taken = 0;
    for (id, count) in sizes {
        let count = usize::try_from(count).unwrap_or(0);
        if taken + count <= limit {
            taken += count;
            whole_to = Some(id);
        } else {
            if taken < limit {
                partial = Some((id, limit - taken));
            }
            break;
        }
    }
    let mut hits = Vec::with_capacity(taken);
    if let Some(last) = whole_to {
        // Read as they are deleted; `RETURNING` promises no order, so they are put in order.
        let mut batches: Vec<(i64, String)> =
            sqlx::query_as("DELETE FROM stats_hits WHERE id <= ? RETURNING id, hits")
                .bind(last)
                .fetch_all(&mut *conn)
                .await
                .map_err(db)?;
        batches.sort_unstable_by_key(|(id, _)| *id);
        for (_, batch) in batches {
            hits.extend(decode(&batch)?);
        }
    }
    if let Some((id, n)) = partial {
        let batch: String = sqlx::query_scalar("SELECT hits FROM stats_hits WHERE id = ?")
            .bind(id)
            .fetch_one(&mut *conn)
            .await
            .map_err(db)?;
        let mut batch = decode(&batch)?;
        let rest = batch.split_off(n.min(batch.len()));
        hits.extend(batch);
        rewrite(conn, id, &rest).await?;
    }
    Ok(hits)
}

/// Delete every waiting hit from before `start` (Unix seconds); returns how many went.
/// A batch that began before `start` and ended after it keeps its later hits.
pub(crate) async fn forget_before(conn: &mut SqliteConnection, start: i64) -> StoreResult<u64> {
    let whole: Vec<i64> =
        sqlx::query_scalar("DELETE FROM stats_hits WHERE last_at < ? RETURNING count")
            .bind(start)
            .fetch_all(&mut *conn)
            .await
            .map_err(db)?;
    let mut gone: u64 = whole.into_iter().map(|n| n.max(0) as u64).sum();
    let straddling: Vec<(i64, String)> =
        sqlx::query_as("SELECT id, hits FROM stats_hits WHERE first_at < ? ORDER BY id")
            .bind(start)
            .fetch_all(&mut *conn)
            .await
            .map_err(db)?;
    for (id, batch) in straddling {
        let mut hits = decode(&batch)?;
        let before = hits.len();
        hits.retain(|h| unix(h.at) >= start);
        gone += (before - hits.len()) as u64;
        rewrite(conn, id, &hits).await?;
    }
    Ok(gone)
}

/// The earliest time of a waiting hit, in Unix seconds.
pub(crate) async fn earliest(conn: &mut SqliteConnection) -> StoreResult<Option<i64>> {
    sqlx::query_scalar("SELECT MIN(first_at) FROM stats_hits")
        .fetch_one(&mut *conn)
        .await
        .map_err(db)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SqliteStore;
    use sqlx::Acquire;
    use time::macros::datetime;

    async fn store() -> (tempfile::TempDir, SqliteStore) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("t.db").display());
        let store = SqliteStore::open(&url).await.unwrap();
        (dir, store)
    }

    async fn take_from(store: &SqliteStore, limit: u32) -> Vec<Hit> {
        let mut conn = store.writer.acquire().await.unwrap();
        let mut tx = conn.begin().await.unwrap();
        let hits = take(&mut tx, limit).await.unwrap();
        tx.commit().await.unwrap();
        hits
    }

    /// Record `hits` as batches, cut before each index in `cuts`.
    async fn record_in_batches(store: &SqliteStore, hits: &[Hit], cuts: &[usize]) {
        let mut from = 0;
        for &to in cuts.iter().chain([&hits.len()]) {
            record(&store.writer, &hits[from..to]).await.unwrap();
            from = to;
        }
    }

    async fn waiting(store: &SqliteStore) -> Vec<(i64, i64, i64)> {
        sqlx::query_as("SELECT first_at, last_at, count FROM stats_hits ORDER BY id")
            .fetch_all(&store.writer)
            .await
            .unwrap()
    }

    fn hit(n: u8, kind: HitKind) -> Hit {
        Hit {
            at: datetime!(2026-03-02 10:00 UTC) + time::Duration::seconds(i64::from(n)),
            kind,
            path: format!("/page/{n}"),
            visitor: VisitorHash([n; 16]),
            referrer: n.is_multiple_of(2).then(|| "news.example".to_owned()),
            utm_source: Some("newsletter".to_owned()),
            utm_medium: None,
            utm_campaign: Some("spring \"offer\" ✓".to_owned()),
            browser: Some("Firefox".to_owned()),
            os: None,
            device: Device::parse("mobile"),
            country: Some("GB".to_owned()),
        }
    }

    #[test]
    fn a_batch_reads_back_as_it_was_written() {
        let hits = vec![
            hit(1, HitKind::PageView),
            hit(2, HitKind::Event("Download".to_owned())),
        ];
        let back = decode(&encode(&hits).unwrap()).unwrap();
        assert_eq!(back, hits);
    }

    #[test]
    fn a_damaged_batch_is_an_error_that_says_what() {
        let mut json = encode(&[hit(1, HitKind::PageView)]).unwrap();
        json = json.replace(&hex::encode([1u8; 16]), "abc");
        let err = decode(&json).unwrap_err().to_string();
        assert!(err.contains("visitor") && err.contains("abc"), "{err}");
        assert!(decode("[[1]]").is_err());
    }

    #[tokio::test]
    async fn a_fold_takes_whole_batches_then_the_first_part_of_the_next() {
        let (_dir, store) = store().await;
        let hits: Vec<Hit> = (0..7).map(|n| hit(n, HitKind::PageView)).collect();
        record_in_batches(&store, &hits, &[3, 6]).await;
        record(&store.writer, &[]).await.unwrap();
        assert_eq!(waiting(&store).await.len(), 3, "no row for an empty batch");
        assert_eq!(take_from(&store, 5).await, hits[..5]);
        let at = |n: usize| unix(hits[n].at);
        assert_eq!(
            waiting(&store).await,
            vec![(at(5), at(5), 1), (at(6), at(6), 1)],
            "the rest of the second batch stays before the third"
        );
        assert_eq!(take_from(&store, 0).await, vec![]);
        assert_eq!(take_from(&store, 100).await, hits[5..]);
        assert_eq!(waiting(&store).await, vec![]);
    }

    #[tokio::test]
    async fn forgetting_a_day_keeps_the_later_hits_of_a_batch_across_midnight() {
        let (_dir, store) = store().await;
        let hits: Vec<Hit> = (0..6).map(|n| hit(n, HitKind::PageView)).collect();
        record_in_batches(&store, &hits, &[2, 5]).await;
        let mut conn = store.writer.acquire().await.unwrap();
        let gone = forget_before(&mut conn, unix(hits[3].at)).await.unwrap();
        drop(conn);
        assert_eq!(gone, 3);
        assert_eq!(take_from(&store, 100).await, hits[3..]);
    }

    /// Migration 0030 carries the hits waiting in the table before it (a row per hit) over
    /// into one batch, in the order they arrived.
    #[tokio::test]
    async fn hits_waiting_a_row_each_are_carried_over_into_a_batch() {
        let (_dir, store) = store().await;
        let old_table = "DROP TABLE stats_hits;
            CREATE TABLE stats_hits (
                id INTEGER PRIMARY KEY, at INTEGER NOT NULL, event TEXT NOT NULL DEFAULT '',
                path TEXT NOT NULL, visitor BLOB NOT NULL CHECK (length(visitor) = 16),
                referrer TEXT, utm_source TEXT, utm_medium TEXT, utm_campaign TEXT,
                browser TEXT, os TEXT, device TEXT, country TEXT);
            CREATE INDEX stats_hits_at ON stats_hits (at);";
        let migration = include_str!("../migrations/0030_statistics_hit_batches.sql");
        sqlx::raw_sql(old_table)
            .execute(&store.writer)
            .await
            .unwrap();
        sqlx::raw_sql(migration)
            .execute(&store.writer)
            .await
            .unwrap();
        assert_eq!(waiting(&store).await, vec![], "nothing waiting, no batch");

        sqlx::raw_sql(old_table)
            .execute(&store.writer)
            .await
            .unwrap();
        // Out of time order, as hits from two instances can be: the order kept is arrival's.
        let hits = vec![
            hit(4, HitKind::PageView),
            hit(1, HitKind::Event("Download".to_owned())),
            Hit {
                referrer: None,
                utm_source: None,
                utm_campaign: None,
                browser: None,
                device: None,
                country: None,
                ..hit(9, HitKind::PageView)
            },
        ];
        for h in &hits {
            sqlx::query(
                "INSERT INTO stats_hits (at, event, path, visitor, referrer, utm_source, \
                 utm_medium, utm_campaign, browser, os, device, country) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(unix(h.at))
            .bind(match &h.kind {
                HitKind::PageView => "",
                HitKind::Event(name) => name,
            })
            .bind(&h.path)
            .bind(h.visitor.0.to_vec())
            .bind(&h.referrer)
            .bind(&h.utm_source)
            .bind(&h.utm_medium)
            .bind(&h.utm_campaign)
            .bind(&h.browser)
            .bind(&h.os)
            .bind(h.device.map(Device::code))
            .bind(&h.country)
            .execute(&store.writer)
            .await
            .unwrap();
        }
        sqlx::raw_sql(migration)
            .execute(&store.writer)
            .await
            .unwrap();
        assert_eq!(
            waiting(&store).await,
            vec![(unix(hits[1].at), unix(hits[2].at), 3)]
        );
        assert_eq!(take_from(&store, 100).await, hits);
    }
}
