//! The campaign delivery worker: it starts campaigns whose time has come, claims batches of
//! queued messages, checks each recipient again at the moment of sending (consent in the
//! ledger, the suppression list, erasure), renders each message, and sends it over SMTP.
//!
//! Invariants:
//! - A message leaves only after its row is claimed (state `sending`, with a lease); its
//!   outcome is written after the relay answered. A worker that dies in between leaves rows
//!   whose lease runs out; another worker (or this one, restarted) takes them over, so no
//!   recipient is skipped, and only those in-flight messages can go twice (they are counted).
//! - A message sent again after a try that may have left a copy with the relay (its final
//!   `.` was sent and no answer came) is counted as a possible duplicate: each outcome
//!   carries the number of such tries, and the store adds them up.
//! - A campaign is marked sent by one SQL statement that checks nothing is queued or in flight.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use candour_core::Clock;
use candour_core::account::EmailAddress;
use candour_core::campaign::{
    Bounce, Campaign, Compiled, Delivery, DeliveryResult, FinishedDelivery, Recipient, Refusal,
    Token, TokenKind, message_id, retry_at,
};
use candour_core::config::{CampaignSettings, MailSettings};
use candour_core::store::{CampaignStore, DeliveryStore, StoreError, Stores};
use lettre::Message;
use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};
use tokio::sync::{Mutex, Semaphore};
use tokio::task::JoinSet;

use crate::relay::Sent;
use crate::{MailError, Mailer};

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
        let (_keep, stop) = tokio::sync::watch::channel(false);
        self.run_until(stop).await;
    }

    /// Run until `stop` turns true; a batch under way is finished and its outcomes written
    /// first, so stopping the server sends nothing twice.
    pub async fn run_until(self, mut stop: tokio::sync::watch::Receiver<bool>) {
        tracing::info!(worker = %self.inner.worker, "The campaign worker is running.");
        while !*stop.borrow() {
            let rest = match self.tick().await {
                Ok(0) => Duration::from_secs(1),
                Ok(_) => Duration::ZERO,
                Err(e) => {
                    tracing::error!(error = %e, "The campaign worker could not reach the database.");
                    Duration::from_secs(5)
                }
            };
            if !rest.is_zero() {
                tokio::select! {
                    _ = tokio::time::sleep(rest) => {}
                    _ = stop.changed() => {}
                }
            }
        }
        tracing::info!("The campaign worker has stopped.");
    }

    /// One round: start due campaigns, claim one batch and send it. Returns how many
    /// messages were claimed.
    pub async fn tick(&self) -> Result<usize, StoreError> {
        let inner = &self.inner;
        let now = inner.clock.now();
        for (campaign, queued) in inner.deliveries.start_due_campaigns(now).await? {
            tracing::info!(campaign, queued, "A campaign started sending.");
        }
        let lease = now + time::Duration::seconds(i64::from(inner.settings.lease_seconds));
        let limit = inner.settings.batch_size;
        let batch = inner
            .deliveries
            .claim_deliveries(&inner.worker, now, lease, limit)
            .await?;
        let claimed = batch.len();
        if claimed > 0 {
            let finished = self.send_batch(batch).await;
            // The messages have gone: their outcomes must be written, or they would be sent
            // again once the lease runs out. Keep trying for a while before giving up.
            let mut wait = Duration::from_millis(200);
            let mut attempt = 0;
            loop {
                match inner
                    .deliveries
                    .finish_deliveries(&inner.worker, &finished, inner.clock.now())
                    .await
                {
                    Ok(()) => break,
                    Err(e) if attempt < 8 => {
                        tracing::warn!(error = %e, "Could not record sent messages; trying again.");
                        tokio::time::sleep(wait).await;
                        wait = (wait * 2).min(Duration::from_secs(10));
                        attempt += 1;
                    }
                    Err(e) => return Err(e),
                }
            }
            crate::metrics::recorded(&finished);
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
        let compiled =
            Compiled::new(&c.draft.subject, &c.draft.preheader, &c.draft.body).map_err(|e| {
                SendError::Invalid(
                    e.iter()
                        .map(|e| format!("{} {}", e.field, e.problem))
                        .collect::<Vec<_>>()
                        .join("; "),
                )
            })?;
        let ready = Arc::new(Ready { compiled });
        cache.insert(campaign, ready.clone());
        Ok(ready)
    }

    async fn send_batch(&self, batch: Vec<Delivery>) -> Vec<FinishedDelivery> {
        let inner = &self.inner;
        let mut finished = Vec::with_capacity(batch.len());
        let permits = Arc::new(Semaphore::new(inner.settings.concurrency.max(1) as usize));
        let mut sends: JoinSet<(Delivery, EmailAddress, bool, Sent)> = JoinSet::new();
        let mut pace = (inner.settings.rate_per_second > 0).then(|| {
            let mut i = tokio::time::interval(Duration::from_secs_f64(
                1.0 / f64::from(inner.settings.rate_per_second),
            ));
            i.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            i
        });
        for d in batch {
            let skip = |reason: &str| FinishedDelivery {
                id: d.id,
                result: DeliveryResult::Skipped {
                    reason: reason.to_owned(),
                },
                handed_over: 0,
            };
            // The send-time check: what the ledger and the suppression list say now.
            let Some(email) = d.email.clone() else {
                finished.push(skip("the person's record was erased"));
                continue;
            };
            if d.suppressed {
                finished.push(skip("the address is on the suppression list"));
                continue;
            }
            if !d.marketing_consent {
                finished.push(skip("consent was withdrawn"));
                continue;
            }
            let ready = match self.ready(d.campaign).await {
                Ok(r) => r,
                // The database did not answer: try this message again a little later.
                Err(SendError::Store(e)) => {
                    tracing::warn!(error = %e, "Could not read a campaign to send it.");
                    let at = inner.clock.now()
                        + time::Duration::seconds(i64::from(inner.settings.retry_first_seconds));
                    finished.push(FinishedDelivery {
                        id: d.id,
                        result: DeliveryResult::Retry {
                            at,
                            error: "the database did not answer".to_owned(),
                        },
                        handed_over: 0,
                    });
                    continue;
                }
                Err(e) => {
                    finished.push(FinishedDelivery {
                        id: d.id,
                        result: DeliveryResult::Failed {
                            error: e.to_string(),
                            bounce: None,
                        },
                        handed_over: 0,
                    });
                    continue;
                }
            };
            let tracked = d.tracking_consent;
            let message = match self.build(&ready, &d, &email, tracked) {
                Ok(m) => m,
                Err(e) => {
                    finished.push(FinishedDelivery {
                        id: d.id,
                        result: DeliveryResult::Failed {
                            error: e.to_string(),
                            bounce: None,
                        },
                        handed_over: 0,
                    });
                    continue;
                }
            };
            if let Some(p) = pace.as_mut() {
                p.tick().await;
            }
            let Ok(permit) = permits.clone().acquire_owned().await else {
                break;
            };
            let me = self.clone();
            sends.spawn(async move {
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
                (d, email, tracked, sent)
            });
        }
        while let Some(joined) = sends.join_next().await {
            let Ok((d, email, tracked, sent)) = joined else {
                continue;
            };
            finished.push(self.outcome(d, email, tracked, sent));
        }
        finished
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

    /// How long one message may take at the relay: well inside the lease, so a stalled relay
    /// turns into a retry before another worker could take the message over.
    fn send_limit(&self) -> Duration {
        Duration::from_secs(u64::from(self.inner.settings.lease_seconds / 4).clamp(5, 60))
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
        let compiled = Compiled::new(
            &campaign.draft.subject,
            &campaign.draft.preheader,
            &campaign.draft.body,
        )
        .map_err(|e| SendError::Invalid(format!("{} problems", e.len())))?;
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

/// The text of a relay's reply (after the code), where the enhanced status is.
fn reply_text(e: &lettre::transport::smtp::Error) -> String {
    std::error::Error::source(e)
        .map(ToString::to_string)
        .unwrap_or_default()
}
