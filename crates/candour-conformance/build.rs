//! Two jobs before the suite is compiled:
//!
//! - The list of cases is read from the sources, so it is never kept by hand: every
//!   `pub async fn` in `src/` is a case, run on each backend by `tests/backends.rs`. One that
//!   takes `(s: &Stores)` runs on one store; one that takes `(one: &Stores, two: &Stores)`
//!   runs on two instances of one database. Anything else public and async is an error.
//! - The PostgreSQL cases run only when `CANDOUR_TEST_POSTGRES_URL` names a server; without
//!   one they are compiled as ignored, so the test output says they were not run (and why)
//!   instead of reporting them as passed.

use std::fmt::Write as _;
use std::path::Path;

fn main() {
    println!("cargo::rerun-if-env-changed=CANDOUR_TEST_POSTGRES_URL");
    println!("cargo::rerun-if-env-changed=CANDOUR_REQUIRE_POSTGRES");
    println!("cargo::rustc-check-cfg=cfg(postgres_tests)");
    let url = std::env::var("CANDOUR_TEST_POSTGRES_URL").is_ok_and(|v| !v.is_empty());
    if url {
        println!("cargo::rustc-cfg=postgres_tests");
    } else if std::env::var_os("CANDOUR_REQUIRE_POSTGRES").is_some() {
        println!(
            "cargo::error=CANDOUR_REQUIRE_POSTGRES is set but CANDOUR_TEST_POSTGRES_URL is not"
        );
    }
    list_cases();
}

/// Write `$OUT_DIR/cases.rs`: one macro call per kind of case, naming every case.
fn list_cases() {
    println!("cargo::rerun-if-changed=src");
    let mut files: Vec<_> = std::fs::read_dir("src")
        .map(|dir| dir.filter_map(|e| e.ok()).map(|e| e.path()).collect())
        .unwrap_or_default();
    files.sort();
    let (mut one, mut two) = (Vec::new(), Vec::new());
    for file in files
        .iter()
        .filter(|f| f.extension().is_some_and(|e| e == "rs"))
    {
        let text = std::fs::read_to_string(file).unwrap_or_default();
        for line in text.lines() {
            let Some(rest) = line.strip_prefix("pub async fn ") else {
                continue;
            };
            let Some((name, params)) = rest.split_once('(') else {
                continue;
            };
            let params = params.split(')').next().unwrap_or_default();
            match params.trim() {
                "s: &Stores" => one.push(name.to_owned()),
                "one: &Stores, two: &Stores" => two.push(name.to_owned()),
                other => println!(
                    "cargo::error={}: the case {name} takes ({other}); a case takes \
                     (s: &Stores) or (one: &Stores, two: &Stores)",
                    file.display()
                ),
            }
        }
    }
    let mut out = String::new();
    let _ = writeln!(out, "conformance!({});", one.join(", "));
    let _ = writeln!(out, "conformance_two_instances!({});", two.join(", "));
    let dir = std::env::var("OUT_DIR").unwrap_or_default();
    if let Err(e) = std::fs::write(Path::new(&dir).join("cases.rs"), out) {
        println!("cargo::error=cannot write the list of cases: {e}");
    }
}
