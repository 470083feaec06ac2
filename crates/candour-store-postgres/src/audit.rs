//! The audit log on PostgreSQL.

use async_trait::async_trait;
use candour_core::audit::{AuditEntry, AuditFilter, AuditPage};
use candour_core::store::{AuditStore, StoreResult};
use sqlx::{Postgres, QueryBuilder, Row};
use time::OffsetDateTime;

use crate::{PgStore, db};

#[async_trait]
impl AuditStore for PgStore {
    async fn record(&self, e: &AuditEntry) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO audit_log (at, actor_id, actor_email, action, target, detail)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(e.at)
        .bind(e.actor)
        .bind(&e.actor_email)
        .bind(&e.action)
        .bind(&e.target)
        .bind(&e.detail)
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn purge_audit_before(&self, cutoff: OffsetDateTime) -> StoreResult<u64> {
        let done = sqlx::query("DELETE FROM audit_log WHERE at < $1")
            .bind(cutoff)
            .execute(&self.pool)
            .await
            .map_err(db)?;
        Ok(done.rows_affected())
    }

    async fn recent(&self, limit: u32) -> StoreResult<Vec<AuditEntry>> {
        let rows = sqlx::query("SELECT * FROM audit_log ORDER BY at DESC, id DESC LIMIT $1")
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(db)?;
        rows.iter()
            .map(|r| {
                Ok(AuditEntry {
                    at: r.try_get("at").map_err(db)?,
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
        let mut count = QueryBuilder::<Postgres>::new("SELECT COUNT(*) FROM audit_log");
        audit_where(&mut count, filter);
        let total: i64 = count
            .build_query_scalar()
            .fetch_one(&self.pool)
            .await
            .map_err(db)?;
        let mut page = QueryBuilder::<Postgres>::new("SELECT * FROM audit_log");
        audit_where(&mut page, filter);
        page.push(" ORDER BY at DESC, id DESC LIMIT ")
            .push_bind(i64::from(filter.limit))
            .push(" OFFSET ")
            .push_bind(i64::try_from(filter.offset).unwrap_or(i64::MAX));
        let rows = page.build().fetch_all(&self.pool).await.map_err(db)?;
        let entries = rows
            .iter()
            .map(|r| {
                Ok(AuditEntry {
                    at: r.try_get("at").map_err(db)?,
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
fn audit_where(q: &mut QueryBuilder<Postgres>, f: &AuditFilter) {
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
        q.push(sep).push("at >= ").push_bind(from);
        sep = " AND ";
    }
    if let Some(until) = f.until {
        q.push(sep).push("at < ").push_bind(until);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use candour_core::config::DatabaseSettings;
    use time::macros::datetime;

    /// The audit log's filters by person and by dates can use an index (with sequential
    /// scans ruled out, a filter no index serves would still scan the table). Runs when
    /// `CANDOUR_TEST_POSTGRES_URL` names a server.
    #[tokio::test]
    #[cfg_attr(
        not(postgres_tests),
        ignore = "set CANDOUR_TEST_POSTGRES_URL to run it on PostgreSQL"
    )]
    async fn the_audit_filters_can_use_indexes() {
        let Ok(admin_url) = std::env::var("CANDOUR_TEST_POSTGRES_URL") else {
            assert!(
                std::env::var("CANDOUR_REQUIRE_POSTGRES").is_err(),
                "CANDOUR_REQUIRE_POSTGRES is set but CANDOUR_TEST_POSTGRES_URL is not"
            );
            return;
        };
        let name = format!("candour_test_{:016x}", u64::from(std::process::id()) * 6151);
        let admin = PgStore::admin(&admin_url).await.unwrap();
        admin.create_database(&name).await.unwrap();
        let url = PgStore::url_with_database(&admin_url, &name);
        let store = PgStore::connect_with(&url, &DatabaseSettings::default())
            .await
            .unwrap();
        let t = datetime!(2026-06-01 09:00 UTC);
        let cases = [
            (
                AuditFilter {
                    target: Some("person:7".into()),
                    ..AuditFilter::default()
                },
                "audit_log_target_at",
            ),
            (
                AuditFilter {
                    from: Some(t),
                    until: Some(t + time::Duration::days(1)),
                    ..AuditFilter::default()
                },
                "audit_log_at",
            ),
            (
                AuditFilter {
                    target: Some("person:7".into()),
                    from: Some(t),
                    until: Some(t + time::Duration::days(1)),
                    ..AuditFilter::default()
                },
                "audit_log_target_at",
            ),
            (
                AuditFilter {
                    actor: Some(3),
                    ..AuditFilter::default()
                },
                "audit_log_actor_at",
            ),
        ];
        for (filter, index) in cases {
            let mut tx = store.pool.begin().await.unwrap();
            sqlx::query("SET LOCAL enable_seqscan = off")
                .execute(&mut *tx)
                .await
                .unwrap();
            let mut q = QueryBuilder::<Postgres>::new("EXPLAIN SELECT * FROM audit_log");
            audit_where(&mut q, &filter);
            q.push(" ORDER BY at DESC, id DESC LIMIT 50");
            let rows = q.build().fetch_all(&mut *tx).await.unwrap();
            let plan = rows
                .iter()
                .map(|r| r.try_get::<String, _>(0).unwrap())
                .collect::<Vec<_>>()
                .join("\n");
            assert!(plan.contains(index), "{index}: {plan}");
            assert!(!plan.contains("Seq Scan"), "{plan}");
            tx.rollback().await.unwrap();
        }
        store.close().await;
        admin.drop_database(&name).await.unwrap();
        admin.close().await;
    }
}
