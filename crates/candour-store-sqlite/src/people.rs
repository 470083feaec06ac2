//! People's records on SQLite, and the helpers the ledger, imports, subject data and forms
//! share.
//!
//! Every change that touches the ledger happens in one transaction with the checks it
//! depends on (the suppression list is read inside it), so nothing is half-written.

use async_trait::async_trait;
use candour_core::account::Profile;
use candour_core::account::{EmailAddress, Phone, Postcode};
use candour_core::forms::PersonPatch;
use candour_core::people::ConsentChange;
use candour_core::people::{
    ConsentEvent, Method, NewConsent, Person, Source, Wording, suppression_key,
};
use candour_core::purposes::Channel;
use candour_core::store::{PeopleStore, StoreError, StoreResult};
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqliteConnection};
use time::OffsetDateTime;

use crate::accounts::profile_from_row;
use crate::{SqliteStore, db, from_unix, unix};

const PERSON_COLUMNS: &str = "id, email, name, job_title, phone, postal_address, postcode, \
                              interests, source, account_id, created_at, updated_at";

pub(crate) fn corrupt(what: &str) -> StoreError {
    StoreError::Corrupt(format!("people.{what}"))
}

fn person_from_row(row: &SqliteRow) -> StoreResult<Person> {
    let email: String = row.try_get("email").map_err(db)?;
    let source: String = row.try_get("source").map_err(db)?;
    Ok(Person {
        id: row.try_get("id").map_err(db)?,
        email: EmailAddress::parse(&email).map_err(|_| corrupt("email"))?,
        details: profile_from_row(row, "people")?,
        source: Source::from_text(&source).ok_or_else(|| corrupt("source"))?,
        account: row.try_get("account_id").map_err(db)?,
        created_at: from_unix(row.try_get("created_at").map_err(db)?)?,
        updated_at: from_unix(row.try_get("updated_at").map_err(db)?)?,
    })
}

fn event_from_row(row: &SqliteRow) -> StoreResult<ConsentEvent> {
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
        at: from_unix(row.try_get("at").map_err(db)?)?,
        method: Method::from_text(&method).ok_or_else(|| corrupt("consent_events.method"))?,
        wording,
        actor: row.try_get("actor_id").map_err(db)?,
        note: row.try_get("note").map_err(db)?,
    })
}

pub(crate) async fn person_in(conn: &mut SqliteConnection, id: i64) -> StoreResult<Option<Person>> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {PERSON_COLUMNS} FROM people WHERE id = ?"
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
pub(crate) async fn upsert_person(
    conn: &mut SqliteConnection,
    email: &EmailAddress,
    source: Source,
    patch: &PersonPatch,
    overwrite: bool,
    at: OffsetDateTime,
) -> StoreResult<(i64, bool)> {
    let inserted = sqlx::query(
        "INSERT INTO people (email, source, account_id, created_at, updated_at)
         VALUES (?, ?, (SELECT id FROM accounts WHERE email = ?), ?, ?)
         ON CONFLICT (email) DO NOTHING",
    )
    .bind(email.as_str())
    .bind(source.to_text())
    .bind(email.as_str())
    .bind(unix(at))
    .bind(unix(at))
    .execute(&mut *conn)
    .await
    .map_err(db)?
    .rows_affected()
        == 1;
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {PERSON_COLUMNS} FROM people WHERE email = ?"
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

pub(crate) async fn write_details(
    conn: &mut SqliteConnection,
    id: i64,
    p: &Profile,
    at: OffsetDateTime,
) -> StoreResult<()> {
    sqlx::query(
        "UPDATE people SET name = ?, job_title = ?, phone = ?, postal_address = ?,
                postcode = ?, interests = ?, updated_at = ?
         WHERE id = ?",
    )
    .bind(&p.name)
    .bind(&p.job_title)
    .bind(p.phone.as_ref().map(Phone::as_str))
    .bind(&p.postal_address)
    .bind(p.postcode.as_ref().map(Postcode::as_str))
    .bind(p.interests.join(" "))
    .bind(unix(at))
    .bind(id)
    .execute(&mut *conn)
    .await
    .map_err(db)?;
    Ok(())
}

pub(crate) async fn suppressed_in(
    conn: &mut SqliteConnection,
    key: &[u8; 32],
) -> StoreResult<Vec<Channel>> {
    let rows: Vec<String> =
        sqlx::query_scalar("SELECT channel FROM suppressions WHERE email_key = ?")
            .bind(&key[..])
            .fetch_all(&mut *conn)
            .await
            .map_err(db)?;
    Ok(rows.iter().filter_map(|c| Channel::parse(c)).collect())
}

pub(crate) async fn events_in(
    conn: &mut SqliteConnection,
    person: i64,
) -> StoreResult<Vec<ConsentEvent>> {
    let rows = sqlx::query(
        "SELECT e.id, e.person_id, e.purpose, e.channel, e.granted, e.at, e.method,
                e.wording_hash, w.text AS wording, e.actor_id, e.note
         FROM consent_events e LEFT JOIN consent_wordings w ON w.hash = e.wording_hash
         WHERE e.person_id = ? ORDER BY e.at, e.id",
    )
    .bind(person)
    .fetch_all(&mut *conn)
    .await
    .map_err(db)?;
    rows.iter().map(event_from_row).collect()
}

pub(crate) async fn insert_event(
    conn: &mut SqliteConnection,
    person: i64,
    e: &NewConsent,
    at: OffsetDateTime,
) -> StoreResult<()> {
    if let Some(w) = &e.wording {
        sqlx::query(
            "INSERT INTO consent_wordings (hash, text) VALUES (?, ?) ON CONFLICT DO NOTHING",
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
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(person)
    .bind(&e.purpose)
    .bind(e.channel.map(Channel::as_str))
    .bind(e.granted)
    .bind(unix(at))
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
pub(crate) async fn append_in(
    conn: &mut SqliteConnection,
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
        sqlx::query("DELETE FROM suppressions WHERE email_key = ? AND channel = ?")
            .bind(&key[..])
            .bind(channel.as_str())
            .execute(&mut *conn)
            .await
            .map_err(db)?;
    }
    for (channel, method) in writes.suppress {
        sqlx::query(
            "INSERT INTO suppressions (email_key, channel, at, method) VALUES (?, ?, ?, ?)
             ON CONFLICT (email_key, channel) DO NOTHING",
        )
        .bind(&key[..])
        .bind(channel.as_str())
        .bind(unix(change.at))
        .bind(method.to_text())
        .execute(&mut *conn)
        .await
        .map_err(db)?;
    }
    Ok(())
}

pub(crate) async fn email_of(
    conn: &mut SqliteConnection,
    person: i64,
) -> StoreResult<EmailAddress> {
    let email: String = sqlx::query_scalar("SELECT email FROM people WHERE id = ?")
        .bind(person)
        .fetch_optional(&mut *conn)
        .await
        .map_err(db)?
        .ok_or_else(|| StoreError::Refused("there is no such person".to_owned()))?;
    EmailAddress::parse(&email).map_err(|_| corrupt("email"))
}

#[async_trait]
impl PeopleStore for SqliteStore {
    async fn person(&self, id: i64) -> StoreResult<Option<Person>> {
        let mut conn = self.reader.acquire().await.map_err(db)?;
        person_in(&mut conn, id).await
    }

    async fn person_by_email(&self, email: &EmailAddress) -> StoreResult<Option<Person>> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {PERSON_COLUMNS} FROM people WHERE email = ?"
        )))
        .bind(email.as_str())
        .fetch_optional(&self.reader)
        .await
        .map_err(db)?;
        row.as_ref().map(person_from_row).transpose()
    }

    async fn person_for_account(&self, account: i64) -> StoreResult<Option<Person>> {
        // A read, the usual case: the record linked to the account, or the one with its
        // address. Only a record not linked yet takes a write.
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {PERSON_COLUMNS} FROM people
             WHERE account_id = ?1
                OR email = (SELECT email FROM accounts WHERE id = ?1)
             ORDER BY account_id IS NULL LIMIT 1"
        )))
        .bind(account)
        .fetch_optional(&self.reader)
        .await
        .map_err(db)?;
        let Some(person) = row.as_ref().map(person_from_row).transpose()? else {
            return Ok(None);
        };
        if person.account.is_some() {
            return Ok(Some(person));
        }
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE people SET account_id = ?1 WHERE id = ?2 AND account_id IS NULL
             RETURNING {PERSON_COLUMNS}"
        )))
        .bind(account)
        .bind(person.id)
        .fetch_optional(&self.writer)
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
        let mut tx = self.writer.begin().await.map_err(db)?;
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
             WHERE email LIKE ?1 ESCAPE '\\' OR lower(name) LIKE ?1 ESCAPE '\\'
             ORDER BY email LIMIT ?2"
        )))
        .bind(pattern)
        .bind(i64::from(limit))
        .fetch_all(&self.reader)
        .await
        .map_err(db)?;
        rows.iter().map(person_from_row).collect()
    }

    async fn count_people(&self) -> StoreResult<u64> {
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM people")
            .fetch_one(&self.reader)
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
        let mut conn = self.writer.acquire().await.map_err(db)?;
        write_details(&mut conn, id, details, at).await
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use candour_core::store::{PeopleStore, SubjectStore};

    #[tokio::test]
    async fn the_ledger_refuses_changes_and_deletions_but_not_erasure() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("t.db").display());
        let store = SqliteStore::open(&url).await.unwrap();
        let email = EmailAddress::parse("jo@example.org").unwrap();
        let at = OffsetDateTime::UNIX_EPOCH;
        let jo = store
            .ensure_person(&email, Source::Staff, at)
            .await
            .unwrap();
        sqlx::query(
            "INSERT INTO consent_events (person_id, purpose, granted, at, method)
             VALUES (?, 'news', 1, 0, 'preferences')",
        )
        .bind(jo.id)
        .execute(&store.writer)
        .await
        .unwrap();
        for sql in [
            "UPDATE consent_events SET granted = 0",
            "DELETE FROM consent_events",
        ] {
            let e = sqlx::query(sql).execute(&store.writer).await.unwrap_err();
            assert!(e.to_string().contains("append-only"), "{sql}: {e}");
        }
        assert!(store.erase_person(jo.id).await.unwrap());
        let left: i64 = sqlx::query_scalar("SELECT count(*) FROM consent_events")
            .fetch_one(&store.writer)
            .await
            .unwrap();
        assert_eq!(left, 0);
    }
}
