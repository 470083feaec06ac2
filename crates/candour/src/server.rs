//! Opening the database and running the HTTP server until a signal asks it to stop.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use candour_core::Clock;
use candour_core::account::NewAccount;
use candour_core::account::{EmailAddress, Role, check_new_password};
use candour_core::audit::AuditEntry;
use candour_core::config::Config;
use candour_core::store::Stores;
use candour_store_postgres::PgStore;
use candour_store_sqlite::SqliteStore;
use time::OffsetDateTime;

use crate::demo::DemoSite;

/// The real clock. Domain code never reads it directly; it is handed this.
pub struct SystemClock;

impl Clock for SystemClock {
    #[allow(clippy::disallowed_methods)]
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }
}

/// Open the configured backend, migrating it.
pub async fn open(config: &Config) -> anyhow::Result<Stores> {
    let url = config.database_url.expose();
    // Shown in messages with any password hidden.
    let shown = &config.database_url;
    let stores = if config.database_url.is_sqlite() {
        SqliteStore::open_with(url, &config.database)
            .await
            .map(|s| s.stores())
            .with_context(|| format!("could not open the database {shown}"))?
    } else {
        PgStore::connect_with(url, &config.database)
            .await
            .map(|s| s.stores())
            .with_context(|| format!("could not connect to the database {shown}"))?
    };
    Ok(stores)
}

/// What `candour backup` says on PostgreSQL, where the server's own tools do it better.
pub const POSTGRES_BACKUP: &str = "candour backup copies SQLite databases. On PostgreSQL, use the \
server's own tool, which takes a consistent snapshot while Candour serves:
  pg_dump --format=custom --file=candour.dump \"$CANDOUR_DATABASE_URL\"
and to restore into an empty database (stop every instance first):
  pg_restore --clean --if-exists --no-owner --dbname=\"$CANDOUR_DATABASE_URL\" candour.dump
The README's Backups section has the steps.";

/// Copy the configured SQLite database to `file` while it may be serving.
pub async fn backup(
    config: &Config,
    file: &std::path::Path,
    force: bool,
) -> anyhow::Result<candour_store_sqlite::BackupMade> {
    let busy = Duration::from_millis(config.database.statement_timeout_ms);
    candour_store_sqlite::backup(config.database_url.expose(), file, force, busy)
        .await
        .with_context(|| format!("could not back up {}", config.database_url))
}

pub async fn migrate(config: &Config) -> anyhow::Result<()> {
    open(config).await.map(drop)
}

/// Create a verified staff account, or give an existing account the role; the audit log
/// records it as done from the command line.
pub async fn create_staff(
    config: &Config,
    email: &str,
    role: &str,
    password: &str,
) -> anyhow::Result<String> {
    let email = EmailAddress::parse(email).map_err(|e| anyhow::anyhow!("--email: {e}"))?;
    let role = Role::parse(role)
        .ok_or_else(|| anyhow::anyhow!("--role: use admin, editor or privacy-officer"))?;
    let stores = open(config).await?;
    let clock = SystemClock;
    let (id, outcome) = match stores.accounts.account_by_email(&email).await? {
        Some(existing) => {
            stores.accounts.set_role(existing.id, Some(role)).await?;
            (
                existing.id,
                format!(
                    "{email} already had an account; it now has the role {}. Its password is unchanged.",
                    role.as_str()
                ),
            )
        }
        None => {
            check_new_password(password, &[email.as_str()])
                .map_err(|e| anyhow::anyhow!("password: {e}"))?;
            let hash = {
                let password = password.to_owned();
                tokio::task::spawn_blocking(move || candour_core::password::hash(&password))
                    .await??
            };
            let id = stores
                .accounts
                .create_account(&NewAccount {
                    email: email.clone(),
                    password_hash: hash,
                    name: String::new(),
                    role: Some(role),
                    email_verified: true,
                    created_at: clock.now(),
                })
                .await?;
            (
                id,
                format!("Created {email} with the role {}.", role.as_str()),
            )
        }
    };
    stores
        .audit
        .record(&AuditEntry {
            at: clock.now(),
            actor: None,
            actor_email: "command line".to_owned(),
            action: "staff.role-given".to_owned(),
            target: format!("account:{id}"),
            detail: role.as_str().to_owned(),
        })
        .await?;
    Ok(outcome)
}

pub async fn serve(config: Config, demo: Option<&DemoSite>) -> anyhow::Result<()> {
    let stores = open(&config).await?;
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("could not listen on {}", config.listen))?;
    let addr = listener.local_addr()?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let staff_created = match demo {
        Some(site) => site.populate(&stores, clock.as_ref()).await?,
        None => false,
    };
    let state = candour_web::AppState::new(config.clone(), stores.clone(), clock.clone())
        .await
        .context("could not start the site")?;
    let mail = state.mail_destination();
    // Say where the site is before the background tasks start logging, so the demo's
    // message is the first thing a person sees.
    match demo {
        Some(site) => site.announce(addr, staff_created),
        None => {
            tracing::info!(%addr, backend = stores.backend, mail = %mail, "Candour is listening.")
        }
    }
    // One signal stops everything at once: the listener stops accepting and finishes the
    // requests in flight while the campaign worker finishes its sends.
    let (stop_all, stop) = tokio::sync::watch::channel(false);
    let worker = (config.campaigns.enabled && config.campaigns.worker)
        .then(|| tokio::spawn(state.campaign_sender().run_until(stop.clone())));
    if let Some((addr, metrics)) = candour_web::metrics_router(&state) {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("could not listen on {addr} for [metrics]"))?;
        tracing::info!(%addr, "Metrics are served at /metrics.");
        let mut stop_metrics = stop.clone();
        tokio::spawn(async move {
            let served = axum::serve(listener, metrics).with_graceful_shutdown(async move {
                let _ = stop_metrics.wait_for(|s| *s).await;
            });
            if let Err(e) = served.await {
                tracing::error!(error = %e, "The metrics listener failed.");
            }
        });
    }
    let queues = state.clone();
    let statistics = state.spawn_statistics_folder(stop.clone());
    tokio::spawn(digest_loop(state.clone()));
    let app = candour_web::router(state);

    tokio::spawn(retention_loop(stores.clone(), config.clone(), clock));
    tokio::spawn(async move {
        shutdown_signal().await;
        let _ = stop_all.send(true);
    });

    axum_serve(listener, app, stop).await?;
    // Votes and tracking events already answered are written before the process ends.
    queues.flush_queues().await;
    // The folder writes the hits still in memory and folds them before it ends.
    if tokio::time::timeout(Duration::from_secs(30), statistics)
        .await
        .is_err()
    {
        tracing::warn!("The statistics folder did not stop in time.");
    }
    // The worker's messages in flight finish within their time limit and are recorded;
    // its unsent ones are given back for another instance.
    let bound = Duration::from_secs(u64::from(config.campaigns.send_timeout_seconds) + 10);
    if let Some(worker) = worker
        && tokio::time::timeout(bound, worker).await.is_err()
    {
        tracing::warn!("The campaign worker did not stop in time.");
    }
    tracing::info!("Candour has stopped.");
    Ok(())
}

async fn axum_serve(
    listener: tokio::net::TcpListener,
    app: axum::Router,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> anyhow::Result<()> {
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        let _ = stop.wait_for(|s| *s).await;
    })
    .await
    .context("the server failed")
}

/// Purge what is past its retention period, hourly and once at start.
async fn retention_loop(stores: Stores, config: Config, clock: Arc<dyn Clock>) {
    let mut tick = tokio::time::interval(Duration::from_secs(3600));
    loop {
        tick.tick().await;
        match candour_core::retention::purge_expired(&stores, &config, clock.as_ref()).await {
            Ok(p) if p.total() > 0 => tracing::info!(
                receipts = p.receipts,
                sessions = p.sessions,
                links = p.links,
                windows = p.windows,
                audit = p.audit,
                voter_hashes = p.voter_hashes,
                preference_links = p.preference_links,
                unconfirmed = p.unconfirmed,
                unconfirmed_requests = p.unconfirmed_requests,
                imports = p.imports,
                people = p.people,
                tracking = p.tracking,
                "Deleted records past their retention period."
            ),
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(error = %e, "Could not purge expired records; will try again.")
            }
        }
        let bundles = candour_web::requests::bundle::folder(
            config.requests.bundle_dir.as_deref(),
            config.database_url.expose(),
        );
        match candour_web::requests::bundle::sweep(&bundles, clock.now()) {
            Ok(0) => {}
            Ok(n) => tracing::info!(bundles = n, "Deleted answers to requests past their time."),
            Err(e) => {
                tracing::warn!(error = %e, "Could not sweep the bundle folder; will try again.")
            }
        }
    }
}

/// Send the daily digest of due requests once its hour has come (checked every five
/// minutes; the database makes sure one instance sends it).
async fn digest_loop(state: candour_web::AppState) {
    let mut tick = tokio::time::interval(Duration::from_secs(300));
    loop {
        tick.tick().await;
        if let Err(e) = state.send_request_digest().await {
            tracing::warn!(error = %e, "Could not send the digest of due requests; will try again.");
        }
    }
}

/// Ctrl-C or SIGTERM: stop accepting, let requests in flight finish.
async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("Stopping: finishing requests in flight.");
}
