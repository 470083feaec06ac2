//! A person as a data subject on PostgreSQL: export and erasure by the data map, the schema it
//! is checked against, and the people retention may forget.

use async_trait::async_trait;
use candour_core::datamap::TableSchema;
use candour_core::datamap::{self, Erasure, Subject};
use candour_core::export::{ExportSink, TableExport};
use candour_core::store::{ExportPage, StoreError, StoreResult, SubjectStore};
use futures_util::TryStreamExt;
use sqlx::postgres::{PgColumn, PgRow};
use sqlx::{Column, PgConnection, Row, TypeInfo};
use time::OffsetDateTime;

use crate::people::person_in;
use crate::{PgStore, db};

#[async_trait]
impl SubjectStore for PgStore {
    async fn people_idle_since(&self, cutoff: OffsetDateTime, limit: u32) -> StoreResult<Vec<i64>> {
        sqlx::query_scalar(
            "SELECT p.id FROM people p
             WHERE p.account_id IS NULL AND p.updated_at < $1
               AND NOT EXISTS (SELECT 1 FROM consent_events e WHERE e.person_id = p.id AND e.at >= $1)
               AND NOT EXISTS (SELECT 1 FROM form_responses r
                               WHERE r.person_id = p.id AND r.submitted_at >= $1)
               AND NOT EXISTS (SELECT 1 FROM data_requests q
                               WHERE q.person_id = p.id
                                 AND (q.closed_at IS NULL OR q.submitted_at >= $1))
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
        erase_subject(&mut tx, Subject::Person, id).await?;
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
        let mut conn = self.pool.acquire().await.map_err(db)?;
        let has_id = self.has_id(&mut conn, m.table).await?;
        if !has_id {
            if after.is_some() {
                return Ok(ExportPage::default());
            }
            let rows = rows_as_json(&mut conn, m.table, m.column, subject).await?;
            return Ok(ExportPage::whole(rows));
        }
        // Table and column names come from the data map, never from a request. The page comes
        // in the subquery's order; `export_rows` checks it is by id (and sorts if ever not).
        let sql = format!(
            "SELECT coalesce(json_agg(t), '[]'::json)::text FROM
               (SELECT * FROM \"{}\" WHERE \"{}\" = $1 AND id > $2 ORDER BY id LIMIT $3) t",
            m.table, m.column
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
        // One connection (one check that it is alive) and one snapshot of every table.
        let mut tx = self
            .pool
            .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            .await
            .map_err(db)?;
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
            let by_id = self.has_id(&mut tx, m.table).await?;
            // Table and column names come from the data map, never from a request. A table
            // without ids comes in one batch: its export orders it by content.
            let sql = format!(
                "SELECT * FROM \"{}\" WHERE \"{}\" = $1{}",
                m.table,
                m.column,
                if by_id { " ORDER BY id" } else { "" }
            );
            let mut rows = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(subject)
                .fetch(&mut *tx);
            let mut out = TableExport::new(m.table, by_id, sink);
            // Each column's type, in name order: learnt from the first row.
            let mut kinds = Vec::new();
            let mut more = true;
            while let Some(row) = rows.try_next().await.map_err(db)? {
                if !out.has_columns() {
                    out.columns(row.columns().iter().map(|c| c.name().to_owned()).collect());
                    kinds = out
                        .order()
                        .iter()
                        .map(|&i| Kind::of(m.table, row.columns().get(i)))
                        .collect::<StoreResult<_>>()?;
                }
                let values = out
                    .order()
                    .iter()
                    .zip(&kinds)
                    .map(|(&i, &kind)| kind.read(&row, i))
                    .collect::<StoreResult<_>>()?;
                more = out.row(values).await.map_err(corrupt)?;
                if !more {
                    break;
                }
            }
            drop(rows);
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

impl PgStore {
    /// Whether `table` has an `id` column (asked once per table).
    async fn has_id(&self, conn: &mut PgConnection, table: &'static str) -> StoreResult<bool> {
        if let Some(known) = self.has_id.lock().await.get(table).copied() {
            return Ok(known);
        }
        let has_id: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM pg_attribute
                            WHERE attrelid = $1::regclass AND attname = 'id'
                              AND NOT attisdropped)",
        )
        .bind(table)
        .fetch_one(&mut *conn)
        .await
        .map_err(db)?;
        self.has_id.lock().await.insert(table, has_id);
        Ok(has_id)
    }
}

fn corrupt(e: datamap::ExportError) -> StoreError {
    StoreError::Corrupt(e.to_string())
}

/// A column's type, as an export reads it.
#[derive(Debug, Clone, Copy)]
enum Kind {
    Int8,
    Int4,
    Int2,
    Float8,
    Bool,
    Text,
    Words,
    Time,
    Date,
    Bytes,
}

impl Kind {
    fn of(table: &str, column: Option<&PgColumn>) -> StoreResult<Kind> {
        let Some(column) = column else {
            return Err(StoreError::Corrupt(format!(
                "a row of {table} lost a column"
            )));
        };
        Ok(match column.type_info().name() {
            "INT8" => Kind::Int8,
            "INT4" => Kind::Int4,
            "INT2" => Kind::Int2,
            "FLOAT8" => Kind::Float8,
            "BOOL" => Kind::Bool,
            "TEXT" | "VARCHAR" => Kind::Text,
            "TEXT[]" => Kind::Words,
            "TIMESTAMPTZ" => Kind::Time,
            "DATE" => Kind::Date,
            "BYTEA" => Kind::Bytes,
            other => {
                return Err(StoreError::Corrupt(format!(
                    "{table}.{} is of type {other}, which an export does not read",
                    column.name()
                )));
            }
        })
    }

    /// Column `i` of `row` as `row_to_json` writes it, decoded from its type rather than
    /// written as JSON text to be parsed again; except that a timestamp comes as its Unix
    /// seconds, which the export's shape for times reads the same (fractions are dropped
    /// either way).
    fn read(self, row: &PgRow, i: usize) -> StoreResult<serde_json::Value> {
        use serde_json::Value;
        fn get<'r, T: sqlx::Decode<'r, sqlx::Postgres>>(
            row: &'r PgRow,
            i: usize,
            into: impl FnOnce(T) -> Value,
        ) -> StoreResult<Value> {
            let value: Option<T> = row.try_get_unchecked(i).map_err(db)?;
            Ok(value.map_or(Value::Null, into))
        }
        match self {
            Kind::Int8 => get::<i64>(row, i, Value::from),
            Kind::Int4 => get::<i32>(row, i, Value::from),
            Kind::Int2 => get::<i16>(row, i, Value::from),
            Kind::Float8 => get::<f64>(row, i, |f| {
                serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)
            }),
            Kind::Bool => get::<bool>(row, i, Value::Bool),
            Kind::Text => get::<String>(row, i, Value::String),
            Kind::Words => get::<Vec<String>>(row, i, Value::from),
            Kind::Time => get::<OffsetDateTime>(row, i, |at| Value::from(at.unix_timestamp())),
            Kind::Date => get::<time::Date>(row, i, |d| Value::String(d.to_string())),
            Kind::Bytes => {
                get::<Vec<u8>>(row, i, |b| Value::String(format!("\\x{}", hex::encode(b))))
            }
        }
    }
}

/// Erase the subject (a person or an account, by its id) from every table the data map
/// lists for it, deleting or unlinking rows as the map says; `Corrupt` if any row is left.
pub(crate) async fn erase_subject(
    conn: &mut PgConnection,
    subject: Subject,
    id: i64,
) -> StoreResult<()> {
    for m in datamap::PERSONAL.iter().filter(|m| m.subject == subject) {
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
            .execute(&mut *conn)
            .await
            .map_err(db)?;
        let left: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT count(*) FROM \"{}\" WHERE \"{}\" = $1",
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

/// The rows of `table` whose `column` is `id`, as JSON objects (bytea as `\\x…` hex), in the
/// export's form ([`datamap::export_rows`]).
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
    let rows = serde_json::from_str(&text).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    datamap::export_rows(table, rows).map_err(|e| StoreError::Corrupt(e.to_string()))
}
