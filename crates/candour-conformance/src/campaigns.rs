//! Conformance cases for campaigns: drafts, the audience, the delivery queue and its leases,
//! the send-time check, tracking and its reduction to totals, follow-ups and erasure.

use std::collections::BTreeSet;

use candour_core::account::Postcode;
use candour_core::account::Profile;
use candour_core::campaign::{
    Bounce, CampaignState, Delivery, DeliveryResult, Engagement, FinishedDelivery, LeaseChange,
    TrackingEvent,
};
use candour_core::campaign::{CampaignDraft, FollowUp, TRACKING_PURPOSE};
use candour_core::people::{Method, NewConsent, Source};
use candour_core::purposes::Channel;
use candour_core::store::{StoreError, Stores};
use time::{Duration, OffsetDateTime};

use crate::T0;
use crate::people::{change, event, purposes};

const LEASE: Duration = Duration::minutes(5);

pub(crate) fn draft(name: &str) -> CampaignDraft {
    CampaignDraft {
        name: name.to_owned(),
        subject: "Spring news".to_owned(),
        preheader: "What we did this spring".to_owned(),
        body: "Hello {{name}}, see [our plans](https://example.org/plans).".to_owned(),
        purpose: "news".to_owned(),
        interests: Vec::new(),
        postcode_areas: Vec::new(),
        follow_up: None,
    }
}

fn tracking(granted: bool) -> NewConsent {
    NewConsent {
        purpose: TRACKING_PURPOSE.to_owned(),
        channel: None,
        ..event(Channel::Email, granted, Method::PreferenceCentre)
    }
}

/// Append `events` to the person's ledger, `minutes` after T0.
async fn record(s: &Stores, person: i64, events: &[NewConsent], minutes: i64) {
    let p = purposes();
    s.ledger
        .append_consents(change(person, events, &[], &p, minutes))
        .await
        .unwrap();
}

/// A person who agreed to news by email at T0 and, when `tracked`, to email tracking.
pub(crate) async fn subscriber(s: &Stores, address: &str, tracked: bool) -> i64 {
    let person = s
        .people
        .ensure_person(&crate::email(address), Source::Staff, T0)
        .await
        .unwrap();
    let mut events = vec![event(Channel::Email, true, Method::PreferenceCentre)];
    if tracked {
        events.push(tracking(true));
    }
    record(s, person.id, &events, 0).await;
    person.id
}

async fn set_profile(s: &Stores, person: i64, name: &str, interests: &[&str], postcode: &str) {
    let details = Profile {
        name: name.to_owned(),
        interests: interests.iter().map(|i| (*i).to_owned()).collect(),
        postcode: (!postcode.is_empty()).then(|| Postcode::parse(postcode).unwrap()),
        ..Profile::default()
    };
    s.people.update_person(person, &details, T0).await.unwrap();
}

/// Start what is due at `at` and queue every audience, in chunks of `chunk`; returns
/// (campaign, messages queued) for each campaign that queued any or finished queuing.
pub(crate) async fn queue_all(s: &Stores, at: OffsetDateTime, chunk: u32) -> Vec<(i64, u64)> {
    let mut total: Vec<(i64, u64)> = Vec::new();
    for _ in 0..100_000 {
        let round = s.deliveries.start_due_campaigns(at, chunk).await.unwrap();
        for q in &round {
            assert!(q.queued <= u64::from(chunk), "{q:?}");
            match total.iter_mut().find(|(c, _)| *c == q.campaign) {
                Some((_, n)) => *n += q.queued,
                None => total.push((q.campaign, q.queued)),
            }
        }
        if round.iter().all(|q| q.complete) {
            total.sort_unstable();
            return total;
        }
    }
    panic!("queuing never finished");
}

/// Create, schedule and start a campaign at `at`; returns its id and how many messages were
/// queued.
async fn start(s: &Stores, d: &CampaignDraft, links: &[&str], at: OffsetDateTime) -> (i64, u64) {
    let id = s.campaigns.create_campaign(d, at).await.unwrap();
    let links: Vec<String> = links.iter().map(|l| (*l).to_owned()).collect();
    s.campaigns.schedule_campaign(id, at, &links).await.unwrap();
    let started = queue_all(s, at, 2).await;
    assert_eq!(started.len(), 1, "{started:?}");
    assert_eq!(started[0].0, id);
    (id, started[0].1)
}

async fn claim(s: &Stores, worker: &str, now: OffsetDateTime, limit: u32) -> Vec<Delivery> {
    s.deliveries
        .claim_deliveries(worker, now, now + LEASE, limit)
        .await
        .unwrap()
}

/// Finish every message worker `w` claimed as sent, tracked when the recipient consented.
async fn send(s: &Stores, claimed: &[Delivery], now: OffsetDateTime) {
    send_as(s, "w", claimed, now).await;
}

async fn send_as(s: &Stores, worker: &str, claimed: &[Delivery], now: OffsetDateTime) {
    let finished: Vec<FinishedDelivery> = claimed
        .iter()
        .map(|d| FinishedDelivery {
            id: d.id,
            result: DeliveryResult::Sent {
                tracked: d.tracking_consent,
                to: d.email.clone().unwrap(),
            },
            handed_over: 1,
        })
        .collect();
    s.deliveries
        .finish_deliveries(worker, &finished, now)
        .await
        .unwrap();
}

fn people_of(claimed: &[Delivery]) -> BTreeSet<i64> {
    claimed.iter().filter_map(|d| d.person).collect()
}

fn refused<T: std::fmt::Debug>(r: Result<T, StoreError>) {
    assert!(matches!(r, Err(StoreError::Refused(_))), "{r:?}");
}

pub async fn campaigns_change_only_as_drafts(s: &Stores) {
    let c = &s.campaigns;
    let first = c.create_campaign(&draft("First"), T0).await.unwrap();
    let d = draft("Spring");
    let id = c.create_campaign(&d, T0).await.unwrap();
    let got = c.campaign(id).await.unwrap().unwrap();
    assert_eq!(got.draft, d);
    assert_eq!(got.state, CampaignState::Draft);
    assert_eq!((got.created_at, got.updated_at), (T0, T0));
    assert_eq!(
        (
            got.scheduled_at,
            got.started_at,
            got.finished_at,
            got.reduced_at
        ),
        (None, None, None, None)
    );
    assert!(got.links.is_empty());
    // Every field of the draft is changed, the follow-up too.
    let changed = CampaignDraft {
        name: "Spring, again".to_owned(),
        subject: "More news".to_owned(),
        preheader: String::new(),
        body: "Changed".to_owned(),
        purpose: "news".to_owned(),
        interests: vec!["roads".to_owned(), "parks".to_owned()],
        postcode_areas: vec!["NM".to_owned(), "NM1".to_owned()],
        follow_up: Some(FollowUp {
            campaign: first,
            days: 7,
        }),
    };
    let later = T0 + Duration::minutes(3);
    c.update_campaign(id, &changed, later).await.unwrap();
    let got = c.campaign(id).await.unwrap().unwrap();
    assert_eq!(got.draft, changed);
    assert_eq!((got.created_at, got.updated_at), (T0, later));
    c.update_campaign(id, &d, later).await.unwrap();
    assert_eq!(c.campaign(id).await.unwrap().unwrap().draft, d);
    let ids: Vec<i64> = c.campaigns().await.unwrap().iter().map(|c| c.id).collect();
    assert_eq!(ids, [id, first], "newest first");

    let links = vec!["https://example.org/plans".to_owned()];
    let at = T0 + Duration::hours(2);
    c.schedule_campaign(id, at, &links).await.unwrap();
    let got = c.campaign(id).await.unwrap().unwrap();
    assert_eq!(
        (got.state, got.scheduled_at, &got.links),
        (CampaignState::Scheduled, Some(at), &links)
    );
    refused(c.update_campaign(id, &changed, later).await);
    refused(c.delete_campaign(id).await);
    refused(c.schedule_campaign(id, at, &links).await);
    assert_eq!(c.campaign(id).await.unwrap().unwrap().draft, d, "unchanged");
    c.unschedule_campaign(id).await.unwrap();
    let got = c.campaign(id).await.unwrap().unwrap();
    assert_eq!((got.state, got.scheduled_at), (CampaignState::Draft, None));
    refused(c.unschedule_campaign(id).await);
    c.update_campaign(id, &changed, later).await.unwrap();
    c.delete_campaign(id).await.unwrap();
    assert!(c.campaign(id).await.unwrap().is_none());
    refused(c.delete_campaign(id).await);
    refused(c.update_campaign(id, &d, later).await);
    refused(c.schedule_campaign(id, at, &links).await);

    // Ids are never reused: links in sent messages name campaigns.
    let next = c.create_campaign(&d, T0).await.unwrap();
    assert!(next > id, "{next} after {id}");
    // Once started, a campaign cannot be taken back, changed or deleted.
    let (started, _) = start(s, &draft("Started"), &[], T0).await;
    let got = c.campaign(started).await.unwrap().unwrap();
    assert_eq!(
        (got.state, got.started_at),
        (CampaignState::Sending, Some(T0))
    );
    refused(c.unschedule_campaign(started).await);
    refused(c.update_campaign(started, &d, later).await);
    refused(c.delete_campaign(started).await);
}

pub async fn a_started_campaign_queues_its_audience_once(s: &Stores) {
    let roads = subscriber(s, "roads@example.org", false).await;
    set_profile(s, roads, "Rory", &["roads"], "NM1 2AB").await;
    let parks = subscriber(s, "parks@example.org", false).await;
    set_profile(s, parks, "Pat", &["parks"], "NM2 3DE").await;
    let both = subscriber(s, "both@example.org", true).await;
    set_profile(s, both, "Bo", &["parks", "roads"], "N1 5XY").await;
    let plain = subscriber(s, "plain@example.org", false).await;
    // Agreed, then withdrew: the latest event decides.
    let withdrew = subscriber(s, "withdrew@example.org", false).await;
    set_profile(s, withdrew, "Wyn", &["roads"], "NM1 2AB").await;
    record(
        s,
        withdrew,
        &[event(Channel::Email, false, Method::PreferenceCentre)],
        5,
    )
    .await;
    // Agreed to news by post only, or to nothing.
    let post = s
        .people
        .ensure_person(&crate::email("post@example.org"), Source::Staff, T0)
        .await
        .unwrap();
    record(
        s,
        post.id,
        &[event(Channel::Post, true, Method::PreferenceCentre)],
        0,
    )
    .await;
    s.people
        .ensure_person(&crate::email("none@example.org"), Source::Staff, T0)
        .await
        .unwrap();

    let with = |interests: &[&str], areas: &[&str]| CampaignDraft {
        interests: interests.iter().map(|i| (*i).to_owned()).collect(),
        postcode_areas: areas.iter().map(|a| (*a).to_owned()).collect(),
        ..draft("Filtered")
    };
    let audiences = [
        (with(&[], &[]), vec![roads, parks, both, plain]),
        (with(&["roads"], &[]), vec![roads, both]),
        (with(&["parks", "roads"], &[]), vec![roads, parks, both]),
        (with(&[], &["NM"]), vec![roads, parks]),
        (with(&[], &["NM1"]), vec![roads]),
        // "N" is an area of its own, not the start of "NM".
        (with(&[], &["N"]), vec![both]),
        (with(&[], &["NM2", "N"]), vec![parks, both]),
        (with(&["roads"], &["NM"]), vec![roads]),
        (with(&["gardens"], &[]), vec![]),
    ];
    for (d, expected) in &audiences {
        assert_eq!(
            s.campaigns.count_audience(d, T0).await.unwrap(),
            expected.len() as u64,
            "{:?} {:?}",
            d.interests,
            d.postcode_areas
        );
    }

    // The audience is read when the campaign starts, not when it is scheduled.
    let id = s
        .campaigns
        .create_campaign(&draft("Spring"), T0)
        .await
        .unwrap();
    let at = T0 + Duration::hours(1);
    s.campaigns.schedule_campaign(id, at, &[]).await.unwrap();
    assert!(queue_all(s, T0, 3).await.is_empty());
    let late = subscriber(s, "late@example.org", false).await;
    assert_eq!(queue_all(s, at, 3).await, vec![(id, 5)]);
    assert!(queue_all(s, at, 3).await.is_empty(), "started once");
    let got = s.campaigns.campaign(id).await.unwrap().unwrap();
    assert_eq!(
        (got.state, got.started_at),
        (CampaignState::Sending, Some(at))
    );
    let p = s.campaigns.progress(id, at).await.unwrap();
    assert_eq!((p.queued, p.total(), p.remaining()), (5, 5, 5));
    let claimed = claim(s, "w", at, 100).await;
    assert_eq!(
        people_of(&claimed),
        BTreeSet::from([roads, parks, both, plain, late])
    );
    let mine = s.deliveries.person_deliveries(roads).await.unwrap();
    assert_eq!(mine.len(), 1);
    assert_eq!(
        (mine[0].campaign, mine[0].campaign_name.as_str()),
        (id, "Spring")
    );
    assert_eq!((mine[0].state.as_str(), mine[0].sent_at), ("sending", None));
    assert!(
        s.deliveries
            .person_deliveries(withdrew)
            .await
            .unwrap()
            .is_empty()
    );

    send(s, &claimed, at).await;

    // Each filtered audience, queued, is the people counted.
    for (n, (d, expected)) in audiences.iter().enumerate() {
        let at = T0 + Duration::hours(2 + n as i64);
        let mut expected: BTreeSet<i64> = expected.iter().copied().collect();
        if d.interests.is_empty() && d.postcode_areas.is_empty() {
            expected.insert(late);
        }
        assert_eq!(
            s.campaigns.count_audience(d, at).await.unwrap(),
            expected.len() as u64
        );
        let (filtered, queued) = start(s, d, &[], at).await;
        assert_eq!(queued, expected.len() as u64);
        let claimed = claim(s, "w", at, 100).await;
        assert!(claimed.iter().all(|d| d.campaign == filtered));
        assert_eq!(
            people_of(&claimed),
            expected,
            "{:?} {:?}",
            d.interests,
            d.postcode_areas
        );
        send(s, &claimed, at).await;
    }
}

pub async fn racing_instances_start_a_campaign_once(s: &Stores) {
    for n in 0..20 {
        subscriber(s, &format!("p{n}@example.org"), false).await;
    }
    let mut ids = Vec::new();
    for name in ["One", "Two"] {
        let id = s.campaigns.create_campaign(&draft(name), T0).await.unwrap();
        s.campaigns.schedule_campaign(id, T0, &[]).await.unwrap();
        ids.push(id);
    }
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let deliveries = s.deliveries.clone();
        // Chunks of three: the racers share the queuing of each audience.
        tasks.spawn(async move {
            let mut queued = Vec::new();
            loop {
                let round = deliveries.start_due_campaigns(T0, 3).await?;
                queued.extend(round.iter().map(|q| (q.campaign, q.queued)));
                if round.iter().all(|q| q.complete) {
                    return Ok::<_, StoreError>(queued);
                }
            }
        });
    }
    let mut started = std::collections::BTreeMap::new();
    while let Some(t) = tasks.join_next().await {
        for (c, n) in t.unwrap().unwrap() {
            *started.entry(c).or_insert(0) += n;
        }
    }
    assert_eq!(
        started.into_iter().collect::<Vec<_>>(),
        vec![(ids[0], 20), (ids[1], 20)]
    );
    for id in ids {
        assert_eq!(s.campaigns.progress(id, T0).await.unwrap().queued, 20);
    }
}

pub async fn claims_are_leased_retried_and_finished(s: &Stores) {
    let ann = subscriber(s, "ann@example.org", true).await;
    set_profile(s, ann, "Ann", &[], "").await;
    let ben = subscriber(s, "ben@example.org", false).await;
    let cat = subscriber(s, "cat@example.org", false).await;
    let (id, queued) = start(s, &draft("Spring"), &[], T0).await;
    assert_eq!(queued, 3);

    let first = claim(s, "w1", T0, 2).await;
    // w1 begins sending both.
    let begun: Vec<i64> = first.iter().map(|d| d.id).collect();
    assert_eq!(
        s.deliveries
            .renew_leases("w1", &begun, LeaseChange::Begin(T0 + LEASE))
            .await
            .unwrap(),
        begun
    );
    assert_eq!(first.len(), 2);
    assert!(first[0].id < first[1].id);
    let a = &first[0];
    assert_eq!(
        (
            a.campaign,
            a.person,
            a.name.as_str(),
            a.attempts,
            a.queued_at
        ),
        (id, Some(ann), "Ann", 1, T0)
    );
    assert_eq!(
        a.email.as_ref().map(|e| e.as_str()),
        Some("ann@example.org")
    );
    assert!(a.marketing_consent && a.tracking_consent);
    assert!(!a.reclaimed && !a.suppressed);
    assert_eq!(first[1].person, Some(ben));
    assert!(!first[1].tracking_consent);
    let second = claim(s, "w2", T0 + Duration::minutes(1), 10).await;
    assert_eq!(people_of(&second), BTreeSet::from([cat]));
    // Everything is leased: nothing more to claim until a lease runs out.
    assert!(
        claim(s, "w2", T0 + Duration::minutes(2), 10)
            .await
            .is_empty()
    );
    assert!(claim(s, "w2", T0 + LEASE, 10).await.is_empty());
    let p = s.campaigns.progress(id, T0).await.unwrap();
    assert_eq!((p.queued, p.sending, p.possible_duplicates), (0, 3, 0));

    // w1 stopped: its two messages are taken over, and may have gone already.
    let now = T0 + LEASE + Duration::seconds(1);
    let again = claim(s, "w3", now, 10).await;
    assert_eq!(
        again.iter().map(|d| d.id).collect::<Vec<_>>(),
        first.iter().map(|d| d.id).collect::<Vec<_>>()
    );
    assert!(again.iter().all(|d| d.reclaimed && d.attempts == 2));
    let p = s.campaigns.progress(id, now).await.unwrap();
    assert_eq!((p.sending, p.possible_duplicates), (3, 2));

    // The stopped worker reporting late changes nothing: the messages are w3's now, and its
    // bounce suppresses no one.
    let late_email = again[0].email.clone().unwrap();
    s.deliveries
        .finish_deliveries(
            "w1",
            &[
                FinishedDelivery {
                    id: again[0].id,
                    result: DeliveryResult::Failed {
                        error: "late".to_owned(),
                        bounce: Some(Bounce::BadAddress(late_email.clone())),
                    },
                    handed_over: 0,
                },
                FinishedDelivery {
                    id: again[1].id,
                    result: DeliveryResult::Retry {
                        at: now + Duration::hours(1),
                        error: "late".to_owned(),
                    },
                    handed_over: 0,
                },
            ],
            now,
        )
        .await
        .unwrap();
    let p = s.campaigns.progress(id, now).await.unwrap();
    assert_eq!((p.queued, p.sending, p.failed), (0, 3, 0));
    assert!(
        s.ledger
            .suppressed_channels(&late_email)
            .await
            .unwrap()
            .is_empty()
    );

    let retry_at = T0 + Duration::minutes(30);
    s.deliveries
        .finish_deliveries(
            "w3",
            &[
                FinishedDelivery {
                    id: again[0].id,
                    result: DeliveryResult::Sent {
                        tracked: true,
                        to: again[0].email.clone().unwrap(),
                    },
                    handed_over: 0,
                },
                FinishedDelivery {
                    id: again[1].id,
                    result: DeliveryResult::Retry {
                        at: retry_at,
                        error: "421 try later".to_owned(),
                    },
                    handed_over: 0,
                },
            ],
            now,
        )
        .await
        .unwrap();
    s.deliveries
        .finish_deliveries(
            "w2",
            &[FinishedDelivery {
                id: second[0].id,
                result: DeliveryResult::Skipped {
                    reason: "consent withdrawn".to_owned(),
                },
                handed_over: 0,
            }],
            now,
        )
        .await
        .unwrap();
    let p = s.campaigns.progress(id, now).await.unwrap();
    assert_eq!(
        (p.queued, p.sending, p.sent, p.skipped, p.failed),
        (1, 0, 1, 1, 0)
    );
    assert_eq!((p.tracked, p.sent_last_minute), (1, 1));
    assert_eq!(
        s.campaigns
            .progress(id, now + Duration::minutes(2))
            .await
            .unwrap()
            .sent_last_minute,
        0
    );
    let mine = s.deliveries.person_deliveries(ann).await.unwrap();
    assert_eq!(
        (mine[0].state.as_str(), mine[0].sent_at, mine[0].tracked),
        ("sent", Some(now), true)
    );
    // The retry waits for its time; the campaign is not done meanwhile.
    assert!(
        claim(s, "w3", retry_at - Duration::seconds(1), 10)
            .await
            .is_empty()
    );
    assert!(
        s.deliveries
            .complete_campaigns(now)
            .await
            .unwrap()
            .is_empty()
    );
    let retried = claim(s, "w3", retry_at, 10).await;
    assert_eq!(retried.len(), 1);
    assert_eq!(
        (retried[0].person, retried[0].attempts, retried[0].reclaimed),
        (Some(ben), 3, true)
    );
    assert!(
        s.deliveries
            .complete_campaigns(retry_at)
            .await
            .unwrap()
            .is_empty()
    );
    let ben_email = retried[0].email.clone().unwrap();
    s.deliveries
        .finish_deliveries(
            "w3",
            &[FinishedDelivery {
                id: retried[0].id,
                result: DeliveryResult::Failed {
                    error: "550 no such user".to_owned(),
                    bounce: Some(Bounce::BadAddress(ben_email.clone())),
                },
                handed_over: 0,
            }],
            retry_at,
        )
        .await
        .unwrap();
    // A message no longer in flight keeps its outcome.
    s.deliveries
        .finish_deliveries(
            "w3",
            &[FinishedDelivery {
                id: again[0].id,
                result: DeliveryResult::Failed {
                    error: "late".to_owned(),
                    bounce: None,
                },
                handed_over: 0,
            }],
            retry_at,
        )
        .await
        .unwrap();
    let p = s.campaigns.progress(id, retry_at).await.unwrap();
    assert_eq!(
        (p.queued, p.sending, p.sent, p.failed, p.skipped, p.bounced),
        (0, 0, 1, 1, 1, 1)
    );
    assert_eq!(
        s.ledger.suppressed_channels(&ben_email).await.unwrap(),
        vec![Channel::Email],
        "a bounce suppresses the address"
    );
    let done = retry_at + Duration::minutes(1);
    assert_eq!(
        s.deliveries.complete_campaigns(done).await.unwrap(),
        vec![id]
    );
    assert!(
        s.deliveries
            .complete_campaigns(done)
            .await
            .unwrap()
            .is_empty()
    );
    let got = s.campaigns.campaign(id).await.unwrap().unwrap();
    assert_eq!(
        (got.state, got.finished_at),
        (CampaignState::Sent, Some(done))
    );

    // The next campaign still queues Ben (his consent stands) but says he is suppressed.
    let (next, queued) = start(s, &draft("Summer"), &[], done).await;
    assert_eq!(queued, 3);
    let claimed = claim(s, "w1", done, 10).await;
    assert!(claimed.iter().all(|d| d.campaign == next));
    for d in &claimed {
        assert_eq!(d.suppressed, d.person == Some(ben), "{d:?}");
        assert!(!d.reclaimed && d.attempts == 1);
    }
}

pub async fn the_send_time_check_reads_the_ledger_as_it_stands(s: &Stores) {
    let stays = subscriber(s, "stays@example.org", false).await;
    let withdraws = subscriber(s, "withdraws@example.org", true).await;
    let tracks = subscriber(s, "tracks@example.org", false).await;
    let objects = subscriber(s, "objects@example.org", false).await;
    let erased = subscriber(s, "erased@example.org", false).await;
    let (_, queued) = start(s, &draft("Spring"), &[], T0).await;
    assert_eq!(queued, 5);
    // After queueing: one withdraws everything, one agrees to tracking, one objects to
    // marketing by email, one is erased.
    record(
        s,
        withdraws,
        &[
            event(Channel::Email, false, Method::PreferenceCentre),
            tracking(false),
        ],
        10,
    )
    .await;
    record(s, tracks, &[tracking(true)], 10).await;
    let p = purposes();
    s.ledger
        .append_consents(change(
            objects,
            &[],
            &[(Channel::Email, Method::Unsubscribe)],
            &p,
            10,
        ))
        .await
        .unwrap();
    assert!(s.subjects.erase_person(erased).await.unwrap());

    let now = T0 + Duration::minutes(20);
    let claimed = claim(s, "w", now, 10).await;
    assert_eq!(claimed.len(), 5, "an erased person's message stays queued");
    let find = |person: Option<i64>| claimed.iter().find(|d| d.person == person).unwrap();
    let d = find(Some(stays));
    assert!(d.marketing_consent && !d.tracking_consent && !d.suppressed);
    let d = find(Some(withdraws));
    assert!(!d.marketing_consent && !d.tracking_consent && !d.suppressed);
    let d = find(Some(tracks));
    assert!(d.marketing_consent && d.tracking_consent && !d.suppressed);
    let d = find(Some(objects));
    assert!(!d.marketing_consent && d.suppressed);
    let d = find(None);
    assert!(d.email.is_none() && d.name.is_empty());
    assert!(!d.marketing_consent && !d.tracking_consent && !d.suppressed);
}

pub async fn concurrent_claims_never_share_a_message(s: &Stores) {
    for n in 0..200 {
        subscriber(s, &format!("p{n:03}@example.org"), false).await;
    }
    let (_, queued) = start(s, &draft("Spring"), &[], T0).await;
    assert_eq!(queued, 200);
    let mut tasks = tokio::task::JoinSet::new();
    for worker in ["w1", "w2"] {
        let deliveries = s.deliveries.clone();
        tasks.spawn(async move {
            let mut mine = Vec::new();
            loop {
                let got = deliveries
                    .claim_deliveries(worker, T0, T0 + LEASE, 7)
                    .await
                    .unwrap();
                if got.is_empty() {
                    return mine;
                }
                assert!(got.iter().all(|d| d.attempts == 1 && !d.reclaimed));
                mine.extend(got.into_iter().map(|d| d.id));
                tokio::task::yield_now().await;
            }
        });
    }
    let mut all = Vec::new();
    while let Some(t) = tasks.join_next().await {
        all.extend(t.unwrap());
    }
    let distinct: BTreeSet<i64> = all.iter().copied().collect();
    assert_eq!(all.len(), 200, "no message was claimed twice");
    assert_eq!(distinct.len(), 200);
}

fn engagement(events: u64, reliable_events: u64, recipients: u64, reliable: u64) -> Engagement {
    Engagement {
        events,
        reliable_events,
        recipients,
        reliable_recipients: reliable,
    }
}

/// A batch larger than one statement takes is recorded whole, and the same open twice in it
/// (or again within the minute) still counts once.
pub async fn a_large_tracking_batch_is_recorded_whole(s: &Stores) {
    let person = subscriber(s, "many@example.org", true).await;
    let (id, _) = start(s, &draft("Large"), &["https://example.org/a"], T0).await;
    let claimed = claim(s, "w", T0, 10).await;
    send(s, &claimed, T0).await;
    let delivery = claimed
        .iter()
        .find(|d| d.person == Some(person))
        .unwrap()
        .id;
    let open = |minutes: i64| TrackingEvent {
        delivery,
        campaign: id,
        click: false,
        link: 0,
        at: T0 + Duration::minutes(minutes),
        machine: false,
    };
    let mut events: Vec<TrackingEvent> = (1..=2500).map(|m| open(m * 2)).collect();
    s.tracking.record_tracking(&events).await.unwrap();
    // A second batch: one repeat within the minute, one new.
    events = vec![
        TrackingEvent {
            at: T0 + Duration::minutes(2) + Duration::seconds(30),
            ..open(0)
        },
        open(6000),
    ];
    s.tracking.record_tracking(&events).await.unwrap();
    let report = s
        .campaigns
        .report(id, T0 + Duration::days(10))
        .await
        .unwrap();
    assert_eq!(report.opens.events, 2501);
    assert_eq!(report.opens.recipients, 1);
}

/// A campaign with two links, started and sent at `T0` to everyone subscribed.
struct Sent {
    id: i64,
    claimed: Vec<Delivery>,
}

impl Sent {
    async fn start(s: &Stores, name: &str) -> Sent {
        let links = ["https://example.org/a", "https://example.org/b"];
        let (id, _) = start(s, &draft(name), &links, T0).await;
        let claimed = claim(s, "w", T0, 10).await;
        send(s, &claimed, T0).await;
        Sent { id, claimed }
    }

    /// The message sent to `person`.
    fn delivery(&self, person: i64) -> i64 {
        self.claimed
            .iter()
            .find(|d| d.person == Some(person))
            .unwrap()
            .id
    }

    /// An open (or a click on `link`) of `person`'s message, `minutes` after it was sent.
    fn event(
        &self,
        person: i64,
        click: bool,
        link: u16,
        minutes: i64,
        machine: bool,
    ) -> TrackingEvent {
        TrackingEvent {
            delivery: self.delivery(person),
            campaign: self.id,
            click,
            link,
            at: T0 + Duration::minutes(minutes),
            machine,
        }
    }
}

pub async fn tracking_is_recorded_with_consent_and_reduced_to_totals(s: &Stores) {
    let t1 = subscriber(s, "t1@example.org", true).await;
    let t2 = subscriber(s, "t2@example.org", true).await;
    let untracked = subscriber(s, "untracked@example.org", false).await;
    let withdraws = subscriber(s, "withdraws@example.org", true).await;
    let sent = Sent::start(s, "Spring").await;
    let id = sent.id;
    // Withdrawn after the message went: nothing of theirs is recorded from now on.
    record(s, withdraws, &[tracking(false)], 30).await;

    let ev = |p, click, link, minutes, machine| sent.event(p, click, link, minutes, machine);
    let mut events = vec![
        ev(t1, false, 0, 60, true),
        ev(t1, false, 0, 65, false),
        ev(t1, true, 0, 120, false),
        ev(t1, true, 1, 121, false),
        ev(t1, true, 0, 122, true),
        ev(t2, false, 0, 61, true),
        ev(t2, true, 1, 180, true),
        // Not recorded: an untracked message, a withdrawn consent, an unknown message, and
        // a message named with the wrong campaign.
        ev(untracked, false, 0, 70, false),
        ev(withdraws, false, 0, 70, false),
        TrackingEvent {
            delivery: 999_999,
            ..ev(t1, false, 0, 70, false)
        },
        TrackingEvent {
            campaign: id + 1000,
            ..ev(t1, false, 0, 70, false)
        },
    ];
    s.tracking.record_tracking(&events[..4]).await.unwrap();
    s.tracking.record_tracking(&events[4..]).await.unwrap();
    s.tracking.record_tracking(&[]).await.unwrap();

    let report = s
        .campaigns
        .report(id, T0 + Duration::hours(4))
        .await
        .unwrap();
    assert_eq!((report.progress.sent, report.progress.tracked), (4, 3));
    assert_eq!(report.opens, engagement(3, 1, 2, 1), "opens");
    assert_eq!(report.clicks, engagement(4, 2, 2, 1), "clicks");
    assert_eq!(
        report.links,
        vec![engagement(2, 1, 1, 1), engagement(2, 1, 2, 1)],
        "per link"
    );
    let hour = |h: i64| T0 + Duration::hours(h);
    assert_eq!(
        report.hourly,
        vec![(hour(1), 1, 0), (hour(2), 0, 2), (hour(3), 0, 0)]
    );

    let mine = s.deliveries.person_deliveries(t1).await.unwrap();
    assert_eq!(mine.len(), 1);
    assert!(mine[0].tracked);
    let at = |m: i64| T0 + Duration::minutes(m);
    assert_eq!(
        mine[0].events,
        vec![
            (at(60), false, 0, true),
            (at(65), false, 0, false),
            (at(120), true, 0, false),
            (at(121), true, 1, false),
            (at(122), true, 0, true),
        ]
    );
    let theirs = s.deliveries.person_deliveries(untracked).await.unwrap();
    assert!(!theirs[0].tracked && theirs[0].events.is_empty());
    let theirs = s.deliveries.person_deliveries(withdraws).await.unwrap();
    assert!(theirs[0].tracked && theirs[0].events.is_empty());

    // Reduced only once finished, and finished before the cutoff.
    let later = T0 + Duration::days(1);
    assert_eq!(
        s.tracking
            .reduce_tracking_before(later, later)
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        s.deliveries.complete_campaigns(later).await.unwrap(),
        vec![id]
    );
    assert_eq!(
        s.tracking
            .reduce_tracking_before(later, later)
            .await
            .unwrap(),
        0
    );
    let reduced_at = later + Duration::days(90);
    assert_eq!(
        s.tracking
            .reduce_tracking_before(later + Duration::seconds(1), reduced_at)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        s.campaigns.campaign(id).await.unwrap().unwrap().reduced_at,
        Some(reduced_at)
    );
    let after = s.campaigns.report(id, reduced_at).await.unwrap();
    assert_eq!(after.progress, report.progress);
    assert_eq!(after.opens, report.opens, "opens stay the same");
    assert_eq!(after.clicks, report.clicks, "clicks stay the same");
    assert_eq!(after.links, report.links, "per-link figures stay the same");
    assert!(after.hourly.is_empty(), "hours went with the events");
    let mine = s.deliveries.person_deliveries(t1).await.unwrap();
    assert!(mine[0].tracked && mine[0].events.is_empty());
    // Late events for a reduced campaign are dropped, and it is reduced once.
    events.truncate(2);
    s.tracking.record_tracking(&events).await.unwrap();
    assert!(
        s.deliveries
            .person_deliveries(t1)
            .await
            .unwrap()
            .iter()
            .all(|d| d.events.is_empty())
    );
    assert_eq!(
        s.campaigns.report(id, reduced_at).await.unwrap().opens,
        report.opens
    );
    assert_eq!(
        s.tracking
            .reduce_tracking_before(reduced_at, reduced_at)
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        s.campaigns.report(id, reduced_at).await.unwrap().clicks,
        report.clicks
    );
}

pub async fn a_follow_up_goes_to_tracked_recipients_who_did_not_click(s: &Stores) {
    let clicked = subscriber(s, "clicked@example.org", true).await;
    let bot = subscriber(s, "bot@example.org", true).await;
    let idle = subscriber(s, "idle@example.org", true).await;
    let late = subscriber(s, "late@example.org", true).await;
    // Not tracked: nothing tells whether they clicked.
    subscriber(s, "untracked@example.org", false).await;
    let unsubscribed = subscriber(s, "unsubscribed@example.org", true).await;
    let private = subscriber(s, "private@example.org", true).await;
    let (original, _) = start(s, &draft("Spring"), &["https://example.org/a"], T0).await;
    let sent_at = T0 + Duration::minutes(10);
    let claimed = claim(s, "w", T0, 10).await;
    send(s, &claimed, sent_at).await;
    // Joined after the campaign went: not one of its recipients.
    subscriber(s, "newcomer@example.org", true).await;
    let delivery = |person: i64| {
        claimed
            .iter()
            .find(|d| d.person == Some(person))
            .unwrap()
            .id
    };
    let click = |person: i64, days: i64, machine: bool| TrackingEvent {
        delivery: delivery(person),
        campaign: original,
        click: true,
        link: 0,
        at: sent_at + Duration::days(days),
        machine,
    };
    s.tracking
        .record_tracking(&[
            click(clicked, 1, false),
            click(bot, 1, true),
            click(late, 5, false),
        ])
        .await
        .unwrap();
    record(
        s,
        unsubscribed,
        &[event(Channel::Email, false, Method::Unsubscribe)],
        60 * 24,
    )
    .await;
    record(s, private, &[tracking(false)], 60 * 24).await;

    let follow_up = CampaignDraft {
        follow_up: Some(FollowUp {
            campaign: original,
            days: 3,
        }),
        ..draft("Did you see?")
    };
    // Nobody's three days are up yet.
    assert_eq!(
        s.campaigns
            .count_audience(&follow_up, sent_at + Duration::days(2))
            .await
            .unwrap(),
        0
    );
    let at = sent_at + Duration::days(6);
    assert_eq!(s.campaigns.count_audience(&follow_up, at).await.unwrap(), 3);
    let (id, queued) = start(s, &follow_up, &[], at).await;
    assert_eq!(queued, 3);
    let claimed = claim(s, "w", at, 10).await;
    assert!(claimed.iter().all(|d| d.campaign == id));
    assert_eq!(people_of(&claimed), BTreeSet::from([bot, idle, late]));

    // Once the original's clicks are reduced to totals nobody can be told apart: a
    // follow-up then has no audience rather than everyone.
    s.deliveries.complete_campaigns(at).await.unwrap();
    assert_eq!(
        s.tracking
            .reduce_tracking_before(at + Duration::days(1), at + Duration::days(1))
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        s.campaigns
            .count_audience(&follow_up, at + Duration::days(1))
            .await
            .unwrap(),
        0
    );
}

pub async fn unsubscribing_through_a_message_is_noted_once(s: &Stores) {
    let jo = subscriber(s, "jo@example.org", false).await;
    let (id, _) = start(s, &draft("Spring"), &[], T0).await;
    let claimed = claim(s, "w", T0, 10).await;
    send(s, &claimed, T0).await;
    let delivery = claimed[0].id;
    let r = s
        .deliveries
        .delivery_recipient(delivery)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (r.campaign, r.person, r.purpose.as_str(), r.unsubscribed),
        (id, Some(jo), "news", false)
    );
    assert!(s.deliveries.mark_unsubscribed(delivery, T0).await.unwrap());
    assert!(!s.deliveries.mark_unsubscribed(delivery, T0).await.unwrap());
    let r = s.deliveries.delivery_recipient(delivery).await.unwrap();
    assert!(r.unwrap().unsubscribed);
    assert_eq!(s.campaigns.progress(id, T0).await.unwrap().unsubscribed, 1);
    assert!(
        s.deliveries
            .delivery_recipient(delivery + 1000)
            .await
            .unwrap()
            .is_none()
    );
}

pub async fn erasing_a_person_unlinks_their_messages(s: &Stores) {
    let erin = subscriber(s, "erin@example.org", true).await;
    let stays = subscriber(s, "stays@example.org", true).await;
    let (id, _) = start(s, &draft("Spring"), &["https://example.org/a"], T0).await;
    let claimed = claim(s, "w", T0, 10).await;
    send(s, &claimed, T0).await;
    let events: Vec<TrackingEvent> = claimed
        .iter()
        .map(|d| TrackingEvent {
            delivery: d.id,
            campaign: id,
            click: true,
            link: 0,
            at: T0 + Duration::hours(1),
            machine: false,
        })
        .collect();
    s.tracking.record_tracking(&events).await.unwrap();
    let export = s.subjects.export_person(erin).await.unwrap().unwrap();
    let rows = |t: &str| export[t].as_array().map_or(0, Vec::len);
    assert_eq!((rows("deliveries"), rows("tracking_events")), (1, 1));
    let before = s.campaigns.report(id, T0).await.unwrap();

    assert!(s.subjects.erase_person(erin).await.unwrap());
    assert!(
        s.deliveries
            .person_deliveries(erin)
            .await
            .unwrap()
            .is_empty()
    );
    let hers = claimed.iter().find(|d| d.person == Some(erin)).unwrap().id;
    let r = s
        .deliveries
        .delivery_recipient(hers)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((r.campaign, r.person), (id, None));
    // The campaign's figures still count her, as nobody.
    let after = s.campaigns.report(id, T0).await.unwrap();
    assert_eq!(after.progress, before.progress);
    assert_eq!(after.clicks, before.clicks);
    assert_eq!(after.clicks.recipients, 2);
    let theirs = s.deliveries.person_deliveries(stays).await.unwrap();
    assert_eq!(theirs[0].events.len(), 1);
    // A later campaign does not reach her.
    let (_, queued) = start(s, &draft("Summer"), &[], T0 + Duration::days(1)).await;
    assert_eq!(queued, 1);
}

/// Withdrawing consent to tracking takes the person's opens and clicks out of their record at
/// once: they join the campaign's totals, so its figures do not change, before the
/// reduction that comes for everyone's events, which then adds to the same totals.
pub async fn withdrawing_tracking_consent_turns_the_persons_events_into_totals(s: &Stores) {
    let stays = subscriber(s, "stays@example.org", true).await;
    let leaves = subscriber(s, "leaves@example.org", true).await;
    let sent = Sent::start(s, "Summer").await;
    let id = sent.id;
    let ev = |p, click, link, minutes, machine| sent.event(p, click, link, minutes, machine);
    s.tracking
        .record_tracking(&[
            ev(stays, false, 0, 60, false),
            ev(stays, true, 1, 61, false),
            ev(leaves, false, 0, 62, true),
            ev(leaves, false, 0, 63, false),
            ev(leaves, true, 0, 64, false),
            ev(leaves, true, 1, 65, true),
        ])
        .await
        .unwrap();
    let before = s
        .campaigns
        .report(id, T0 + Duration::hours(3))
        .await
        .unwrap();
    assert_eq!(before.opens, engagement(3, 2, 2, 2), "opens");
    assert_eq!(before.clicks, engagement(3, 2, 2, 2), "clicks");

    record(s, leaves, &[tracking(false)], 90).await;
    let theirs = s.deliveries.person_deliveries(leaves).await.unwrap();
    assert!(theirs[0].events.is_empty(), "{:?}", theirs[0].events);
    let mine = s.deliveries.person_deliveries(stays).await.unwrap();
    assert_eq!(mine[0].events.len(), 2, "another person's events stay");
    let after = s
        .campaigns
        .report(id, T0 + Duration::hours(3))
        .await
        .unwrap();
    assert_eq!(after.opens, before.opens, "opens");
    assert_eq!(after.clicks, before.clicks, "clicks");
    assert_eq!(after.links, before.links, "per link");
    // A second withdrawal finds nothing more to move.
    record(s, leaves, &[tracking(false)], 95).await;
    let again = s
        .campaigns
        .report(id, T0 + Duration::hours(3))
        .await
        .unwrap();
    assert_eq!((again.opens, again.clicks), (before.opens, before.clicks));

    // Consent given again covers messages sent from then on: this message's recipient is
    // already in the totals, so its events are not recorded again.
    record(s, leaves, &[tracking(true)], 100).await;
    s.tracking
        .record_tracking(&[
            ev(leaves, true, 1, 130, false),
            ev(stays, true, 0, 131, false),
        ])
        .await
        .unwrap();
    assert!(
        s.deliveries.person_deliveries(leaves).await.unwrap()[0]
            .events
            .is_empty()
    );
    let regained = s
        .campaigns
        .report(id, T0 + Duration::hours(3))
        .await
        .unwrap();
    assert_eq!(regained.clicks.events, before.clicks.events + 1);
    assert_eq!(regained.clicks.recipients, before.clicks.recipients);

    // The reduction adds everyone's remaining events to the same totals.
    let later = T0 + Duration::days(1);
    assert_eq!(
        s.deliveries.complete_campaigns(later).await.unwrap(),
        vec![id]
    );
    let reduced_at = later + Duration::days(90);
    assert_eq!(
        s.tracking
            .reduce_tracking_before(later + Duration::seconds(1), reduced_at)
            .await
            .unwrap(),
        1
    );
    let reduced = s.campaigns.report(id, reduced_at).await.unwrap();
    assert_eq!(reduced.opens.events, regained.opens.events);
    assert_eq!(reduced.clicks.events, regained.clicks.events);
    assert_eq!(reduced.links, regained.links);
    assert!(
        s.deliveries.person_deliveries(stays).await.unwrap()[0]
            .events
            .is_empty()
    );
}

/// Record `outcomes` (message, result, tries that may have left a copy) as worker `w`.
async fn finish(s: &Stores, outcomes: Vec<(i64, DeliveryResult, u32)>, now: OffsetDateTime) {
    let finished: Vec<FinishedDelivery> = outcomes
        .into_iter()
        .map(|(id, result, handed_over)| FinishedDelivery {
            id,
            result,
            handed_over,
        })
        .collect();
    s.deliveries
        .finish_deliveries("w", &finished, now)
        .await
        .unwrap();
}

fn sent_to(d: &Delivery) -> DeliveryResult {
    DeliveryResult::Sent {
        tracked: false,
        to: d.email.clone().unwrap(),
    }
}

fn retry(at: OffsetDateTime) -> DeliveryResult {
    DeliveryResult::Retry {
        at,
        error: "the connection was lost".to_owned(),
    }
}

fn refused_with(bounce: Option<Bounce>) -> DeliveryResult {
    DeliveryResult::Failed {
        error: "the relay refused the message (reply 550)".to_owned(),
        bounce,
    }
}

fn to_person(claimed: &[Delivery], person: i64) -> &Delivery {
    claimed.iter().find(|d| d.person == Some(person)).unwrap()
}

/// RFC 1047: a try whose final `.` was sent and got no answer may have left a copy with the
/// relay. A message is a possible duplicate once two tries, over all its claims, may have
/// left one; a try cut off before its final `.`, or refused, left none.
pub async fn a_message_sent_again_after_an_unanswered_end_is_a_possible_duplicate(s: &Stores) {
    let ann = subscriber(s, "ann@example.org", false).await;
    let ben = subscriber(s, "ben@example.org", false).await;
    let cat = subscriber(s, "cat@example.org", false).await;
    let dan = subscriber(s, "dan@example.org", false).await;
    let eve = subscriber(s, "eve@example.org", false).await;
    let (id, _) = start(s, &draft("Spring"), &[], T0).await;
    let claimed = claim(s, "w", T0, 10).await;
    let at = T0 + Duration::minutes(5);
    let d = |p| to_person(&claimed, p);
    finish(
        s,
        vec![
            // The answer to its final `.` never came: retried later.
            (d(ann).id, retry(at), 1),
            // The same, then sent again at once on a new connection.
            (d(ben).id, sent_to(d(ben)), 2),
            // The connection was lost before the final `.`.
            (d(cat).id, retry(at), 0),
            (d(dan).id, sent_to(d(dan)), 1),
            (d(eve).id, retry(at), 1),
        ],
        T0,
    )
    .await;
    let p = s.campaigns.progress(id, T0).await.unwrap();
    assert_eq!((p.sent, p.queued, p.possible_duplicates), (2, 3, 1));

    let again = claim(s, "w", at, 10).await;
    assert_eq!(people_of(&again), BTreeSet::from([ann, cat, eve]));
    assert!(again.iter().all(|d| !d.reclaimed));
    let d = |p| to_person(&again, p);
    finish(
        s,
        vec![
            (d(ann).id, sent_to(d(ann)), 1),
            (d(cat).id, sent_to(d(cat)), 1),
            // Refused this time: the relay kept nothing, so at most the first copy exists.
            (d(eve).id, refused_with(None), 0),
        ],
        at,
    )
    .await;
    let p = s.campaigns.progress(id, at).await.unwrap();
    assert_eq!((p.sent, p.failed, p.possible_duplicates), (4, 1, 2));
    let report = s.campaigns.report(id, at).await.unwrap();
    assert_eq!(report.progress.possible_duplicates, 2);
}

/// A plain "mailbox unavailable" suppresses an address only when two campaigns in a row were
/// refused that way; a delivery in between starts the count again, and a refusal that says
/// nothing about the address (no bounce) neither counts nor resets.
pub async fn plain_refusals_suppress_after_two_campaigns_in_a_row(s: &Stores) {
    let ann = subscriber(s, "ann@example.org", false).await;
    let ben = subscriber(s, "ben@example.org", false).await;
    let cat = subscriber(s, "cat@example.org", false).await;
    let suppressed = |address: &'static str| async move {
        !s.ledger
            .suppressed_channels(&crate::email(address))
            .await
            .unwrap()
            .is_empty()
    };
    let unavailable =
        |d: &Delivery| refused_with(Some(Bounce::Unavailable(d.email.clone().unwrap())));

    // First campaign: Ann and Ben are refused plainly, Cat by policy.
    let day = |n: i64| T0 + Duration::days(n);
    let (first, _) = start(s, &draft("First"), &[], day(1)).await;
    let claimed = claim(s, "w", day(1), 10).await;
    let d = |p| to_person(&claimed, p);
    finish(
        s,
        vec![
            (d(ann).id, unavailable(d(ann)), 0),
            (d(ben).id, unavailable(d(ben)), 0),
            (d(cat).id, refused_with(None), 0),
        ],
        day(1),
    )
    .await;
    let p = s.campaigns.progress(first, day(1)).await.unwrap();
    assert_eq!((p.failed, p.bounced), (3, 0));
    for address in ["ann@example.org", "ben@example.org", "cat@example.org"] {
        assert!(!suppressed(address).await, "{address} after one campaign");
    }

    // Second: Ann is refused again and suppressed; Ben is delivered to; Cat refused plainly
    // for the first time (the policy refusal did not count).
    let (second, _) = start(s, &draft("Second"), &[], day(2)).await;
    let claimed = claim(s, "w", day(2), 10).await;
    let d = |p| to_person(&claimed, p);
    finish(
        s,
        vec![
            (d(ann).id, unavailable(d(ann)), 0),
            (d(ben).id, sent_to(d(ben)), 1),
            (d(cat).id, unavailable(d(cat)), 0),
        ],
        day(2),
    )
    .await;
    let p = s.campaigns.progress(second, day(2)).await.unwrap();
    assert_eq!((p.sent, p.failed, p.bounced), (1, 2, 1));
    assert!(suppressed("ann@example.org").await);
    assert!(!suppressed("ben@example.org").await);
    assert!(!suppressed("cat@example.org").await);

    // Third: Ann is skipped at the send-time check; Ben's refusal is the first since his
    // delivery; Cat is delivered to.
    let (third, _) = start(s, &draft("Third"), &[], day(3)).await;
    let claimed = claim(s, "w", day(3), 10).await;
    assert!(to_person(&claimed, ann).suppressed);
    let d = |p| to_person(&claimed, p);
    finish(
        s,
        vec![
            (
                d(ann).id,
                DeliveryResult::Skipped {
                    reason: "suppressed".to_owned(),
                },
                0,
            ),
            (d(ben).id, unavailable(d(ben)), 0),
            (d(cat).id, sent_to(d(cat)), 1),
        ],
        day(3),
    )
    .await;
    let p = s.campaigns.progress(third, day(3)).await.unwrap();
    assert_eq!(p.bounced, 0);
    assert!(!suppressed("ben@example.org").await);
    assert!(!suppressed("cat@example.org").await);

    // Fourth: Ben is refused by a second campaign in a row and suppressed; Cat's refusal is
    // the first since her delivery.
    let (fourth, _) = start(s, &draft("Fourth"), &[], day(4)).await;
    let claimed = claim(s, "w", day(4), 10).await;
    let d = |p| to_person(&claimed, p);
    finish(
        s,
        vec![
            (d(ben).id, unavailable(d(ben)), 0),
            (d(cat).id, unavailable(d(cat)), 0),
        ],
        day(4),
    )
    .await;
    let p = s.campaigns.progress(fourth, day(4)).await.unwrap();
    assert_eq!(p.bounced, 1);
    assert!(suppressed("ben@example.org").await);
    assert!(!suppressed("cat@example.org").await);
}

pub async fn a_living_worker_renews_its_lease_and_loses_it_only_when_stopped(s: &Stores) {
    for n in 0..3 {
        subscriber(s, &format!("r{n}@example.org"), false).await;
    }
    let (id, _) = start(s, &draft("Leases"), &[], T0).await;
    let short = Duration::seconds(10);
    let held = s
        .deliveries
        .claim_deliveries("w1", T0, T0 + short, 10)
        .await
        .unwrap();
    let ids: Vec<i64> = held.iter().map(|d| d.id).collect();
    assert_eq!(ids.len(), 3);
    let renew = |worker: &'static str, ids: Vec<i64>, until: OffsetDateTime| {
        let d = s.deliveries.clone();
        async move {
            d.renew_leases(worker, &ids, LeaseChange::Extend(until))
                .await
                .unwrap()
        }
    };
    // Renewed before it ran out: nobody else may claim the messages.
    assert_eq!(
        renew("w1", ids.clone(), T0 + Duration::seconds(15)).await,
        ids
    );
    let now = T0 + Duration::seconds(12);
    assert!(
        s.deliveries
            .claim_deliveries("w2", now, now + short, 10)
            .await
            .unwrap()
            .is_empty()
    );
    // Another worker cannot renew what it does not hold, nor an unknown id.
    assert!(renew("w2", ids.clone(), now + short).await.is_empty());
    assert!(renew("w1", vec![i64::MAX], now + short).await.is_empty());
    // A finished message is no longer held.
    send_as(s, "w1", &held[..1], now).await;
    assert!(renew("w1", ids[..1].to_vec(), now + short).await.is_empty());
    // w1 begins one more message, then dies: the rest are taken over once its lease runs
    // out, and only the begun one may have gone already.
    assert_eq!(
        s.deliveries
            .renew_leases(
                "w1",
                &ids[1..2],
                LeaseChange::Begin(T0 + Duration::seconds(15))
            )
            .await
            .unwrap(),
        ids[1..2].to_vec()
    );
    let now = T0 + Duration::seconds(16);
    let taken = s
        .deliveries
        .claim_deliveries("w2", now, now + short, 10)
        .await
        .unwrap();
    assert_eq!(
        taken.iter().map(|d| d.id).collect::<Vec<_>>(),
        ids[1..].to_vec()
    );
    assert_eq!(
        taken
            .iter()
            .map(|d| (d.reclaimed, d.attempts))
            .collect::<Vec<_>>(),
        vec![(true, 2), (false, 2)]
    );
    let p = s.campaigns.progress(id, now).await.unwrap();
    assert_eq!(p.possible_duplicates, 1);
    // w1 comes back: its renewal tells it the messages are gone, and its outcome is ignored.
    assert!(renew("w1", ids.clone(), now + short).await.is_empty());
    s.deliveries
        .finish_deliveries(
            "w1",
            &[FinishedDelivery {
                id: ids[1],
                result: DeliveryResult::Failed {
                    error: "late".to_owned(),
                    bounce: None,
                },
                handed_over: 0,
            }],
            now,
        )
        .await
        .unwrap();
    let p = s.campaigns.progress(id, now).await.unwrap();
    assert_eq!((p.sent, p.sending, p.failed), (1, 2, 0));
    assert_eq!(
        renew("w2", ids.clone(), now + short).await,
        ids[1..].to_vec()
    );
}

pub async fn a_stopping_worker_gives_back_unsent_messages(s: &Stores) {
    for n in 0..3 {
        subscriber(s, &format!("g{n}@example.org"), false).await;
    }
    let (id, _) = start(s, &draft("Give back"), &[], T0).await;
    let held = claim(s, "w1", T0, 10).await;
    let ids: Vec<i64> = held.iter().map(|d| d.id).collect();
    // Another worker cannot give back w1's messages.
    assert!(
        s.deliveries
            .renew_leases("w2", &ids, LeaseChange::GiveBack)
            .await
            .unwrap()
            .is_empty()
    );
    send_as(s, "w1", &held[..1], T0).await;
    // The sent one is not given back; the two unsent are, and are due at once for anyone.
    assert_eq!(
        s.deliveries
            .renew_leases("w1", &ids, LeaseChange::GiveBack)
            .await
            .unwrap(),
        ids[1..].to_vec()
    );
    let p = s.campaigns.progress(id, T0).await.unwrap();
    assert_eq!((p.queued, p.sending, p.sent), (2, 0, 1));
    let again = claim(s, "w2", T0, 10).await;
    assert_eq!(
        again.iter().map(|d| d.id).collect::<Vec<_>>(),
        ids[1..].to_vec()
    );
    // Never tried, so neither a second attempt nor a possible duplicate.
    assert!(again.iter().all(|d| !d.reclaimed && d.attempts == 1));
    let p = s.campaigns.progress(id, T0).await.unwrap();
    assert_eq!(p.possible_duplicates, 0);
}

pub async fn a_large_audience_is_queued_in_chunks_before_the_campaign_ends(s: &Stores) {
    let mut everyone = BTreeSet::new();
    for n in 0..7 {
        everyone.insert(subscriber(s, &format!("c{n}@example.org"), false).await);
    }
    let id = s
        .campaigns
        .create_campaign(&draft("Chunks"), T0)
        .await
        .unwrap();
    s.campaigns.schedule_campaign(id, T0, &[]).await.unwrap();
    let first = s.deliveries.start_due_campaigns(T0, 3).await.unwrap();
    assert_eq!(
        first,
        vec![candour_core::campaign::Queued {
            campaign: id,
            queued: 3,
            complete: false
        }]
    );
    let got = s.campaigns.campaign(id).await.unwrap().unwrap();
    assert_eq!(got.state, CampaignState::Sending);
    // The first chunk can be sent while the rest waits to be queued; with every queued
    // message sent the campaign is still not done.
    let claimed = claim(s, "w", T0, 10).await;
    assert_eq!(claimed.len(), 3);
    send(s, &claimed, T0).await;
    assert!(
        s.deliveries
            .complete_campaigns(T0)
            .await
            .unwrap()
            .is_empty()
    );
    // A worker that stopped between chunks leaves the place kept: the next call goes on
    // from it (a person who joins meanwhile is queued too).
    let late = subscriber(s, "late@example.org", false).await;
    everyone.insert(late);
    let rest = queue_all(s, T0, 3).await;
    assert_eq!(rest, vec![(id, 5)]);
    let p = s.campaigns.progress(id, T0).await.unwrap();
    assert_eq!((p.queued, p.sent, p.total()), (5, 3, 8));
    let mut queued = people_of(&claimed);
    let claimed = claim(s, "w", T0, 10).await;
    queued.extend(people_of(&claimed));
    assert_eq!(queued, everyone, "each person queued once");
    assert!(queue_all(s, T0, 3).await.is_empty());
    send(s, &claimed, T0).await;
    assert_eq!(s.deliveries.complete_campaigns(T0).await.unwrap(), vec![id]);
}
