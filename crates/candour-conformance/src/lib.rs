//! The store conformance suite: every case is written once against the store traits and run
//! on each backend (see `tests/backends.rs`). A backend passes when it behaves exactly like
//! the others, not merely when it compiles.

#![cfg_attr(not(test), deny(unused_crate_dependencies))]
// This crate is test code: a failed step should stop the case with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use candour_core::config::ConsentMode;
use candour_core::consent::{Choice, Method, Receipt, ReceiptId};
use candour_core::store::{StoreError, Stores};
use time::{Duration, OffsetDateTime, macros::datetime};

mod answers;
mod bundles;
mod campaigns;
mod disclosures;
mod people;
mod request_actions;
mod request_items;
mod requests;
mod stats;
mod stats_report;
pub mod upgrade;
pub use answers::*;
pub use bundles::*;
pub use campaigns::*;
pub use disclosures::*;
pub use people::*;
pub use request_actions::*;
pub use request_items::*;
pub use requests::*;
pub use stats::*;
pub use stats_report::*;
pub use upgrade::a_populated_database_reads_back;

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

pub async fn health_write_check_writes_and_can_be_repeated(s: &Stores) {
    s.health.check_write(T0).await.expect("a first write");
    s.health
        .check_write(T0 + Duration::seconds(5))
        .await
        .expect("the row is overwritten, not added again");
}

pub async fn pool_use_is_reported_within_its_limits(s: &Stores) {
    s.health.ping().await.expect("ping");
    let pools = s.health.pool_use();
    assert!(!pools.is_empty(), "at least one pool is reported");
    for p in &pools {
        assert!(p.max >= 1, "{p:?}");
        assert!(p.idle <= p.size && p.size <= p.max, "{p:?}");
    }
    assert!(
        pools.iter().any(|p| p.size >= 1),
        "a pool that just answered a query has a connection open: {pools:?}"
    );
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
        method: Method::Embed,
        ..receipt(
            9,
            T0,
            Choice::ALL
                .with(candour_core::cookies::Category::Marketing, false)
                .with_always(candour_core::media::Provider::Vimeo, true)
                .with_always(candour_core::media::Provider::SlideShare, true),
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

// ---- Accounts, sessions, links, audit, rate limits ----

use candour_core::account::{EmailAddress, Phone, Postcode, Role};
use candour_core::account::{NewAccount, Profile};
use candour_core::audit::AuditEntry;
use candour_core::session::LinkClaim;
use candour_core::session::{LinkPurpose, Secret};

fn email(s: &str) -> EmailAddress {
    EmailAddress::parse(s).unwrap()
}

/// A staff account for cases that need one.
async fn staff_account(s: &Stores) -> i64 {
    account(s, "staff@example.org", Some(Role::Admin)).await
}

async fn account(s: &Stores, address: &str, role: Option<Role>) -> i64 {
    s.accounts
        .create_account(&NewAccount {
            email: email(address),
            password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".to_owned(),
            name: "Jo".to_owned(),
            role,
            email_verified: false,
            created_at: T0,
        })
        .await
        .unwrap()
}

pub async fn accounts_are_unique_by_email(s: &Stores) {
    let id = account(s, "jo@example.org", None).await;
    let a = s.accounts.account(id).await.unwrap().unwrap();
    assert_eq!(a.email.as_str(), "jo@example.org");
    assert_eq!(a.created_at, T0);
    assert!(!a.email_verified && a.role.is_none() && a.totp_secret.is_none());
    assert_eq!(a.profile.name, "Jo");
    let by_email = s
        .accounts
        .account_by_email(&email("jo@example.org"))
        .await
        .unwrap();
    assert_eq!(by_email.map(|a| a.id), Some(id));
    let err = s
        .accounts
        .create_account(&NewAccount {
            email: email("JO@example.org"),
            password_hash: "x".into(),
            name: String::new(),
            role: None,
            email_verified: false,
            created_at: T0,
        })
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Duplicate(_)), "{err:?}");
    assert!(s.accounts.account(id + 1000).await.unwrap().is_none());
}

pub async fn profiles_round_trip(s: &Stores) {
    let id = account(s, "jo@example.org", None).await;
    let p = Profile {
        name: "Jo Bloggs".into(),
        job_title: "Parish clerk".into(),
        phone: Some(Phone::parse("01632 960 001").unwrap()),
        postal_address: "1 Church Lane\nNorthmoor".into(),
        postcode: Some(Postcode::parse("nm1 2ab").unwrap()),
        interests: vec!["road-safety".into(), "rural-crime".into()],
    };
    s.accounts.update_profile(id, &p).await.unwrap();
    assert_eq!(s.accounts.account(id).await.unwrap().unwrap().profile, p);
    s.accounts
        .update_profile(id, &Profile::default())
        .await
        .unwrap();
    assert_eq!(
        s.accounts.account(id).await.unwrap().unwrap().profile,
        Profile::default()
    );
}

pub async fn email_changes_and_verification(s: &Stores) {
    let a = account(s, "a@example.org", None).await;
    account(s, "b@example.org", None).await;
    s.accounts.mark_email_verified(a).await.unwrap();
    assert!(s.accounts.account(a).await.unwrap().unwrap().email_verified);
    let err = s
        .accounts
        .change_email(a, &email("b@example.org"))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Duplicate(_)));
    s.accounts
        .change_email(a, &email("c@example.org"))
        .await
        .unwrap();
    let acct = s.accounts.account(a).await.unwrap().unwrap();
    assert_eq!(acct.email.as_str(), "c@example.org");
    assert!(
        s.accounts
            .account_by_email(&email("a@example.org"))
            .await
            .unwrap()
            .is_none()
    );
}

pub async fn sessions_live_until_ended(s: &Stores) {
    let a = account(s, "a@example.org", None).await;
    let one = Secret::from_random([1; 32]).hash();
    let two = Secret::from_random([2; 32]).hash();
    s.sessions.create_session(&one, a, T0).await.unwrap();
    s.sessions.create_session(&two, a, T0).await.unwrap();
    let got = s.sessions.session(&one).await.unwrap().unwrap();
    assert_eq!((got.account, got.created_at, got.last_seen_at), (a, T0, T0));
    s.sessions
        .touch_session(&one, T0 + Duration::minutes(5))
        .await
        .unwrap();
    let got = s.sessions.session(&one).await.unwrap().unwrap();
    assert_eq!(got.last_seen_at, T0 + Duration::minutes(5));
    assert_eq!(got.created_at, T0);
    s.sessions.end_session(&one).await.unwrap();
    assert!(s.sessions.session(&one).await.unwrap().is_none());
    assert!(s.sessions.session(&two).await.unwrap().is_some());
    assert_eq!(s.sessions.end_all_sessions(a).await.unwrap(), 1);
    assert!(s.sessions.session(&two).await.unwrap().is_none());
}

pub async fn a_password_change_ends_every_session(s: &Stores) {
    let a = account(s, "a@example.org", None).await;
    let b = account(s, "b@example.org", None).await;
    for (n, who) in [(1, a), (2, a), (3, b)] {
        s.sessions
            .create_session(&Secret::from_random([n; 32]).hash(), who, T0)
            .await
            .unwrap();
    }
    s.accounts.change_password(a, "new-hash").await.unwrap();
    assert_eq!(
        s.accounts.account(a).await.unwrap().unwrap().password_hash,
        "new-hash"
    );
    assert!(
        s.sessions
            .session(&Secret::from_random([1; 32]).hash())
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        s.sessions
            .session(&Secret::from_random([2; 32]).hash())
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        s.sessions
            .session(&Secret::from_random([3; 32]).hash())
            .await
            .unwrap()
            .is_some()
    );
}

pub async fn stale_sessions_are_purged(s: &Stores) {
    let a = account(s, "a@example.org", None).await;
    let old = Secret::from_random([1; 32]).hash();
    let new = Secret::from_random([2; 32]).hash();
    s.sessions
        .create_session(&old, a, T0 - Duration::days(2))
        .await
        .unwrap();
    s.sessions.create_session(&new, a, T0).await.unwrap();
    assert_eq!(
        s.sessions
            .purge_sessions_before(T0 - Duration::days(1))
            .await
            .unwrap(),
        1
    );
    assert!(s.sessions.session(&old).await.unwrap().is_none());
    assert!(s.sessions.session(&new).await.unwrap().is_some());
}

pub async fn links_work_once_before_they_expire_for_their_purpose(s: &Stores) {
    let a = account(s, "a@example.org", None).await;
    let secret = Secret::from_random([5; 32]).hash();
    let expires = T0 + Duration::minutes(30);
    s.links
        .create_link(&secret, LinkPurpose::ResetPassword, a, None, expires)
        .await
        .unwrap();
    // The wrong purpose neither works nor uses the link up.
    assert!(
        s.links
            .consume_link(&secret, LinkPurpose::VerifyEmail, T0)
            .await
            .unwrap()
            .is_none()
    );
    // Expired: no.
    assert!(
        s.links
            .consume_link(&secret, LinkPurpose::ResetPassword, expires)
            .await
            .unwrap()
            .is_none()
    );
    let claim = s
        .links
        .consume_link(&secret, LinkPurpose::ResetPassword, T0)
        .await
        .unwrap();
    assert_eq!(
        claim,
        Some(LinkClaim {
            account: a,
            new_email: None
        })
    );
    // Used: no.
    assert!(
        s.links
            .consume_link(&secret, LinkPurpose::ResetPassword, T0)
            .await
            .unwrap()
            .is_none()
    );

    let change = Secret::from_random([6; 32]).hash();
    s.links
        .create_link(
            &change,
            LinkPurpose::ChangeEmail,
            a,
            Some(&email("new@example.org")),
            expires,
        )
        .await
        .unwrap();
    let claim = s
        .links
        .consume_link(&change, LinkPurpose::ChangeEmail, T0)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(claim.new_email, Some(email("new@example.org")));
    assert_eq!(
        s.links
            .purge_links_before(expires + Duration::seconds(1))
            .await
            .unwrap(),
        2
    );
}

pub async fn racing_requests_use_a_link_once(s: &Stores) {
    let a = account(s, "a@example.org", None).await;
    let secret = Secret::from_random([7; 32]).hash();
    s.links
        .create_link(
            &secret,
            LinkPurpose::VerifyEmail,
            a,
            None,
            T0 + Duration::hours(1),
        )
        .await
        .unwrap();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..12 {
        let links = s.links.clone();
        let secret = secret.clone();
        tasks.spawn(async move {
            links
                .consume_link(&secret, LinkPurpose::VerifyEmail, T0)
                .await
        });
    }
    let mut wins = 0;
    while let Some(r) = tasks.join_next().await {
        if r.unwrap().unwrap().is_some() {
            wins += 1;
        }
    }
    assert_eq!(wins, 1);
}

pub async fn deleting_an_account_removes_its_sessions_and_links(s: &Stores) {
    let a = account(s, "a@example.org", Some(Role::Editor)).await;
    let session = Secret::from_random([1; 32]).hash();
    let link = Secret::from_random([2; 32]).hash();
    s.sessions.create_session(&session, a, T0).await.unwrap();
    s.links
        .create_link(
            &link,
            LinkPurpose::VerifyEmail,
            a,
            None,
            T0 + Duration::hours(1),
        )
        .await
        .unwrap();
    s.accounts.delete_account(a).await.unwrap();
    assert!(s.accounts.account(a).await.unwrap().is_none());
    assert!(s.sessions.session(&session).await.unwrap().is_none());
    assert!(
        s.links
            .consume_link(&link, LinkPurpose::VerifyEmail, T0)
            .await
            .unwrap()
            .is_none()
    );
    // The address is free again.
    account(s, "a@example.org", None).await;
}

pub async fn roles_and_the_staff_list(s: &Stores) {
    let a = account(s, "zed@example.org", Some(Role::Admin)).await;
    let b = account(s, "amy@example.org", None).await;
    account(s, "public@example.org", None).await;
    s.accounts
        .set_role(b, Some(Role::PrivacyOfficer))
        .await
        .unwrap();
    let staff: Vec<_> = s
        .accounts
        .staff()
        .await
        .unwrap()
        .into_iter()
        .map(|a| (a.email.as_str().to_owned(), a.role))
        .collect();
    assert_eq!(
        staff,
        [
            ("amy@example.org".to_owned(), Some(Role::PrivacyOfficer)),
            ("zed@example.org".to_owned(), Some(Role::Admin))
        ]
    );
    s.accounts.set_role(a, None).await.unwrap();
    assert_eq!(s.accounts.staff().await.unwrap().len(), 1);
}

pub async fn second_factor_steps_and_recovery_codes_are_single_use(s: &Stores) {
    let a = account(s, "a@example.org", Some(Role::Admin)).await;
    s.second_factor
        .enable_totp(a, &[9; 20], &[[1; 32], [2; 32]])
        .await
        .unwrap();
    assert_eq!(
        s.accounts.account(a).await.unwrap().unwrap().totp_secret,
        Some(vec![9; 20])
    );
    assert!(s.second_factor.use_totp_step(a, 100).await.unwrap());
    assert!(
        !s.second_factor.use_totp_step(a, 100).await.unwrap(),
        "replay"
    );
    assert!(
        !s.second_factor.use_totp_step(a, 99).await.unwrap(),
        "older step"
    );
    assert!(s.second_factor.use_totp_step(a, 101).await.unwrap());
    assert!(
        s.second_factor
            .use_recovery_code(a, &[1; 32])
            .await
            .unwrap()
    );
    assert!(
        !s.second_factor
            .use_recovery_code(a, &[1; 32])
            .await
            .unwrap()
    );
    assert!(
        !s.second_factor
            .use_recovery_code(a, &[3; 32])
            .await
            .unwrap()
    );
    // Enabling again replaces the codes and forgets the last step.
    s.second_factor
        .enable_totp(a, &[8; 20], &[[4; 32]])
        .await
        .unwrap();
    assert!(
        !s.second_factor
            .use_recovery_code(a, &[2; 32])
            .await
            .unwrap()
    );
    assert!(s.second_factor.use_totp_step(a, 50).await.unwrap());
    s.second_factor.disable_totp(a).await.unwrap();
    assert!(
        s.accounts
            .account(a)
            .await
            .unwrap()
            .unwrap()
            .totp_secret
            .is_none()
    );
    assert!(
        !s.second_factor
            .use_recovery_code(a, &[4; 32])
            .await
            .unwrap()
    );
}

pub async fn the_audit_log_reads_newest_first(s: &Stores) {
    for (n, at) in [
        (1, T0),
        (2, T0 + Duration::minutes(1)),
        (3, T0 + Duration::minutes(2)),
    ] {
        s.audit
            .record(&AuditEntry {
                at,
                actor: Some(n),
                actor_email: format!("staff{n}@example.org"),
                action: "staff.role-changed".into(),
                target: format!("account:{n}"),
                detail: "editor".into(),
            })
            .await
            .unwrap();
    }
    let recent = s.audit.recent(2).await.unwrap();
    assert_eq!(recent.len(), 2);
    assert_eq!(recent[0].actor, Some(3));
    assert_eq!(recent[0].at, T0 + Duration::minutes(2));
    assert_eq!(recent[1].target, "account:2");
    assert_eq!(recent[1].actor_email, "staff2@example.org");
    assert_eq!(
        s.audit
            .purge_audit_before(T0 + Duration::minutes(1))
            .await
            .unwrap(),
        1
    );
    assert_eq!(s.audit.recent(10).await.unwrap().len(), 2);
}

pub async fn the_audit_log_filters_by_target_staff_action_and_time_in_pages(s: &Stores) {
    use candour_core::audit::AuditFilter;
    // Staff 1 views person 7 three times and person 8 once; staff 2 views person 7 once and
    // exports person 8; a minute apart, in that order.
    let rows = [
        (1, "person.viewed", "person:7"),
        (1, "person.viewed", "person:8"),
        (2, "person.viewed", "person:7"),
        (1, "person.viewed", "person:7"),
        (2, "person.exported", "person:8"),
        (1, "person.viewed", "person:7"),
    ];
    for (i, (actor, action, target)) in rows.iter().enumerate() {
        s.audit
            .record(&AuditEntry {
                at: T0 + Duration::minutes(i64::try_from(i).unwrap()),
                actor: Some(*actor),
                actor_email: format!("staff{actor}@example.org"),
                action: (*action).into(),
                target: (*target).into(),
                detail: format!("row {i}"),
            })
            .await
            .unwrap();
    }
    let find = |f: AuditFilter| async move {
        let page = s.audit.search(&f).await.unwrap();
        let details: Vec<String> = page.entries.iter().map(|e| e.detail.clone()).collect();
        (page.total, details)
    };
    let all = AuditFilter {
        limit: 50,
        ..AuditFilter::default()
    };
    let (total, rows) = find(all.clone()).await;
    assert_eq!(total, 6);
    assert_eq!(rows, ["row 5", "row 4", "row 3", "row 2", "row 1", "row 0"]);

    let person = AuditFilter {
        target: Some("person:7".into()),
        ..all.clone()
    };
    assert_eq!(
        find(person.clone()).await,
        (
            4,
            vec![
                "row 5".into(),
                "row 3".into(),
                "row 2".into(),
                "row 0".into()
            ]
        )
    );
    let staff = AuditFilter {
        actor: Some(2),
        ..all.clone()
    };
    assert_eq!(find(staff).await, (2, vec!["row 4".into(), "row 2".into()]));
    let exported = AuditFilter {
        action: Some("person.exported".into()),
        ..all.clone()
    };
    assert_eq!(find(exported).await, (1, vec!["row 4".into()]));
    // From is inclusive, until is not.
    let window = AuditFilter {
        from: Some(T0 + Duration::minutes(1)),
        until: Some(T0 + Duration::minutes(4)),
        ..all.clone()
    };
    assert_eq!(
        find(window).await,
        (3, vec!["row 3".into(), "row 2".into(), "row 1".into()])
    );
    // Every filter at once.
    let combined = AuditFilter {
        target: Some("person:7".into()),
        actor: Some(1),
        action: Some("person.viewed".into()),
        from: Some(T0 + Duration::minutes(1)),
        until: Some(T0 + Duration::minutes(5)),
        ..all.clone()
    };
    assert_eq!(find(combined).await, (1, vec!["row 3".into()]));
    let nobody = AuditFilter {
        actor: Some(99),
        ..all.clone()
    };
    assert_eq!(find(nobody).await, (0, vec![]));

    // Pages of two through person 7's four entries: the total stays, the rows move on.
    let mut seen = Vec::new();
    for offset in [0, 2, 4] {
        let (total, rows) = find(AuditFilter {
            offset,
            limit: 2,
            ..person.clone()
        })
        .await;
        assert_eq!(total, 4);
        assert!(rows.len() <= 2);
        seen.extend(rows);
    }
    assert_eq!(seen, ["row 5", "row 3", "row 2", "row 0"]);

    // Entries in the same second keep the order they were written in, newest first.
    for n in 0..3 {
        s.audit
            .record(&AuditEntry {
                at: T0 + Duration::hours(1),
                actor: Some(3),
                actor_email: "staff3@example.org".into(),
                action: "people.searched".into(),
                target: "people".into(),
                detail: format!("same {n}"),
            })
            .await
            .unwrap();
    }
    let (_, first) = find(AuditFilter {
        actor: Some(3),
        limit: 2,
        ..AuditFilter::default()
    })
    .await;
    let (_, second) = find(AuditFilter {
        actor: Some(3),
        limit: 2,
        offset: 2,
        ..AuditFilter::default()
    })
    .await;
    assert_eq!(first, ["same 2", "same 1"]);
    assert_eq!(second, ["same 0"]);
}

pub async fn rate_limit_counters_count_per_key_and_window(s: &Stores) {
    let w1 = T0;
    let w2 = T0 + Duration::minutes(15);
    assert_eq!(s.rate_limits.count("k", w1).await.unwrap(), 0);
    assert_eq!(s.rate_limits.hit("k", w1).await.unwrap(), 1);
    assert_eq!(s.rate_limits.hit("k", w1).await.unwrap(), 2);
    assert_eq!(s.rate_limits.hit("other", w1).await.unwrap(), 1);
    assert_eq!(s.rate_limits.count("k", w1).await.unwrap(), 2);
    assert_eq!(
        s.rate_limits.hit("k", w2).await.unwrap(),
        1,
        "a new window starts at 1"
    );
    assert_eq!(
        s.rate_limits.count("k", w1).await.unwrap(),
        0,
        "old windows are forgotten"
    );
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..20 {
        let rl = s.rate_limits.clone();
        tasks.spawn(async move { rl.hit("busy", w2).await });
    }
    while let Some(r) = tasks.join_next().await {
        r.unwrap().unwrap();
    }
    assert_eq!(
        s.rate_limits.count("busy", w2).await.unwrap(),
        20,
        "no lost updates"
    );
    // "other" still has its window w1; purging before w2 forgets it and keeps "busy".
    assert_eq!(s.rate_limits.purge_windows_before(w2).await.unwrap(), 1);
    assert_eq!(s.rate_limits.count("other", w1).await.unwrap(), 0);
    assert_eq!(s.rate_limits.count("busy", w2).await.unwrap(), 20);
}

pub async fn rate_limit_events_can_be_taken_back(s: &Stores) {
    let w1 = T0;
    let w2 = T0 + Duration::minutes(15);
    s.rate_limits.hit("k", w1).await.unwrap();
    s.rate_limits.hit("k", w1).await.unwrap();
    s.rate_limits.forgive("k", w1).await.unwrap();
    assert_eq!(s.rate_limits.count("k", w1).await.unwrap(), 1);
    s.rate_limits.forgive("k", w1).await.unwrap();
    s.rate_limits.forgive("k", w1).await.unwrap();
    assert_eq!(
        s.rate_limits.count("k", w1).await.unwrap(),
        0,
        "never below zero"
    );
    assert_eq!(s.rate_limits.hit("k", w1).await.unwrap(), 1);
    // Forgiving a key never counted, or a window already forgotten, changes nothing.
    s.rate_limits.forgive("never", w1).await.unwrap();
    assert_eq!(s.rate_limits.count("never", w1).await.unwrap(), 0);
    s.rate_limits.hit("k", w2).await.unwrap();
    s.rate_limits.forgive("k", w1).await.unwrap();
    assert_eq!(s.rate_limits.count("k", w2).await.unwrap(), 1);
    // Hits and take-backs racing lose nothing.
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..20 {
        let rl = s.rate_limits.clone();
        tasks.spawn(async move {
            rl.hit("busy", w2).await.map(drop)?;
            if i % 2 == 0 {
                rl.forgive("busy", w2).await?;
            }
            Ok::<_, candour_core::store::StoreError>(())
        });
    }
    while let Some(r) = tasks.join_next().await {
        r.unwrap().unwrap();
    }
    assert_eq!(s.rate_limits.count("busy", w2).await.unwrap(), 10);
}

// ---- Polls ----

use candour_core::poll::{NewVote, VoteOutcome};
use candour_core::poll::{PollDraft, ResultsShown, Voters};

fn draft(options: &[&str]) -> PollDraft {
    PollDraft::parse(
        "Which day suits you?",
        options,
        None,
        None,
        ResultsShown::AfterVoting,
    )
    .unwrap()
}

fn anon(poll: i64, option: i64, who: u8, day: &str) -> NewVote {
    NewVote {
        poll,
        option,
        account: None,
        voter_hash: Some([who; 32]),
        day: day.to_owned(),
        at: T0,
    }
}

pub async fn polls_round_trip_with_their_options_in_order(s: &Stores) {
    let id = s
        .polls
        .create_poll(&draft(&["Mon", "Tue", "Wed"]), T0)
        .await
        .unwrap();
    let p = s.polls.poll(id).await.unwrap().unwrap();
    assert_eq!(p.question, "Which day suits you?");
    assert_eq!(
        p.options
            .iter()
            .map(|o| o.label.as_str())
            .collect::<Vec<_>>(),
        ["Mon", "Tue", "Wed"]
    );
    assert_eq!(p.total(), 0);
    assert_eq!(p.created_at, T0);
    assert_eq!(p.voters, Voters::PerBrowser);
    let mut later = PollDraft::parse(
        "Q2",
        &["A", "B"],
        Some(T0),
        Some(T0 + Duration::days(7)),
        ResultsShown::StaffOnly,
    )
    .unwrap();
    later.voters = Voters::PerAccount;
    s.polls.update_poll(id, &later).await.unwrap();
    let p = s.polls.poll(id).await.unwrap().unwrap();
    assert_eq!(
        (
            p.question.as_str(),
            p.opens_at,
            p.closes_at,
            p.results,
            p.voters
        ),
        (
            "Q2",
            Some(T0),
            Some(T0 + Duration::days(7)),
            ResultsShown::StaffOnly,
            Voters::PerAccount
        )
    );
    assert_eq!(p.options.len(), 2);
    let second = s
        .polls
        .create_poll(&draft(&["x", "y"]), T0 + Duration::hours(1))
        .await
        .unwrap();
    let ids: Vec<i64> = s
        .polls
        .polls()
        .await
        .unwrap()
        .iter()
        .map(|p| p.id)
        .collect();
    assert_eq!(ids, [second, id], "newest first");
    assert!(s.polls.poll(id + 100).await.unwrap().is_none());
}

pub async fn one_vote_per_account_and_per_anonymous_voter_per_day(s: &Stores) {
    let id = s
        .polls
        .create_poll(&draft(&["Mon", "Tue"]), T0)
        .await
        .unwrap();
    let p = s.polls.poll(id).await.unwrap().unwrap();
    let (mon, tue) = (p.options[0].id, p.options[1].id);
    let a = account(s, "a@example.org", None).await;
    let by_account = NewVote {
        poll: id,
        option: mon,
        account: Some(a),
        voter_hash: None,
        day: "2026-03-01".into(),
        at: T0,
    };
    let outcomes = s
        .votes
        .record_votes(&[
            by_account.clone(),
            NewVote {
                option: tue,
                day: "2026-03-02".into(),
                ..by_account.clone()
            },
            anon(id, tue, 1, "2026-03-01"),
            anon(id, mon, 1, "2026-03-01"),
            anon(id, tue, 1, "2026-03-02"),
            anon(id, tue, 2, "2026-03-01"),
        ])
        .await
        .unwrap();
    use VoteOutcome::*;
    assert_eq!(
        outcomes,
        [Counted, Duplicate, Counted, Duplicate, Counted, Counted]
    );
    let p = s.polls.poll(id).await.unwrap().unwrap();
    assert_eq!((p.options[0].votes, p.options[1].votes), (1, 3));
    assert!(s.votes.has_voted(id, a).await.unwrap());
    assert!(!s.votes.has_voted(id, a + 1).await.unwrap());
}

pub async fn votes_for_closed_polls_or_foreign_options_are_refused(s: &Stores) {
    let one = s.polls.create_poll(&draft(&["a", "b"]), T0).await.unwrap();
    let two = s.polls.create_poll(&draft(&["c", "d"]), T0).await.unwrap();
    let foreign = s.polls.poll(two).await.unwrap().unwrap().options[0].id;
    let own = s.polls.poll(one).await.unwrap().unwrap().options[0].id;
    let out = s
        .votes
        .record_votes(&[anon(one, foreign, 1, "d"), anon(one, 9999, 2, "d")])
        .await
        .unwrap();
    assert_eq!(out, [VoteOutcome::Refused, VoteOutcome::Refused]);
    s.polls.close_poll(one, T0).await.unwrap();
    assert_eq!(
        s.votes
            .record_votes(&[anon(one, own, 3, "d")])
            .await
            .unwrap(),
        [VoteOutcome::Refused]
    );
    assert_eq!(
        s.polls.poll(one).await.unwrap().unwrap().closed_at,
        Some(T0)
    );
    s.polls.reopen_poll(one).await.unwrap();
    assert_eq!(
        s.votes
            .record_votes(&[anon(one, own, 3, "d")])
            .await
            .unwrap(),
        [VoteOutcome::Counted]
    );
    assert_eq!(s.polls.poll(one).await.unwrap().unwrap().total(), 1);
    assert_eq!(s.polls.poll(two).await.unwrap().unwrap().total(), 0);
}

pub async fn options_are_locked_once_there_are_votes(s: &Stores) {
    let id = s.polls.create_poll(&draft(&["a", "b"]), T0).await.unwrap();
    let a = s.polls.poll(id).await.unwrap().unwrap().options[0].id;
    s.votes.record_votes(&[anon(id, a, 1, "d")]).await.unwrap();
    let err = s
        .polls
        .update_poll(id, &draft(&["a", "b", "c"]))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::Refused(why) if why == candour_core::poll::OPTIONS_LOCKED),
        "{err:?}"
    );
    let p = s.polls.poll(id).await.unwrap().unwrap();
    assert_eq!(p.options.len(), 2, "nothing changed");
    assert_eq!(p.total(), 1);
    // The question can still be corrected when the options stay.
    let mut same = draft(&["a", "b"]);
    same.question = "Corrected?".into();
    s.polls.update_poll(id, &same).await.unwrap();
    let p = s.polls.poll(id).await.unwrap().unwrap();
    assert_eq!((p.question.as_str(), p.total()), ("Corrected?", 1));
    s.polls.delete_poll(id).await.unwrap();
    assert!(s.polls.poll(id).await.unwrap().is_none());
}

pub async fn concurrent_votes_are_counted_exactly(s: &Stores) {
    let id = s.polls.create_poll(&draft(&["a", "b"]), T0).await.unwrap();
    let p = s.polls.poll(id).await.unwrap().unwrap();
    let (a, b) = (p.options[0].id, p.options[1].id);
    let mut tasks = tokio::task::JoinSet::new();
    // 40 voters, each trying three times from concurrent tasks, in small batches.
    for round in 0..3u8 {
        for who in 0..40u8 {
            let votes = s.votes.clone();
            let option = if who % 2 == 0 { a } else { b };
            tasks.spawn(async move {
                let _ = round;
                votes
                    .record_votes(&[anon(id, option, who, "2026-03-01")])
                    .await
            });
        }
    }
    let mut counted = 0;
    while let Some(r) = tasks.join_next().await {
        counted += r
            .unwrap()
            .unwrap()
            .iter()
            .filter(|o| **o == VoteOutcome::Counted)
            .count();
    }
    assert_eq!(counted, 40);
    let p = s.polls.poll(id).await.unwrap().unwrap();
    assert_eq!((p.options[0].votes, p.options[1].votes), (20, 20));
}

/// Each vote of a batch gets its own outcome: counted, a repeat (in the batch or of an earlier
/// batch), or refused (an option of another poll, or a closed poll), with batches racing.
pub async fn each_vote_of_a_batch_gets_its_own_outcome(s: &Stores) {
    let id = s.polls.create_poll(&draft(&["a", "b"]), T0).await.unwrap();
    let p = s.polls.poll(id).await.unwrap().unwrap();
    let (a, b) = (p.options[0].id, p.options[1].id);
    let other = s.polls.create_poll(&draft(&["c", "d"]), T0).await.unwrap();
    let foreign = s.polls.poll(other).await.unwrap().unwrap().options[0].id;
    let mut tasks = tokio::task::JoinSet::new();
    for who in 0..30u8 {
        let votes = s.votes.clone();
        tasks.spawn(async move {
            let batch = [
                anon(id, if who % 3 == 0 { a } else { b }, who, "2026-03-01"),
                // A repeat in the same batch, and one in another.
                anon(id, a, who, "2026-03-01"),
                anon(id, foreign, who.wrapping_add(100), "2026-03-01"),
            ];
            let first = votes.record_votes(&batch).await.unwrap();
            let again = votes.record_votes(&batch[..1]).await.unwrap();
            (first, again)
        });
    }
    while let Some(r) = tasks.join_next().await {
        let (first, again) = r.unwrap();
        assert_eq!(
            first,
            vec![
                VoteOutcome::Counted,
                VoteOutcome::Duplicate,
                VoteOutcome::Refused
            ]
        );
        assert_eq!(again, vec![VoteOutcome::Duplicate]);
    }
    let p = s.polls.poll(id).await.unwrap().unwrap();
    assert_eq!((p.options[0].votes, p.options[1].votes), (10, 20));
    s.polls.close_poll(id, T0).await.unwrap();
    let closed = s
        .votes
        .record_votes(&[anon(id, a, 200, "2026-03-01")])
        .await
        .unwrap();
    assert_eq!(closed, vec![VoteOutcome::Refused]);
}

/// Batches that span many days, in any order, still find every repeat (a backend that keeps
/// recent voters in memory must not lose a day it is checking against).
pub async fn repeats_are_found_across_many_days(s: &Stores) {
    use VoteOutcome::*;
    let id = s.polls.create_poll(&draft(&["a", "b"]), T0).await.unwrap();
    let a = s.polls.poll(id).await.unwrap().unwrap().options[0].id;
    let days = [
        "2026-03-01",
        "2026-03-02",
        "2026-03-03",
        "2026-03-04",
        "2026-03-05",
    ];
    let vote = |batch: Vec<NewVote>| {
        let votes = s.votes.clone();
        async move { votes.record_votes(&batch).await.unwrap() }
    };
    assert_eq!(vote(vec![anon(id, a, 1, days[0])]).await, [Counted]);
    let later: Vec<NewVote> = days[1..].iter().map(|d| anon(id, a, 2, d)).collect();
    assert_eq!(vote(later).await, [Counted; 4]);
    let mixed: Vec<NewVote> = days[..4].iter().rev().map(|d| anon(id, a, 3, d)).collect();
    assert_eq!(vote(mixed).await, [Counted; 4]);
    assert_eq!(vote(vec![anon(id, a, 1, days[0])]).await, [Duplicate]);
    let again: Vec<NewVote> = days.iter().map(|d| anon(id, a, 2, d)).collect();
    assert_eq!(
        vote(again).await,
        [Counted, Duplicate, Duplicate, Duplicate, Duplicate]
    );
    assert_eq!(s.polls.poll(id).await.unwrap().unwrap().total(), 10);
}

/// A deleted poll's voters say nothing about a later poll, even one that takes its id.
pub async fn a_deleted_polls_voters_do_not_carry_over(s: &Stores) {
    use VoteOutcome::*;
    let day = "2026-03-01";
    let old = s.polls.create_poll(&draft(&["a", "b"]), T0).await.unwrap();
    let a = s.polls.poll(old).await.unwrap().unwrap().options[0].id;
    assert_eq!(
        s.votes.record_votes(&[anon(old, a, 1, day)]).await.unwrap(),
        [Counted]
    );
    s.polls.delete_poll(old).await.unwrap();
    let new = s.polls.create_poll(&draft(&["c", "d"]), T0).await.unwrap();
    let c = s.polls.poll(new).await.unwrap().unwrap().options[0].id;
    assert_eq!(
        s.votes.record_votes(&[anon(new, c, 1, day)]).await.unwrap(),
        [Counted]
    );
    assert_eq!(
        s.votes.record_votes(&[anon(new, c, 1, day)]).await.unwrap(),
        [Duplicate]
    );
    assert_eq!(s.polls.poll(new).await.unwrap().unwrap().total(), 1);
}

/// Two instances on one database (two servers on one PostgreSQL, or two processes on one
/// SQLite file) each recognise the voters the other wrote, whatever either has seen before,
/// and voters racing through both are counted once.
pub async fn instances_recognise_each_others_voters(one: &Stores, two: &Stores) {
    use VoteOutcome::*;
    let day = "2026-03-01";
    let id = one
        .polls
        .create_poll(&draft(&["a", "b"]), T0)
        .await
        .unwrap();
    let p = one.polls.poll(id).await.unwrap().unwrap();
    let (a, b) = (p.options[0].id, p.options[1].id);
    let vote = |s: &Stores, batch: Vec<NewVote>| {
        let votes = s.votes.clone();
        async move { votes.record_votes(&batch).await.unwrap() }
    };
    assert_eq!(vote(one, vec![anon(id, a, 1, day)]).await, [Counted]);
    // The second instance has seen no vote of this poll yet.
    assert_eq!(
        vote(two, vec![anon(id, b, 1, day), anon(id, b, 2, day)]).await,
        [Duplicate, Counted]
    );
    // The first has seen voter 1 and must still learn of voter 2.
    assert_eq!(
        vote(one, vec![anon(id, a, 2, day), anon(id, a, 3, day)]).await,
        [Duplicate, Counted]
    );
    assert_eq!(vote(two, vec![anon(id, b, 3, day)]).await, [Duplicate]);
    // Ten new voters sent through both instances at once, twice each.
    let batch: Vec<NewVote> = (10..20).map(|who| anon(id, b, who, day)).collect();
    let (x, y, z, w) = tokio::join!(
        vote(one, batch.clone()),
        vote(two, batch.clone()),
        vote(two, batch.clone()),
        vote(one, batch)
    );
    let counted = [x, y, z, w]
        .iter()
        .flatten()
        .filter(|o| **o == Counted)
        .count();
    assert_eq!(counted, 10);
    let p = two.polls.poll(id).await.unwrap().unwrap();
    assert_eq!((p.options[0].votes, p.options[1].votes), (2, 11));
}

pub async fn voter_hashes_and_salts_are_forgotten_after_their_day(s: &Stores) {
    let salt = s.votes.day_salt("2026-03-01", &[1; 32]).await.unwrap();
    assert_eq!(salt, vec![1; 32]);
    assert_eq!(
        s.votes.day_salt("2026-03-01", &[2; 32]).await.unwrap(),
        vec![1; 32]
    );
    let id = s.polls.create_poll(&draft(&["a", "b"]), T0).await.unwrap();
    let a = s.polls.poll(id).await.unwrap().unwrap().options[0].id;
    s.votes
        .record_votes(&[anon(id, a, 1, "2026-03-01"), anon(id, a, 1, "2026-03-02")])
        .await
        .unwrap();
    assert_eq!(
        s.votes
            .forget_voter_hashes_before("2026-03-02")
            .await
            .unwrap(),
        1
    );
    // The day's salt is gone: a new one is made if that day is ever asked for again.
    assert_eq!(
        s.votes.day_salt("2026-03-01", &[3; 32]).await.unwrap(),
        vec![3; 32]
    );
    assert_eq!(
        s.polls.poll(id).await.unwrap().unwrap().total(),
        2,
        "counts stay"
    );
    // Today's hash still de-duplicates.
    assert_eq!(
        s.votes
            .record_votes(&[anon(id, a, 1, "2026-03-02")])
            .await
            .unwrap(),
        [VoteOutcome::Duplicate]
    );
}
