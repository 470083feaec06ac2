//! People, the consent ledger, suppression, forms and imports on PostgreSQL.
//!
//! Every change that touches the ledger happens in one transaction with the checks it
//! depends on (the suppression list is read inside it), so nothing is half-written.

use async_trait::async_trait;
use candour_core::account::Profile;
use candour_core::account::{EmailAddress, Phone, Postcode};
use candour_core::datamap::TableSchema;
use candour_core::datamap::{self, Erasure, Subject};
use candour_core::forms::{Answer, FormDefinition, PersonPatch};
use candour_core::forms::{FormRecord, NewResponse, StoredResponse};
use candour_core::import::ImportRow;
use candour_core::import::{ImportEvidence, ImportOutcome, StagedImport};
use candour_core::people::ConsentChange;
use candour_core::people::{
    ConsentEvent, Method, NewConsent, PendingGrant, Person, Source, Wording, confirmed_grants,
    suppression_key,
};
use candour_core::purposes::{Channel, Purpose};
use candour_core::session::SecretHash;
use candour_core::store::{
    FormStore, ImportStore, LedgerStore, PeopleStore, StoreError, StoreResult, SubjectStore,
};
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Row};
use time::OffsetDateTime;

use crate::accounts::profile_from_row;
use crate::{PgStore, db};

const PERSON_COLUMNS: &str = "id, email, name, job_title, phone, postal_address, postcode, \
                              interests, source, account_id, created_at, updated_at";

fn corrupt(what: &str) -> StoreError {
    StoreError::Corrupt(format!("people.{what}"))
}

fn person_from_row(row: &PgRow) -> StoreResult<Person> {
    let email: String = row.try_get("email").map_err(db)?;
    let source: String = row.try_get("source").map_err(db)?;
    Ok(Person {
        id: row.try_get("id").map_err(db)?,
        email: EmailAddress::parse(&email).map_err(|_| corrupt("email"))?,
        details: profile_from_row(row, "people")?,
        source: Source::from_text(&source).ok_or_else(|| corrupt("source"))?,
        account: row.try_get("account_id").map_err(db)?,
        created_at: row.try_get("created_at").map_err(db)?,
        updated_at: row.try_get("updated_at").map_err(db)?,
    })
}

fn event_from_row(row: &PgRow) -> StoreResult<ConsentEvent> {
    let channel: Option<String> = row.try_get("channel").map_err(db)?;
    let method: String = row.try_get("method").map_err(db)?;
    let hash: Option<Vec<u8>> = row.try_get("wording_hash").map_err(db)?;
    let text: Option<String> = row.try_get("wording").map_err(db)?;
    let wording = match (hash, text) {
        (Some(h), Some(text)) => Some(Wording {
            hash: h
                .try_into()
                .map_err(|_| StoreError::Corrupt("consent_events.wording_hash".to_owned()))?,
            text,
        }),
        _ => None,
    };
    Ok(ConsentEvent {
        id: row.try_get("id").map_err(db)?,
        person: row.try_get("person_id").map_err(db)?,
        purpose: row.try_get("purpose").map_err(db)?,
        channel: channel
            .map(|c| Channel::parse(&c).ok_or_else(|| corrupt("consent_events.channel")))
            .transpose()?,
        granted: row.try_get("granted").map_err(db)?,
        at: row.try_get("at").map_err(db)?,
        method: Method::from_text(&method).ok_or_else(|| corrupt("consent_events.method"))?,
        wording,
        actor: row.try_get("actor_id").map_err(db)?,
        note: row.try_get("note").map_err(db)?,
    })
}

async fn person_in(conn: &mut PgConnection, id: i64) -> StoreResult<Option<Person>> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {PERSON_COLUMNS} FROM people WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(&mut *conn)
    .await
    .map_err(db)?;
    row.as_ref().map(person_from_row).transpose()
}

/// Find or create the person with `email`; returns the id and whether it was created. The
/// patch fills in a new record; on an existing one it replaces details only when
/// `overwrite` (staff imports), and otherwise fills in only what is missing (forms).
async fn upsert_person(
    conn: &mut PgConnection,
    email: &EmailAddress,
    source: Source,
    patch: &PersonPatch,
    overwrite: bool,
    at: OffsetDateTime,
) -> StoreResult<(i64, bool)> {
    let inserted = sqlx::query(
        "INSERT INTO people (email, source, account_id, created_at, updated_at)
         VALUES ($1, $2, (SELECT id FROM accounts WHERE email = $3), $4, $5)
         ON CONFLICT (email) DO NOTHING",
    )
    .bind(email.as_str())
    .bind(source.to_text())
    .bind(email.as_str())
    .bind(at)
    .bind(at)
    .execute(&mut *conn)
    .await
    .map_err(db)?
    .rows_affected()
        == 1;
    // Locked, so concurrent changes to one person's ledger queue behind each other.
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {PERSON_COLUMNS} FROM people WHERE email = $1 FOR UPDATE"
    )))
    .bind(email.as_str())
    .fetch_one(&mut *conn)
    .await
    .map_err(db)?;
    let person = person_from_row(&row)?;
    if let Some(details) = patch.updated(&person.details, inserted, overwrite) {
        write_details(conn, person.id, &details, at).await?;
    }
    Ok((person.id, inserted))
}

async fn write_details(
    conn: &mut PgConnection,
    id: i64,
    p: &Profile,
    at: OffsetDateTime,
) -> StoreResult<()> {
    sqlx::query(
        "UPDATE people SET name = $1, job_title = $2, phone = $3, postal_address = $4,
                postcode = $5, interests = $6, updated_at = $7
         WHERE id = $8",
    )
    .bind(&p.name)
    .bind(&p.job_title)
    .bind(p.phone.as_ref().map(Phone::as_str))
    .bind(&p.postal_address)
    .bind(p.postcode.as_ref().map(Postcode::as_str))
    .bind(&p.interests)
    .bind(at)
    .bind(id)
    .execute(&mut *conn)
    .await
    .map_err(db)?;
    Ok(())
}

async fn suppressed_in(conn: &mut PgConnection, key: &[u8; 32]) -> StoreResult<Vec<Channel>> {
    let rows: Vec<String> =
        sqlx::query_scalar("SELECT channel FROM suppressions WHERE email_key = $1")
            .bind(&key[..])
            .fetch_all(&mut *conn)
            .await
            .map_err(db)?;
    Ok(rows.iter().filter_map(|c| Channel::parse(c)).collect())
}

async fn events_in(conn: &mut PgConnection, person: i64) -> StoreResult<Vec<ConsentEvent>> {
    let rows = sqlx::query(
        "SELECT e.id, e.person_id, e.purpose, e.channel, e.granted, e.at, e.method,
                e.wording_hash, w.text AS wording, e.actor_id, e.note
         FROM consent_events e LEFT JOIN consent_wordings w ON w.hash = e.wording_hash
         WHERE e.person_id = $1 ORDER BY e.at, e.id",
    )
    .bind(person)
    .fetch_all(&mut *conn)
    .await
    .map_err(db)?;
    rows.iter().map(event_from_row).collect()
}

async fn insert_event(
    conn: &mut PgConnection,
    person: i64,
    e: &NewConsent,
    at: OffsetDateTime,
) -> StoreResult<()> {
    if let Some(w) = &e.wording {
        sqlx::query(
            "INSERT INTO consent_wordings (hash, text) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        )
        .bind(&w.hash[..])
        .bind(&w.text)
        .execute(&mut *conn)
        .await
        .map_err(db)?;
    }
    sqlx::query(
        "INSERT INTO consent_events
             (person_id, purpose, channel, granted, at, method, wording_hash, actor_id, note)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(person)
    .bind(&e.purpose)
    .bind(e.channel.map(Channel::as_str))
    .bind(e.granted)
    .bind(at)
    .bind(e.method.to_text())
    .bind(e.wording.as_ref().map(|w| w.hash.to_vec()))
    .bind(e.actor)
    .bind(&e.note)
    .execute(&mut *conn)
    .await
    .map_err(db)?;
    Ok(())
}

/// Append a change inside the caller's transaction, checking it against the suppression
/// list as it stands in that transaction.
async fn append_in(
    conn: &mut PgConnection,
    email: &EmailAddress,
    change: ConsentChange<'_>,
) -> StoreResult<()> {
    let key = suppression_key(email);
    let suppressed = suppressed_in(conn, &key).await?;
    let ledger = if change.needs_ledger() {
        events_in(conn, change.person).await?
    } else {
        Vec::new()
    };
    let writes = change.writes(&suppressed, &ledger)?;
    for e in &writes.events {
        insert_event(conn, change.person, e, change.at).await?;
    }
    for channel in writes.lift {
        sqlx::query("DELETE FROM suppressions WHERE email_key = $1 AND channel = $2")
            .bind(&key[..])
            .bind(channel.as_str())
            .execute(&mut *conn)
            .await
            .map_err(db)?;
    }
    for (channel, method) in writes.suppress {
        sqlx::query(
            "INSERT INTO suppressions (email_key, channel, at, method) VALUES ($1, $2, $3, $4)
             ON CONFLICT (email_key, channel) DO NOTHING",
        )
        .bind(&key[..])
        .bind(channel.as_str())
        .bind(change.at)
        .bind(method.to_text())
        .execute(&mut *conn)
        .await
        .map_err(db)?;
    }
    Ok(())
}

async fn email_of(conn: &mut PgConnection, person: i64) -> StoreResult<EmailAddress> {
    let email: String = sqlx::query_scalar("SELECT email FROM people WHERE id = $1 FOR UPDATE")
        .bind(person)
        .fetch_optional(&mut *conn)
        .await
        .map_err(db)?
        .ok_or_else(|| StoreError::Refused("there is no such person".to_owned()))?;
    EmailAddress::parse(&email).map_err(|_| corrupt("email"))
}

/// The rows of `table` whose `column` is `id`, as JSON objects (bytea as `\\x…` hex).
async fn rows_as_json(
    conn: &mut PgConnection,
    table: &str,
    column: &str,
    id: i64,
) -> StoreResult<serde_json::Value> {
    // Table and column names come from the data map, never from a request.
    let sql = format!(
        "SELECT coalesce(json_agg(t), '[]'::json)::text FROM \"{table}\" t WHERE \"{column}\" = $1"
    );
    let text: String = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_one(&mut *conn)
        .await
        .map_err(db)?;
    serde_json::from_str(&text).map_err(|e| StoreError::Corrupt(e.to_string()))
}

#[async_trait]
impl PeopleStore for PgStore {
    async fn person(&self, id: i64) -> StoreResult<Option<Person>> {
        let mut conn = self.pool.acquire().await.map_err(db)?;
        person_in(&mut conn, id).await
    }

    async fn person_by_email(&self, email: &EmailAddress) -> StoreResult<Option<Person>> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {PERSON_COLUMNS} FROM people WHERE email = $1"
        )))
        .bind(email.as_str())
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?;
        row.as_ref().map(person_from_row).transpose()
    }

    async fn person_for_account(&self, account: i64) -> StoreResult<Option<Person>> {
        // A read, the usual case: the record linked to the account, or the one with its
        // address. Only a record not linked yet takes a write.
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {PERSON_COLUMNS} FROM people
             WHERE account_id = $1
                OR email = (SELECT email FROM accounts WHERE id = $1)
             ORDER BY account_id IS NULL LIMIT 1"
        )))
        .bind(account)
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?;
        let Some(person) = row.as_ref().map(person_from_row).transpose()? else {
            return Ok(None);
        };
        if person.account.is_some() {
            return Ok(Some(person));
        }
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE people SET account_id = $1 WHERE id = $2 AND account_id IS NULL
             RETURNING {PERSON_COLUMNS}"
        )))
        .bind(account)
        .bind(person.id)
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?;
        Ok(Some(match row {
            Some(r) => person_from_row(&r)?,
            None => person,
        }))
    }

    async fn ensure_person(
        &self,
        email: &EmailAddress,
        source: Source,
        at: OffsetDateTime,
    ) -> StoreResult<Person> {
        let mut tx = self.pool.begin().await.map_err(db)?;
        let (id, _) =
            upsert_person(&mut tx, email, source, &PersonPatch::default(), false, at).await?;
        let person = person_in(&mut tx, id).await?.ok_or_else(|| corrupt("id"))?;
        tx.commit().await.map_err(db)?;
        Ok(person)
    }

    async fn search_people(&self, query: &str, limit: u32) -> StoreResult<Vec<Person>> {
        let pattern = format!(
            "%{}%",
            query
                .to_lowercase()
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_")
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {PERSON_COLUMNS} FROM people
             WHERE email LIKE $1 ESCAPE '\\' OR lower(name) LIKE $1 ESCAPE '\\'
             ORDER BY email LIMIT $2"
        )))
        .bind(pattern)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        rows.iter().map(person_from_row).collect()
    }

    async fn count_people(&self) -> StoreResult<u64> {
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM people")
            .fetch_one(&self.pool)
            .await
            .map_err(db)?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    async fn update_person(
        &self,
        id: i64,
        details: &Profile,
        at: OffsetDateTime,
    ) -> StoreResult<()> {
        let mut conn = self.pool.acquire().await.map_err(db)?;
        write_details(&mut conn, id, details, at).await
    }
}

#[async_trait]
impl LedgerStore for PgStore {
    async fn consent_events(&self, person: i64) -> StoreResult<Vec<ConsentEvent>> {
        let mut conn = self.pool.acquire().await.map_err(db)?;
        events_in(&mut conn, person).await
    }

    async fn append_consents(&self, change: ConsentChange<'_>) -> StoreResult<()> {
        let mut tx = self.pool.begin().await.map_err(db)?;
        let email = email_of(&mut tx, change.person).await?;
        append_in(&mut tx, &email, change).await?;
        tx.commit().await.map_err(db)?;
        Ok(())
    }

    async fn suppressed_channels(&self, email: &EmailAddress) -> StoreResult<Vec<Channel>> {
        let mut conn = self.pool.acquire().await.map_err(db)?;
        suppressed_in(&mut conn, &suppression_key(email)).await
    }

    async fn create_preference_link(
        &self,
        secret: &SecretHash,
        person: i64,
        expires_at: OffsetDateTime,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO preference_links (hash, person_id, expires_at) VALUES ($1, $2, $3)",
        )
        .bind(&secret.0[..])
        .bind(person)
        .bind(expires_at)
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn consume_preference_link(
        &self,
        secret: &SecretHash,
        now: OffsetDateTime,
    ) -> StoreResult<Option<i64>> {
        sqlx::query_scalar(
            "UPDATE preference_links SET used_at = $1
             WHERE hash = $2 AND used_at IS NULL AND expires_at > $3
             RETURNING person_id",
        )
        .bind(now)
        .bind(&secret.0[..])
        .bind(now)
        .fetch_optional(&self.pool)
        .await
        .map_err(db)
    }

    async fn purge_preference_links_before(&self, cutoff: OffsetDateTime) -> StoreResult<u64> {
        let done = sqlx::query("DELETE FROM preference_links WHERE expires_at < $1")
            .bind(cutoff)
            .execute(&self.pool)
            .await
            .map_err(db)?;
        Ok(done.rows_affected())
    }

    async fn confirm_consents(
        &self,
        secret: &SecretHash,
        purposes: &[Purpose],
        now: OffsetDateTime,
    ) -> StoreResult<Option<i64>> {
        let mut tx = self.pool.begin().await.map_err(db)?;
        let row = sqlx::query(
            "DELETE FROM consent_confirmations WHERE hash = $1 AND expires_at > $2
             RETURNING person_id, form_id, form_version, grants, submitted_at",
        )
        .bind(&secret.0[..])
        .bind(now)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db)?;
        let Some(row) = row else {
            return Ok(None);
        };
        let person: i64 = row.try_get("person_id").map_err(db)?;
        let grants: String = row.try_get("grants").map_err(db)?;
        let grants: Vec<PendingGrant> =
            serde_json::from_str(&grants).map_err(|_| corrupt("consent_confirmations.grants"))?;
        let events = confirmed_grants(
            &grants,
            row.try_get("form_id").map_err(db)?,
            row.try_get("form_version").map_err(db)?,
            row.try_get("submitted_at").map_err(db)?,
        );
        let email = email_of(&mut tx, person).await?;
        append_in(
            &mut tx,
            &email,
            ConsentChange {
                person,
                events: &events,
                objections: &[],
                actor: None,
                purposes,
                at: now,
            },
        )
        .await?;
        tx.commit().await.map_err(db)?;
        Ok(Some(person))
    }

    async fn purge_consent_confirmations_before(&self, cutoff: OffsetDateTime) -> StoreResult<u64> {
        let done = sqlx::query("DELETE FROM consent_confirmations WHERE expires_at < $1")
            .bind(cutoff)
            .execute(&self.pool)
            .await
            .map_err(db)?;
        Ok(done.rows_affected())
    }
}

#[async_trait]
impl ImportStore for PgStore {
    async fn stage_import(&self, actor: i64, csv: &str, at: OffsetDateTime) -> StoreResult<i64> {
        sqlx::query_scalar(
            "INSERT INTO people_imports (actor_id, csv, created_at) VALUES ($1, $2, $3) RETURNING id",
        )
        .bind(actor)
        .bind(csv)
        .bind(at)
        .fetch_one(&self.pool)
        .await
        .map_err(db)
    }

    async fn staged_import(&self, id: i64) -> StoreResult<Option<StagedImport>> {
        let row = sqlx::query(
            "SELECT id, actor_id, csv, created_at, committed_at FROM people_imports WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?;
        row.map(|r| {
            let committed: Option<OffsetDateTime> = r.try_get("committed_at").map_err(db)?;
            Ok(StagedImport {
                id: r.try_get("id").map_err(db)?,
                actor: r.try_get("actor_id").map_err(db)?,
                csv: r.try_get("csv").map_err(db)?,
                created_at: r.try_get("created_at").map_err(db)?,
                committed_at: committed,
            })
        })
        .transpose()
    }

    async fn commit_import(
        &self,
        id: i64,
        rows: &[ImportRow],
        evidence: Option<&ImportEvidence>,
        purposes: &[Purpose],
        at: OffsetDateTime,
    ) -> StoreResult<ImportOutcome> {
        let mut tx = self.pool.begin().await.map_err(db)?;
        let claimed = sqlx::query(
            "UPDATE people_imports SET csv = '', committed_at = $1
             WHERE id = $2 AND committed_at IS NULL",
        )
        .bind(at)
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(db)?
        .rows_affected();
        if claimed != 1 {
            return Err(StoreError::Refused(
                "this import has already been done, or was never staged".to_owned(),
            ));
        }
        let mut out = ImportOutcome::default();
        for row in rows {
            let (person, created) = upsert_person(
                &mut tx,
                &row.email,
                Source::Import { import: id },
                &row.patch,
                true,
                at,
            )
            .await?;
            let consents = match evidence {
                Some(evidence) => {
                    let suppressed = suppressed_in(&mut tx, &suppression_key(&row.email)).await?;
                    let known = if created {
                        Vec::new()
                    } else {
                        events_in(&mut tx, person).await?
                    };
                    let consents = evidence.row_consents(id, purposes, &known, &suppressed)?;
                    for event in &consents.events {
                        insert_event(&mut tx, person, event, at).await?;
                    }
                    Some(consents)
                }
                None => None,
            };
            out.count(created, consents.as_ref());
        }
        tx.commit().await.map_err(db)?;
        Ok(out)
    }

    async fn purge_imports_before(&self, cutoff: OffsetDateTime) -> StoreResult<u64> {
        let done = sqlx::query(
            "DELETE FROM people_imports WHERE committed_at IS NULL AND created_at < $1",
        )
        .bind(cutoff)
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(done.rows_affected())
    }
}

#[async_trait]
impl SubjectStore for PgStore {
    async fn people_idle_since(&self, cutoff: OffsetDateTime, limit: u32) -> StoreResult<Vec<i64>> {
        sqlx::query_scalar(
            "SELECT p.id FROM people p
             WHERE p.account_id IS NULL AND p.updated_at < $1
               AND NOT EXISTS (SELECT 1 FROM consent_events e WHERE e.person_id = p.id AND e.at >= $1)
               AND NOT EXISTS (SELECT 1 FROM form_responses r
                               WHERE r.person_id = p.id AND r.submitted_at >= $1)
             ORDER BY p.id LIMIT $2",
        )
        .bind(cutoff)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(db)
    }

    async fn export_person(&self, id: i64) -> StoreResult<Option<serde_json::Value>> {
        let mut conn = self.pool.acquire().await.map_err(db)?;
        let Some(person) = person_in(&mut conn, id).await? else {
            return Ok(None);
        };
        let mut out = serde_json::Map::new();
        for m in datamap::PERSONAL {
            let subject = match m.subject {
                Subject::Person => Some(id),
                Subject::Account => person.account,
            };
            if let Some(subject) = subject {
                let rows = rows_as_json(&mut conn, m.table, m.column, subject).await?;
                out.insert(m.table.to_owned(), rows);
            }
        }
        Ok(Some(serde_json::Value::Object(out)))
    }

    async fn erase_person(&self, id: i64) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await.map_err(db)?;
        let gone = sqlx::query("DELETE FROM people WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(db)?
            .rows_affected();
        if gone == 0 {
            return Ok(false);
        }
        for m in datamap::PERSONAL
            .iter()
            .filter(|m| m.subject == Subject::Person)
        {
            let sql = match m.erasure {
                Erasure::Delete => {
                    format!("DELETE FROM \"{}\" WHERE \"{}\" = $1", m.table, m.column)
                }
                Erasure::Unlink => format!(
                    "UPDATE \"{0}\" SET \"{1}\" = NULL WHERE \"{1}\" = $1",
                    m.table, m.column
                ),
            };
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(id)
                .execute(&mut *tx)
                .await
                .map_err(db)?;
            let left: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                "SELECT count(*) FROM \"{}\" WHERE \"{}\" = $1",
                m.table, m.column
            )))
            .bind(id)
            .fetch_one(&mut *tx)
            .await
            .map_err(db)?;
            if left != 0 {
                return Err(StoreError::Corrupt(format!(
                    "erasure left {left} rows in {}",
                    m.table
                )));
            }
        }
        tx.commit().await.map_err(db)?;
        Ok(true)
    }

    async fn schema(&self) -> StoreResult<Vec<TableSchema>> {
        let names: Vec<String> = sqlx::query_scalar(
            "SELECT table_name::text FROM information_schema.tables
             WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'
               AND table_name NOT LIKE '\\_sqlx%' ORDER BY table_name",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        let mut out = Vec::new();
        for name in names {
            let references: Vec<(String, String)> = sqlx::query_as(
                "SELECT a.attname::text, c.confrelid::regclass::text
                 FROM pg_constraint c
                 JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = ANY (c.conkey)
                 WHERE c.contype = 'f' AND c.conrelid = $1::regclass",
            )
            .bind(&name)
            .fetch_all(&self.pool)
            .await
            .map_err(db)?;
            out.push(TableSchema { name, references });
        }
        Ok(out)
    }
}

fn definition_from(text: &str) -> StoreResult<FormDefinition> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("form_versions: {e}")))
}

fn to_json<T: serde::Serialize>(v: &T) -> StoreResult<String> {
    serde_json::to_string(v).map_err(|e| StoreError::Other(Box::new(e)))
}

const FORM_QUERY: &str = "SELECT f.id, f.current_version, f.open, f.created_at, v.definition,
        (SELECT count(*) FROM form_responses r WHERE r.form_id = f.id) AS responses
     FROM forms f JOIN form_versions v ON v.form_id = f.id AND v.version = f.current_version";

fn form_from_row(row: &PgRow) -> StoreResult<FormRecord> {
    let definition: String = row.try_get("definition").map_err(db)?;
    let responses: i64 = row.try_get("responses").map_err(db)?;
    Ok(FormRecord {
        id: row.try_get("id").map_err(db)?,
        version: row.try_get("current_version").map_err(db)?,
        definition: definition_from(&definition)?,
        open: row.try_get("open").map_err(db)?,
        created_at: row.try_get("created_at").map_err(db)?,
        responses: u64::try_from(responses).unwrap_or(0),
    })
}

#[async_trait]
impl FormStore for PgStore {
    async fn create_form(
        &self,
        definition: &FormDefinition,
        at: OffsetDateTime,
    ) -> StoreResult<i64> {
        let json = to_json(definition)?;
        let mut tx = self.pool.begin().await.map_err(db)?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO forms (current_version, created_at) VALUES (1, $1) RETURNING id",
        )
        .bind(at)
        .fetch_one(&mut *tx)
        .await
        .map_err(db)?;
        sqlx::query(
            "INSERT INTO form_versions (form_id, version, definition, created_at) VALUES ($1, 1, $2, $3)",
        )
        .bind(id)
        .bind(json)
        .bind(at)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        tx.commit().await.map_err(db)?;
        Ok(id)
    }

    async fn form(&self, id: i64) -> StoreResult<Option<FormRecord>> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!("{FORM_QUERY} WHERE f.id = $1")))
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?;
        row.as_ref().map(form_from_row).transpose()
    }

    async fn form_versions(&self, id: i64) -> StoreResult<Vec<FormDefinition>> {
        let texts: Vec<String> = sqlx::query_scalar(
            "SELECT definition FROM form_versions WHERE form_id = $1 ORDER BY version",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        texts.iter().map(|t| definition_from(t)).collect()
    }

    async fn forms(&self) -> StoreResult<Vec<FormRecord>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{FORM_QUERY} ORDER BY f.id DESC"
        )))
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        rows.iter().map(form_from_row).collect()
    }

    async fn save_form(
        &self,
        id: i64,
        definition: &FormDefinition,
        at: OffsetDateTime,
    ) -> StoreResult<i64> {
        let json = to_json(definition)?;
        let mut tx = self.pool.begin().await.map_err(db)?;
        let current: i64 =
            sqlx::query_scalar("SELECT current_version FROM forms WHERE id = $1 FOR UPDATE")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await
                .map_err(db)?
                .ok_or_else(|| StoreError::Refused("there is no such form".to_owned()))?;
        // Every save is a new version, so a visitor who was shown the old one is told the
        // form changed, and no answer is ever read against questions it was not given to.
        let version = current + 1;
        sqlx::query(
            "INSERT INTO form_versions (form_id, version, definition, created_at)
             VALUES ($1, $2, $3, $4)",
        )
        .bind(id)
        .bind(version)
        .bind(&json)
        .bind(at)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        sqlx::query("UPDATE forms SET current_version = $1 WHERE id = $2")
            .bind(version)
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        tx.commit().await.map_err(db)?;
        Ok(version)
    }

    async fn set_form_open(&self, id: i64, open: bool) -> StoreResult<()> {
        sqlx::query("UPDATE forms SET open = $1 WHERE id = $2")
            .bind(open)
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(db)?;
        Ok(())
    }

    async fn delete_form(&self, id: i64) -> StoreResult<()> {
        sqlx::query("DELETE FROM forms WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(db)?;
        Ok(())
    }

    async fn submit_response(&self, r: &NewResponse<'_>) -> StoreResult<i64> {
        let answers = to_json(&r.answers)?;
        let mut tx = self.pool.begin().await.map_err(db)?;
        let live: Option<bool> = sqlx::query_scalar(
            "SELECT open FROM forms WHERE id = $1 AND current_version = $2 FOR SHARE",
        )
        .bind(r.form)
        .bind(r.version)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db)?;
        if live != Some(true) {
            return Err(StoreError::Refused(
                "this form is closed, or has changed since it was shown".to_owned(),
            ));
        }
        let person = match r.email {
            Some(email) => {
                let (id, _) = upsert_person(
                    &mut tx,
                    email,
                    Source::Form { form: r.form },
                    r.patch,
                    false,
                    r.at,
                )
                .await?;
                append_in(
                    &mut tx,
                    email,
                    ConsentChange {
                        person: id,
                        events: r.consents,
                        objections: &[],
                        actor: None,
                        purposes: r.purposes,
                        at: r.at,
                    },
                )
                .await?;
                if let Some(p) = &r.pending {
                    sqlx::query(
                        "INSERT INTO consent_confirmations
                         (hash, person_id, form_id, form_version, grants, submitted_at, expires_at)
                         VALUES ($1, $2, $3, $4, $5, $6, $7)",
                    )
                    .bind(&p.secret.0[..])
                    .bind(id)
                    .bind(r.form)
                    .bind(r.version)
                    .bind(to_json(&p.grants)?)
                    .bind(r.at)
                    .bind(p.expires_at)
                    .execute(&mut *tx)
                    .await
                    .map_err(db)?;
                }
                Some(id)
            }
            None => None,
        };
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO form_responses (form_id, version, person_id, answers, submitted_at)
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(r.form)
        .bind(r.version)
        .bind(person)
        .bind(answers)
        .bind(r.at)
        .fetch_one(&mut *tx)
        .await
        .map_err(db)?;
        tx.commit().await.map_err(db)?;
        Ok(id)
    }

    async fn responses(&self, form: i64) -> StoreResult<Vec<StoredResponse>> {
        let rows = sqlx::query(
            "SELECT id, version, person_id, answers, submitted_at FROM form_responses
             WHERE form_id = $1 ORDER BY id",
        )
        .bind(form)
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        rows.iter()
            .map(|r| {
                let answers: String = r.try_get("answers").map_err(db)?;
                let answers: Vec<(String, Answer)> = serde_json::from_str(&answers)
                    .map_err(|e| StoreError::Corrupt(format!("form_responses: {e}")))?;
                Ok(StoredResponse {
                    id: r.try_get("id").map_err(db)?,
                    version: r.try_get("version").map_err(db)?,
                    person: r.try_get("person_id").map_err(db)?,
                    answers,
                    submitted_at: r.try_get("submitted_at").map_err(db)?,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use candour_core::store::PeopleStore;

    /// Runs when `CANDOUR_TEST_POSTGRES_URL` names a server (CI sets it, and
    /// `CANDOUR_REQUIRE_POSTGRES` to make a missing server a failure).
    #[tokio::test]
    #[cfg_attr(
        not(postgres_tests),
        ignore = "set CANDOUR_TEST_POSTGRES_URL to run it on PostgreSQL"
    )]
    async fn the_ledger_refuses_changes_and_deletions_but_not_erasure() {
        let Ok(admin_url) = std::env::var("CANDOUR_TEST_POSTGRES_URL") else {
            assert!(
                std::env::var("CANDOUR_REQUIRE_POSTGRES").is_err(),
                "CANDOUR_REQUIRE_POSTGRES is set but CANDOUR_TEST_POSTGRES_URL is not"
            );
            return;
        };
        let name = format!("candour_test_{:016x}", std::process::id() as u64 * 7919);
        let admin = PgStore::admin(&admin_url).await.unwrap();
        admin.create_database(&name).await.unwrap();
        let store = PgStore::connect(&PgStore::url_with_database(&admin_url, &name))
            .await
            .unwrap();
        let email = EmailAddress::parse("jo@example.org").unwrap();
        let jo = store
            .ensure_person(&email, Source::Staff, OffsetDateTime::UNIX_EPOCH)
            .await
            .unwrap();
        sqlx::query(
            "INSERT INTO consent_events (person_id, purpose, granted, at, method)
             VALUES ($1, 'news', true, now(), 'preferences')",
        )
        .bind(jo.id)
        .execute(&store.pool)
        .await
        .unwrap();
        for sql in [
            "UPDATE consent_events SET granted = false",
            "DELETE FROM consent_events",
        ] {
            let e = sqlx::query(sql).execute(&store.pool).await.unwrap_err();
            assert!(e.to_string().contains("append-only"), "{sql}: {e}");
        }
        assert!(store.erase_person(jo.id).await.unwrap());
        let left: i64 = sqlx::query_scalar("SELECT count(*) FROM consent_events")
            .fetch_one(&store.pool)
            .await
            .unwrap();
        assert_eq!(left, 0);
        store.close().await;
        admin.drop_database(&name).await.unwrap();
        admin.close().await;
    }
}
