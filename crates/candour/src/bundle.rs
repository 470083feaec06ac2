//! `candour requests bundle`: write the answer to a request for a copy of someone's data,
//! as staff would from the case, and say where it is and how long it took.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use candour_core::Clock;
use candour_core::audit::AuditEntry;
use candour_core::config::Config;
use candour_core::cookies::CookieRegistry;
use candour_core::policy::Policy;
use candour_web::requests::bundle::{self, Extras, Holder};

use crate::server::{SystemClock, open};

/// Whose bundle to write.
#[derive(Debug, Clone, Copy)]
pub enum Whose {
    Person(i64),
    /// The person a request about data is from.
    Case(i64),
}

/// One bundle written: where, how big, and how long it took.
pub struct Made {
    pub written: bundle::Written,
    pub millis: f64,
}

/// Write the bundle `rounds` times (the last one is kept; the others are deleted), each
/// audited as written from the command line.
pub async fn write(
    config: &Config,
    whose: Whose,
    out: Option<PathBuf>,
    rounds: u32,
) -> anyhow::Result<Vec<Made>> {
    let stores = open(config).await?;
    let person = match whose {
        Whose::Person(id) => id,
        Whose::Case(case) => stores
            .requests
            .request(case)
            .await?
            .with_context(|| format!("there is no request {case}"))?
            .person
            .with_context(|| format!("request {case} is not linked to a person record"))?,
    };
    let dir = out.unwrap_or_else(|| {
        bundle::folder(
            config.requests.bundle_dir.as_deref(),
            config.database_url.expose(),
        )
    });
    let policy = Policy::new(config, &CookieRegistry::from_config(config));
    let holder = Holder::person(&stores, person)
        .await?
        .with_context(|| format!("there is no person {person}"))?;
    let clock = SystemClock;
    let mut made: Vec<Made> = Vec::new();
    for _ in 0..rounds.max(1) {
        if let Some(previous) = made.last() {
            std::fs::remove_file(&previous.written.path)?;
        }
        let started = Instant::now();
        let written = bundle::write(
            &stores,
            &policy,
            holder,
            &dir,
            clock.now(),
            Extras::default(),
        )
        .await?;
        let millis = started.elapsed().as_secs_f64() * 1000.0;
        stores
            .audit
            .record(&AuditEntry {
                at: clock.now(),
                actor: None,
                actor_email: "command line".to_owned(),
                action: "request.bundle-written".to_owned(),
                target: format!("person:{person}"),
                detail: format!("{} rows", written.rows),
            })
            .await?;
        made.push(Made { written, millis });
    }
    Ok(made)
}
