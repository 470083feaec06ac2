//! The upgrade fixtures: what a database made by one release holds, and how the next
//! release must read it. `populate` writes representative rows in every table through the
//! store traits (run once per release to make the fixtures, see the README); `check` reads
//! them back. The upgrade tests (`tests/upgrade.rs`) run `check` on each backend's fixture
//! after migrating it to the current schema; the case below keeps both in step with the
//! current code.
//!
//! `check` asserts only what the fixture's release wrote: a table or column added later is
//! empty in an old fixture, and the checks must stay true after such a migration.

use std::future::Future;

use candour_core::account::EmailAddress;
use candour_core::audit::AuditEntry;
use candour_core::campaign::{
    Bounce, CampaignDraft, DeliveryResult, FinishedDelivery, TRACKING_PURPOSE, TrackingEvent,
};
use candour_core::consent::{Choice, ReceiptId};
use candour_core::people::{Method, NewConsent, Source};
use candour_core::poll::{NewVote, PollDraft, ResultsShown};
use candour_core::purposes::Channel;
use candour_core::session::Secret;
use candour_core::store::Stores;
use time::Duration;

use crate::T0;
use crate::people::{change, event, purposes};

/// The tables the fixtures of this release fill, each with at least one row.
pub const TABLES: &[&str] = &[
    "accounts",
    "audit_log",
    "campaign_totals",
    "campaigns",
    "consent_confirmations",
    "consent_events",
    "consent_receipts",
    "consent_wordings",
    "deliveries",
    "email_links",
    "form_responses",
    "form_versions",
    "forms",
    "mailbox_refusals",
    "people",
    "people_imports",
    "poll_options",
    "poll_salts",
    "poll_votes",
    "polls",
    "preference_links",
    "rate_limits",
    "readiness",
    "recovery_codes",
    "server_keys",
    "sessions",
    "suppressions",
    "tracking_events",
];

fn email(s: &str) -> EmailAddress {
    EmailAddress::parse(s).unwrap()
}

const DAY: &str = "2026-03-01";

/// Write the fixture's rows into a fresh database.
// Not `pub async fn`: build.rs takes each of those for a case of its own.
#[allow(clippy::manual_async_fn)]
pub fn populate(s: &Stores) -> impl Future<Output = ()> + '_ {
    async move {
        // Kim: an account with a second factor, a session and a link, a vote, a staged
        // import, a form answer with a consent waiting for confirmation, a preference link,
        // and a tracked campaign message opened and unsubscribed through.
        crate::people::a_persons_export_has_one_form_on_every_backend(s).await;
        let p = purposes();

        s.health.check_write(T0).await.unwrap();
        s.keys.key_or_insert("fixture", &[7; 32]).await.unwrap();
        s.consent
            .record_receipt(&crate::receipt(1, T0, Choice::ALL))
            .await
            .unwrap();
        s.audit
            .record(&AuditEntry {
                at: T0,
                actor: None,
                actor_email: "command line".to_owned(),
                action: "staff.role-given".to_owned(),
                target: "account:1".to_owned(),
                detail: "admin".to_owned(),
            })
            .await
            .unwrap();
        for _ in 0..2 {
            s.rate_limits.hit("fixture-key", T0).await.unwrap();
        }

        // A poll open to anyone, with an anonymous vote under the day's salt.
        s.votes.day_salt(DAY, &[9; 32]).await.unwrap();
        let draft = PollDraft::parse(
            "Which park needs a new bench?",
            &["North", "South"],
            None,
            None,
            ResultsShown::AfterVoting,
        )
        .unwrap();
        let poll = s.polls.create_poll(&draft, T0).await.unwrap();
        let north = s.polls.poll(poll).await.unwrap().unwrap().options[0].id;
        s.votes
            .record_votes(&[NewVote {
                poll,
                option: north,
                account: None,
                voter_hash: Some([3; 32]),
                day: DAY.to_owned(),
                at: T0,
            }])
            .await
            .unwrap();

        // Ola objects to email marketing: the suppression list.
        let ola = s
            .people
            .ensure_person(&email("ola@example.org"), Source::Staff, T0)
            .await
            .unwrap();
        s.ledger
            .append_consents(change(
                ola.id,
                &[],
                &[(Channel::Email, Method::PreferenceCentre)],
                &p,
                1,
            ))
            .await
            .unwrap();

        // Sam (tracked) and Lee subscribe; a second campaign reaches Sam, is refused for Lee
        // as unavailable (remembered for the next campaign), and Sam's open becomes a total
        // when Sam withdraws tracking.
        let tracking = |granted| NewConsent {
            purpose: TRACKING_PURPOSE.to_owned(),
            channel: None,
            ..event(Channel::Email, granted, Method::PreferenceCentre)
        };
        let mut people = Vec::new();
        for (address, tracked) in [("sam@example.org", true), ("lee@example.org", false)] {
            let person = s
                .people
                .ensure_person(&email(address), Source::Staff, T0)
                .await
                .unwrap();
            let mut events = vec![event(Channel::Email, true, Method::PreferenceCentre)];
            if tracked {
                events.push(tracking(true));
            }
            s.ledger
                .append_consents(change(person.id, &events, &[], &p, 2))
                .await
                .unwrap();
            people.push(person.id);
        }
        let summer = CampaignDraft {
            name: "Summer".to_owned(),
            subject: "Summer news".to_owned(),
            preheader: "What is on".to_owned(),
            body: "Hello {{name}}, see [the events](https://example.org/events).".to_owned(),
            purpose: "news".to_owned(),
            interests: Vec::new(),
            postcode_areas: Vec::new(),
            follow_up: None,
        };
        let at = T0 + Duration::hours(1);
        let campaign = s.campaigns.create_campaign(&summer, at).await.unwrap();
        s.campaigns
            .schedule_campaign(campaign, at, &["https://example.org/events".to_owned()])
            .await
            .unwrap();
        s.deliveries.start_due_campaigns(at, 1000).await.unwrap();
        let claimed = s
            .deliveries
            .claim_deliveries("w", at, at + Duration::minutes(5), 10)
            .await
            .unwrap();
        let finished: Vec<FinishedDelivery> = claimed
            .iter()
            .map(|d| {
                let to = d.email.clone().unwrap();
                let result = if d.person == Some(people[1]) {
                    DeliveryResult::Failed {
                        error: "the relay refused the message (reply 550)".to_owned(),
                        bounce: Some(Bounce::Unavailable(to)),
                    }
                } else {
                    DeliveryResult::Sent {
                        tracked: d.tracking_consent,
                        to,
                    }
                };
                FinishedDelivery {
                    id: d.id,
                    result,
                    handed_over: 1,
                }
            })
            .collect();
        s.deliveries
            .finish_deliveries("w", &finished, at)
            .await
            .unwrap();
        s.deliveries.complete_campaigns(at).await.unwrap();
        let sam = claimed
            .iter()
            .find(|d| d.person == Some(people[0]))
            .unwrap();
        s.tracking
            .record_tracking(&[TrackingEvent {
                delivery: sam.id,
                campaign,
                click: true,
                link: 0,
                at: at + Duration::minutes(30),
                machine: false,
            }])
            .await
            .unwrap();
        s.ledger
            .append_consents(change(people[0], &[tracking(false)], &[], &p, 120))
            .await
            .unwrap();
    }
}

/// Read the fixture's rows back through the store traits.
// Not `pub async fn`: build.rs takes each of those for a case of its own.
#[allow(clippy::manual_async_fn)]
pub fn check(s: &Stores) -> impl Future<Output = ()> + '_ {
    async move {
        // Kim's account and what it holds.
        let kim_email = email("kim@example.org");
        let acc = s
            .accounts
            .account_by_email(&kim_email)
            .await
            .unwrap()
            .expect("Kim's account");
        assert_eq!(acc.created_at, T0);
        assert!(
            s.sessions
                .session(&Secret::from_random([1; 32]).hash())
                .await
                .unwrap()
                .is_some_and(|session| session.account == acc.id),
            "Kim's session"
        );
        assert!(
            s.second_factor
                .use_recovery_code(acc.id, &[0xCD; 32])
                .await
                .unwrap(),
            "Kim's recovery code (used up here, so the export below lacks it)"
        );
        assert!(s.votes.has_voted(1, acc.id).await.unwrap(), "Kim's vote");

        // Kim the person: the ledger, a form answer, what they were sent, the export.
        let kim = s
            .people
            .person_by_email(&kim_email)
            .await
            .unwrap()
            .expect("Kim's record");
        assert_eq!(kim.account, Some(acc.id));
        let events = s.ledger.consent_events(kim.id).await.unwrap();
        assert_eq!(events.len(), 2, "{events:?}");
        assert!(events.iter().all(|e| e.granted));
        let export = s.subjects.export_person(kim.id).await.unwrap().unwrap();
        for table in [
            "accounts",
            "sessions",
            "email_links",
            "poll_votes",
            "people",
            "form_responses",
            "consent_events",
            "consent_confirmations",
            "preference_links",
            "deliveries",
            "tracking_events",
        ] {
            assert!(
                export[table]
                    .as_array()
                    .is_some_and(|rows| !rows.is_empty()),
                "nothing of Kim's in `{table}`: {export:#}"
            );
        }
        assert_eq!(
            export["people"][0]["interests"].to_string(),
            r#"["parks","road-safety"]"#
        );
        let sent = s.deliveries.person_deliveries(kim.id).await.unwrap();
        let mut names: Vec<&str> = sent.iter().map(|d| d.campaign_name.as_str()).collect();
        names.sort_unstable();
        assert_eq!(names, ["Spring", "Summer"]);
        let forms = s.forms.forms().await.unwrap();
        assert_eq!(forms.len(), 1);
        assert_eq!(s.forms.responses(forms[0].id).await.unwrap().len(), 1);
        assert_eq!(s.forms.form_versions(forms[0].id).await.unwrap().len(), 1);

        // The rest of the site.
        assert_eq!(s.people.count_people().await.unwrap(), 4);
        assert_eq!(
            s.ledger
                .suppressed_channels(&email("ola@example.org"))
                .await
                .unwrap(),
            [Channel::Email]
        );
        let receipt = s
            .consent
            .find_receipt(&ReceiptId::from_random([1; 16]))
            .await
            .unwrap()
            .expect("the receipt");
        assert_eq!(receipt.choice, Choice::ALL);
        assert_eq!(receipt.recorded_at, T0);
        assert!(
            s.audit
                .recent(10)
                .await
                .unwrap()
                .iter()
                .any(|e| e.action == "staff.role-given" && e.actor_email == "command line")
        );
        assert_eq!(
            s.keys.key_or_insert("fixture", &[0; 32]).await.unwrap(),
            [7; 32]
        );
        assert_eq!(s.rate_limits.count("fixture-key", T0).await.unwrap(), 2);
        assert_eq!(s.votes.day_salt(DAY, &[0; 32]).await.unwrap(), [9; 32]);
        let polls = s.polls.polls().await.unwrap();
        assert_eq!(polls.len(), 2);
        let bench = polls
            .iter()
            .find(|p| p.question == "Which park needs a new bench?")
            .expect("the bench poll");
        assert_eq!(bench.total(), 1);
        assert_eq!(bench.options[0].label, "North");

        // Campaigns: the report of the second, with Sam's click kept as a total.
        let campaigns = s.campaigns.campaigns().await.unwrap();
        assert_eq!(campaigns.len(), 2);
        let summer = campaigns
            .iter()
            .find(|c| c.draft.name == "Summer")
            .expect("the summer campaign");
        assert_eq!(summer.links, ["https://example.org/events"]);
        let report = s
            .campaigns
            .report(summer.id, T0 + Duration::days(1))
            .await
            .unwrap();
        assert_eq!(report.progress.sent, 2);
        assert_eq!(report.progress.failed, 1);
        assert_eq!(report.clicks.events, 1, "{report:?}");
    }
}

pub async fn a_populated_database_reads_back(s: &Stores) {
    populate(s).await;
    check(s).await;
}
