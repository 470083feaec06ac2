//! The campaign delivery worker: it starts campaigns whose time has come and queues their
//! audience in chunks, claims batches of queued messages, checks each recipient again at the
//! moment of sending (consent in the ledger, the suppression list, erasure), renders each
//! message, and sends it over SMTP.
//!
//! Invariants:
//! - A message leaves only after its row is claimed (state `sending`, with a lease); its
//!   outcome is written after the relay answered. A worker that dies in between leaves rows
//!   whose lease runs out; another worker (or this one, restarted) takes them over, so no
//!   recipient is skipped, and only those in-flight messages can go twice (they are counted).
//! - Leases are short and renewed by a heartbeat while the worker lives, so a dead worker's
//!   messages are taken over within `lease_seconds`; a message whose renewal found it taken
//!   over is not sent, and its outcome would not be recorded over the other worker's.
//! - Outcomes are written as the relay answers them, grouped into one store call every few
//!   milliseconds: a killed worker leaves unrecorded only what was in flight or in the last
//!   group.
//! - A message sent again after a try that may have left a copy with the relay (its final
//!   `.` was sent and no answer came) is counted as a possible duplicate: each outcome
//!   carries the number of such tries, and the store adds them up.
//! - A campaign is marked sent by one SQL statement that checks its audience is queued and
//!   nothing is queued or in flight.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use candour_core::Clock;
use candour_core::account::EmailAddress;
use candour_core::campaign::{
    Bounce, Campaign, Compiled, Delivery, DeliveryResult, FinishedDelivery, LeaseChange, Recipient,
    Refusal, Token, TokenKind, message_id, retry_at,
};
use candour_core::config::{CampaignSettings, MailSettings};
use candour_core::store::{CampaignStore, DeliveryStore, StoreError, Stores};
use lettre::Message;
use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};
use tokio::sync::{Mutex, Semaphore, mpsc, watch};
use tokio::task::JoinSet;

use crate::relay::Sent;
use crate::{MailError, Mailer};

/// People queued per transaction when a campaign starts.
const QUEUE_CHUNK: u32 = 5000;
/// How long the outcome writer waits for more outcomes to write with the first.
const WRITE_WINDOW: Duration = Duration::from_millis(5);
/// The most outcomes written in one store call.
const WRITE_MAX: usize = 100;

/// How links in campaign messages are made.
#[derive(Clone)]
pub struct LinkSettings {
    /// The site's public address, without a trailing slash.
    pub base: String,
    /// Signs tracking and unsubscribe tokens (the site's signer, shared).
    pub signer: std::sync::Arc<candour_core::signer::Signer>,
    pub organisation: String,
    /// A mailbox for `List-Unsubscribe`'s mailto, if any.
    pub unsubscribe_mailto: Option<EmailAddress>,
}

impl LinkSettings {
    pub fn unsubscribe_url(&self, token: &Token) -> String {
        format!("{}/unsubscribe/{}", self.base, token.sign(&self.signer))
    }

    fn click_url(&self, token: &Token) -> String {
        format!("{}/t/c/{}", self.base, token.sign(&self.signer))
    }

    fn open_url(&self, token: &Token) -> String {
        format!("{}/t/o/{}", self.base, token.sign(&self.signer))
    }

    fn preferences_url(&self) -> String {
        format!("{}/preferences", self.base)
    }
}

/// A campaign ready to render: its text is fixed once it is scheduled.
struct Ready {
    compiled: Compiled,
}

/// A message that passed the send-time check, built and ready to go.
struct Prepared {
    delivery: Delivery,
    email: EmailAddress,
    tracked: bool,
    message: Message,
}

/// One batch under way: what it holds, its sends and where their outcomes go.
struct Round<'a> {
    held: &'a Mutex<BTreeSet<i64>>,
    lost: &'a Mutex<BTreeSet<i64>>,
    stop: Option<&'a watch::Receiver<bool>>,
    permits: Arc<Semaphore>,
    sends: JoinSet<()>,
    outcomes: mpsc::UnboundedSender<FinishedDelivery>,
    unsent: Vec<i64>,
    pace: Option<tokio::time::Interval>,
}

impl Round<'_> {
    fn stopping(&self) -> bool {
        self.stop.is_some_and(|s| *s.borrow())
    }

    /// Leave a message unsent, to be given back when the round ends.
    async fn give_back(&mut self, id: i64) {
        self.held.lock().await.remove(&id);
        self.unsent.push(id);
    }
}

/// The delivery worker.
#[derive(Clone)]
pub struct CampaignSender {
    inner: Arc<Inner>,
}

struct Inner {
    /// The campaigns, read for their text.
    campaigns: Arc<dyn CampaignStore>,
    /// The delivery queue this worker claims from and reports to.
    deliveries: Arc<dyn DeliveryStore>,
    clock: Arc<dyn Clock>,
    /// The site's mailer, shared: its DKIM key is read once.
    mailer: Arc<Mailer>,
    /// Connections to the relay for campaign messages; `None` when mail goes to the outbox.
    relay: Option<crate::relay::RelayPool>,
    domain: String,
    settings: CampaignSettings,
    links: LinkSettings,
    /// This worker's name in the queue (host, process and a random part).
    worker: String,
    ready: Mutex<HashMap<i64, Arc<Ready>>>,
}

/// Why a campaign could not be prepared for sending.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Mail(#[from] MailError),
    #[error("campaign {0} no longer exists")]
    Missing(i64),
    #[error("the campaign's text is not valid: {0}")]
    Invalid(String),
}

impl CampaignSender {
    pub fn new(
        stores: &Stores,
        clock: Arc<dyn Clock>,
        mailer: Arc<Mailer>,
        mail: &MailSettings,
        settings: CampaignSettings,
        links: LinkSettings,
    ) -> Result<CampaignSender, MailError> {
        let relay = mail
            .smtp_url
            .as_ref()
            .map(|url| crate::relay::RelayPool::new(crate::relay::Relay::new(url)));
        let domain = mailer.from().email.domain().to_owned();
        let worker = format!("{}-{:08x}", std::process::id(), rand::random::<u32>());
        Ok(CampaignSender {
            inner: Arc::new(Inner {
                campaigns: stores.campaigns.clone(),
                deliveries: stores.deliveries.clone(),
                clock,
                mailer,
                relay,
                domain,
                settings,
                links,
                worker,
                ready: Mutex::new(HashMap::new()),
            }),
        })
    }

    /// Run until the task is aborted: one batch after another, resting a second when there
    /// is nothing to send.
    pub async fn run(self) {
        let (_keep, stop) = watch::channel(false);
        self.run_until(stop).await;
    }

    /// Run until `stop` turns true. Audiences are queued by a task of their own, so a large
    /// one never holds up sending. On stop, messages in flight finish (each within
    /// `send_timeout_seconds`) and are recorded, the batch's unsent messages are given back
    /// for another instance to take at once, and the relay connections end with `QUIT`.
    pub async fn run_until(self, stop: watch::Receiver<bool>) {
        tracing::info!(worker = %self.inner.worker, "The campaign worker is running.");
        let queuer = self.clone().queue_until(stop.clone());
        let sender = self.send_until(stop);
        tokio::join!(queuer, sender);
        if let Some(pool) = &self.inner.relay {
            pool.close().await;
        }
        tracing::info!("The campaign worker has stopped.");
    }

    async fn send_until(&self, stop: watch::Receiver<bool>) {
        let step = || async { self.send_round(Some(&stop)).await.map(|n| n > 0) };
        repeat_until(stop.clone(), "send campaign messages", step).await;
    }

    async fn queue_until(self, stop: watch::Receiver<bool>) {
        repeat_until(stop, "queue an audience", || self.queue_step()).await;
    }

    /// Start due campaigns and queue one chunk of each audience still being queued; `true`
    /// when some audience has more to queue.
    async fn queue_step(&self) -> Result<bool, StoreError> {
        let inner = &self.inner;
        let mut more = false;
        for q in inner
            .deliveries
            .start_due_campaigns(inner.clock.now(), QUEUE_CHUNK)
            .await?
        {
            if q.complete {
                tracing::info!(campaign = q.campaign, "A campaign's audience is queued.");
            } else {
                more = true;
            }
        }
        Ok(more)
    }

    /// One round, as tests drive it: start due campaigns and queue their whole audience,
    /// then claim one batch and send it. Returns how many messages were claimed.
    pub async fn tick(&self) -> Result<usize, StoreError> {
        while self.queue_step().await? {}
        self.send_round(None).await
    }

    /// Claim one batch and send it, recording each outcome as it comes; with `stop` turned
    /// true midway, the batch's unsent messages are given back. Returns how many messages
    /// were claimed.
    async fn send_round(&self, stop: Option<&watch::Receiver<bool>>) -> Result<usize, StoreError> {
        let inner = &self.inner;
        let now = inner.clock.now();
        let limit = inner.settings.batch_size;
        let batch = inner
            .deliveries
            .claim_deliveries(&inner.worker, now, now + self.lease(), limit)
            .await?;
        let claimed = batch.len();
        if claimed > 0 {
            let held = Mutex::new(batch.iter().map(|d| d.id).collect::<BTreeSet<i64>>());
            let lost = Mutex::new(BTreeSet::new());
            let (outcomes, written) = mpsc::unbounded_channel();
            let sending = self.send_batch(batch, outcomes, &held, &lost, stop);
            let writing = self.write_outcomes(written, &held);
            let (unsent, recorded) = tokio::select! {
                done = async { tokio::join!(sending, writing) } => done,
                never = self.heartbeat(&held, &lost) => match never {},
            };
            if !unsent.is_empty() {
                match inner
                    .deliveries
                    .renew_leases(&inner.worker, &unsent, LeaseChange::GiveBack)
                    .await
                {
                    Ok(back) => tracing::info!(
                        messages = back.len(),
                        "Gave back unsent campaign messages for another worker."
                    ),
                    Err(e) => tracing::warn!(
                        error = %e,
                        "Could not give back unsent messages; they are taken over when their lease runs out."
                    ),
                }
            }
            recorded?;
        }
        if claimed < limit as usize {
            for campaign in inner
                .deliveries
                .complete_campaigns(inner.clock.now())
                .await?
            {
                tracing::info!(campaign, "A campaign finished sending.");
                inner.ready.lock().await.remove(&campaign);
            }
        }
        Ok(claimed)
    }

    fn lease(&self) -> time::Duration {
        time::Duration::seconds(i64::from(self.inner.settings.lease_seconds))
    }

    /// Renew the lease on the messages this round still holds, every third of the lease,
    /// until the round ends. Messages another worker took over meanwhile (this one could not
    /// reach the database for a whole lease) are moved to `lost`, so they are not sent.
    async fn heartbeat(
        &self,
        held: &Mutex<BTreeSet<i64>>,
        lost: &Mutex<BTreeSet<i64>>,
    ) -> std::convert::Infallible {
        let inner = &self.inner;
        let every = Duration::from_millis(u64::from(inner.settings.lease_seconds) * 1000 / 3);
        loop {
            tokio::time::sleep(every).await;
            let ids: Vec<i64> = held.lock().await.iter().copied().collect();
            if ids.is_empty() {
                continue;
            }
            let until = inner.clock.now() + self.lease();
            match inner
                .deliveries
                .renew_leases(&inner.worker, &ids, LeaseChange::Extend(until))
                .await
            {
                Ok(kept) => {
                    let kept: BTreeSet<i64> = kept.into_iter().collect();
                    let mut held = held.lock().await;
                    let gone: Vec<i64> = ids
                        .into_iter()
                        .filter(|id| !kept.contains(id) && held.contains(id))
                        .collect();
                    if !gone.is_empty() {
                        tracing::warn!(
                            messages = gone.len(),
                            "Another worker took over campaign messages whose lease this one could not renew."
                        );
                        let mut lost = lost.lock().await;
                        for id in gone {
                            held.remove(&id);
                            lost.insert(id);
                        }
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "Could not renew the lease on campaign messages.");
                }
            }
        }
    }

    /// Write outcomes as they come, grouped: one store call for whatever arrived within
    /// `WRITE_WINDOW` of the first, up to `WRITE_MAX`. A group that cannot be written after
    /// a while is let go (and its messages are no longer renewed): once their lease runs
    /// out they are taken over and counted as possible duplicates.
    async fn write_outcomes(
        &self,
        mut written: mpsc::UnboundedReceiver<FinishedDelivery>,
        held: &Mutex<BTreeSet<i64>>,
    ) -> Result<(), StoreError> {
        let inner = &self.inner;
        let mut failure = Ok(());
        loop {
            let Some(first) = written.recv().await else {
                return failure;
            };
            let mut group = vec![first];
            let until = tokio::time::Instant::now() + WRITE_WINDOW;
            while group.len() < WRITE_MAX {
                match tokio::time::timeout_at(until, written.recv()).await {
                    Ok(Some(f)) => group.push(f),
                    Ok(None) | Err(_) => break,
                }
            }
            let mut wait = Duration::from_millis(200);
            let mut attempt = 0;
            loop {
                match inner
                    .deliveries
                    .finish_deliveries(&inner.worker, &group, inner.clock.now())
                    .await
                {
                    Ok(()) => {
                        crate::metrics::recorded(&group);
                        break;
                    }
                    Err(e) if attempt < 8 => {
                        tracing::warn!(error = %e, "Could not record sent messages; trying again.");
                        tokio::time::sleep(wait).await;
                        wait = (wait * 2).min(Duration::from_secs(10));
                        attempt += 1;
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "Could not record sent messages; another worker will take them over.");
                        failure = Err(e);
                        break;
                    }
                }
            }
            let mut held = held.lock().await;
            for f in &group {
                held.remove(&f.id);
            }
        }
    }

    async fn ready(&self, campaign: i64) -> Result<Arc<Ready>, SendError> {
        let mut cache = self.inner.ready.lock().await;
        if let Some(r) = cache.get(&campaign) {
            return Ok(r.clone());
        }
        let c = self
            .inner
            .campaigns
            .campaign(campaign)
            .await?
            .ok_or(SendError::Missing(campaign))?;
        let mut compiled = Compiled::new(&c.draft.subject, &c.draft.preheader, &c.draft.body)
            .map_err(|e| {
                SendError::Invalid(
                    e.iter()
                        .map(|e| format!("{} {}", e.field, e.problem))
                        .collect::<Vec<_>>()
                        .join("; "),
                )
            })?;
        compiled.tag_site_links(&self.inner.links.base, &c.draft.name);
        let ready = Arc::new(Ready { compiled });
        cache.insert(campaign, ready.clone());
        Ok(ready)
    }

    /// Check, build and send each message of the batch, at most `concurrency` at once,
    /// handing each outcome to `outcomes` as soon as it is known. Messages are begun (their
    /// lease renewed with `LeaseChange::Begin`) a window of `concurrency` at a time,
    /// just before they go, so a worker that dies leaves few begun messages to flag as
    /// possible duplicates. Returns the messages left unsent because `stop` turned true;
    /// they are no longer in `held`.
    async fn send_batch(
        &self,
        batch: Vec<Delivery>,
        outcomes: mpsc::UnboundedSender<FinishedDelivery>,
        held: &Mutex<BTreeSet<i64>>,
        lost: &Mutex<BTreeSet<i64>>,
        stop: Option<&watch::Receiver<bool>>,
    ) -> Vec<i64> {
        let inner = &self.inner;
        let concurrency = inner.settings.concurrency.max(1) as usize;
        let mut round = Round {
            held,
            lost,
            stop,
            permits: Arc::new(Semaphore::new(concurrency)),
            sends: JoinSet::new(),
            outcomes,
            unsent: Vec::new(),
            pace: (inner.settings.rate_per_second > 0).then(|| {
                let mut i = tokio::time::interval(Duration::from_secs_f64(
                    1.0 / f64::from(inner.settings.rate_per_second),
                ));
                i.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                i
            }),
        };
        let mut window = Vec::with_capacity(concurrency);
        for d in batch {
            if round.stopping() {
                round.give_back(d.id).await;
                continue;
            }
            if let Some(item) = self.prepare(d, &round.outcomes).await {
                window.push(item);
            }
            if window.len() >= concurrency {
                self.send_window(std::mem::take(&mut window), &mut round)
                    .await;
            }
        }
        self.send_window(window, &mut round).await;
        let Round {
            mut sends,
            outcomes,
            unsent,
            ..
        } = round;
        drop(outcomes);
        while sends.join_next().await.is_some() {}
        unsent
    }

    /// The send-time check and the message, or the outcome recorded at once (skipped,
    /// failed, or retried when the database did not answer).
    async fn prepare(
        &self,
        d: Delivery,
        outcomes: &mpsc::UnboundedSender<FinishedDelivery>,
    ) -> Option<Prepared> {
        let inner = &self.inner;
        let finish = |id, result| {
            // The writer outlives every send of the round.
            let _ = outcomes.send(FinishedDelivery {
                id,
                result,
                handed_over: 0,
            });
            None
        };
        let skip = |reason: &str| DeliveryResult::Skipped {
            reason: reason.to_owned(),
        };
        // What the ledger and the suppression list say now.
        let Some(email) = d.email.clone() else {
            return finish(d.id, skip("the person's record was erased"));
        };
        if d.suppressed {
            return finish(d.id, skip("the address is on the suppression list"));
        }
        if !d.marketing_consent {
            return finish(d.id, skip("consent was withdrawn"));
        }
        let ready = match self.ready(d.campaign).await {
            Ok(r) => r,
            // The database did not answer: try this message again a little later.
            Err(SendError::Store(e)) => {
                tracing::warn!(error = %e, "Could not read a campaign to send it.");
                let at = inner.clock.now()
                    + time::Duration::seconds(i64::from(inner.settings.retry_first_seconds));
                return finish(
                    d.id,
                    DeliveryResult::Retry {
                        at,
                        error: "the database did not answer".to_owned(),
                    },
                );
            }
            Err(e) => {
                return finish(
                    d.id,
                    DeliveryResult::Failed {
                        error: e.to_string(),
                        bounce: None,
                    },
                );
            }
        };
        let tracked = d.tracking_consent;
        match self.build(&ready, &d, &email, tracked) {
            Ok(message) => Some(Prepared {
                delivery: d,
                email,
                tracked,
                message,
            }),
            Err(e) => finish(
                d.id,
                DeliveryResult::Failed {
                    error: e.to_string(),
                    bounce: None,
                },
            ),
        }
    }

    /// Begin a window of prepared messages, then send each as a connection is free.
    async fn send_window(&self, window: Vec<Prepared>, round: &mut Round<'_>) {
        if window.is_empty() {
            return;
        }
        let inner = &self.inner;
        if round.stopping() {
            for p in window {
                round.give_back(p.delivery.id).await;
            }
            return;
        }
        let ids: Vec<i64> = window.iter().map(|p| p.delivery.id).collect();
        let until = inner.clock.now() + self.lease();
        let begun: BTreeSet<i64> = match inner
            .deliveries
            .renew_leases(&inner.worker, &ids, LeaseChange::Begin(until))
            .await
        {
            Ok(kept) => kept.into_iter().collect(),
            Err(e) => {
                // Not begun: the messages are left to their lease, and taken again later.
                tracing::warn!(error = %e, "Could not begin sending campaign messages.");
                BTreeSet::new()
            }
        };
        for p in window {
            let id = p.delivery.id;
            if !begun.contains(&id) {
                round.held.lock().await.remove(&id);
                continue;
            }
            if let Some(pace) = round.pace.as_mut() {
                pace.tick().await;
            }
            let Ok(permit) = round.permits.clone().acquire_owned().await else {
                return;
            };
            // Looked at again after the wait: a stop, or a lease lost meanwhile.
            if round.stopping() {
                round.give_back(id).await;
                continue;
            }
            if round.lost.lock().await.contains(&id) {
                continue;
            }
            let me = self.clone();
            let outcomes = round.outcomes.clone();
            round.sends.spawn(async move {
                let Prepared {
                    delivery,
                    email,
                    tracked,
                    message,
                } = p;
                let sent = match &me.inner.relay {
                    Some(pool) => match me.signed(message).await {
                        Ok(message) => pool.send(&message, me.send_limit()).await,
                        Err(e) => Sent {
                            result: Err(e),
                            handed_over: 0,
                        },
                    },
                    // The outbox (development): `send_message` signs.
                    None => {
                        let result = me.inner.mailer.send_message(message).await;
                        let handed_over = u32::from(result.is_ok());
                        Sent {
                            result,
                            handed_over,
                        }
                    }
                };
                drop(permit);
                let _ = outcomes.send(me.outcome(delivery, email, tracked, sent));
            });
        }
    }

    /// What became of a send. The stored outcome keeps the reply code and the kind of
    /// failure, never the relay's text: replies often quote the address, and the outcome
    /// stays with the unlinked row after the person is erased.
    fn outcome(
        &self,
        d: Delivery,
        email: EmailAddress,
        tracked: bool,
        sent: Sent,
    ) -> FinishedDelivery {
        let Sent {
            result,
            handed_over,
        } = sent;
        let code = match &result {
            Err(MailError::Relay(e)) => e.status().map(u16::from),
            _ => None,
        };
        let replied = code.map(|c| format!(" (reply {c})")).unwrap_or_default();
        let result = match result {
            Ok(()) => DeliveryResult::Sent { tracked, to: email },
            Err(MailError::Relay(e)) if e.is_permanent() => {
                let refusal = Refusal::classify(code.unwrap_or(0), &reply_text(&e));
                DeliveryResult::Failed {
                    error: format!("the relay refused the message{replied}"),
                    bounce: match refusal {
                        Refusal::BadAddress => Some(Bounce::BadAddress(email)),
                        Refusal::Unavailable => Some(Bounce::Unavailable(email)),
                        Refusal::Policy | Refusal::Other => None,
                    },
                }
            }
            Err(e) if e.is_transient() => {
                tracing::debug!(error = %e, delivery = d.id, "A campaign message will be tried again.");
                let now = self.inner.clock.now();
                match retry_at(
                    d.queued_at,
                    d.attempts,
                    now,
                    &self.inner.settings.retry_schedule(),
                ) {
                    Some(at) => DeliveryResult::Retry {
                        at,
                        error: format!(
                            "the relay could not be reached or said to try later{replied}"
                        ),
                    },
                    None => DeliveryResult::Failed {
                        error: format!(
                            "given up after {} attempts: the relay could not be reached or said to try later{replied}",
                            d.attempts
                        ),
                        bounce: None,
                    },
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, delivery = d.id, "A campaign message could not be sent.");
                DeliveryResult::Failed {
                    error: "the message could not be built or sent".to_owned(),
                    bounce: None,
                }
            }
        };
        FinishedDelivery {
            id: d.id,
            result,
            handed_over,
        }
    }

    /// How long one message may take at the relay; the lease is renewed meanwhile.
    fn send_limit(&self) -> Duration {
        Duration::from_secs(u64::from(self.inner.settings.send_timeout_seconds))
    }

    fn build(
        &self,
        ready: &Ready,
        d: &Delivery,
        email: &EmailAddress,
        tracked: bool,
    ) -> Result<Message, MailError> {
        let links = &self.inner.links;
        let issued = self.inner.clock.now().unix_timestamp();
        let token = |kind, link| Token {
            kind,
            campaign: d.campaign,
            delivery: d.id,
            link,
            issued,
        };
        let link_urls: Vec<String> = if tracked {
            (0..ready.compiled.links.len())
                .map(|i| links.click_url(&token(TokenKind::Click, i as u16)))
                .collect()
        } else {
            ready.compiled.links.clone()
        };
        let pixel = tracked.then(|| links.open_url(&token(TokenKind::Open, 0)));
        let unsubscribe = links.unsubscribe_url(&token(TokenKind::Unsubscribe, 0));
        let preferences = links.preferences_url();
        let rendered = ready.compiled.render(&Recipient {
            name: &d.name,
            organisation: &links.organisation,
            unsubscribe_url: &unsubscribe,
            preferences_url: &preferences,
            links: &link_urls,
            pixel_url: pixel.as_deref(),
        });
        let mut list_unsubscribe = format!("<{unsubscribe}>");
        if let Some(mailto) = &links.unsubscribe_mailto {
            list_unsubscribe.push_str(&format!(
                ", <mailto:{}?subject=unsubscribe%20{}>",
                mailto.as_str(),
                token(TokenKind::Unsubscribe, 0).sign(&links.signer)
            ));
        }
        let name: String = d.name.chars().filter(|c| !c.is_control()).collect();
        let to = Mailbox::new(
            (!name.trim().is_empty()).then_some(name),
            email
                .as_str()
                .parse()
                .map_err(|e| MailError::Build(format!("recipient: {e}")))?,
        );
        Message::builder()
            .from(self.inner.mailer.from().clone())
            .to(to)
            .subject(rendered.subject)
            .message_id(Some(message_id(d.campaign, d.id, &self.inner.domain)))
            .raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str("List-Unsubscribe"),
                list_unsubscribe,
            ))
            .raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str("List-Unsubscribe-Post"),
                "List-Unsubscribe=One-Click".to_owned(),
            ))
            .multipart(MultiPart::alternative_plain_html(
                rendered.text,
                rendered.html,
            ))
            .map_err(|e| MailError::Build(e.to_string()))
    }

    /// The message with its DKIM signature, for the relay, when signing is configured.
    /// Signing runs on a blocking thread, in each message's own send task: an RSA signature takes over a
    /// millisecond of CPU, which would otherwise hold up the loop that prepares the batch and
    /// the runtime's threads.
    async fn signed(&self, mut message: Message) -> Result<Message, MailError> {
        if !self.inner.mailer.signs() {
            return Ok(message);
        }
        let me = self.clone();
        tokio::task::spawn_blocking(move || {
            me.inner.mailer.sign(&mut message);
            message
        })
        .await
        .map_err(|e| MailError::Build(format!("signing the message stopped: {e}")))
    }

    /// Send the campaign to one staff address, marked as a test: links go straight to their
    /// addresses, and nothing is recorded in the queue.
    pub async fn send_test(&self, campaign: &Campaign, to: &EmailAddress) -> Result<(), SendError> {
        let mut compiled = Compiled::new(
            &campaign.draft.subject,
            &campaign.draft.preheader,
            &campaign.draft.body,
        )
        .map_err(|e| SendError::Invalid(format!("{} problems", e.len())))?;
        compiled.tag_site_links(&self.inner.links.base, &campaign.draft.name);
        let links = &self.inner.links;
        let preferences = links.preferences_url();
        let rendered = compiled.render(&Recipient {
            name: "",
            organisation: &links.organisation,
            unsubscribe_url: &preferences,
            preferences_url: &preferences,
            links: &compiled.links,
            pixel_url: None,
        });
        let to: Mailbox = to
            .as_str()
            .parse()
            .map_err(|e| MailError::Build(format!("recipient: {e}")))?;
        let message = Message::builder()
            .from(self.inner.mailer.from().clone())
            .to(to)
            .subject(format!("[Test] {}", rendered.subject))
            .multipart(MultiPart::alternative_plain_html(
                rendered.text,
                rendered.html,
            ))
            .map_err(|e| MailError::Build(e.to_string()))?;
        self.inner.mailer.send_message(message).await?;
        Ok(())
    }
}

/// Run `step` until `stop` turns true: again at once when it did something (`true`), after a
/// second when it found nothing to do, after five when the database did not answer.
async fn repeat_until<F, Fut>(mut stop: watch::Receiver<bool>, what: &str, mut step: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<bool, StoreError>>,
{
    while !*stop.borrow() {
        let rest = match step().await {
            Ok(true) => continue,
            Ok(false) => Duration::from_secs(1),
            Err(e) => {
                tracing::error!(error = %e, "The campaign worker could not {what}.");
                Duration::from_secs(5)
            }
        };
        tokio::select! {
            _ = tokio::time::sleep(rest) => {}
            _ = stop.changed() => {}
        }
    }
}

/// The text of a relay's reply (after the code), where the enhanced status is.
fn reply_text(e: &lettre::transport::smtp::Error) -> String {
    std::error::Error::source(e)
        .map(ToString::to_string)
        .unwrap_or_default()
}
