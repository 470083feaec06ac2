#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code
//! Every store method has a conformance case: each method of each trait in
//! `candour-core/src/store.rs` must be called in the suite's sources through the `Stores`
//! field that holds its trait (`s.ledger.append_consents(…)`, or a clone of the field kept
//! under the field's name). A new method without a case fails here, naming it.

use std::collections::BTreeMap;
use std::path::Path;

/// The text between the `{` after `start` and its matching `}`.
fn block_after(text: &str, start: usize) -> &str {
    let open = start + text[start..].find('{').unwrap();
    let mut depth = 0;
    for (i, c) in text[open..].char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return &text[open + 1..open + i];
                }
            }
            _ => {}
        }
    }
    panic!("unbalanced braces after byte {start}");
}

/// store trait -> its methods, from the store module.
fn store_traits(store: &str) -> BTreeMap<String, Vec<String>> {
    let mut out = BTreeMap::new();
    for (at, _) in store.match_indices("pub trait ") {
        let name: String = store[at + "pub trait ".len()..]
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        // A store's traits are named `…Store`; the others (`ExportSink`, `PieceSink`) are what a
        // store hands its rows to, implemented by the caller, so no field holds them.
        if !name.ends_with("Store") {
            continue;
        }
        let body = block_after(store, at);
        let methods = body
            .match_indices("fn ")
            .filter(|(i, _)| *i == 0 || !body[..*i].ends_with(|c: char| c.is_alphanumeric()))
            .map(|(i, _)| {
                body[i + 3..]
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect()
            })
            .collect();
        out.insert(name, methods);
    }
    out
}

/// trait -> the `Stores` field that holds it.
fn stores_fields(store: &str) -> BTreeMap<String, String> {
    let body = block_after(store, store.find("pub struct Stores").unwrap());
    body.lines()
        .filter_map(|l| {
            let (field, ty) = l.trim().strip_prefix("pub ")?.split_once(": Arc<dyn ")?;
            Some((ty.trim_end_matches(">,").to_owned(), field.to_owned()))
        })
        .collect()
}

/// The sources with every run of whitespace made one space, so a call split over lines
/// reads as one.
fn suite_sources(dir: &Path) -> String {
    let mut text = String::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "rs") {
            text.push_str(&std::fs::read_to_string(&path).unwrap());
            text.push('\n');
        }
    }
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The names a field is also reached by: `let c = &s.campaigns;` or
/// `let votes = s.votes.clone();`.
fn aliases<'a>(suite: &'a str, field: &str) -> Vec<&'a str> {
    suite
        .match_indices("let ")
        .filter_map(|(i, _)| {
            let (name, rest) = suite[i + 4..].split_once(" = ")?;
            let value = rest.split(';').next()?;
            let value = value.trim_start_matches('&').trim_end_matches(".clone()");
            let valid = name.chars().all(|c| c.is_alphanumeric() || c == '_');
            (valid && value.ends_with(&format!(".{field}"))).then_some(name)
        })
        .collect()
}

fn is_called(suite: &str, field: &str, method: &str) -> bool {
    let mut names = aliases(suite, field);
    names.push(field);
    let call = format!("{method}(");
    suite.match_indices(&call).any(|(i, _)| {
        let before = suite[..i].trim_end();
        let Some(before) = before.strip_suffix('.') else {
            return false;
        };
        let before = before.trim_end();
        names.iter().any(|name| {
            before.ends_with(name)
                && !before[..before.len() - name.len()]
                    .ends_with(|c: char| c.is_alphanumeric() || c == '_')
        })
    })
}

#[test]
fn every_store_method_has_a_conformance_case() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let store = std::fs::read_to_string(root.join("../candour-core/src/store.rs")).unwrap();
    let traits = store_traits(&store);
    let fields = stores_fields(&store);
    let suite = suite_sources(&root.join("src"));
    assert!(traits.len() >= 10, "found only {traits:?}");
    let mut missing = Vec::new();
    for (name, methods) in &traits {
        let Some(field) = fields.get(name) else {
            missing.push(format!("{name} is not a field of Stores"));
            continue;
        };
        for m in methods {
            if !is_called(&suite, field, m) {
                missing.push(format!("{name}::{m} (no call to {field}.{m} in the suite)"));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "store methods without a conformance case:\n  {}",
        missing.join("\n  ")
    );
}

#[test]
fn the_coverage_check_finds_calls_and_only_calls() {
    let suite = "s.ledger .append_consents(x) let votes = s.votes.clone(); votes.record_votes(&b) \
                 let c = &s.campaigns; c.report(1) s.people.person(1) not_people.count_people()";
    assert!(is_called(suite, "ledger", "append_consents"));
    assert!(is_called(suite, "votes", "record_votes"));
    assert!(is_called(suite, "people", "person"));
    assert!(!is_called(suite, "people", "count_people"));
    assert!(is_called(suite, "campaigns", "report"));
    assert!(!is_called(suite, "ledger", "consent_events"));
    assert!(!is_called(suite, "ledger", "report"));
}
