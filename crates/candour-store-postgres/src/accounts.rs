//! Accounts, sessions, email links, the audit log and rate-limit counters on PostgreSQL.

use async_trait::async_trait;
use candour_core::account::{Account, NewAccount, Profile};
use candour_core::account::{EmailAddress, Phone, Postcode, Role};
use candour_core::audit::{AuditEntry, AuditFilter, AuditPage};
use candour_core::session::LinkClaim;
use candour_core::session::{LinkPurpose, SecretHash, Session};
use candour_core::store::{
    AccountStore, AuditStore, LinkStore, RateLimitStore, SecondFactorStore, SessionStore,
    StoreError, StoreResult,
};
use sqlx::postgres::PgRow;
use sqlx::{Postgres, QueryBuilder, Row};
use time::OffsetDateTime;

use crate::{PgStore, db};

fn corrupt(what: &str) -> StoreError {
    StoreError::Corrupt(format!("accounts.{what}"))
}

/// The profile columns that `accounts` and `people` share.
pub(crate) fn profile_from_row(row: &PgRow, table: &str) -> StoreResult<Profile> {
    let bad = |what: &str| StoreError::Corrupt(format!("{table}.{what}"));
    let phone: Option<String> = row.try_get("phone").map_err(db)?;
    let postcode: Option<String> = row.try_get("postcode").map_err(db)?;
    let interests: Vec<String> = row.try_get("interests").map_err(db)?;
    Ok(Profile {
        name: row.try_get("name").map_err(db)?,
        job_title: row.try_get("job_title").map_err(db)?,
        phone: phone
            .map(|p| Phone::parse(&p).map_err(|_| bad("phone")))
            .transpose()?,
        postal_address: row.try_get("postal_address").map_err(db)?,
        postcode: postcode
            .map(|p| Postcode::parse(&p).map_err(|_| bad("postcode")))
            .transpose()?,
        interests,
    })
}

fn account_from_row(row: &PgRow) -> StoreResult<Account> {
    let email: String = row.try_get("email").map_err(db)?;
    let role: Option<String> = row.try_get("role").map_err(db)?;
    Ok(Account {
        id: row.try_get("id").map_err(db)?,
        email: EmailAddress::parse(&email).map_err(|_| corrupt("email"))?,
        email_verified: row.try_get("email_verified").map_err(db)?,
        password_hash: row.try_get("password_hash").map_err(db)?,
        role: match role {
            Some(r) => Some(Role::parse(&r).ok_or_else(|| corrupt("role"))?),
            None => None,
        },
        profile: profile_from_row(row, "accounts")?,
        totp_secret: row.try_get("totp_secret").map_err(db)?,
        created_at: row.try_get("created_at").map_err(db)?,
    })
}

fn duplicate_email(e: sqlx::Error) -> StoreError {
    match e {
        sqlx::Error::Database(d) if d.is_unique_violation() => {
            StoreError::Duplicate("an account with this email address")
        }
        other => db(other),
    }
}

#[async_trait]
impl AccountStore for PgStore {
    async fn create_account(&self, new: &NewAccount) -> StoreResult<i64> {
        let row = sqlx::query(
            "INSERT INTO accounts (email, email_verified, password_hash, role, name, created_at)
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(new.email.as_str())
        .bind(new.email_verified)
        .bind(&new.password_hash)
        .bind(new.role.map(Role::as_str))
        .bind(&new.name)
        .bind(new.created_at)
        .fetch_one(&self.pool)
        .await
        .map_err(duplicate_email)?;
        row.try_get("id").map_err(db)
    }

    async fn account(&self, id: i64) -> StoreResult<Option<Account>> {
        let row = sqlx::query("SELECT * FROM accounts WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?;
        row.as_ref().map(account_from_row).transpose()
    }

    async fn account_by_email(&self, email: &EmailAddress) -> StoreResult<Option<Account>> {
        let row = sqlx::query("SELECT * FROM accounts WHERE email = $1")
            .bind(email.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?;
        row.as_ref().map(account_from_row).transpose()
    }

    async fn update_profile(&self, id: i64, p: &Profile) -> StoreResult<()> {
        sqlx::query(
            "UPDATE accounts SET name = $1, job_title = $2, phone = $3, postal_address = $4,
                    postcode = $5, interests = $6
             WHERE id = $7",
        )
        .bind(&p.name)
        .bind(&p.job_title)
        .bind(p.phone.as_ref().map(Phone::as_str))
        .bind(&p.postal_address)
        .bind(p.postcode.as_ref().map(Postcode::as_str))
        .bind(&p.interests)
        .bind(id)
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn mark_email_verified(&self, id: i64) -> StoreResult<()> {
        sqlx::query("UPDATE accounts SET email_verified = true WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(db)?;
        Ok(())
    }

    async fn change_email(&self, id: i64, email: &EmailAddress) -> StoreResult<()> {
        sqlx::query("UPDATE accounts SET email = $1, email_verified = true WHERE id = $2")
            .bind(email.as_str())
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(duplicate_email)?;
        Ok(())
    }

    async fn change_password(&self, id: i64, password_hash: &str) -> StoreResult<()> {
        let mut tx = self.pool.begin().await.map_err(db)?;
        sqlx::query("UPDATE accounts SET password_hash = $1 WHERE id = $2")
            .bind(password_hash)
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        sqlx::query("DELETE FROM sessions WHERE account_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        sqlx::query("DELETE FROM email_links WHERE account_id = $1 AND purpose = 'reset-password'")
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        tx.commit().await.map_err(db)
    }

    async fn set_role(&self, id: i64, role: Option<Role>) -> StoreResult<()> {
        sqlx::query("UPDATE accounts SET role = $1 WHERE id = $2")
            .bind(role.map(Role::as_str))
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(db)?;
        Ok(())
    }

    async fn delete_account(&self, id: i64) -> StoreResult<()> {
        // Sessions, links and recovery codes go with it (ON DELETE CASCADE).
        sqlx::query("DELETE FROM accounts WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(db)?;
        Ok(())
    }

    async fn staff(&self) -> StoreResult<Vec<Account>> {
        let rows = sqlx::query("SELECT * FROM accounts WHERE role IS NOT NULL ORDER BY email")
            .fetch_all(&self.pool)
            .await
            .map_err(db)?;
        rows.iter().map(account_from_row).collect()
    }
}

#[async_trait]
impl SecondFactorStore for PgStore {
    async fn enable_totp(&self, id: i64, secret: &[u8], recovery: &[[u8; 32]]) -> StoreResult<()> {
        let mut tx = self.pool.begin().await.map_err(db)?;
        sqlx::query("UPDATE accounts SET totp_secret = $1, totp_last_step = NULL WHERE id = $2")
            .bind(secret)
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        sqlx::query("DELETE FROM recovery_codes WHERE account_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        for hash in recovery {
            sqlx::query("INSERT INTO recovery_codes (account_id, hash) VALUES ($1, $2)")
                .bind(id)
                .bind(&hash[..])
                .execute(&mut *tx)
                .await
                .map_err(db)?;
        }
        tx.commit().await.map_err(db)
    }

    async fn disable_totp(&self, id: i64) -> StoreResult<()> {
        let mut tx = self.pool.begin().await.map_err(db)?;
        sqlx::query("UPDATE accounts SET totp_secret = NULL, totp_last_step = NULL WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        sqlx::query("DELETE FROM recovery_codes WHERE account_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        tx.commit().await.map_err(db)
    }

    async fn use_totp_step(&self, id: i64, step: i64) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE accounts SET totp_last_step = $1
             WHERE id = $2 AND (totp_last_step IS NULL OR totp_last_step < $3)",
        )
        .bind(step)
        .bind(id)
        .bind(step)
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(done.rows_affected() == 1)
    }

    async fn use_recovery_code(&self, id: i64, hash: &[u8; 32]) -> StoreResult<bool> {
        let done = sqlx::query("DELETE FROM recovery_codes WHERE account_id = $1 AND hash = $2")
            .bind(id)
            .bind(&hash[..])
            .execute(&self.pool)
            .await
            .map_err(db)?;
        Ok(done.rows_affected() == 1)
    }
}

#[async_trait]
impl SessionStore for PgStore {
    async fn create_session(
        &self,
        secret: &SecretHash,
        account: i64,
        now: OffsetDateTime,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO sessions (hash, account_id, created_at, last_seen_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(&secret.0[..])
        .bind(account)
        .bind(now)
        .bind(now)
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn session(&self, secret: &SecretHash) -> StoreResult<Option<Session>> {
        let row = sqlx::query(
            "SELECT account_id, created_at, last_seen_at FROM sessions WHERE hash = $1",
        )
        .bind(&secret.0[..])
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?;
        row.map(|r| {
            Ok(Session {
                account: r.try_get("account_id").map_err(db)?,
                created_at: r.try_get("created_at").map_err(db)?,
                last_seen_at: r.try_get("last_seen_at").map_err(db)?,
            })
        })
        .transpose()
    }

    async fn touch_session(&self, secret: &SecretHash, now: OffsetDateTime) -> StoreResult<()> {
        sqlx::query("UPDATE sessions SET last_seen_at = $1 WHERE hash = $2")
            .bind(now)
            .bind(&secret.0[..])
            .execute(&self.pool)
            .await
            .map_err(db)?;
        Ok(())
    }

    async fn end_session(&self, secret: &SecretHash) -> StoreResult<()> {
        sqlx::query("DELETE FROM sessions WHERE hash = $1")
            .bind(&secret.0[..])
            .execute(&self.pool)
            .await
            .map_err(db)?;
        Ok(())
    }

    async fn end_all_sessions(&self, account: i64) -> StoreResult<u64> {
        let done = sqlx::query("DELETE FROM sessions WHERE account_id = $1")
            .bind(account)
            .execute(&self.pool)
            .await
            .map_err(db)?;
        Ok(done.rows_affected())
    }

    async fn purge_sessions_before(&self, cutoff: OffsetDateTime) -> StoreResult<u64> {
        let done = sqlx::query("DELETE FROM sessions WHERE last_seen_at < $1")
            .bind(cutoff)
            .execute(&self.pool)
            .await
            .map_err(db)?;
        Ok(done.rows_affected())
    }
}

#[async_trait]
impl LinkStore for PgStore {
    async fn create_link(
        &self,
        secret: &SecretHash,
        purpose: LinkPurpose,
        account: i64,
        new_email: Option<&EmailAddress>,
        expires_at: OffsetDateTime,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO email_links (hash, purpose, account_id, new_email, expires_at)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&secret.0[..])
        .bind(purpose.as_str())
        .bind(account)
        .bind(new_email.map(EmailAddress::as_str))
        .bind(expires_at)
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn consume_link(
        &self,
        secret: &SecretHash,
        purpose: LinkPurpose,
        now: OffsetDateTime,
    ) -> StoreResult<Option<LinkClaim>> {
        // One statement: two requests racing with one link cannot both succeed.
        let row = sqlx::query(
            "UPDATE email_links SET used_at = $1
             WHERE hash = $2 AND purpose = $3 AND used_at IS NULL AND expires_at > $4
             RETURNING account_id, new_email",
        )
        .bind(now)
        .bind(&secret.0[..])
        .bind(purpose.as_str())
        .bind(now)
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?;
        row.map(|r| {
            let new_email: Option<String> = r.try_get("new_email").map_err(db)?;
            Ok(LinkClaim {
                account: r.try_get("account_id").map_err(db)?,
                new_email: new_email
                    .map(|e| EmailAddress::parse(&e).map_err(|_| corrupt("new_email")))
                    .transpose()?,
            })
        })
        .transpose()
    }

    async fn purge_links_before(&self, cutoff: OffsetDateTime) -> StoreResult<u64> {
        let done = sqlx::query("DELETE FROM email_links WHERE expires_at < $1")
            .bind(cutoff)
            .execute(&self.pool)
            .await
            .map_err(db)?;
        Ok(done.rows_affected())
    }
}

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

#[async_trait]
impl RateLimitStore for PgStore {
    async fn hit(&self, key: &str, window_start: OffsetDateTime) -> StoreResult<u32> {
        let mut tx = self.pool.begin().await.map_err(db)?;
        sqlx::query("DELETE FROM rate_limits WHERE key = $1 AND window_start < $2")
            .bind(key)
            .bind(window_start)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        let count: i32 = sqlx::query_scalar(
            "INSERT INTO rate_limits (key, window_start, count) VALUES ($1, $2, 1)
             ON CONFLICT (key, window_start) DO UPDATE SET count = rate_limits.count + 1
             RETURNING count",
        )
        .bind(key)
        .bind(window_start)
        .fetch_one(&mut *tx)
        .await
        .map_err(db)?;
        tx.commit().await.map_err(db)?;
        Ok(u32::try_from(count).unwrap_or(u32::MAX))
    }

    async fn forgive(&self, key: &str, window_start: OffsetDateTime) -> StoreResult<()> {
        sqlx::query(
            "UPDATE rate_limits SET count = count - 1
             WHERE key = $1 AND window_start = $2 AND count > 0",
        )
        .bind(key)
        .bind(window_start)
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn count(&self, key: &str, window_start: OffsetDateTime) -> StoreResult<u32> {
        let count: Option<i32> = sqlx::query_scalar(
            "SELECT count FROM rate_limits WHERE key = $1 AND window_start = $2",
        )
        .bind(key)
        .bind(window_start)
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?;
        Ok(count.map_or(0, |c| u32::try_from(c).unwrap_or(u32::MAX)))
    }

    async fn purge_windows_before(&self, cutoff: OffsetDateTime) -> StoreResult<u64> {
        let done = sqlx::query("DELETE FROM rate_limits WHERE window_start < $1")
            .bind(cutoff)
            .execute(&self.pool)
            .await
            .map_err(db)?;
        Ok(done.rows_affected())
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
