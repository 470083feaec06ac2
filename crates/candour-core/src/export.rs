//! A subject's rows as a backend streams them for a bundle: each table in batches of
//! [`ExportRows`] (the column names once, then each row's values), shaped by the data map's one
//! rule, and the batching both backends share ([`TableExport`]).

use async_trait::async_trait;
use serde_json::Value;

use crate::datamap::{self, ExportError, Shape};

/// Rows per batch of `SubjectStore::export_subject`: a bundle's writer holds a
/// few batches.
pub const EXPORT_BATCH: usize = 500;

/// Where `SubjectStore::export_subject` hands the rows.
#[async_trait]
pub trait ExportSink: Send {
    /// The next rows of `table`; `false` to stop reading.
    async fn rows(&mut self, table: &'static str, rows: ExportRows) -> bool;
}

/// A batch of one table's rows: the column names once, in name order, and each row's values
/// in that order. Shaped as [`datamap::export_rows`] shapes a row object, without a map and
/// its keys for every row.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ExportRows {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Value>>,
}

impl ExportRows {
    /// The position of `column` among the columns.
    pub fn index(&self, column: &str) -> Option<usize> {
        self.columns.iter().position(|c| c == column)
    }

    /// Each row as the object [`datamap::export_rows`] gives for it.
    pub fn objects(&self) -> Vec<Value> {
        self.rows.iter().map(|row| self.object(row)).collect()
    }

    /// One row as an object, a key per column.
    pub fn object(&self, row: &[Value]) -> Value {
        Value::Object(
            self.columns
                .iter()
                .cloned()
                .zip(row.iter().cloned())
                .collect(),
        )
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }
}

/// One table of a streamed export: rows are gathered as the backend reads them and handed to
/// the sink, shaped, a batch at a time.
pub struct TableExport<'s> {
    table: &'static str,
    /// Rows per batch: a table without ids comes in one batch, ordered by content.
    size: usize,
    /// For each column in name order, where the backend's row holds it.
    order: Vec<usize>,
    batch: ExportRows,
    sent: bool,
    sink: &'s mut dyn ExportSink,
}

impl<'s> TableExport<'s> {
    /// `by_id`: the table has an `id` and its rows come ordered by it.
    pub fn new(table: &'static str, by_id: bool, sink: &'s mut dyn ExportSink) -> Self {
        TableExport {
            table,
            size: if by_id { EXPORT_BATCH } else { usize::MAX },
            order: Vec::new(),
            batch: ExportRows::default(),
            sent: false,
            sink,
        }
    }

    /// Whether the columns are known (they are given with the first row).
    pub fn has_columns(&self) -> bool {
        !self.batch.columns.is_empty()
    }

    /// The columns as the backend's rows hold them.
    pub fn columns(&mut self, names: Vec<String>) {
        let mut order: Vec<usize> = (0..names.len()).collect();
        order.sort_by(|&a, &b| names[a].cmp(&names[b]));
        self.batch.columns = order.iter().map(|&i| names[i].clone()).collect();
        self.order = order;
    }

    /// Where the backend's row holds each column, in name order: the order to read a row's
    /// values in for [`row`](Self::row).
    pub fn order(&self) -> &[usize] {
        &self.order
    }

    /// One row's values, in name order (see [`order`](Self::order)); `false` when the sink
    /// stopped.
    pub async fn row(&mut self, values: Vec<Value>) -> Result<bool, ExportError> {
        self.batch.rows.push(values);
        if self.batch.rows.len() >= self.size {
            self.sent = true;
            return self.send().await;
        }
        Ok(true)
    }

    /// The rows left; a table with none is still handed over, empty. `false` when the sink
    /// stopped.
    pub async fn end(mut self) -> Result<bool, ExportError> {
        if !self.batch.rows.is_empty() || !self.sent {
            return self.send().await;
        }
        Ok(true)
    }

    async fn send(&mut self) -> Result<bool, ExportError> {
        let mut rows = ExportRows {
            columns: self.batch.columns.clone(),
            rows: std::mem::take(&mut self.batch.rows),
        };
        export_columns(self.table, &mut rows)?;
        Ok(self.sink.rows(self.table, rows).await)
    }
}

/// A batch as its export shows it, by the rule of [`datamap::export_rows`]: each column the
/// data map shapes brought to its shape, in place; rows by `id` where each has one and they
/// come in its order, otherwise ordered by their content.
pub fn export_columns(table: &str, rows: &mut ExportRows) -> Result<(), ExportError> {
    let shaped: Vec<(usize, &str, Shape)> = datamap::mapped(table)
        .map_or(&[][..], |m| m.shaped)
        .iter()
        .filter_map(|&(column, shape)| Some((rows.index(column)?, column, shape)))
        .collect();
    for row in &mut rows.rows {
        for &(i, column, shape) in &shaped {
            if let Some(value) = row.get_mut(i) {
                datamap::shape_in_place(table, column, shape, value)?;
            }
        }
    }
    let id = rows.index("id");
    let ExportRows { columns, rows } = rows;
    datamap::order_rows(
        rows,
        |row: &Vec<Value>| id.and_then(|i| row.get(i)).and_then(Value::as_i64),
        |row| {
            let object: serde_json::Map<String, Value> =
                columns.iter().cloned().zip(row.iter().cloned()).collect();
            Value::Object(object).to_string()
        },
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Rows as objects, the same rows as a batch with its columns in `names` order.
    fn both(names: &[&str], rows: &[Vec<Value>]) -> (Value, ExportRows) {
        let objects = rows
            .iter()
            .map(|row| {
                Value::Object(
                    names
                        .iter()
                        .map(|n| n.to_string())
                        .zip(row.iter().cloned())
                        .collect(),
                )
            })
            .collect();
        let mut order: Vec<usize> = (0..names.len()).collect();
        order.sort_by_key(|&i| names[i]);
        let batch = ExportRows {
            columns: order.iter().map(|&i| names[i].to_owned()).collect(),
            rows: rows
                .iter()
                .map(|row| order.iter().map(|&i| row[i].clone()).collect())
                .collect(),
        };
        (Value::Array(objects), batch)
    }

    #[test]
    fn a_batch_reads_as_the_same_rows_read_as_objects() {
        // A table without ids, shaped columns, rows out of order: sorted by content.
        let names = ["used_at", "person_id", "hash", "expires_at"];
        let rows = [
            vec![Value::Null, json!(7), json!("\\x0a"), json!(1_780_000_000)],
            vec![
                json!("2026-06-01T10:00:00.5+01:00"),
                json!(7),
                json!("0b"),
                json!(1_770_000_000),
            ],
        ];
        let (objects, mut batch) = both(&names, &rows);
        let expected = datamap::export_rows("preference_links", objects).unwrap();
        export_columns("preference_links", &mut batch).unwrap();
        assert_eq!(Value::Array(batch.objects()), expected);
        assert_eq!(
            batch.columns,
            ["expires_at", "hash", "person_id", "used_at"]
        );
        // A table with ids in order keeps its order.
        let names = ["id", "at", "person_id"];
        let rows = [
            vec![json!(2), json!(1_780_000_000), json!(7)],
            vec![json!(9), json!(1_770_000_000), json!(7)],
        ];
        let (objects, mut batch) = both(&names, &rows);
        let expected = datamap::export_rows("consent_events", objects).unwrap();
        export_columns("consent_events", &mut batch).unwrap();
        assert_eq!(Value::Array(batch.objects()), expected);
        assert_eq!(batch.rows[0][1], json!(2));
    }

    #[test]
    fn a_value_that_does_not_read_as_its_shape_names_its_column() {
        let (_, mut batch) = both(&["id", "at"], &[vec![json!(1), json!("last week")]]);
        let err = export_columns("consent_events", &mut batch).unwrap_err();
        assert_eq!(
            (err.table.as_str(), err.column.as_str()),
            ("consent_events", "at")
        );
    }
}
