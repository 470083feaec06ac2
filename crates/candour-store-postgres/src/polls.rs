//! Polls and votes on PostgreSQL. Votes arrive in batches from the group commit: one transaction
//! per batch, so one fsync covers many votes.

use std::collections::{BTreeMap, HashSet};

use async_trait::async_trait;
use candour_core::poll::{self, Poll, PollDraft, PollOption, ResultsShown, Voters};
use candour_core::poll::{NewVote, VoteOutcome, VoterKey, first_votes, settle_uncounted};
use candour_core::store::{PollStore, StoreError, StoreResult, VoteStore, refuse_if};
use sqlx::Row;
use sqlx::postgres::PgRow;
use time::OffsetDateTime;

use crate::{PgStore, db};

fn poll_from_row(row: &PgRow, options: Vec<PollOption>) -> StoreResult<Poll> {
    let results: String = row.try_get("results").map_err(db)?;
    let voters: String = row.try_get("voters").map_err(db)?;
    Ok(Poll {
        id: row.try_get("id").map_err(db)?,
        question: row.try_get("question").map_err(db)?,
        options,
        opens_at: row.try_get("opens_at").map_err(db)?,
        closes_at: row.try_get("closes_at").map_err(db)?,
        closed_at: row.try_get("closed_at").map_err(db)?,
        results: ResultsShown::parse(&results)
            .ok_or_else(|| StoreError::Corrupt("polls.results".to_owned()))?,
        voters: Voters::parse(&voters)
            .ok_or_else(|| StoreError::Corrupt("polls.voters".to_owned()))?,
        created_at: row.try_get("created_at").map_err(db)?,
    })
}

impl PgStore {
    async fn options_of(&self, poll: i64) -> StoreResult<Vec<PollOption>> {
        let rows = sqlx::query(
            "SELECT id, label, votes FROM poll_options WHERE poll_id = $1 ORDER BY position",
        )
        .bind(poll)
        .fetch_all(&self.pool)
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
    conn: &mut sqlx::PgConnection,
    id: i64,
    options: &[String],
) -> StoreResult<()> {
    for (i, label) in options.iter().enumerate() {
        sqlx::query("INSERT INTO poll_options (poll_id, position, label) VALUES ($1, $2, $3)")
            .bind(id)
            .bind(i as i32)
            .bind(label)
            .execute(&mut *conn)
            .await
            .map_err(db)?;
    }
    Ok(())
}

/// A batch of votes in one statement: the votes arrive as arrays (so the text is the same
/// for any batch size and is prepared once); those whose option is the poll's own and whose
/// poll is open are inserted, in key order so that instances racing on the same voters take
/// their index locks in the same order; the unique indexes drop repeats; the counters go up
/// by what was inserted. The inserted voters come back.
const WRITE_VOTES: &str = "\
WITH v AS (
    SELECT * FROM UNNEST($1::bigint[], $2::bigint[], $3::bigint[], $4::bytea[], $5::text[],
                         $6::timestamptz[])
        AS v (poll_id, option_id, account_id, voter_hash, day, created_at)
), inserted AS (
    INSERT INTO poll_votes (poll_id, option_id, account_id, voter_hash, day, created_at)
    SELECT v.poll_id, v.option_id, v.account_id, v.voter_hash, v.day, v.created_at
    FROM v
    JOIN poll_options o ON o.id = v.option_id AND o.poll_id = v.poll_id
    JOIN polls p ON p.id = o.poll_id AND p.closed_at IS NULL
    ORDER BY v.poll_id, v.account_id, v.voter_hash, v.day
    ON CONFLICT DO NOTHING
    RETURNING poll_id, option_id, account_id, voter_hash, day
), counted AS (
    UPDATE poll_options o SET votes = o.votes + c.n
    FROM (SELECT option_id, count(*) AS n FROM inserted GROUP BY option_id) c
    WHERE o.id = c.option_id
)
SELECT poll_id, account_id, voter_hash, day FROM inserted";

#[async_trait]
impl PollStore for PgStore {
    async fn create_poll(&self, d: &PollDraft, now: OffsetDateTime) -> StoreResult<i64> {
        let mut tx = self.pool.begin().await.map_err(db)?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO polls (question, opens_at, closes_at, results, voters, created_at)
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(&d.question)
        .bind(d.opens_at)
        .bind(d.closes_at)
        .bind(d.results.as_str())
        .bind(d.voters.as_str())
        .bind(now)
        .fetch_one(&mut *tx)
        .await
        .map_err(db)?;
        insert_options(&mut tx, id, &d.options).await?;
        tx.commit().await.map_err(db)?;
        Ok(id)
    }

    async fn update_poll(&self, id: i64, d: &PollDraft) -> StoreResult<()> {
        let mut tx = self.pool.begin().await.map_err(db)?;
        let current: Vec<String> = sqlx::query_scalar(
            "SELECT label FROM poll_options WHERE poll_id = $1 ORDER BY position",
        )
        .bind(id)
        .fetch_all(&mut *tx)
        .await
        .map_err(db)?;
        if current != d.options {
            let votes: i64 =
                sqlx::query_scalar("SELECT count(*) FROM poll_votes WHERE poll_id = $1")
                    .bind(id)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(db)?;
            refuse_if(poll::options_locked(votes))?;
            sqlx::query("DELETE FROM poll_options WHERE poll_id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await
                .map_err(db)?;
            insert_options(&mut tx, id, &d.options).await?;
        }
        sqlx::query(
            "UPDATE polls SET question = $1, opens_at = $2, closes_at = $3, results = $4,
             voters = $5 WHERE id = $6",
        )
        .bind(&d.question)
        .bind(d.opens_at)
        .bind(d.closes_at)
        .bind(d.results.as_str())
        .bind(d.voters.as_str())
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        tx.commit().await.map_err(db)
    }

    async fn close_poll(&self, id: i64, at: OffsetDateTime) -> StoreResult<()> {
        sqlx::query("UPDATE polls SET closed_at = $1 WHERE id = $2 AND closed_at IS NULL")
            .bind(at)
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(db)?;
        Ok(())
    }

    async fn reopen_poll(&self, id: i64) -> StoreResult<()> {
        sqlx::query("UPDATE polls SET closed_at = NULL WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(db)?;
        Ok(())
    }

    async fn delete_poll(&self, id: i64) -> StoreResult<()> {
        sqlx::query("DELETE FROM polls WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(db)?;
        Ok(())
    }

    async fn poll(&self, id: i64) -> StoreResult<Option<Poll>> {
        let row = sqlx::query("SELECT * FROM polls WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?;
        match row {
            Some(r) => Ok(Some(poll_from_row(&r, self.options_of(id).await?)?)),
            None => Ok(None),
        }
    }

    async fn polls(&self) -> StoreResult<Vec<Poll>> {
        let rows = sqlx::query("SELECT * FROM polls ORDER BY created_at DESC, id DESC")
            .fetch_all(&self.pool)
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
impl VoteStore for PgStore {
    async fn record_votes(&self, votes: &[NewVote]) -> StoreResult<Vec<VoteOutcome>> {
        // Repeats inside the batch are found here; every other vote goes to one statement
        // (so one round trip and one transaction, whatever the batch's size).
        let (candidates, mut outcomes) = first_votes(votes);
        if candidates.is_empty() {
            return Ok(outcomes);
        }
        // The batch as columns, one array each.
        let n = candidates.len();
        let (mut polls, mut options, mut accounts) = (
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
        );
        let (mut hashes, mut days, mut ats) = (
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
        );
        for &i in &candidates {
            let v = &votes[i];
            polls.push(v.poll);
            options.push(v.option);
            accounts.push(v.account);
            hashes.push(v.voter_hash.map(|h| h.to_vec()));
            days.push(v.day.as_str());
            ats.push(v.at);
        }
        let rows: Vec<(i64, Option<i64>, Option<Vec<u8>>, String)> = sqlx::query_as(WRITE_VOTES)
            .bind(polls)
            .bind(options)
            .bind(accounts)
            .bind(hashes)
            .bind(days)
            .bind(ats)
            .fetch_all(&self.pool)
            .await
            .map_err(db)?;
        if rows.len() == candidates.len() {
            for i in candidates {
                outcomes[i] = VoteOutcome::Counted;
            }
            return Ok(outcomes);
        }
        let mut inserted = HashSet::new();
        for (poll, account, hash, day) in rows {
            inserted.extend(VoterKey::from_stored(poll, account, hash, day)?);
        }
        for &i in &candidates {
            if votes[i].voter_key().is_some_and(|k| inserted.contains(&k)) {
                outcomes[i] = VoteOutcome::Counted;
            }
        }
        // Some vote was not inserted: a repeat of an earlier one, or a vote for a closed poll
        // or for another poll's option.
        let voted: Vec<i64> = votes.iter().map(|v| v.option).collect();
        let open: BTreeMap<i64, i64> = sqlx::query_as(
            "SELECT o.id, o.poll_id FROM poll_options o JOIN polls p ON p.id = o.poll_id \
             WHERE p.closed_at IS NULL AND o.id = ANY($1)",
        )
        .bind(voted)
        .fetch_all(&self.pool)
        .await
        .map_err(db)?
        .into_iter()
        .collect();
        settle_uncounted(votes, &candidates, &mut outcomes, &open);
        Ok(outcomes)
    }

    async fn has_voted(&self, poll: i64, account: i64) -> StoreResult<bool> {
        let found: Option<i32> =
            sqlx::query_scalar("SELECT 1 FROM poll_votes WHERE poll_id = $1 AND account_id = $2")
                .bind(poll)
                .bind(account)
                .fetch_optional(&self.pool)
                .await
                .map_err(db)?;
        Ok(found.is_some())
    }

    async fn day_salt(&self, day: &str, fresh: &[u8]) -> StoreResult<Vec<u8>> {
        sqlx::query(
            "INSERT INTO poll_salts (day, salt) VALUES ($1, $2) ON CONFLICT (day) DO NOTHING",
        )
        .bind(day)
        .bind(fresh)
        .execute(&self.pool)
        .await
        .map_err(db)?;
        sqlx::query_scalar("SELECT salt FROM poll_salts WHERE day = $1")
            .bind(day)
            .fetch_one(&self.pool)
            .await
            .map_err(db)
    }

    async fn forget_voter_hashes_before(&self, day: &str) -> StoreResult<u64> {
        let mut tx = self.pool.begin().await.map_err(db)?;
        let done = sqlx::query(
            "UPDATE poll_votes SET voter_hash = NULL WHERE day < $1 AND voter_hash IS NOT NULL",
        )
        .bind(day)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        sqlx::query("DELETE FROM poll_salts WHERE day < $1")
            .bind(day)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        tx.commit().await.map_err(db)?;
        Ok(done.rows_affected())
    }
}
