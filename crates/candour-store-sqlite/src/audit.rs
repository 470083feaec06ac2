//! The audit log on SQLite.

use async_trait::async_trait;
use candour_core::audit::{AuditEntry, AuditFilter, AuditPage};
use candour_core::store::{AuditStore, StoreResult};
use sqlx::{QueryBuilder, Row, Sqlite};
use time::OffsetDateTime;

use crate::{SqliteStore, db, from_unix, unix};

#[async_trait]
impl AuditStore for SqliteStore {
    async fn record(&self, e: &AuditEntry) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO audit_log (at, actor_id, actor_email, action, target, detail)
             VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(unix(e.at))
        .bind(e.actor)
        .bind(&e.actor_email)
        .bind(&e.action)
        .bind(&e.target)
        .bind(&e.detail)
        .execute(&self.writer)
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn purge_audit_before(&self, cutoff: OffsetDateTime) -> StoreResult<u64> {
        let done = sqlx::query("DELETE FROM audit_log WHERE at < ?")
            .bind(unix(cutoff))
            .execute(&self.writer)
            .await
            .map_err(db)?;
        Ok(done.rows_affected())
    }

    async fn recent(&self, limit: u32) -> StoreResult<Vec<AuditEntry>> {
        let rows = sqlx::query("SELECT * FROM audit_log ORDER BY at DESC, id DESC LIMIT ?")
            .bind(i64::from(limit))
            .fetch_all(&self.reader)
            .await
            .map_err(db)?;
        rows.iter()
            .map(|r| {
                Ok(AuditEntry {
                    at: from_unix(r.try_get("at").map_err(db)?)?,
                    actor: r.try_get("actor_id").map_err(db)?,
                    actor_email: r.try_get("actor_email").map_err(db)?,
                    action: r.try_get("action").map_err(db)?,
                    target: r.try_get("target").map_err(db)?,
                    detail: r.try_get("detail").map_err(db)?,
                })
            })
            .collect()
    }

    async fn search(&self, filter: &AuditFilter) -> StoreResult<AuditPage> {
        let mut count = QueryBuilder::<Sqlite>::new("SELECT COUNT(*) FROM audit_log");
        audit_where(&mut count, filter);
        let total: i64 = count
            .build_query_scalar()
            .fetch_one(&self.reader)
            .await
            .map_err(db)?;
        let mut page = QueryBuilder::<Sqlite>::new("SELECT * FROM audit_log");
        audit_where(&mut page, filter);
        page.push(" ORDER BY at DESC, id DESC LIMIT ")
            .push_bind(i64::from(filter.limit))
            .push(" OFFSET ")
            .push_bind(i64::try_from(filter.offset).unwrap_or(i64::MAX));
        let rows = page.build().fetch_all(&self.reader).await.map_err(db)?;
        let entries = rows
            .iter()
            .map(|r| {
                Ok(AuditEntry {
                    at: from_unix(r.try_get("at").map_err(db)?)?,
                    actor: r.try_get("actor_id").map_err(db)?,
                    actor_email: r.try_get("actor_email").map_err(db)?,
                    action: r.try_get("action").map_err(db)?,
                    target: r.try_get("target").map_err(db)?,
                    detail: r.try_get("detail").map_err(db)?,
                })
            })
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(AuditPage {
            entries,
            total: u64::try_from(total).unwrap_or(0),
        })
    }
}

/// The audit log filter's conditions, each on an indexed column.
fn audit_where(q: &mut QueryBuilder<Sqlite>, f: &AuditFilter) {
    let mut sep = " WHERE ";
    if let Some(target) = &f.target {
        q.push(sep).push("target = ").push_bind(target.clone());
        sep = " AND ";
    }
    if let Some(actor) = f.actor {
        q.push(sep).push("actor_id = ").push_bind(actor);
        sep = " AND ";
    }
    if let Some(action) = &f.action {
        q.push(sep).push("action = ").push_bind(action.clone());
        sep = " AND ";
    }
    if let Some(from) = f.from {
        q.push(sep).push("at >= ").push_bind(unix(from));
        sep = " AND ";
    }
    if let Some(until) = f.until {
        q.push(sep).push("at < ").push_bind(unix(until));
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use time::macros::datetime;

    /// SQLite's plan for the audit search with `filter`, one line per step.
    async fn plan(store: &SqliteStore, filter: &AuditFilter) -> String {
        let mut q = QueryBuilder::<Sqlite>::new("EXPLAIN QUERY PLAN SELECT * FROM audit_log");
        audit_where(&mut q, filter);
        q.push(" ORDER BY at DESC, id DESC LIMIT 50");
        let rows = q.build().fetch_all(&store.reader).await.unwrap();
        rows.iter()
            .map(|r| r.try_get::<String, _>("detail").unwrap())
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// The audit log's filters find their rows through an index, already in newest-first
    /// order: no scan of the whole log and no sort.
    #[tokio::test]
    async fn the_audit_filters_use_indexes() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("t.db").display());
        let store = SqliteStore::open(&url).await.unwrap();
        let t = datetime!(2026-06-01 09:00 UTC);
        let cases = [
            (
                AuditFilter {
                    target: Some("person:7".into()),
                    ..AuditFilter::default()
                },
                "audit_log_target_at (target=?)",
            ),
            (
                AuditFilter {
                    from: Some(t),
                    until: Some(t + time::Duration::days(1)),
                    ..AuditFilter::default()
                },
                "audit_log_at (at>? AND at<?)",
            ),
            (
                AuditFilter {
                    target: Some("person:7".into()),
                    from: Some(t),
                    until: Some(t + time::Duration::days(1)),
                    ..AuditFilter::default()
                },
                "audit_log_target_at (target=? AND at>? AND at<?)",
            ),
            (
                AuditFilter {
                    actor: Some(3),
                    ..AuditFilter::default()
                },
                "audit_log_actor_at (actor_id=?)",
            ),
            (
                AuditFilter {
                    action: Some("person.viewed".into()),
                    ..AuditFilter::default()
                },
                "audit_log_action_at (action=?)",
            ),
        ];
        for (filter, index) in cases {
            let plan = plan(&store, &filter).await;
            assert!(plan.contains(&format!("USING INDEX {index}")), "{plan}");
            assert!(!plan.contains("TEMP B-TREE"), "{plan}");
        }
    }
}
