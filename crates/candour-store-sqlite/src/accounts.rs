//! Accounts, their profiles and the second factor on SQLite.

use async_trait::async_trait;
use candour_core::account::{Account, NewAccount, Profile};
use candour_core::account::{EmailAddress, Phone, Postcode, Role};
use candour_core::store::{AccountStore, SecondFactorStore, StoreError, StoreResult};
use sqlx::Row;
use sqlx::sqlite::SqliteRow;

use crate::{SqliteStore, db, from_unix, unix};

pub(crate) fn corrupt(what: &str) -> StoreError {
    StoreError::Corrupt(format!("accounts.{what}"))
}

/// The profile columns that `accounts` and `people` share.
pub(crate) fn profile_from_row(row: &SqliteRow, table: &str) -> StoreResult<Profile> {
    let bad = |what: &str| StoreError::Corrupt(format!("{table}.{what}"));
    let phone: Option<String> = row.try_get("phone").map_err(db)?;
    let postcode: Option<String> = row.try_get("postcode").map_err(db)?;
    let interests: String = row.try_get("interests").map_err(db)?;
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
        interests: interests.split_whitespace().map(str::to_owned).collect(),
    })
}

fn account_from_row(row: &SqliteRow) -> StoreResult<Account> {
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
        created_at: from_unix(row.try_get("created_at").map_err(db)?)?,
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
impl AccountStore for SqliteStore {
    async fn create_account(&self, new: &NewAccount) -> StoreResult<i64> {
        let row = sqlx::query(
            "INSERT INTO accounts (email, email_verified, password_hash, role, name, created_at)
             VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
        )
        .bind(new.email.as_str())
        .bind(new.email_verified)
        .bind(&new.password_hash)
        .bind(new.role.map(Role::as_str))
        .bind(&new.name)
        .bind(unix(new.created_at))
        .fetch_one(&self.writer)
        .await
        .map_err(duplicate_email)?;
        row.try_get("id").map_err(db)
    }

    async fn account(&self, id: i64) -> StoreResult<Option<Account>> {
        let row = sqlx::query("SELECT * FROM accounts WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.reader)
            .await
            .map_err(db)?;
        row.as_ref().map(account_from_row).transpose()
    }

    async fn account_by_email(&self, email: &EmailAddress) -> StoreResult<Option<Account>> {
        let row = sqlx::query("SELECT * FROM accounts WHERE email = ?")
            .bind(email.as_str())
            .fetch_optional(&self.reader)
            .await
            .map_err(db)?;
        row.as_ref().map(account_from_row).transpose()
    }

    async fn update_profile(&self, id: i64, p: &Profile) -> StoreResult<()> {
        sqlx::query(
            "UPDATE accounts SET name = ?, job_title = ?, phone = ?, postal_address = ?,
                    postcode = ?, interests = ?
             WHERE id = ?",
        )
        .bind(&p.name)
        .bind(&p.job_title)
        .bind(p.phone.as_ref().map(Phone::as_str))
        .bind(&p.postal_address)
        .bind(p.postcode.as_ref().map(Postcode::as_str))
        .bind(p.interests.join(" "))
        .bind(id)
        .execute(&self.writer)
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn mark_email_verified(&self, id: i64) -> StoreResult<()> {
        sqlx::query("UPDATE accounts SET email_verified = 1 WHERE id = ?")
            .bind(id)
            .execute(&self.writer)
            .await
            .map_err(db)?;
        Ok(())
    }

    async fn change_email(&self, id: i64, email: &EmailAddress) -> StoreResult<()> {
        sqlx::query("UPDATE accounts SET email = ?, email_verified = 1 WHERE id = ?")
            .bind(email.as_str())
            .bind(id)
            .execute(&self.writer)
            .await
            .map_err(duplicate_email)?;
        Ok(())
    }

    async fn change_password(&self, id: i64, password_hash: &str) -> StoreResult<()> {
        let mut tx = self.writer.begin().await.map_err(db)?;
        sqlx::query("UPDATE accounts SET password_hash = ? WHERE id = ?")
            .bind(password_hash)
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        sqlx::query("DELETE FROM sessions WHERE account_id = ?")
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        sqlx::query("DELETE FROM email_links WHERE account_id = ? AND purpose = 'reset-password'")
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        tx.commit().await.map_err(db)
    }

    async fn set_role(&self, id: i64, role: Option<Role>) -> StoreResult<()> {
        sqlx::query("UPDATE accounts SET role = ? WHERE id = ?")
            .bind(role.map(Role::as_str))
            .bind(id)
            .execute(&self.writer)
            .await
            .map_err(db)?;
        Ok(())
    }

    async fn delete_account(&self, id: i64) -> StoreResult<()> {
        // Sessions, links and recovery codes go with it (ON DELETE CASCADE).
        sqlx::query("DELETE FROM accounts WHERE id = ?")
            .bind(id)
            .execute(&self.writer)
            .await
            .map_err(db)?;
        Ok(())
    }

    async fn staff(&self) -> StoreResult<Vec<Account>> {
        let rows = sqlx::query("SELECT * FROM accounts WHERE role IS NOT NULL ORDER BY email")
            .fetch_all(&self.reader)
            .await
            .map_err(db)?;
        rows.iter().map(account_from_row).collect()
    }
}

#[async_trait]
impl SecondFactorStore for SqliteStore {
    async fn enable_totp(&self, id: i64, secret: &[u8], recovery: &[[u8; 32]]) -> StoreResult<()> {
        let mut tx = self.writer.begin().await.map_err(db)?;
        sqlx::query("UPDATE accounts SET totp_secret = ?, totp_last_step = NULL WHERE id = ?")
            .bind(secret)
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        sqlx::query("DELETE FROM recovery_codes WHERE account_id = ?")
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        for hash in recovery {
            sqlx::query("INSERT INTO recovery_codes (account_id, hash) VALUES (?, ?)")
                .bind(id)
                .bind(&hash[..])
                .execute(&mut *tx)
                .await
                .map_err(db)?;
        }
        tx.commit().await.map_err(db)
    }

    async fn disable_totp(&self, id: i64) -> StoreResult<()> {
        let mut tx = self.writer.begin().await.map_err(db)?;
        sqlx::query("UPDATE accounts SET totp_secret = NULL, totp_last_step = NULL WHERE id = ?")
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        sqlx::query("DELETE FROM recovery_codes WHERE account_id = ?")
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        tx.commit().await.map_err(db)
    }

    async fn use_totp_step(&self, id: i64, step: i64) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE accounts SET totp_last_step = ?
             WHERE id = ? AND (totp_last_step IS NULL OR totp_last_step < ?)",
        )
        .bind(step)
        .bind(id)
        .bind(step)
        .execute(&self.writer)
        .await
        .map_err(db)?;
        Ok(done.rows_affected() == 1)
    }

    async fn use_recovery_code(&self, id: i64, hash: &[u8; 32]) -> StoreResult<bool> {
        let done = sqlx::query("DELETE FROM recovery_codes WHERE account_id = ? AND hash = ?")
            .bind(id)
            .bind(&hash[..])
            .execute(&self.writer)
            .await
            .map_err(db)?;
        Ok(done.rows_affected() == 1)
    }
}
