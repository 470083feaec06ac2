//! `candour backup`: a consistent copy of a live database, made while it serves.
//!
//! `VACUUM INTO` reads the database in one read transaction, so the copy is the database as
//! it stood at one commit, whatever the server writes meanwhile (in WAL mode readers never
//! block the writer, nor it them). SQLite does not sync the file it writes, and a crash part
//! way leaves it half written, so the copy goes to a temporary name beside the target, is
//! checked, synced, and only then renamed into place.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use sqlx::{ConnectOptions, Connection};

/// Why no backup was made. Nothing is left at the target or at the temporary name.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("{0} already exists; nothing was written (use --force to replace it)")]
    Exists(PathBuf),
    #[error("could not open the database: {0}")]
    Open(#[source] sqlx::Error),
    #[error("could not copy the database: {0}")]
    Copy(#[source] sqlx::Error),
    #[error("the copy failed its check: {0}")]
    Check(String),
    #[error("could not write {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// What a backup wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupMade {
    pub path: PathBuf,
    pub bytes: u64,
    /// The newest migration the copy holds.
    pub schema_version: i64,
}

/// Copy the database at `url` (`sqlite://PATH`) to `target`, which must not exist unless
/// `replace`. Waits at most `busy` for a lock the copy needs.
pub async fn backup(
    url: &str,
    target: &Path,
    replace: bool,
    busy: Duration,
) -> Result<BackupMade, BackupError> {
    if !replace && target.exists() {
        return Err(BackupError::Exists(target.to_owned()));
    }
    // Read-only and never created: a wrong path is an error, not an empty backup.
    let options = SqliteConnectOptions::from_str(url)
        .map_err(BackupError::Open)?
        .read_only(true)
        .create_if_missing(false)
        .busy_timeout(busy);
    let mut source = options.connect().await.map_err(BackupError::Open)?;
    let partial = partial_name(target);
    let made = copy(&mut source, target, &partial, replace).await;
    let _ = source.close().await;
    if made.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    made
}

async fn copy(
    source: &mut SqliteConnection,
    target: &Path,
    partial: &Path,
    replace: bool,
) -> Result<BackupMade, BackupError> {
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| BackupError::Io { path, source }
    };
    // Left by a backup that was killed part way.
    match std::fs::remove_file(partial) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io(partial)(e)),
        _ => {}
    }
    let into = partial
        .to_str()
        .ok_or_else(|| BackupError::Check(format!("{} is not UTF-8", partial.display())))?;
    sqlx::query("VACUUM INTO ?")
        .bind(into)
        .execute(&mut *source)
        .await
        .map_err(BackupError::Copy)?;
    let schema_version = check(partial).await?;
    let file = partial.to_owned();
    let bytes = tokio::task::spawn_blocking(move || -> std::io::Result<u64> {
        let f = std::fs::File::open(&file)?;
        f.sync_all()?;
        Ok(f.metadata()?.len())
    })
    .await
    .map_err(|e| BackupError::Check(e.to_string()))?
    .map_err(io(partial))?;
    if replace {
        std::fs::rename(partial, target).map_err(io(target))?;
    } else {
        // A link fails when the target exists, so one made meanwhile is never replaced.
        std::fs::hard_link(partial, target).map_err(|e| match e.kind() {
            std::io::ErrorKind::AlreadyExists => BackupError::Exists(target.to_owned()),
            _ => io(target)(e),
        })?;
        std::fs::remove_file(partial).map_err(io(partial))?;
    }
    // The rename itself is durable once the folder is synced.
    if let Some(dir) = target.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(io(dir))?;
    }
    Ok(BackupMade {
        path: target.to_owned(),
        bytes,
        schema_version,
    })
}

/// Open the copy on its own and ask SQLite to check it; the newest migration it holds.
async fn check(path: &Path) -> Result<i64, BackupError> {
    let mut copy = SqliteConnectOptions::new()
        .filename(path)
        .read_only(true)
        .connect()
        .await
        .map_err(BackupError::Open)?;
    let verdict: String = sqlx::query_scalar("PRAGMA quick_check")
        .fetch_one(&mut copy)
        .await
        .map_err(BackupError::Copy)?;
    let version: Option<i64> =
        sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations WHERE success")
            .fetch_one(&mut copy)
            .await
            .map_err(BackupError::Copy)?;
    let _ = copy.close().await;
    if verdict != "ok" {
        return Err(BackupError::Check(verdict));
    }
    Ok(version.unwrap_or(0))
}

/// A name beside the target, so the rename stays on one filesystem.
fn partial_name(target: &Path) -> PathBuf {
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "candour-backup".to_owned());
    target.with_file_name(format!(".{name}.partial-{}", std::process::id()))
}
