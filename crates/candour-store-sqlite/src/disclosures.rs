//! The register of recipients and the disclosures on SQLite.

use async_trait::async_trait;
use candour_core::disclosures::{
    Disclosure, NewDisclosure, Recipient, RecipientDraft, basis_code, parse_basis,
};
use candour_core::store::{DisclosureStore, StoreError, StoreResult};
use sqlx::sqlite::SqliteRow;
use sqlx::{QueryBuilder, Row, Sqlite};
use time::OffsetDateTime;

use crate::{SqliteStore, db, from_unix, unix};

/// People per INSERT: one parameter each, well under SQLite's limit of 32766.
const CHUNK: usize = 10_000;

fn recipient(row: &SqliteRow) -> StoreResult<Recipient> {
    let basis: String = row.try_get("basis").map_err(db)?;
    Ok(Recipient {
        id: row.try_get("id").map_err(db)?,
        name: row.try_get("name").map_err(db)?,
        purpose: row.try_get("purpose").map_err(db)?,
        basis: parse_basis(&basis)
            .ok_or_else(|| StoreError::Corrupt(format!("{basis:?} is not a lawful basis")))?,
        active: row.try_get("active").map_err(db)?,
    })
}

fn disclosure(row: &SqliteRow) -> StoreResult<Disclosure> {
    Ok(Disclosure {
        id: row.try_get("id").map_err(db)?,
        recipient: row.try_get("recipient_id").map_err(db)?,
        internal_purpose: row.try_get("internal_purpose").map_err(db)?,
        actor: row.try_get("actor_id").map_err(db)?,
        kind: row.try_get("kind").map_err(db)?,
        description: row.try_get("description").map_err(db)?,
        people_count: row.try_get("people_count").map_err(db)?,
        at: from_unix(row.try_get("at").map_err(db)?)?,
    })
}

fn duplicate(e: sqlx::Error) -> StoreError {
    match e {
        sqlx::Error::Database(d) if d.is_unique_violation() => {
            StoreError::Duplicate("a recipient with this name")
        }
        other => db(other),
    }
}

#[async_trait]
impl DisclosureStore for SqliteStore {
    async fn recipients(&self) -> StoreResult<Vec<Recipient>> {
        sqlx::query(
            "SELECT id, name, purpose, basis, active FROM disclosure_recipients
             ORDER BY active DESC, name, id",
        )
        .fetch_all(&self.reader)
        .await
        .map_err(db)?
        .iter()
        .map(recipient)
        .collect()
    }

    async fn add_recipient(&self, draft: &RecipientDraft, at: OffsetDateTime) -> StoreResult<i64> {
        sqlx::query_scalar(
            "INSERT INTO disclosure_recipients (name, purpose, basis, created_at)
             VALUES (?, ?, ?, ?) RETURNING id",
        )
        .bind(&draft.name)
        .bind(&draft.purpose)
        .bind(basis_code(draft.basis))
        .bind(unix(at))
        .fetch_one(&self.writer)
        .await
        .map_err(duplicate)
    }

    async fn change_recipient(&self, id: i64, draft: &RecipientDraft) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE disclosure_recipients SET name = ?, purpose = ?, basis = ? WHERE id = ?",
        )
        .bind(&draft.name)
        .bind(&draft.purpose)
        .bind(basis_code(draft.basis))
        .bind(id)
        .execute(&self.writer)
        .await
        .map_err(duplicate)?;
        Ok(done.rows_affected() == 1)
    }

    async fn set_recipient_active(&self, id: i64, active: bool) -> StoreResult<bool> {
        let done = sqlx::query("UPDATE disclosure_recipients SET active = ? WHERE id = ?")
            .bind(active)
            .bind(id)
            .execute(&self.writer)
            .await
            .map_err(db)?;
        Ok(done.rows_affected() == 1)
    }

    async fn record_disclosure(&self, new: &NewDisclosure) -> StoreResult<i64> {
        let mut people = new.people.clone();
        people.sort_unstable();
        people.dedup();
        let mut tx = self.writer.begin().await.map_err(db)?;
        if let Some(r) = new.for_whom.recipient() {
            let active: Option<bool> =
                sqlx::query_scalar("SELECT active FROM disclosure_recipients WHERE id = ?")
                    .bind(r)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(db)?;
            if active != Some(true) {
                return Err(StoreError::Refused(
                    "the recipient is not an active one in the register".into(),
                ));
            }
        }
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO disclosures
                 (recipient_id, internal_purpose, actor_id, kind, description, people_count, at)
             VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
        )
        .bind(new.for_whom.recipient())
        .bind(new.for_whom.internal_purpose())
        .bind(new.actor)
        .bind(&new.kind)
        .bind(&new.description)
        .bind(people.len() as i64)
        .bind(unix(new.at))
        .fetch_one(&mut *tx)
        .await
        .map_err(db)?;
        // A person erased since the export was read (or named only in the audit log) has
        // no record left to link: they are counted, not linked.
        for chunk in people.chunks(CHUNK) {
            let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(
                "INSERT INTO disclosure_people (disclosure_id, person_id) SELECT ",
            );
            q.push_bind(id).push(", id FROM people WHERE id IN (");
            let mut list = q.separated(", ");
            for p in chunk {
                list.push_bind(*p);
            }
            q.push(")");
            q.build().execute(&mut *tx).await.map_err(db)?;
        }
        tx.commit().await.map_err(db)?;
        Ok(id)
    }

    async fn latest_disclosures(&self, limit: i64) -> StoreResult<Vec<Disclosure>> {
        sqlx::query(
            "SELECT id, recipient_id, internal_purpose, actor_id, kind, description, people_count, at
             FROM disclosures ORDER BY id DESC LIMIT ?",
        )
        .bind(limit)
        .fetch_all(&self.reader)
        .await
        .map_err(db)?
        .iter()
        .map(disclosure)
        .collect()
    }

    async fn disclosed_people(&self, disclosure: i64) -> StoreResult<Vec<i64>> {
        sqlx::query_scalar(
            "SELECT person_id FROM disclosure_people WHERE disclosure_id = ? ORDER BY person_id",
        )
        .bind(disclosure)
        .fetch_all(&self.reader)
        .await
        .map_err(db)
    }

    async fn disclosures_about(&self, person: i64) -> StoreResult<Vec<Disclosure>> {
        sqlx::query(
            "SELECT d.id, d.recipient_id, d.internal_purpose, d.actor_id, d.kind, d.description,
                    d.people_count, d.at
             FROM disclosure_people p JOIN disclosures d ON d.id = p.disclosure_id
             WHERE p.person_id = ? ORDER BY d.id",
        )
        .bind(person)
        .fetch_all(&self.reader)
        .await
        .map_err(db)?
        .iter()
        .map(disclosure)
        .collect()
    }
}
