//! `candour demo`: a populated site for a fictional police force, on a fresh database in a
//! temporary folder, so anyone can see every capability in one command.

use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;

use anyhow::Context;
use candour_core::config::{Config, DeclaredCookie, GatedScript, Organisation};
use candour_core::cookies::Category;

/// The demo's content, compiled in so the binary needs no files beside it.
const CONTENT: &[(&str, &str)] = &[
    ("index.md", include_str!("../demo/content/index.md")),
    ("report.md", include_str!("../demo/content/report.md")),
    ("contact.md", include_str!("../demo/content/contact.md")),
    (
        "accessibility.md",
        include_str!("../demo/content/accessibility.md"),
    ),
    (
        "news/index.md",
        include_str!("../demo/content/news/index.md"),
    ),
    (
        "news/road-safety-week.md",
        include_str!("../demo/content/news/road-safety-week.md"),
    ),
    (
        "static/visit-counter.js",
        include_str!("../demo/content/static/visit-counter.js"),
    ),
];

pub struct DemoSite {
    /// Removed, with the demo database in it, when the demo stops.
    dir: tempfile::TempDir,
    pub config: Config,
}

/// Write the demo's content and configuration; `fresh_db` puts a new SQLite file in the
/// temporary folder (otherwise the caller supplies a database URL).
pub fn prepare(base: Config, fresh_db: bool) -> anyhow::Result<DemoSite> {
    let dir = tempfile::Builder::new()
        .prefix("candour-demo-")
        .tempdir()
        .context("could not create a temporary folder for the demo")?;
    let content = dir.path().join("content");
    for (rel, text) in CONTENT {
        write(&content.join(rel), text)?;
    }
    let mut config = base;
    if fresh_db {
        config.database_url = format!("sqlite://{}", dir.path().join("demo.db").display());
    }
    config.content_dir = Some(content);
    config.organisation = Organisation {
        name: "Northmoor Police".to_owned(),
        phone: "101".to_owned(),
        emergency_note:
            "In an emergency, when life is in danger or a crime is in progress, call 999."
                .to_owned(),
        email: "webmaster@northmoor.police.example".to_owned(),
        postal_address: vec![
            "Northmoor Police Headquarters".to_owned(),
            "1 Moor Lane".to_owned(),
            "Northmoor".to_owned(),
            "NM1 2AB".to_owned(),
        ],
        dpo_name: "Jo Whitfield".to_owned(),
        dpo_email: "data.protection@northmoor.police.example".to_owned(),
        ico_registration: "Z0000000".to_owned(),
    };
    config.scripts = vec![GatedScript {
        src: "/static/visit-counter.js".to_owned(),
        category: Category::Statistics,
    }];
    config.cookies.declared = vec![DeclaredCookie {
        name: "northmoor_visits".to_owned(),
        category: Category::Statistics,
        purpose: "Counts how many times this browser has visited, so we can tell new visitors \
                  from returning ones."
            .to_owned(),
        lifetime_days: 30,
        provider: String::new(),
    }];
    Ok(DemoSite { dir, config })
}

fn write(path: &Path, text: &str) -> anyhow::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("could not create {}", parent.display()))?;
    }
    std::fs::write(path, text).with_context(|| format!("could not write {}", path.display()))
}

impl DemoSite {
    /// Tell the person who started the demo where it is.
    pub fn announce(&self, addr: SocketAddr) {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(
            out,
            "Candour demo for {} (a fictional police force)\n  Site:     http://{addr}/\n  Files:    {} (removed when the demo stops)\n  Stop it with Ctrl-C.",
            self.config.organisation.name,
            self.dir.path().display(),
        );
        let _ = out.flush();
    }
}
