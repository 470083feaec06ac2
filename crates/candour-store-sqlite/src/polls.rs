//! Polls and votes on SQLite. Votes arrive in batches from the group commit: one transaction
//! per batch, so one fsync covers many votes.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use async_trait::async_trait;
use candour_core::poll::{Poll, PollDraft, PollOption, ResultsShown};
use candour_core::store::{NewVote, PollStore, StoreError, StoreResult, VoteOutcome, VoterKey};
use sqlx::Sqlite;
use sqlx::sqlite::SqliteRow;
use sqlx::{QueryBuilder, Row};
use time::OffsetDateTime;

use crate::{BATCH_SHAPES, SqliteStore, batch_shape, db, from_unix, unix};

fn opt_time(v: Option<i64>) -> StoreResult<Option<OffsetDateTime>> {
    v.map(from_unix).transpose()
}

fn poll_from_row(row: &SqliteRow, options: Vec<PollOption>) -> StoreResult<Poll> {
    let results: String = row.try_get("results").map_err(db)?;
    Ok(Poll {
        id: row.try_get("id").map_err(db)?,
        question: row.try_get("question").map_err(db)?,
        options,
        opens_at: opt_time(row.try_get("opens_at").map_err(db)?)?,
        closes_at: opt_time(row.try_get("closes_at").map_err(db)?)?,
        closed_at: opt_time(row.try_get("closed_at").map_err(db)?)?,
        results: ResultsShown::parse(&results)
            .ok_or_else(|| StoreError::Corrupt("polls.results".to_owned()))?,
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
            "INSERT INTO polls (question, opens_at, closes_at, results, created_at)
             VALUES (?, ?, ?, ?, ?) RETURNING id",
        )
        .bind(&d.question)
        .bind(d.opens_at.map(unix))
        .bind(d.closes_at.map(unix))
        .bind(d.results.as_str())
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
            if votes > 0 {
                return Err(StoreError::Duplicate("votes"));
            }
            sqlx::query("DELETE FROM poll_options WHERE poll_id = ?")
                .bind(id)
                .execute(&mut *tx)
                .await
                .map_err(db)?;
            insert_options(&mut tx, id, &d.options).await?;
        }
        sqlx::query(
            "UPDATE polls SET question = ?, opens_at = ?, closes_at = ?, results = ? WHERE id = ?",
        )
        .bind(&d.question)
        .bind(d.opens_at.map(unix))
        .bind(d.closes_at.map(unix))
        .bind(d.results.as_str())
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
        sqlx::query("DELETE FROM polls WHERE id = ?")
            .bind(id)
            .execute(&self.writer)
            .await
            .map_err(db)?;
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

    async fn record_votes(&self, votes: &[NewVote]) -> StoreResult<Vec<VoteOutcome>> {
        let mut conn = self.writer.acquire().await.map_err(db)?;
        write_votes(&mut conn, votes).await
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
        let mut tx = self.writer.begin().await.map_err(db)?;
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
        Ok(done.rows_affected())
    }
}

/// Who an inserted vote was from: poll, account, voter hash and day.
type InsertedVoter = (i64, Option<i64>, Option<Vec<u8>>, String);

/// Write a batch of votes. One statement inserts every vote whose option belongs to its poll
/// and whose poll is open; the unique indexes drop repeated voters, and a trigger counts what
/// was inserted. A statement is a transaction of its own, so the batch is durable when that
/// one statement returns, after a single trip to the database's thread (an explicit
/// `BEGIN`…`COMMIT` would be two more). Only when some vote was not inserted is a second,
/// read-only statement needed, to tell a closed poll or a wrong option from a repeat.
async fn write_votes(
    conn: &mut sqlx::SqliteConnection,
    votes: &[NewVote],
) -> StoreResult<Vec<VoteOutcome>> {
    let mut outcomes = vec![VoteOutcome::Refused; votes.len()];
    // Repeats inside the batch are found here; the database finds repeats of earlier votes.
    let mut seen = HashSet::new();
    let mut candidates = Vec::new();
    for (i, v) in votes.iter().enumerate() {
        if let Some(key) = v.voter_key() {
            if seen.insert(key.clone()) {
                candidates.push((i, key));
            } else {
                outcomes[i] = VoteOutcome::Duplicate;
            }
        }
    }
    let mut inserted = HashSet::new();
    for chunk in candidates.chunks(BATCH_SHAPES[BATCH_SHAPES.len() - 1]) {
        let mut q = QueryBuilder::<Sqlite>::new(
            "INSERT INTO poll_votes (poll_id, option_id, account_id, voter_hash, day, created_at) \
             SELECT v.column1, v.column2, v.column3, v.column4, v.column5, v.column6 FROM (",
        );
        q.push_values(0..batch_shape(chunk.len()), |mut row, k| {
            match chunk.get(k) {
                Some((i, _)) => {
                    let v = &votes[*i];
                    row.push_bind(v.poll)
                        .push_bind(v.option)
                        .push_bind(v.account)
                        .push_bind(v.voter_hash.map(|h| h.to_vec()))
                        .push_bind(v.day.clone())
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
             WHERE true ON CONFLICT DO NOTHING \
             RETURNING poll_id, account_id, voter_hash, day",
        );
        let rows: Vec<InsertedVoter> =
            q.build_query_as().fetch_all(&mut *conn).await.map_err(db)?;
        for (poll, account, hash, day) in rows {
            let key = match (account, hash) {
                (Some(account), _) => VoterKey::Account { poll, account },
                (None, Some(hash)) => VoterKey::Anonymous {
                    poll,
                    hash: hash
                        .try_into()
                        .map_err(|_| StoreError::Corrupt("poll_votes.voter_hash".to_owned()))?,
                    day,
                },
                (None, None) => continue,
            };
            inserted.insert(key);
        }
    }
    let open_options: BTreeMap<i64, i64> = if inserted.len() < candidates.len() {
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
    } else {
        BTreeMap::new()
    };
    for (i, key) in candidates {
        outcomes[i] = if inserted.contains(&key) {
            VoteOutcome::Counted
        } else if open_options.get(&votes[i].option) == Some(&votes[i].poll) {
            VoteOutcome::Duplicate
        } else {
            VoteOutcome::Refused
        };
    }
    Ok(outcomes)
}
