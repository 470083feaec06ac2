//! A person as a data subject on SQLite: export and erasure by the data map, the schema it
//! is checked against, and the people retention may forget.

use async_trait::async_trait;
use candour_core::datamap::TableSchema;
use candour_core::datamap::{self, Erasure, Subject};
use candour_core::export::{EXPORT_BATCH, ExportSink, TableExport};
use candour_core::store::{ExportPage, StoreError, StoreResult, SubjectStore};
use sqlx::{Row, SqliteConnection};
use time::OffsetDateTime;

use crate::people::person_in;
use crate::{SqliteStore, db, unix};

#[async_trait]
impl SubjectStore for SqliteStore {
    async fn people_idle_since(&self, cutoff: OffsetDateTime, limit: u32) -> StoreResult<Vec<i64>> {
        sqlx::query_scalar(
            "SELECT p.id FROM people p
             WHERE p.account_id IS NULL AND p.updated_at < ?1
               AND NOT EXISTS (SELECT 1 FROM consent_events e WHERE e.person_id = p.id AND e.at >= ?1)
               AND NOT EXISTS (SELECT 1 FROM form_responses r
                               WHERE r.person_id = p.id AND r.submitted_at >= ?1)
               AND NOT EXISTS (SELECT 1 FROM data_requests q
                               WHERE q.person_id = p.id
                                 AND (q.closed_at IS NULL OR q.submitted_at >= ?1))
             ORDER BY p.id LIMIT ?2",
        )
        .bind(unix(cutoff))
        .bind(i64::from(limit))
        .fetch_all(&self.reader)
        .await
        .map_err(db)
    }

    async fn export_person(&self, id: i64) -> StoreResult<Option<serde_json::Value>> {
        let mut conn = self.reader.acquire().await.map_err(db)?;
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
        let mut tx = self.writer.begin().await.map_err(db)?;
        let gone = sqlx::query("DELETE FROM people WHERE id = ?")
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(db)?
            .rows_affected();
        if gone == 0 {
            return Ok(false);
        }
        erase_subject(&mut tx, Subject::Person, id).await?;
        tx.commit().await.map_err(db)?;
        Ok(true)
    }

    async fn schema(&self) -> StoreResult<Vec<TableSchema>> {
        let names: Vec<String> = sqlx::query_scalar(
            "SELECT name FROM sqlite_master WHERE type = 'table'
             AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_sqlx%' ORDER BY name",
        )
        .fetch_all(&self.reader)
        .await
        .map_err(db)?;
        let mut out = Vec::new();
        for name in names {
            let refs = sqlx::query(r#"SELECT "from", "table" FROM pragma_foreign_key_list(?)"#)
                .bind(&name)
                .fetch_all(&self.reader)
                .await
                .map_err(db)?;
            let references = refs
                .iter()
                .map(|r| Ok((r.try_get(0).map_err(db)?, r.try_get(1).map_err(db)?)))
                .collect::<StoreResult<Vec<(String, String)>>>()?;
            out.push(TableSchema { name, references });
        }
        Ok(out)
    }

    async fn export_page(
        &self,
        table: &str,
        subject: i64,
        after: Option<i64>,
        limit: u32,
    ) -> StoreResult<ExportPage> {
        let Some(m) = datamap::mapped(table) else {
            return Err(StoreError::Refused(format!(
                "{table} is not a table of the data map"
            )));
        };
        let mut conn = self.reader.acquire().await.map_err(db)?;
        let columns = columns_of(&mut conn, m.table).await?;
        if !columns.iter().any(|c| c == "id") {
            if after.is_some() {
                return Ok(ExportPage::default());
            }
            let rows = rows_as_json(&mut conn, m.table, m.column, subject).await?;
            return Ok(ExportPage::whole(rows));
        }
        // Table and column names come from the data map, never from a request.
        let sql = format!(
            "SELECT json_group_array(json_object({})) FROM
               (SELECT * FROM \"{}\" WHERE \"{}\" = ?1 AND id > ?2 ORDER BY id LIMIT ?3)",
            json_fields(&columns, true),
            m.table,
            m.column
        );
        let text: String = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .bind(subject)
            .bind(after.unwrap_or(i64::MIN))
            .bind(i64::from(limit))
            .fetch_one(&mut *conn)
            .await
            .map_err(db)?;
        let rows = serde_json::from_str(&text).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let rows =
            datamap::export_rows(m.table, rows).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        Ok(ExportPage::of(rows, limit))
    }

    async fn export_subject(
        &self,
        person: Option<i64>,
        account: Option<i64>,
        sink: &mut dyn ExportSink,
    ) -> StoreResult<()> {
        // One read transaction: every table as of one moment.
        let mut tx = self.reader.begin().await.map_err(db)?;
        for m in datamap::PERSONAL {
            let subject = match m.subject {
                Subject::Person => person,
                Subject::Account => account,
            };
            let Some(subject) = subject else {
                if !sink.rows(m.table, Default::default()).await {
                    break;
                }
                continue;
            };
            let mut columns = columns_of(&mut tx, m.table).await?;
            columns.sort();
            let by_id = columns.iter().any(|c| c == "id");
            // A batch of rows in one value: SQLite writes each row as a JSON array of its
            // columns in name order (blobs as hex), rather than handing over every value of
            // every row on its own. Table and column names come from the data map and the
            // schema, never from a request. A table without ids comes in one batch: its export
            // orders it by content.
            let values = json_fields(&columns, false);
            let sql = if by_id {
                format!(
                    "SELECT json_group_array(json_array({values})), max(id), count(*) FROM
                       (SELECT * FROM \"{}\" WHERE \"{}\" = ?1 AND id > ?2 ORDER BY id LIMIT ?3)",
                    m.table, m.column
                )
            } else {
                format!(
                    "SELECT json_group_array(json_array({values})), NULL, count(*)
                     FROM \"{}\" WHERE \"{}\" = ?1",
                    m.table, m.column
                )
            };
            let mut out = TableExport::new(m.table, by_id, sink);
            out.columns(columns);
            let (mut after, mut more) = (i64::MIN, true);
            while more {
                let (text, last, count): (String, Option<i64>, i64) =
                    sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
                        .bind(subject)
                        .bind(after)
                        .bind(EXPORT_BATCH as i64)
                        .fetch_one(&mut *tx)
                        .await
                        .map_err(db)?;
                let rows: Vec<Vec<serde_json::Value>> =
                    serde_json::from_str(&text).map_err(|e| StoreError::Corrupt(e.to_string()))?;
                for row in rows {
                    more = out.row(row).await.map_err(corrupt)?;
                    if !more {
                        break;
                    }
                }
                match last {
                    Some(last) if by_id && count >= EXPORT_BATCH as i64 => after = last,
                    _ => break,
                }
            }
            if more {
                more = out.end().await.map_err(corrupt)?;
            }
            if !more {
                break;
            }
        }
        tx.commit().await.map_err(db)
    }
}

fn corrupt(e: datamap::ExportError) -> StoreError {
    StoreError::Corrupt(e.to_string())
}

async fn columns_of(conn: &mut SqliteConnection, table: &str) -> StoreResult<Vec<String>> {
    sqlx::query_scalar("SELECT name FROM pragma_table_info(?)")
        .bind(table)
        .fetch_all(&mut *conn)
        .await
        .map_err(db)
}

/// Every column, blobs as hex: as the arguments of `json_object` (each column's name, then
/// its value) or of `json_array` (the values alone, `named` false).
fn json_fields(columns: &[String], named: bool) -> String {
    columns
        .iter()
        .map(|c| {
            let value =
                format!("CASE WHEN typeof(\"{c}\") = 'blob' THEN hex(\"{c}\") ELSE \"{c}\" END");
            if named {
                format!("'{c}', {value}")
            } else {
                value
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Erase the subject (a person or an account, by its id) from every table the data map
/// lists for it, deleting or unlinking rows as the map says; `Corrupt` if any row is left.
pub(crate) async fn erase_subject(
    conn: &mut SqliteConnection,
    subject: Subject,
    id: i64,
) -> StoreResult<()> {
    for m in datamap::PERSONAL.iter().filter(|m| m.subject == subject) {
        let sql = match m.erasure {
            Erasure::Delete => {
                format!("DELETE FROM \"{}\" WHERE \"{}\" = ?", m.table, m.column)
            }
            Erasure::Unlink => format!(
                "UPDATE \"{0}\" SET \"{1}\" = NULL WHERE \"{1}\" = ?",
                m.table, m.column
            ),
        };
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .execute(&mut *conn)
            .await
            .map_err(db)?;
        let left: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT count(*) FROM \"{}\" WHERE \"{}\" = ?",
            m.table, m.column
        )))
        .bind(id)
        .fetch_one(&mut *conn)
        .await
        .map_err(db)?;
        if left != 0 {
            return Err(StoreError::Corrupt(format!(
                "erasure left {left} rows in {}",
                m.table
            )));
        }
    }
    Ok(())
}

/// The rows of `table` whose `column` is `id`, as JSON objects (blobs as hex), in the
/// export's form ([`datamap::export_rows`]).
async fn rows_as_json(
    conn: &mut SqliteConnection,
    table: &str,
    column: &str,
    id: i64,
) -> StoreResult<serde_json::Value> {
    let columns = columns_of(conn, table).await?;
    // Table and column names come from the data map, never from a request.
    let sql = format!(
        "SELECT json_group_array(json_object({})) FROM \"{table}\" WHERE \"{column}\" = ?",
        json_fields(&columns, true)
    );
    let text: String = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_one(&mut *conn)
        .await
        .map_err(db)?;
    let rows = serde_json::from_str(&text).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    datamap::export_rows(table, rows).map_err(|e| StoreError::Corrupt(e.to_string()))
}
