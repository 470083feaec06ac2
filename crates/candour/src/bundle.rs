//! `candour requests bundle`: write the answer to a request for a copy of someone's data,
//! as staff would from the case, and say where it is and how long it took. Like every
//! export, it says for whom (`--for` a recipient of the register, or `--internal` with what
//! for) and is recorded as a disclosure, made from the command line.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use candour_core::Clock;
use candour_core::audit::AuditEntry;
use candour_core::config::Config;
use candour_core::cookies::CookieRegistry;
use candour_core::disclosures::{ForWhom, NewDisclosure, Recipient, kind};
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

/// For whom the bundle is, as the command line gives it.
#[derive(Debug, Clone)]
pub enum For {
    Recipient(i64),
    Internal(String),
}

/// The answer checked as the console checks it: an active recipient, or internal use with
/// a purpose of plain text.
fn for_whom(given: &For, active: &[Recipient]) -> anyhow::Result<ForWhom> {
    let parsed = match given {
        For::Recipient(id) => ForWhom::parse(&id.to_string(), "", active),
        For::Internal(purpose) => ForWhom::parse("internal", purpose, active),
    };
    parsed.map_err(|errors| {
        let words: Vec<String> = errors
            .iter()
            .map(|e| {
                let flag = if e.field == "for" {
                    "--for"
                } else {
                    "--internal"
                };
                format!("{flag}: {}", e.problem)
            })
            .collect();
        anyhow::anyhow!(words.join("; "))
    })
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
    given: For,
) -> anyhow::Result<Vec<Made>> {
    let stores = open(config).await?;
    let active: Vec<Recipient> = stores
        .disclosures
        .recipients()
        .await?
        .into_iter()
        .filter(|r| r.active)
        .collect();
    let for_whom = for_whom(&given, &active)?;
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
    // A case's bundle holds the files staff added to it and leaves out what they withheld,
    // as the console's does.
    let extras = match whose {
        Whose::Person(_) => Extras::default(),
        Whose::Case(case) => Extras {
            withheld: stores.request_items.withholdings(case).await?,
            files: stores.request_items.request_files(case).await?,
            ..Extras::default()
        },
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
        let written =
            bundle::write(&stores, &policy, holder, &dir, clock.now(), extras.clone()).await?;
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
    // The bundle kept is the disclosure; when it cannot be recorded, the bundle goes too.
    let recorded = stores
        .disclosures
        .record_disclosure(&NewDisclosure {
            for_whom,
            actor: None,
            kind: kind::REQUEST_BUNDLE.to_owned(),
            description: match whose {
                Whose::Case(case) => format!("request {case}, from the command line"),
                Whose::Person(_) => "from the command line".to_owned(),
            },
            people: vec![person],
            at: clock.now(),
        })
        .await;
    if let Err(e) = recorded {
        if let Some(last) = made.last() {
            let _ = std::fs::remove_file(&last.written.path);
        }
        return Err(e).context("the disclosure could not be recorded, so the bundle was deleted");
    }
    Ok(made)
}
