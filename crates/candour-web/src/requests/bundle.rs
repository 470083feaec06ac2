//! Writing a person's bundle (the answer to a request for a copy of their data) to disk:
//! whole or not at all, in bounded memory.
//!
//! The data map's tables are read in one transaction, one streamed query per table
//! ([`SubjectStore::export_subject`]), and handed in batches over a small channel to a
//! blocking thread that streams them into `data.json` inside the ZIP and, beside it, into one
//! spill file per table for its CSV. Files staff added are copied in pieces the same way.
//! Memory holds a few batches, never the whole answer. The archive is written under a temporary name in the bundle
//! folder, synced, then renamed to its final name and the folder synced: a crash at any
//! moment leaves either no bundle or a whole one (a temporary file left by a crash,
//! `.bundle-….part`, has no bundle's name, is never served, and the hourly [`sweep`] deletes
//! it).
//!
//! [`SubjectStore::export_subject`]: candour_core::store::SubjectStore::export_subject

use std::fs::File;
use std::io::{self, BufWriter, Seek, Write};
use std::path::{Path, PathBuf};

use askama::Template;
use candour_core::bundle::{
    self, DATA_JSON, INDEX_HTML, Kind, Recipient, Supplementary, ZipWriter, csv_name,
};
use candour_core::export::{ExportRows, ExportSink};
use candour_core::policy::Policy;
use candour_core::requests::items::{self, RequestFile, Told, Withholding};
use candour_core::store::{PieceSink, StoreError, Stores};
use candour_core::uk_time;
use time::OffsetDateTime;
use tokio::sync::mpsc;

/// How long a bundle stays in the folder before the hourly [`sweep`] deletes it. One a person
/// downloads from their account is deleted as soon as it is served.
pub const KEPT_FOR: time::Duration = time::Duration::days(7);

/// Bytes of an added file read at a time: the channel holds four pieces, so a file of the
/// upload limit (20 MiB by default) never sits in memory whole.
const FILE_PIECE: u32 = 256 * 1024;

/// A bundle written whole.
#[derive(Debug, Clone)]
pub struct Written {
    pub path: PathBuf,
    pub bytes: u64,
    /// Rows of the person's data it holds.
    pub rows: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the bundle could not be written")]
    Io(#[from] io::Error),
    #[error("the bundle's summary could not be rendered")]
    Render(#[from] askama::Error),
}

/// What goes in a bundle besides the data the stores hold.
#[derive(Debug, Clone, Default)]
pub struct Extras {
    /// Those the person's data went to, beyond the ones the privacy notice names.
    pub recipients: Vec<Recipient>,
    /// What staff left out of a case's bundle, and why (see [`held_back`]).
    pub withheld: Vec<Withholding>,
    /// Files staff added to a case's bundle: each goes in `files/` unless withheld.
    pub files: Vec<RequestFile>,
}

/// Whether the row of `table` with `id` (if it has one) is left out of the bundle by one of
/// `withheld`.
fn held_back(withheld: &[Withholding], table: &str, id: Option<i64>) -> bool {
    withheld.iter().any(|w| w.item.covers(table, id))
}

/// The folder bundles are written to: the configured one, or `bundles` beside the SQLite
/// file (in the working directory on PostgreSQL).
pub fn folder(configured: Option<&Path>, database_url: &str) -> PathBuf {
    if let Some(dir) = configured {
        return dir.to_path_buf();
    }
    let file = database_url
        .strip_prefix("sqlite://")
        .or_else(|| database_url.strip_prefix("sqlite:"))
        .map(|rest| rest.split('?').next().unwrap_or(rest));
    match file.map(Path::new).and_then(Path::parent) {
        Some(parent) if !parent.as_os_str().is_empty() => parent.join("bundles"),
        _ => PathBuf::from("bundles"),
    }
}

enum Piece {
    /// A page of a table's rows (the first page opens the table).
    Rows(&'static str, ExportRows),
    /// Everything read: the closing parts.
    Finish {
        supplementary: Box<Supplementary>,
        withheld: Vec<Told>,
        index: String,
    },
    /// A file staff added, after the closing parts: its entry's name; its content follows.
    File(String),
    /// The next piece of the file last begun.
    FileData(Vec<u8>),
    /// Every added file sent: the archive may be completed.
    End,
}

#[derive(Template)]
#[template(path = "requests/bundle_index.html")]
struct Index<'a> {
    controller: &'a str,
    generated: String,
    record: Vec<(String, String)>,
    account: Vec<(String, String)>,
    kinds: &'a [Kind],
    supplementary: &'a Supplementary,
    withheld: &'a [Told],
    files: &'a [RequestFile],
}

impl Index<'_> {
    fn csv(&self, table: &str) -> String {
        csv_name(table)
    }
}

/// Delete bundles older than [`KEPT_FOR`], and temporary files a crash left (older than an
/// hour, so none still being written), from `dir`. Returns how many went.
pub fn sweep(dir: &Path, now: OffsetDateTime) -> io::Result<u64> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e),
    };
    let mut gone = 0;
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let kept = if name.starts_with("bundle-") && name.ends_with(".zip") {
            KEPT_FOR
        } else if name.starts_with(".bundle-") && name.ends_with(".part") {
            time::Duration::HOUR
        } else {
            continue;
        };
        let modified = OffsetDateTime::from(entry.metadata()?.modified()?);
        if modified + kept < now {
            std::fs::remove_file(entry.path())?;
            gone += 1;
        }
    }
    Ok(gone)
}

/// Whose data a bundle holds: a person record, an account, or both (an account's person).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Holder {
    pub person: Option<i64>,
    pub account: Option<i64>,
}

impl Holder {
    /// The person record `id` with its account; `None` when there is no such person.
    pub async fn person(stores: &Stores, id: i64) -> Result<Option<Holder>, StoreError> {
        Ok(stores.people.person(id).await?.map(|p| Holder {
            person: Some(p.id),
            account: p.account,
        }))
    }

    /// A signed-in account and the person record linked to it, if any.
    pub async fn account(stores: &Stores, id: i64) -> Result<Holder, StoreError> {
        let person = stores.people.person_for_account(id).await?;
        Ok(Holder {
            person: person.map(|p| p.id),
            account: Some(id),
        })
    }
}

/// Write the bundle of `holder` into `dir`.
pub async fn write(
    stores: &Stores,
    policy: &Policy,
    holder: Holder,
    dir: &Path,
    at: OffsetDateTime,
    extras: Extras,
) -> Result<Written, BundleError> {
    std::fs::create_dir_all(dir)?;
    let (tx, rx) = mpsc::channel::<Piece>(4);
    let target = dir.join(format!("bundle-{:032x}.zip", rand::random::<u128>()));
    let writer = {
        let (dir, target) = (dir.to_path_buf(), target.clone());
        tokio::task::spawn_blocking(move || write_zip(rx, &dir, &target, at, holder))
    };
    let read = async {
        let mut sink = Rows {
            tx: &tx,
            withheld: &extras.withheld,
            counts: Vec::new(),
            record: Vec::new(),
            account: Vec::new(),
        };
        // A sink that stops means the writer failed: its error is reported below.
        stores
            .subjects
            .export_subject(holder.person, holder.account, &mut sink)
            .await?;
        let Rows {
            counts,
            record,
            account,
            ..
        } = sink;
        let kinds = bundle::kinds(&counts);
        let mut recipients = bundle::media_recipients(policy);
        recipients.extend(extras.recipients);
        let mut supplementary = Supplementary::new(policy, kinds.clone(), recipients);
        supplementary.disclosures = crate::disclosures::about(stores, holder.person).await?;
        let withheld: Vec<Told> = extras.withheld.iter().map(Withholding::told).collect();
        let files: Vec<RequestFile> = extras
            .files
            .iter()
            .filter(|f| {
                !extras
                    .withheld
                    .iter()
                    .any(|w| w.item.covers(items::FILES_TABLE, Some(f.id)))
            })
            .cloned()
            .collect();
        let index = Index {
            controller: &policy.organisation.name,
            generated: uk_time::readable_uk(at),
            record,
            account,
            kinds: &kinds,
            supplementary: &supplementary,
            withheld: &withheld,
            files: &files,
        }
        .render()?;
        // A failed send means the writer stopped; its own error says why.
        let _ = tx
            .send(Piece::Finish {
                supplementary: Box::new(supplementary),
                withheld,
                index,
            })
            .await;
        // Each added file in pieces: the channel holds a few, never a whole file.
        for f in &files {
            if tx.send(Piece::File(f.entry())).await.is_err() {
                break;
            }
            let mut pieces = Pieces {
                tx: &tx,
                sent: true,
            };
            let found = stores
                .request_items
                .request_file_pieces(f.request, f.id, FILE_PIECE, &mut pieces)
                .await?;
            if !found {
                return Err(
                    StoreError::Refused(format!("the added file {} was removed", f.id)).into(),
                );
            }
            if !pieces.sent {
                break;
            }
        }
        let _ = tx.send(Piece::End).await;
        Ok::<u64, BundleError>(counts.iter().map(|(_, n)| n).sum())
    };
    let rows = read.await;
    drop(tx);
    let written = writer.await.map_err(io::Error::other)??;
    let rows = rows?;
    Ok(Written {
        path: target,
        bytes: written,
        rows,
    })
}

/// Where the store hands the person's rows: left out when withheld, counted, and passed to
/// the writer.
struct Rows<'a> {
    tx: &'a mpsc::Sender<Piece>,
    withheld: &'a [Withholding],
    counts: Vec<(&'static str, u64)>,
    record: Vec<(String, String)>,
    account: Vec<(String, String)>,
}

#[async_trait::async_trait]
impl ExportSink for Rows<'_> {
    async fn rows(&mut self, table: &'static str, mut rows: ExportRows) -> bool {
        if !self.withheld.is_empty() {
            let id = rows.index("id");
            rows.rows.retain(|row| {
                let id = id
                    .and_then(|i| row.get(i))
                    .and_then(serde_json::Value::as_i64);
                !held_back(self.withheld, table, id)
            });
        }
        if self.counts.last().map(|(t, _)| *t) != Some(table) {
            self.counts.push((table, 0));
            match table {
                "people" => self.record = fields_of(&rows),
                "accounts" => self.account = fields_of(&rows),
                _ => {}
            }
        }
        if let Some((_, n)) = self.counts.last_mut() {
            *n += rows.len() as u64;
        }
        self.tx.send(Piece::Rows(table, rows)).await.is_ok()
    }
}

/// Where the store hands an added file's pieces: on to the writer.
struct Pieces<'a> {
    tx: &'a mpsc::Sender<Piece>,
    /// Whether the writer took every piece (it stops only when it failed).
    sent: bool,
}

#[async_trait::async_trait]
impl PieceSink for Pieces<'_> {
    async fn piece(&mut self, bytes: Vec<u8>) -> bool {
        self.sent = self.tx.send(Piece::FileData(bytes)).await.is_ok();
        self.sent
    }
}

/// The person's record (the first row) as label and value, for the summary's first table.
fn fields_of(rows: &ExportRows) -> Vec<(String, String)> {
    let Some(row) = rows.rows.first() else {
        return Vec::new();
    };
    rows.columns
        .iter()
        .zip(row)
        .map(|(k, v)| {
            let shown = match v {
                serde_json::Value::Null => "(none)".to_owned(),
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            (k.replace('_', " "), shown)
        })
        .collect()
}

/// A table's CSV, written to an anonymous file while `data.json` is written.
struct Spill {
    table: &'static str,
    csv: csv::Writer<BufWriter<File>>,
}

/// The writing side: runs on a blocking thread; returns the archive's size.
fn write_zip(
    mut rx: mpsc::Receiver<Piece>,
    dir: &Path,
    target: &Path,
    at: OffsetDateTime,
    holder: Holder,
) -> io::Result<u64> {
    let temp = tempfile::Builder::new()
        .prefix(".bundle-")
        .suffix(".part")
        .tempfile_in(dir)?;
    let mut zip = ZipWriter::new(BufWriter::with_capacity(64 * 1024, temp.reopen()?), at);
    zip.start(DATA_JSON)?;
    let generated = at
        .format(&time::format_description::well_known::Rfc3339)
        .map_err(io::Error::other)?;
    let id = |n: Option<i64>| n.map_or_else(|| "null".to_owned(), |n| n.to_string());
    write!(
        zip,
        "{{\"person\":{},\"account\":{},\"generated_at\":\"{generated}\",\"tables\":{{",
        id(holder.person),
        id(holder.account)
    )?;
    // One spill per table with rows: its CSV, copied into the archive after data.json.
    let mut spills: Vec<Spill> = Vec::new();
    let mut current: Option<&'static str> = None;
    let mut first_row = true;
    // Every CSV cell passes through this one buffer, every JSON row through the other.
    let (mut cell, mut line) = (Vec::new(), Vec::new());
    let finish = loop {
        let Some(piece) = rx.blocking_recv() else {
            return Err(io::Error::other("the bundle's rows stopped before the end"));
        };
        match piece {
            Piece::Rows(table, rows) => {
                if current != Some(table) {
                    let comma = if current.is_some() { "]," } else { "" };
                    write!(zip, "{comma}\"{table}\":[")?;
                    current = Some(table);
                    first_row = true;
                }
                if rows.is_empty() {
                    continue;
                }
                if spills.last().map(|s| s.table) != Some(table) {
                    let file = tempfile::tempfile_in(dir)?;
                    let mut csv = csv::Writer::from_writer(BufWriter::new(file));
                    csv.write_record(&rows.columns)?;
                    spills.push(Spill { table, csv });
                }
                // Each column's `"name":`, written once for the batch.
                let keys: Vec<Vec<u8>> = rows
                    .columns
                    .iter()
                    .map(|c| {
                        let mut key = serde_json::to_vec(c)?;
                        key.push(b':');
                        Ok(key)
                    })
                    .collect::<Result<_, serde_json::Error>>()?;
                for row in &rows.rows {
                    line.clear();
                    if !first_row {
                        line.push(b',');
                    }
                    first_row = false;
                    line.push(b'{');
                    for (i, (key, value)) in keys.iter().zip(row).enumerate() {
                        if i > 0 {
                            line.push(b',');
                        }
                        line.extend_from_slice(key);
                        serde_json::to_writer(&mut line, value)?;
                    }
                    line.push(b'}');
                    zip.write_all(&line)?;
                    if let Some(s) = spills.last_mut() {
                        for value in row {
                            bundle::csv_cell(Some(value), &mut cell);
                            s.csv.write_field(&cell)?;
                        }
                        s.csv.write_record(None::<&[u8]>)?;
                    }
                }
            }
            Piece::Finish {
                supplementary,
                withheld,
                index,
            } => break (supplementary, withheld, index),
            Piece::File(_) | Piece::FileData(_) | Piece::End => {
                return Err(io::Error::other("an added file came before the data"));
            }
        }
    };
    let (supplementary, withheld, index) = finish;
    zip.write_all(if current.is_some() { b"]}" } else { b"}" })?;
    zip.write_all(b",\"supplementary\":")?;
    serde_json::to_writer(&mut zip, &supplementary)?;
    zip.write_all(b",\"withheld\":")?;
    serde_json::to_writer(&mut zip, &withheld)?;
    zip.write_all(b"}")?;
    for Spill { table, csv, .. } in spills {
        let mut file = csv
            .into_inner()
            .map_err(|e| io::Error::other(e.to_string()))?
            .into_inner()
            .map_err(|e| e.into_error())?;
        file.rewind()?;
        zip.start(&csv_name(table))?;
        io::copy(&mut file, &mut zip)?;
    }
    // The files staff added, then `End`: a reading side that stopped early (its error is
    // reported) leaves the archive unfinished, so it is not kept.
    loop {
        match rx.blocking_recv() {
            Some(Piece::File(name)) => zip.start(&name)?,
            Some(Piece::FileData(piece)) => zip.write_all(&piece)?,
            Some(Piece::End) => break,
            _ => {
                return Err(io::Error::other(
                    "the bundle's files stopped before the end",
                ));
            }
        }
    }
    zip.start(INDEX_HTML)?;
    zip.write_all(index.as_bytes())?;
    let file = zip.finish()?.into_inner().map_err(|e| e.into_error())?;
    file.sync_all()?;
    let bytes = file.metadata()?.len();
    drop(file);
    temp.persist_noclobber(target).map_err(|e| e.error)?;
    File::open(dir)?.sync_all()?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_folder_is_beside_the_database_unless_configured() {
        assert_eq!(
            folder(None, "sqlite:///var/lib/candour/candour.db"),
            PathBuf::from("/var/lib/candour/bundles")
        );
        assert_eq!(
            folder(None, "sqlite://data/c.db?mode=rwc"),
            PathBuf::from("data/bundles")
        );
        assert_eq!(
            folder(None, "sqlite://candour.db"),
            PathBuf::from("bundles")
        );
        assert_eq!(
            folder(None, "postgres://db/candour"),
            PathBuf::from("bundles")
        );
        assert_eq!(
            folder(Some(Path::new("/srv/answers")), "sqlite://candour.db"),
            PathBuf::from("/srv/answers")
        );
    }

    #[test]
    fn the_sweep_deletes_old_bundles_and_leftovers_only() {
        let dir = tempfile::tempdir().unwrap();
        let now = time::macros::datetime!(2026-06-01 12:00 UTC);
        let file = |name: &str, age: time::Duration| {
            let f = File::create(dir.path().join(name)).unwrap();
            f.set_modified((now - age).into()).unwrap();
        };
        file("bundle-old.zip", KEPT_FOR + time::Duration::minutes(1));
        file("bundle-new.zip", KEPT_FOR - time::Duration::minutes(1));
        file(".bundle-crashed.part", time::Duration::hours(2));
        file(".bundle-writing.part", time::Duration::minutes(5));
        file("notes.txt", time::Duration::days(400));
        assert_eq!(sweep(dir.path(), now).unwrap(), 2);
        let mut left: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort();
        assert_eq!(
            left,
            [".bundle-writing.part", "bundle-new.zip", "notes.txt"]
        );
        assert_eq!(sweep(&dir.path().join("none"), now).unwrap(), 0);
    }

    #[test]
    fn a_bundle_cut_short_leaves_nothing_behind() {
        let dir = tempfile::tempdir().unwrap();
        let (tx, rx) = mpsc::channel(4);
        let target = dir.path().join("bundle.zip");
        let rows = ExportRows {
            columns: vec!["id".into(), "name".into()],
            rows: vec![vec![1.into(), "Kim".into()]],
        };
        tx.try_send(Piece::Rows("people", rows)).unwrap();
        drop(tx); // the reading side stopped (a store error, a crash of the task)
        let holder = Holder {
            person: Some(1),
            account: None,
        };
        let err = write_zip(rx, dir.path(), &target, OffsetDateTime::UNIX_EPOCH, holder);
        assert!(err.is_err());
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert!(left.is_empty(), "{left:?}");
    }

    #[test]
    fn a_bundle_whose_added_files_stop_short_leaves_nothing_behind() {
        let dir = tempfile::tempdir().unwrap();
        let (tx, rx) = mpsc::channel(8);
        let target = dir.path().join("bundle.zip");
        let holder = Holder {
            person: Some(1),
            account: None,
        };
        let supplementary = Supplementary {
            controller: "Example".into(),
            purposes: Vec::new(),
            categories: Vec::new(),
            recipients: Vec::new(),
            disclosures: Vec::new(),
            retention: String::new(),
            source: String::new(),
            rights: Vec::new(),
            complaint: String::new(),
            automated_decisions: "",
        };
        tx.try_send(Piece::Finish {
            supplementary: Box::new(supplementary),
            withheld: Vec::new(),
            index: String::new(),
        })
        .unwrap();
        tx.try_send(Piece::File("files/1-a.txt".into())).unwrap();
        tx.try_send(Piece::FileData(b"a".to_vec())).unwrap();
        drop(tx); // reading the second file failed: no `End`
        let err = write_zip(rx, dir.path(), &target, OffsetDateTime::UNIX_EPOCH, holder);
        assert!(err.is_err());
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert!(left.is_empty(), "{left:?}");
    }
}
