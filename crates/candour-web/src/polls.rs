//! Polls for the public: the list, a poll's page, the fragment that content pages embed, and
//! voting, with one vote per person (the `PollTimeout-<id>` cookie for the browser, and the
//! server's own de-duplication, which a cleared cookie does not get round).
//!
//! Votes are written through a group commit: requests that arrive while a batch is being
//! written wait for the next batch, which is one transaction, and each request is answered
//! only once its vote is durable.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration as StdDuration, Instant};

use askama::Template;
use axum::Form;
use axum::Router;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use candour_core::cookies::{CookieId, read_cookie};
use candour_core::poll::{self, Phase, Poll, Voters};
use candour_core::store::{NewVote, PollStore, StoreError, VoteOutcome};
use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::Sha256;
use std::sync::Arc;
use tokio::sync::{Mutex, RwLock, mpsc, oneshot};

use crate::auth::Visitor;
use crate::content::no_store;
use crate::error::{AppError, FieldError};
use crate::frame::{Frame, render};
use crate::{AppState, cookie_jar, limits};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/polls", get(list))
        .route("/polls/{id}", get(show))
        .route("/polls/{id}/embed", get(embed))
        .route("/polls/{id}/vote", post(vote))
}

// ---------- group commit ----------

/// The most votes written in one transaction.
const MAX_BATCH: usize = 512;

type Reply = oneshot::Sender<Result<VoteOutcome, String>>;

/// The queue in front of the vote store.
pub(crate) struct VoteQueue {
    tx: mpsc::Sender<(NewVote, Reply)>,
}

impl VoteQueue {
    pub fn start(store: Arc<dyn PollStore>) -> VoteQueue {
        let (tx, rx) = mpsc::channel(8 * MAX_BATCH);
        // The writer has a thread of its own: on the shared runtime it would wait its turn
        // behind every request task at each step of a batch, and batches would take longer
        // than their writes do.
        let spawned = std::thread::Builder::new()
            .name("candour-votes".to_owned())
            .spawn(move || {
                match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt.block_on(write_batches(store, rx)),
                    Err(e) => tracing::error!(error = %e, "Could not start the vote writer."),
                }
            });
        if let Err(e) = spawned {
            tracing::error!(error = %e, "Could not start the vote writer thread.");
        }
        VoteQueue { tx }
    }

    /// Queue a vote and wait until it is written (or refused).
    pub async fn submit(&self, vote: NewVote) -> Result<VoteOutcome, AppError> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send((vote, reply))
            .await
            .map_err(|_| AppError::Internal("the vote writer has stopped".into()))?;
        match answer.await {
            Ok(Ok(outcome)) => Ok(outcome),
            Ok(Err(e)) => Err(AppError::Unavailable(StoreError::Unavailable(e.into()))),
            Err(_) => Err(AppError::Internal("the vote writer dropped a vote".into())),
        }
    }
}

async fn write_batches(store: Arc<dyn PollStore>, mut rx: mpsc::Receiver<(NewVote, Reply)>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    // Wait for one vote, then take whatever else has arrived meanwhile: under load a batch
    // fills while the previous one is being written; when idle, a vote goes alone at once.
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let (votes, replies): (Vec<NewVote>, Vec<Reply>) = batch.drain(..).unzip();
        let started = Instant::now();
        let mut result = store.record_votes(&votes).await;
        tracing::debug!(
            votes = votes.len(),
            micros = started.elapsed().as_micros() as u64,
            "Wrote a batch of votes."
        );
        if result.is_err() {
            // One retry covers a transient failure (a deadlock between instances, a dropped
            // connection). Most failures come before anything is written; one that comes
            // after (while the store reads back what it inserted) leaves those votes counted,
            // and the retry answers them as repeats: the counts stay right.
            tokio::time::sleep(StdDuration::from_millis(20)).await;
            result = store.record_votes(&votes).await;
        }
        match result {
            Ok(outcomes) => {
                for (reply, outcome) in replies.into_iter().zip(outcomes) {
                    let _ = reply.send(Ok(outcome));
                }
            }
            Err(e) => {
                tracing::error!(error = %e, votes = votes.len(), "Could not write a batch of votes.");
                for reply in replies {
                    let _ = reply.send(Err(e.to_string()));
                }
            }
        }
    }
}

/// Polls as the vote handler needs them (question, options, times), kept for two seconds so a
/// burst of votes does not read the same poll thousands of times. The store checks again, in
/// the vote's own transaction, that the poll is still open, so a poll closed meanwhile takes
/// no votes; admin changes on this instance forget the entry at once.
#[derive(Default)]
pub(crate) struct PollCache(RwLock<HashMap<i64, (Instant, Arc<Poll>)>>);

const POLL_CACHE_TTL: StdDuration = StdDuration::from_secs(2);

impl PollCache {
    async fn get(&self, store: &dyn PollStore, id: i64) -> Result<Option<Arc<Poll>>, AppError> {
        if let Some((at, poll)) = self.0.read().await.get(&id)
            && at.elapsed() < POLL_CACHE_TTL
        {
            return Ok(Some(poll.clone()));
        }
        let Some(poll) = store.poll(id).await? else {
            self.forget(id).await;
            return Ok(None);
        };
        let poll = Arc::new(poll);
        let mut map = self.0.write().await;
        if map.len() > 1000 {
            map.retain(|_, (at, _)| at.elapsed() < POLL_CACHE_TTL);
        }
        map.insert(id, (Instant::now(), poll.clone()));
        Ok(Some(poll))
    }

    pub async fn forget(&self, id: i64) {
        self.0.write().await.remove(&id);
    }
}

/// The salt of the day for anonymous voter hashes, cached for the day.
#[derive(Default)]
pub(crate) struct DaySalt(RwLock<Option<(String, Vec<u8>)>>);

impl DaySalt {
    async fn get(&self, store: &dyn PollStore, day: &str) -> Result<Vec<u8>, AppError> {
        if let Some((d, salt)) = self.0.read().await.as_ref()
            && d == day
        {
            return Ok(salt.clone());
        }
        let fresh: [u8; 32] = rand::random();
        let salt = store.day_salt(day, &fresh).await?;
        *self.0.write().await = Some((day.to_owned(), salt.clone()));
        Ok(salt)
    }
}

/// Votes from each internet address in each poll today, counted in this process so that the
/// ceiling costs no database write on the vote's path (with several instances, each counts
/// its own). Keys are keyed hashes: no address is held, even in memory.
#[derive(Default)]
pub(crate) struct AddressVotes(Mutex<(String, HashMap<[u8; 16], u32>)>);

/// Past this many addresses in a day the tally stops growing; an address it has not seen is
/// then not held back (failing open keeps a flood of addresses from using up memory).
const MAX_ADDRESSES: usize = 1_000_000;

impl AddressVotes {
    /// The tally's key for `address` in `poll`.
    pub fn key(secret: &[u8], poll: i64, address: &str) -> [u8; 16] {
        let mut id = [0u8; 16];
        if let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret) {
            // Kept apart from the poll cookie's MACs under the same key.
            mac.update(b"candour-poll-address:");
            mac.update(&poll.to_be_bytes());
            mac.update(address.as_bytes());
            id.copy_from_slice(&mac.finalize().into_bytes()[..16]);
        }
        id
    }

    /// Take one of the address's `ceiling` votes for `day`, checking and counting together so
    /// votes sent at once cannot all pass; `false` when none is left. A vote that is then not
    /// counted gives its place back (`give_back`).
    pub async fn take(&self, id: [u8; 16], day: &str, ceiling: u32) -> bool {
        let mut guard = self.0.lock().await;
        let (today, counts) = &mut *guard;
        if today != day {
            *today = day.to_owned();
            counts.clear();
        }
        match counts.get_mut(&id) {
            Some(n) if *n >= ceiling => false,
            Some(n) => {
                *n += 1;
                true
            }
            None => {
                if counts.len() < MAX_ADDRESSES {
                    counts.insert(id, 1);
                }
                true
            }
        }
    }

    /// Give back a place taken for a vote that was not counted.
    pub async fn give_back(&self, id: [u8; 16], day: &str) {
        let mut guard = self.0.lock().await;
        if guard.0 == day
            && let Some(n) = guard.1.get_mut(&id)
        {
            *n = n.saturating_sub(1);
        }
    }
}

// ---------- the poll cookie ----------

fn cookie_name(id: i64) -> String {
    format!("PollTimeout-{id}")
}

/// `<expiry>.<mac>`: says this browser voted in poll `id` until `expiry`.
fn voted_token(state: &AppState, id: i64, expires: i64) -> String {
    let mac = Hmac::<Sha256>::new_from_slice(&state.inner.keys.polls).map(|mut m| {
        m.update(&id.to_be_bytes());
        m.update(&expires.to_be_bytes());
        hex::encode(&m.finalize().into_bytes()[..16])
    });
    format!("{expires}.{}", mac.unwrap_or_default())
}

/// Whether the browser holds a valid, unexpired cookie for poll `id`. A forged or tampered
/// one is ignored.
fn cookie_says_voted(state: &AppState, headers: &HeaderMap, id: i64) -> bool {
    let name = cookie_name(id);
    let Some(value) = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|h| h.to_str().ok())
        .find_map(|h| read_cookie(h, &name))
    else {
        return false;
    };
    let Some(expires) = value.split('.').next().and_then(|e| e.parse::<i64>().ok()) else {
        return false;
    };
    crate::csrf::same(voted_token(state, id, expires).as_bytes(), value.as_bytes())
        && expires > state.now().unix_timestamp()
}

// ---------- views ----------

pub(crate) struct Bar {
    pub label: String,
    /// The count as shown: `None` when below the threshold.
    pub count: Option<u64>,
    pub percent: u64,
}

/// What the fragment shows: the form, the results, or a notice.
pub(crate) struct PollView {
    pub poll: Poll,
    phase: Phase,
    can_vote: bool,
    /// The poll counts one vote per account, and the visitor is not signed in.
    sign_in_to_vote: bool,
    results: Option<Vec<Bar>>,
    total: u64,
    threshold: u64,
    notice: Option<String>,
    csrf: String,
    return_to: String,
    error: Option<String>,
}

impl PollView {
    fn is_open(&self) -> bool {
        self.phase == Phase::Open
    }
    fn not_yet_open(&self) -> bool {
        self.phase == Phase::NotYetOpen
    }
}

#[derive(Template)]
#[template(path = "polls/fragment.html")]
pub(crate) struct Fragment<'a> {
    pub view: &'a PollView,
    /// The question's heading level: 1 on the poll's own page, 2 inside a content page or
    /// embedded elsewhere, 3 under "Past polls".
    pub level: u8,
}

async fn view_for(
    state: &AppState,
    visitor: &Visitor,
    headers: &HeaderMap,
    poll: Poll,
    csrf: String,
    return_to: String,
) -> Result<PollView, AppError> {
    let now = state.now();
    // In a poll counted per account, a signed-in visitor's account decides, not the cookie.
    let by_account = poll.voters == Voters::PerAccount && visitor.account.is_some();
    let voted = (!by_account && cookie_says_voted(state, headers, poll.id))
        || match &visitor.account {
            Some(a) => state.stores().polls.has_voted(poll.id, a.id).await?,
            None => false,
        };
    // The poll may come from the short-lived cache; counts that will be shown are read fresh.
    let poll = if poll.results_visible(now, voted) {
        state.stores().polls.poll(poll.id).await?.unwrap_or(poll)
    } else {
        poll
    };
    let phase = poll.phase(now);
    let threshold = state.inner.config.polls.suppress_below;
    let total = poll.total();
    let results = poll
        .results_visible(now, voted)
        .then(|| bars(&poll, threshold));
    let notice = match (phase, voted) {
        (Phase::NotYetOpen, _) => poll
            .opens_at
            .map(|t| format!("Voting opens on {}.", candour_core::uk_time::readable_uk(t))),
        (Phase::Closed, _) => Some("This poll has closed.".to_owned()),
        (Phase::Open, true) => Some("Thank you: your vote has been counted.".to_owned()),
        (Phase::Open, false) => None,
    };
    // A poll for account holders offers sign-in to everyone else.
    let sign_in_to_vote =
        phase == Phase::Open && poll.voters == Voters::PerAccount && visitor.account.is_none();
    Ok(PollView {
        can_vote: phase == Phase::Open && !voted && !sign_in_to_vote,
        sign_in_to_vote,
        phase,
        results,
        total,
        threshold,
        notice,
        csrf,
        return_to,
        error: None,
        poll,
    })
}

/// The fragment's HTML for embedding in a content page.
pub(crate) async fn fragment_html(
    state: &AppState,
    frame: &Frame,
    headers: &HeaderMap,
    id: i64,
) -> Result<Option<String>, AppError> {
    let Some(poll) = state
        .inner
        .poll_cache
        .get(state.stores().polls.as_ref(), id)
        .await?
    else {
        return Ok(None);
    };
    let view = view_for(
        state,
        &frame.visitor,
        headers,
        Poll::clone(&poll),
        frame.csrf.clone(),
        frame.path.clone(),
    )
    .await?;
    Ok(Some(
        Fragment {
            view: &view,
            level: 2,
        }
        .render()?,
    ))
}

#[derive(Template)]
#[template(path = "polls/list.html")]
struct ListPage {
    frame: Frame,
    open: Vec<Poll>,
    /// Closed polls whose results are public, newest first, with their results.
    past: Vec<PollView>,
}

async fn list(State(state): State<AppState>, frame: Frame) -> Result<Response, AppError> {
    if !state.inner.config.polls.enabled {
        return Err(AppError::NotFound);
    }
    let now = state.now();
    let threshold = state.inner.config.polls.suppress_below;
    let (open, closed): (Vec<Poll>, Vec<Poll>) = state
        .stores()
        .polls
        .polls()
        .await?
        .into_iter()
        .filter(|p| p.phase(now) != Phase::NotYetOpen)
        .partition(|p| p.phase(now) == Phase::Open);
    let mut past: Vec<PollView> = closed
        .into_iter()
        .filter(|p| p.results_visible(now, false))
        .map(|poll| PollView {
            phase: Phase::Closed,
            can_vote: false,
            sign_in_to_vote: false,
            results: Some(bars(&poll, threshold)),
            total: poll.total(),
            threshold,
            notice: None,
            csrf: String::new(),
            return_to: String::new(),
            error: None,
            poll,
        })
        .collect();
    past.sort_by_key(|v| std::cmp::Reverse(v.poll.closed_at.or(v.poll.closes_at)));
    Ok(no_store(render(&ListPage { frame, open, past })?))
}

#[derive(Template)]
#[template(path = "polls/show.html")]
struct ShowPage<'a> {
    frame: Frame,
    view: &'a PollView,
}

async fn load(state: &AppState, id: &str) -> Result<Poll, AppError> {
    if !state.inner.config.polls.enabled {
        return Err(AppError::NotFound);
    }
    let id: i64 = id.parse().map_err(|_| AppError::NotFound)?;
    let poll = state
        .inner
        .poll_cache
        .get(state.stores().polls.as_ref(), id)
        .await?
        .ok_or(AppError::NotFound)?;
    Ok(Poll::clone(&poll))
}

async fn show(
    State(state): State<AppState>,
    headers: HeaderMap,
    frame: Frame,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let poll = load(&state, &id).await?;
    let view = view_for(
        &state,
        &frame.visitor,
        &headers,
        poll,
        frame.csrf.clone(),
        frame.path.clone(),
    )
    .await?;
    Ok(no_store(render(&ShowPage { frame, view: &view })?))
}

/// The bare fragment, for pages that include it.
async fn embed(
    State(state): State<AppState>,
    headers: HeaderMap,
    frame: Frame,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let poll = load(&state, &id).await?;
    let return_to = format!("/polls/{}", poll.id);
    let view = view_for(
        &state,
        &frame.visitor,
        &headers,
        poll,
        frame.csrf.clone(),
        return_to,
    )
    .await?;
    Ok(no_store(Html(
        Fragment {
            view: &view,
            level: 2,
        }
        .render()?,
    )))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VoteForm {
    csrf: String,
    #[serde(default)]
    option: String,
    #[serde(default)]
    return_to: String,
}

/// The poll's page again, with the status and any change `edit` makes (an error, a notice).
async fn answer_again(
    state: &AppState,
    frame: Frame,
    headers: &HeaderMap,
    poll: Poll,
    back: String,
    status: StatusCode,
    edit: impl FnOnce(&mut PollView),
) -> Result<Response, AppError> {
    let mut view = view_for(
        state,
        &frame.visitor,
        headers,
        poll,
        frame.csrf.clone(),
        back,
    )
    .await?;
    edit(&mut view);
    Ok((status, no_store(render(&ShowPage { frame, view: &view })?)).into_response())
}

fn safe_return(target: &str, id: i64) -> String {
    if crate::edge::is_plain_local_path(target) {
        target.to_owned()
    } else {
        format!("/polls/{id}")
    }
}

async fn vote(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    uri: Uri,
    visitor: Visitor,
    Path(id): Path<String>,
    Form(form): Form<VoteForm>,
) -> Result<Response, AppError> {
    let poll = load(&state, &id).await?;
    state.check_form(&visitor, &form.csrf)?;
    // The page around an answer is built only when there is a page to show: a counted vote
    // is answered with a redirect.
    let frame = || Frame::for_request(&state, &uri, &headers, visitor.clone());
    let back = safe_return(&form.return_to, poll.id);
    let now = state.now();
    let phase = poll.phase(now);
    if phase != Phase::Open {
        return answer_again(
            &state,
            frame(),
            &headers,
            poll,
            back,
            StatusCode::CONFLICT,
            |_| {},
        )
        .await;
    }
    let option = form
        .option
        .parse::<i64>()
        .ok()
        .filter(|o| poll.option(*o).is_some());
    let Some(option) = option else {
        if form.option.is_empty() {
            return answer_again(
                &state,
                frame(),
                &headers,
                poll,
                back,
                StatusCode::UNPROCESSABLE_ENTITY,
                |view| {
                    view.error = Some("Select an answer".to_owned());
                },
            )
            .await;
        }
        return Err(AppError::Invalid(vec![FieldError {
            field: "option".to_owned(),
            message: "That answer is not one of this poll's options".to_owned(),
        }]));
    };
    // The cookie speaks for a browser; in a poll counted per account, the account decides
    // (two people may sign in on one library computer).
    let by_account = poll.voters == Voters::PerAccount && visitor.account.is_some();
    if !by_account && cookie_says_voted(&state, &headers, poll.id) {
        return answer_again(
            &state,
            frame(),
            &headers,
            poll,
            back,
            StatusCode::CONFLICT,
            |_| {},
        )
        .await;
    }
    let day = poll::vote_day(now);
    // The address's tally, for an anonymous vote in a poll open to anyone.
    let mut address = None;
    let (account, voter_hash) = match (&visitor.account, poll.voters) {
        (Some(a), _) => (Some(a.id), None),
        // A poll for account holders: the page offers sign-in instead of the form.
        (None, Voters::PerAccount) => {
            return answer_again(
                &state,
                frame(),
                &headers,
                poll,
                back,
                StatusCode::FORBIDDEN,
                |_| {},
            )
            .await;
        }
        // Anyone, once per browser: the cookie (checked above) tells a browser that voted;
        // a ceiling per internet address a day, not the address itself, stops ballot
        // stuffing, so people who share a connection each vote. Each vote gets a voter key of
        // its own, so the store never takes two people for one.
        (None, Voters::PerBrowser) => {
            let ip = limits::client_key(&state, peer, &headers);
            let ceiling = state.inner.config.polls.votes_per_address;
            let tally = AddressVotes::key(&state.inner.keys.polls, poll.id, &ip);
            address = Some(tally);
            if !state.inner.address_votes.take(tally, &day, ceiling).await {
                return answer_again(
                    &state,
                    frame(),
                    &headers,
                    poll,
                    back,
                    StatusCode::TOO_MANY_REQUESTS,
                    |view| {
                        view.notice = Some(
                            "So many votes have come from your internet connection today that \
                             no more can be counted from it until tomorrow."
                                .to_owned(),
                        );
                    },
                )
                .await;
            }
            // Two votes from one browser on one connection within moments of each other are
            // one person pressing twice: they share a voter key, which the store keeps unique.
            let salt = state
                .inner
                .day_salt
                .get(state.stores().polls.as_ref(), &day)
                .await?;
            let agent = headers
                .get(header::USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            let mut m = Hmac::<Sha256>::new_from_slice(&salt)
                .map_err(|e| AppError::Internal(Box::new(e)))?;
            m.update(&poll.id.to_be_bytes());
            m.update(ip.as_bytes());
            m.update(b"\0");
            m.update(agent.as_bytes());
            m.update(b"\0");
            m.update(&(now.unix_timestamp() / poll::REPEAT_WINDOW_SECONDS).to_be_bytes());
            (None, Some(m.finalize().into_bytes().into()))
        }
    };
    let outcome = state
        .inner
        .votes
        .submit(NewVote {
            poll: poll.id,
            option,
            account,
            voter_hash,
            day: day.clone(),
            at: now,
        })
        .await?;
    if outcome != VoteOutcome::Counted
        && let Some(tally) = address
    {
        state.inner.address_votes.give_back(tally, &day).await;
    }
    match outcome {
        VoteOutcome::Counted => {
            let hours = i64::from(state.inner.config.polls.cookie_hours);
            let expires = (now + time::Duration::hours(hours)).unix_timestamp();
            let cookie = cookie_jar::set_member(
                &state,
                CookieId::PollTimeout,
                poll.id,
                &voted_token(&state, poll.id, expires),
            )?;
            Ok((cookie, Redirect::to(&format!("{back}#poll-{}", poll.id))).into_response())
        }
        VoteOutcome::Duplicate => {
            let notice = match account {
                Some(_) => "You have already voted in this poll.".to_owned(),
                None => "A vote from this browser on this internet connection was counted \
                         moments ago. If that was someone else, please try again in a minute."
                    .to_owned(),
            };
            answer_again(
                &state,
                frame(),
                &headers,
                poll,
                back,
                StatusCode::CONFLICT,
                |view| {
                    view.can_vote = false;
                    view.notice = Some(notice);
                    view.results = view
                        .poll
                        .results_visible(now, true)
                        .then(|| bars(&view.poll, view.threshold));
                },
            )
            .await
        }
        VoteOutcome::Refused => {
            answer_again(
                &state,
                frame(),
                &headers,
                poll,
                back,
                StatusCode::CONFLICT,
                |_| {},
            )
            .await
        }
    }
}

/// The results chart's rows; staff pages pass a threshold of zero.
pub(crate) fn bars(poll: &Poll, threshold: u64) -> Vec<Bar> {
    let total = poll.total();
    poll.options
        .iter()
        .map(|o| Bar {
            label: o.label.clone(),
            count: poll::shown_count(o.votes, threshold),
            percent: (o.votes * 100).checked_div(total).unwrap_or(0),
        })
        .collect()
}

impl Bar {
    /// The bar's width in the 200-unit chart.
    pub fn width(&self) -> u64 {
        self.percent * 2
    }
}
