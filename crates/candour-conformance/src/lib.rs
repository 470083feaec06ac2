//! The store conformance suite: every case is written once against the store traits and run
//! on each backend (see `tests/backends.rs`). A backend passes when it behaves exactly like
//! the others, not merely when it compiles.

// This crate is test code: a failed step should stop the case with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use candour_core::config::ConsentMode;
use candour_core::consent::{Choice, Method, Receipt, ReceiptId};
use candour_core::store::{StoreError, Stores};
use time::{Duration, OffsetDateTime, macros::datetime};

const T0: OffsetDateTime = datetime!(2026-03-01 12:00:00 UTC);

fn receipt(n: u8, at: OffsetDateTime, choice: Choice) -> Receipt {
    Receipt {
        id: ReceiptId::from_random([n; 16]),
        recorded_at: at,
        policy_version: "0123456789ab".to_owned(),
        mode: ConsentMode::OptIn,
        method: Method::Banner,
        gpc: n.is_multiple_of(2),
        choice,
    }
}

pub async fn health_ping_answers(s: &Stores) {
    s.health.ping().await.expect("ping");
}

pub async fn keys_are_stored_once_and_then_kept(s: &Stores) {
    let first = s.keys.key_or_insert("cookies", &[1; 32]).await.unwrap();
    assert_eq!(first, vec![1; 32]);
    let again = s.keys.key_or_insert("cookies", &[2; 32]).await.unwrap();
    assert_eq!(again, first, "a stored key must never be replaced");
    let other = s.keys.key_or_insert("links", &[3; 32]).await.unwrap();
    assert_eq!(other, vec![3; 32]);
}

pub async fn racing_instances_agree_on_one_key(s: &Stores) {
    let mut tasks = tokio::task::JoinSet::new();
    for n in 0..16u8 {
        let keys = s.keys.clone();
        tasks.spawn(async move { keys.key_or_insert("race", &[n; 32]).await });
    }
    let mut seen = Vec::new();
    while let Some(t) = tasks.join_next().await {
        seen.push(t.unwrap().unwrap());
    }
    assert!(
        seen.windows(2).all(|w| w[0] == w[1]),
        "keys differ: {seen:?}"
    );
}

pub async fn receipts_round_trip(s: &Stores) {
    let r = Receipt {
        mode: ConsentMode::Implied,
        method: Method::Settings,
        ..receipt(
            9,
            T0,
            Choice::ALL.with(candour_core::cookies::Category::Marketing, false),
        )
    };
    s.consent.record_receipt(&r).await.unwrap();
    assert_eq!(s.consent.find_receipt(&r.id).await.unwrap(), Some(r));
    let unknown = ReceiptId::from_random([0xee; 16]);
    assert_eq!(s.consent.find_receipt(&unknown).await.unwrap(), None);
}

pub async fn a_receipt_id_is_never_reused(s: &Stores) {
    let r = receipt(1, T0, Choice::ALL);
    s.consent.record_receipt(&r).await.unwrap();
    let clash = receipt(1, T0 + Duration::hours(1), Choice::NONE);
    let err = s.consent.record_receipt(&clash).await.unwrap_err();
    assert!(matches!(err, StoreError::Duplicate(_)), "{err:?}");
    assert_eq!(s.consent.find_receipt(&r.id).await.unwrap(), Some(r));
}

pub async fn tally_counts_each_category_since_a_time(s: &Stores) {
    let stats_only = Choice::NONE.with(candour_core::cookies::Category::Statistics, true);
    for (n, at, choice) in [
        (1, T0 - Duration::days(2), Choice::ALL),
        (2, T0, Choice::ALL),
        (3, T0 + Duration::seconds(1), Choice::NONE),
        (4, T0 + Duration::days(1), stats_only),
    ] {
        s.consent
            .record_receipt(&receipt(n, at, choice))
            .await
            .unwrap();
    }
    let t = s.consent.tally_since(T0).await.unwrap();
    assert_eq!(
        (t.receipts, t.preferences, t.statistics, t.marketing),
        (3, 1, 2, 1)
    );
    let empty = s
        .consent
        .tally_since(T0 + Duration::days(30))
        .await
        .unwrap();
    assert_eq!(empty.receipts, 0);
}

pub async fn purge_removes_only_receipts_past_their_time(s: &Stores) {
    for (n, at) in [
        (1, T0 - Duration::days(800)),
        (2, T0 - Duration::days(1)),
        (3, T0),
    ] {
        s.consent
            .record_receipt(&receipt(n, at, Choice::NONE))
            .await
            .unwrap();
    }
    let cutoff = T0 - Duration::days(730);
    assert_eq!(s.consent.purge_receipts_before(cutoff).await.unwrap(), 1);
    assert_eq!(s.consent.purge_receipts_before(cutoff).await.unwrap(), 0);
    assert!(
        s.consent
            .find_receipt(&ReceiptId::from_random([1; 16]))
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        s.consent
            .find_receipt(&ReceiptId::from_random([2; 16]))
            .await
            .unwrap()
            .is_some()
    );
}
