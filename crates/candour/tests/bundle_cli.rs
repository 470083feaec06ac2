//! `candour requests bundle` is an export like any other: it says for whom (`--for` an active
//! recipient, or `--internal` with what for), is refused without a good answer (no file, no
//! record), and records the disclosure, made from the command line.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use candour_core::account::EmailAddress;
use candour_core::disclosures::RecipientDraft;
use candour_core::people::Source;
use candour_core::purposes::LawfulBasis;
use candour_store_sqlite::SqliteStore;
use common::candour;

fn files(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir).map_or(0, |d| d.count())
}

#[tokio::test]
async fn the_command_line_bundle_says_for_whom_and_is_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("site.db").display());
    let out = dir.path().join("bundles");
    let store = SqliteStore::open(&url).await.unwrap();
    let stores = store.stores();
    let now = time::macros::datetime!(2026-06-01 09:00 UTC);
    let kim = stores
        .people
        .ensure_person(
            &EmailAddress::parse("kim@example.org").unwrap(),
            Source::Staff,
            now,
        )
        .await
        .unwrap()
        .id;
    let draft = |name: &str| RecipientDraft {
        name: name.into(),
        purpose: "Acting for Kim".into(),
        basis: LawfulBasis::LegalObligation,
    };
    let solicitor = stores
        .disclosures
        .add_recipient(&draft("Solicitor"), now)
        .await
        .unwrap();
    let retired = stores
        .disclosures
        .add_recipient(&draft("Old solicitor"), now)
        .await
        .unwrap();
    stores
        .disclosures
        .set_recipient_active(retired, false)
        .await
        .unwrap();
    let bundle = |extra: &[&str]| {
        let person = kim.to_string();
        let mut args = vec![
            "requests",
            "bundle",
            "--person",
            person.as_str(),
            "--database-url",
            url.as_str(),
            "--out",
            out.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        candour().args(&args).output().unwrap()
    };
    let refused = [
        (vec![], "--for"),
        (vec!["--for", "x"], "--for"),
        (
            vec!["--internal", "  "],
            "--internal: Say what the export is for",
        ),
        (
            vec!["--for", "1", "--internal", "checking"],
            "cannot be used with",
        ),
    ];
    let retired_id = retired.to_string();
    for (extra, words) in refused.iter().cloned().chain([(
        vec!["--for", retired_id.as_str()],
        "--for: That recipient is not an active one in the register",
    )]) {
        let o = bundle(&extra);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success(), "{extra:?}");
        assert!(err.contains(words), "{extra:?}: {err}");
    }
    assert_eq!(files(&out), 0, "a refused bundle writes nothing");
    assert!(
        stores
            .disclosures
            .latest_disclosures(5)
            .await
            .unwrap()
            .is_empty()
    );

    let id = solicitor.to_string();
    let o = bundle(&["--for", &id, "--rounds", "2"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(files(&out), 1, "the last round is kept");
    let made = stores.disclosures.latest_disclosures(5).await.unwrap();
    assert_eq!(made.len(), 1, "one disclosure for the bundle kept");
    assert_eq!(made[0].recipient, Some(solicitor));
    assert_eq!(made[0].actor, None, "from the command line");
    assert_eq!(made[0].kind, "request-bundle");
    assert_eq!(
        stores
            .disclosures
            .disclosed_people(made[0].id)
            .await
            .unwrap(),
        [kim]
    );
    let o = bundle(&["--internal", "Checking the bundle's size"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let made = stores.disclosures.latest_disclosures(5).await.unwrap();
    assert_eq!(made[0].internal_purpose, "Checking the bundle's size");
    assert_eq!(made[0].recipient, None);
}
