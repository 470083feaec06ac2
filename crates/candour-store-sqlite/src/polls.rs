//! Polls and votes on SQLite. Votes arrive in batches from the group commit: one transaction
//! per batch, so one fsync covers many votes.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use candour_core::poll::{self, Poll, PollDraft, PollOption, ResultsShown};
use candour_core::poll::{NewVote, VoteOutcome, VoterKey, first_votes, settle_uncounted};
use candour_core::store::{PollStore, StoreError, StoreResult, VoteStore, refuse_if};
use sqlx::Sqlite;
use sqlx::sqlite::SqliteRow;
use sqlx::{Acquire, QueryBuilder, Row};
use time::OffsetDateTime;
use tokio::sync::Mutex;

use crate::{BATCH_SHAPES, SqliteStore, batch_shape, db, from_unix, unix};

fn opt_time(v: Option<i64>) -> StoreResult<Option<OffsetDateTime>> {
    v.map(from_unix).transpose()
}

fn poll_from_row(row: &SqliteRow, options: Vec<PollOption>) -> StoreResult<Poll> {
    let results: String = row.try_get("results").map_err(db)?;
    let voters: String = row.try_get("voters").map_err(db)?;
    Ok(Poll {
        id: row.try_get("id").map_err(db)?,
        question: row.try_get("question").map_err(db)?,
        options,
        opens_at: opt_time(row.try_get("opens_at").map_err(db)?)?,
        closes_at: opt_time(row.try_get("closes_at").map_err(db)?)?,
        closed_at: opt_time(row.try_get("closed_at").map_err(db)?)?,
        results: ResultsShown::parse(&results)
            .ok_or_else(|| StoreError::Corrupt("polls.results".to_owned()))?,
        voters: poll::Voters::parse(&voters)
            .ok_or_else(|| StoreError::Corrupt("polls.voters".to_owned()))?,
        created_at: from_unix(row.try_get("created_at").map_err(db)?)?,
    })
}

impl SqliteStore {
    async fn options_of(&self, poll: i64) -> StoreResult<Vec<PollOption>> {
        let rows = sqlx::query(
            "SELECT id, label, votes FROM poll_options WHERE poll_id = ? ORDER BY position",
        )
        .bind(poll)
        .fetch_all(&self.reader)
        .await
        .map_err(db)?;
        rows.iter()
            .map(|r| {
                let votes: i64 = r.try_get("votes").map_err(db)?;
                Ok(PollOption {
                    id: r.try_get("id").map_err(db)?,
                    label: r.try_get("label").map_err(db)?,
                    votes: u64::try_from(votes).unwrap_or(0),
                })
            })
            .collect()
    }
}

/// The options of poll `id`, in order, inside the caller's transaction.
async fn insert_options(
    conn: &mut sqlx::SqliteConnection,
    id: i64,
    options: &[String],
) -> StoreResult<()> {
    for (i, label) in options.iter().enumerate() {
        sqlx::query("INSERT INTO poll_options (poll_id, position, label) VALUES (?, ?, ?)")
            .bind(id)
            .bind(i as i64)
            .bind(label)
            .execute(&mut *conn)
            .await
            .map_err(db)?;
    }
    Ok(())
}

#[async_trait]
impl PollStore for SqliteStore {
    async fn create_poll(&self, d: &PollDraft, now: OffsetDateTime) -> StoreResult<i64> {
        let mut tx = self.writer.begin().await.map_err(db)?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO polls (question, opens_at, closes_at, results, voters, created_at)
             VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
        )
        .bind(&d.question)
        .bind(d.opens_at.map(unix))
        .bind(d.closes_at.map(unix))
        .bind(d.results.as_str())
        .bind(d.voters.as_str())
        .bind(unix(now))
        .fetch_one(&mut *tx)
        .await
        .map_err(db)?;
        insert_options(&mut tx, id, &d.options).await?;
        tx.commit().await.map_err(db)?;
        Ok(id)
    }

    async fn update_poll(&self, id: i64, d: &PollDraft) -> StoreResult<()> {
        let mut tx = self.writer.begin().await.map_err(db)?;
        let current: Vec<String> = sqlx::query_scalar(
            "SELECT label FROM poll_options WHERE poll_id = ? ORDER BY position",
        )
        .bind(id)
        .fetch_all(&mut *tx)
        .await
        .map_err(db)?;
        if current != d.options {
            let votes: i64 =
                sqlx::query_scalar("SELECT count(*) FROM poll_votes WHERE poll_id = ?")
                    .bind(id)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(db)?;
            refuse_if(poll::options_locked(votes))?;
            sqlx::query("DELETE FROM poll_options WHERE poll_id = ?")
                .bind(id)
                .execute(&mut *tx)
                .await
                .map_err(db)?;
            insert_options(&mut tx, id, &d.options).await?;
        }
        sqlx::query(
            "UPDATE polls SET question = ?, opens_at = ?, closes_at = ?, results = ?, voters = ?
             WHERE id = ?",
        )
        .bind(&d.question)
        .bind(d.opens_at.map(unix))
        .bind(d.closes_at.map(unix))
        .bind(d.results.as_str())
        .bind(d.voters.as_str())
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        tx.commit().await.map_err(db)
    }

    async fn close_poll(&self, id: i64, at: OffsetDateTime) -> StoreResult<()> {
        sqlx::query("UPDATE polls SET closed_at = ? WHERE id = ? AND closed_at IS NULL")
            .bind(unix(at))
            .bind(id)
            .execute(&self.writer)
            .await
            .map_err(db)?;
        Ok(())
    }

    async fn reopen_poll(&self, id: i64) -> StoreResult<()> {
        sqlx::query("UPDATE polls SET closed_at = NULL WHERE id = ?")
            .bind(id)
            .execute(&self.writer)
            .await
            .map_err(db)?;
        Ok(())
    }

    async fn delete_poll(&self, id: i64) -> StoreResult<()> {
        // The writer connection is held until the poll's voters are forgotten, so no vote of
        // a new poll that takes the same id can be checked against them.
        let mut conn = self.writer.acquire().await.map_err(db)?;
        sqlx::query("DELETE FROM polls WHERE id = ?")
            .bind(id)
            .execute(&mut *conn)
            .await
            .map_err(db)?;
        self.voters.sets.lock().await.forget_poll(id);
        Ok(())
    }

    async fn poll(&self, id: i64) -> StoreResult<Option<Poll>> {
        let row = sqlx::query("SELECT * FROM polls WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.reader)
            .await
            .map_err(db)?;
        match row {
            Some(r) => Ok(Some(poll_from_row(&r, self.options_of(id).await?)?)),
            None => Ok(None),
        }
    }

    async fn polls(&self) -> StoreResult<Vec<Poll>> {
        let rows = sqlx::query("SELECT * FROM polls ORDER BY created_at DESC, id DESC")
            .fetch_all(&self.reader)
            .await
            .map_err(db)?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            let id: i64 = r.try_get("id").map_err(db)?;
            out.push(poll_from_row(r, self.options_of(id).await?)?);
        }
        Ok(out)
    }
}

#[async_trait]
impl VoteStore for SqliteStore {
    async fn record_votes(&self, votes: &[NewVote]) -> StoreResult<Vec<VoteOutcome>> {
        let mut conn = self.writer.acquire().await.map_err(db)?;
        write_votes(&mut conn, &self.voters, votes).await
    }

    async fn has_voted(&self, poll: i64, account: i64) -> StoreResult<bool> {
        let found: Option<i64> =
            sqlx::query_scalar("SELECT 1 FROM poll_votes WHERE poll_id = ? AND account_id = ?")
                .bind(poll)
                .bind(account)
                .fetch_optional(&self.reader)
                .await
                .map_err(db)?;
        Ok(found.is_some())
    }

    async fn day_salt(&self, day: &str, fresh: &[u8]) -> StoreResult<Vec<u8>> {
        sqlx::query(
            "INSERT INTO poll_salts (day, salt) VALUES (?, ?) ON CONFLICT (day) DO NOTHING",
        )
        .bind(day)
        .bind(fresh)
        .execute(&self.writer)
        .await
        .map_err(db)?;
        sqlx::query_scalar("SELECT salt FROM poll_salts WHERE day = ?")
            .bind(day)
            .fetch_one(&self.writer)
            .await
            .map_err(db)
    }

    async fn forget_voter_hashes_before(&self, day: &str) -> StoreResult<u64> {
        let mut conn = self.writer.acquire().await.map_err(db)?;
        let mut tx = conn.begin().await.map_err(db)?;
        let done = sqlx::query(
            "UPDATE poll_votes SET voter_hash = NULL WHERE day < ? AND voter_hash IS NOT NULL",
        )
        .bind(day)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        sqlx::query("DELETE FROM poll_salts WHERE day < ?")
            .bind(day)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        tx.commit().await.map_err(db)?;
        self.voters.sets.lock().await.forget_days_before(day);
        Ok(done.rows_affected())
    }
}

/// The anonymous voters of each poll and day that the writer has seen, so that a repeat is
/// found without a unique index on the voter hash. That index cost a random page write per
/// vote; each of the day's voters costs 20 to 40 bytes of memory instead.
///
/// The sets are locked for the whole of a batch, with the writer connection held, so checking
/// a vote and inserting it cannot interleave with another batch of this process. Another
/// process's writes to the file are seen by the writer connection's `data_version`: each
/// insert carries the version the sets were loaded at and inserts nothing if it has moved,
/// and then the sets are dropped and read again. A set missing from memory (after a restart,
/// an eviction or a change by another process) is read from `poll_votes` before it is used.
#[derive(Default)]
pub(crate) struct Voters {
    pub(crate) sets: Mutex<VoterSets>,
    /// Bumped each time the pool opens a writer connection: a new connection's `data_version`
    /// counts from its own start, so versions of two connections cannot be compared.
    connections: AtomicU64,
}

impl Voters {
    pub(crate) fn connection_opened(&self) {
        self.connections.fetch_add(1, Ordering::SeqCst);
    }
}

#[derive(Default)]
pub(crate) struct VoterSets {
    /// The writer connection (by `Voters::connections`) and its `data_version` when the sets
    /// were last known to match the database.
    valid_at: Option<(u64, i64)>,
    /// Day, then poll, then the first 128 bits of each voter hash.
    days: BTreeMap<String, HashMap<i64, HashSet<u128>>>,
}

/// The most days kept in memory; older ones are read again if a vote for them comes.
const DAYS_KEPT: usize = 3;

fn short(hash: &[u8; 32]) -> u128 {
    let mut first = [0; 16];
    first.copy_from_slice(&hash[..16]);
    u128::from_be_bytes(first)
}

impl VoterSets {
    /// Drop every set, so that each is read again from the database.
    fn forget_all(&mut self) {
        *self = VoterSets::default();
    }

    pub(crate) fn forget_poll(&mut self, poll: i64) {
        for polls in self.days.values_mut() {
            polls.remove(&poll);
        }
    }

    pub(crate) fn forget_days_before(&mut self, day: &str) {
        self.days.retain(|d, _| d.as_str() >= day);
    }

    /// The writer connection's `data_version` that the sets match, reading it (and dropping
    /// the sets) when the connection is new or this is the first batch.
    async fn version(
        &mut self,
        conn: &mut sqlx::SqliteConnection,
        connection: u64,
    ) -> StoreResult<i64> {
        if let Some((c, v)) = self.valid_at
            && c == connection
        {
            return Ok(v);
        }
        let version = data_version(conn).await?;
        self.forget_all();
        self.valid_at = Some((connection, version));
        Ok(version)
    }

    /// Read the voters of each (poll, day) of `votes` that is not in memory yet.
    async fn load(
        &mut self,
        conn: &mut sqlx::SqliteConnection,
        votes: &[&NewVote],
    ) -> StoreResult<()> {
        let mut wanted: Vec<(i64, &str)> = votes
            .iter()
            .filter(|v| v.account.is_none() && v.voter_hash.is_some())
            .map(|v| (v.poll, v.day.as_str()))
            .filter(|(poll, day)| {
                !self
                    .days
                    .get(*day)
                    .is_some_and(|polls| polls.contains_key(poll))
            })
            .collect();
        wanted.sort_unstable();
        wanted.dedup();
        for (poll, day) in wanted {
            let hashes: Vec<Vec<u8>> = sqlx::query_scalar(
                "SELECT voter_hash FROM poll_votes \
                 WHERE poll_id = ? AND day = ? AND voter_hash IS NOT NULL",
            )
            .bind(poll)
            .bind(day)
            .fetch_all(&mut *conn)
            .await
            .map_err(db)?;
            let set = hashes
                .iter()
                .map(|h| {
                    <&[u8; 32]>::try_from(h.as_slice())
                        .map(short)
                        .map_err(|_| StoreError::Corrupt("poll_votes.voter_hash".to_owned()))
                })
                .collect::<StoreResult<HashSet<u128>>>()?;
            self.days
                .entry(day.to_owned())
                .or_default()
                .insert(poll, set);
        }
        // Keep a few days, but never one these votes are about to be checked against.
        let needed: BTreeSet<&str> = votes.iter().map(|v| v.day.as_str()).collect();
        while self.days.len() > DAYS_KEPT {
            let Some(oldest) = self
                .days
                .keys()
                .find(|d| !needed.contains(d.as_str()))
                .cloned()
            else {
                break;
            };
            self.days.remove(&oldest);
        }
        Ok(())
    }

    /// Whether an anonymous vote repeats one already written. Only for loaded sets.
    fn has(&self, v: &NewVote) -> bool {
        match (v.account, &v.voter_hash) {
            (None, Some(hash)) => self
                .days
                .get(&v.day)
                .and_then(|polls| polls.get(&v.poll))
                .is_some_and(|set| set.contains(&short(hash))),
            _ => false,
        }
    }

    /// Note anonymous votes that were written. Only a set read whole from the database is
    /// added to: a set begun here would hold only these voters and then be trusted.
    fn add<'a>(&mut self, written: impl Iterator<Item = &'a NewVote>) {
        for v in written {
            if let (None, Some(hash)) = (v.account, &v.voter_hash)
                && let Some(set) = self.days.get_mut(&v.day).and_then(|p| p.get_mut(&v.poll))
            {
                set.insert(short(hash));
            }
        }
    }
}

async fn data_version(conn: &mut sqlx::SqliteConnection) -> StoreResult<i64> {
    sqlx::query_scalar("PRAGMA data_version")
        .fetch_one(&mut *conn)
        .await
        .map_err(db)
}

/// Write a batch of votes. Repeats inside the batch, and repeats of anonymous votes already
/// written, are found in memory (see [`Voters`]); signed-in voters are unique by an index.
/// Each chunk of the rest is one statement, which inserts every vote whose option belongs to
/// its poll and whose poll is open; a trigger counts what was inserted. A statement is a
/// transaction of its own, so the chunk is durable when that one statement returns, after a
/// single trip to the database's thread (an explicit `BEGIN`…`COMMIT` would be two more).
async fn write_votes(
    conn: &mut sqlx::SqliteConnection,
    voters: &Voters,
    votes: &[NewVote],
) -> StoreResult<Vec<VoteOutcome>> {
    let mut sets = voters.sets.lock().await;
    let connection = voters.connections.load(Ordering::SeqCst);
    let (candidates, mut outcomes) = first_votes(votes);
    let mut all_counted = true;
    for chunk in candidates.chunks(BATCH_SHAPES[BATCH_SHAPES.len() - 1]) {
        let written = match write_chunk(conn, &mut sets, connection, votes, chunk).await {
            Ok(written) => written,
            Err(e) => {
                // The statement may have been written though its answer was lost: the sets
                // must never miss a voter, so they are read again.
                sets.forget_all();
                return Err(e);
            }
        };
        all_counted &= written.len() == chunk.len();
        for i in written {
            outcomes[i] = VoteOutcome::Counted;
        }
    }
    if all_counted {
        return Ok(outcomes);
    }
    let open_options: BTreeMap<i64, i64> = {
        let options: BTreeSet<i64> = votes.iter().map(|v| v.option).collect();
        let mut q = QueryBuilder::<Sqlite>::new(
            "SELECT o.id, o.poll_id FROM poll_options o JOIN polls p ON p.id = o.poll_id \
             WHERE p.closed_at IS NULL AND o.id IN (",
        );
        let mut list = q.separated(", ");
        for id in &options {
            list.push_bind(*id);
        }
        q.push(")");
        q.build_query_as::<(i64, i64)>()
            .fetch_all(&mut *conn)
            .await
            .map_err(db)?
            .into_iter()
            .collect()
    };
    settle_uncounted(votes, &candidates, &mut outcomes, &open_options);
    Ok(outcomes)
}

/// Write one chunk of distinct voters; the indexes of the votes that were written.
async fn write_chunk(
    conn: &mut sqlx::SqliteConnection,
    voters: &mut VoterSets,
    connection: u64,
    votes: &[NewVote],
    chunk: &[usize],
) -> StoreResult<Vec<usize>> {
    // Another process's write between two tries makes the first insert nothing; a few tries
    // are plenty, as each reads the sets again first.
    for _ in 0..3 {
        let version = voters.version(conn, connection).await?;
        let chunk_votes: Vec<&NewVote> = chunk.iter().map(|i| &votes[*i]).collect();
        voters.load(conn, &chunk_votes).await?;
        let fresh: Vec<usize> = chunk
            .iter()
            .copied()
            .filter(|i| !voters.has(&votes[*i]))
            .collect();
        if fresh.is_empty() {
            // Every vote repeats one in memory; the sets are only to be trusted if no other
            // connection has written since they were read.
            if data_version(conn).await? == version {
                return Ok(fresh);
            }
            voters.forget_all();
            continue;
        }
        let mut q = QueryBuilder::<Sqlite>::new(
            "INSERT INTO poll_votes (poll_id, option_id, account_id, voter_hash, day, created_at) \
             SELECT v.column1, v.column2, v.column3, v.column4, v.column5, v.column6 FROM (",
        );
        q.push_values(0..batch_shape(fresh.len()), |mut row, k| {
            match fresh.get(k) {
                Some(i) => {
                    let v = &votes[*i];
                    row.push_bind(v.poll)
                        .push_bind(v.option)
                        .push_bind(v.account)
                        .push_bind(v.voter_hash.as_ref().map(|h| &h[..]))
                        .push_bind(v.day.as_str())
                        .push_bind(unix(v.at));
                }
                // Padding: no option has a NULL id, so the join drops the row.
                None => {
                    for _ in 0..6 {
                        row.push_bind(None::<i64>);
                    }
                }
            }
        });
        q.push(
            ") AS v JOIN poll_options o ON o.id = v.column2 AND o.poll_id = v.column1 \
             JOIN polls p ON p.id = o.poll_id AND p.closed_at IS NULL \
             WHERE (SELECT data_version FROM pragma_data_version) = ",
        );
        q.push_bind(version);
        q.push(" ON CONFLICT DO NOTHING");
        let done = q.build().execute(&mut *conn).await.map_err(db)?;
        let count = done.rows_affected();
        if count == fresh.len() as u64 {
            voters.add(fresh.iter().map(|i| &votes[*i]));
            return Ok(fresh);
        }
        let moved = data_version(conn).await? != version;
        if moved {
            // Another connection wrote: whatever this statement did, the sets are stale.
            voters.forget_all();
        }
        if count == 0 {
            if moved {
                continue;
            }
            return Ok(Vec::new());
        }
        // Some were not inserted (a closed poll, a wrong option, a signed-in voter's repeat).
        // The inserted rows are the ones with the highest ids: a row without an explicit id
        // gets one more than the highest in the table, so one statement's rows have
        // consecutive ids, ending at the last one.
        let last = done.last_insert_rowid();
        let rows: Vec<InsertedVoter> = sqlx::query_as(
            "SELECT poll_id, account_id, voter_hash, day FROM poll_votes WHERE id > ? AND id <= ?",
        )
        .bind(last - count as i64)
        .bind(last)
        .fetch_all(&mut *conn)
        .await
        .map_err(db)?;
        if rows.len() as u64 != count {
            return Err(StoreError::Corrupt("poll_votes.id".to_owned()));
        }
        let mut inserted = HashSet::new();
        for (poll, account, hash, day) in rows {
            inserted.extend(VoterKey::from_stored(poll, account, hash, day)?);
        }
        let written: Vec<usize> = fresh
            .into_iter()
            .filter(|i| votes[*i].voter_key().is_some_and(|k| inserted.contains(&k)))
            .collect();
        if !moved {
            voters.add(written.iter().map(|i| &votes[*i]));
        }
        return Ok(written);
    }
    Err(StoreError::Unavailable(
        "other connections kept writing to the database while votes were written".into(),
    ))
}

/// Who an inserted vote was from: poll, account, voter hash and day.
type InsertedVoter = (i64, Option<i64>, Option<Vec<u8>>, String);
