//! Polls for the public: the list, a poll's page, the fragment that content pages embed, and
//! voting, with one vote per person (the `PollTimeout-<id>` cookie for the browser, and the
//! server's own de-duplication, which a cleared cookie does not get round).

use std::net::SocketAddr;

use askama::Template;
use axum::Form;
use axum::Router;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use candour_core::cookies::CookieId;
use candour_core::fields::FieldErrors;
use candour_core::poll::{self, Phase, Poll, Voters};
use candour_core::poll::{NewVote, VoteOutcome};
use serde::Deserialize;

use crate::AppState;
use crate::kit::auth::Visitor;
use crate::kit::cookie_jar;
use crate::kit::error::AppError;
use crate::kit::frame::{Frame, render};
use crate::kit::limits;
use crate::kit::respond::no_store;

use super::cookie::{cookie_says_voted, voted_token};
use super::memory::AddressVotes;
use super::voter::voter_key;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/polls", get(list))
        .route("/polls/{id}", get(show))
        .route("/polls/{id}/embed", get(embed))
        .route("/polls/{id}/vote", post(vote))
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
            Some(a) => state.stores().votes.has_voted(poll.id, a.id).await?,
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
    share: Option<crate::kit::share::ShareLinks>,
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
    let share = if state.inner.config.share.polls {
        crate::kit::share::links_for(
            &state,
            &format!("/polls/{}", view.poll.id),
            &view.poll.question,
        )
    } else {
        None
    };
    Ok(no_store(render(&ShowPage {
        frame,
        view: &view,
        share,
    })?))
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
    let page = ShowPage {
        frame,
        view: &view,
        share: None,
    };
    Ok((status, no_store(render(&page)?)).into_response())
}

fn safe_return(target: &str, id: i64) -> String {
    if crate::kit::respond::is_plain_local_path(target) {
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
        return Err(AppError::Invalid(FieldErrors::one(
            "option",
            "That answer is not one of this poll's options",
        )));
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
            let tally = AddressVotes::key(&state.inner.signer, poll.id, &ip);
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
            let day_key = state
                .inner
                .day_salt
                .get(state.stores().votes.as_ref(), &day)
                .await?;
            let agent = headers
                .get(header::USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            (None, Some(voter_key(&day_key, poll.id, &ip, agent, now)))
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
            crate::stats::count::count_event(
                &state,
                &headers,
                peer,
                &format!("/polls/{}", poll.id),
                "Poll vote",
            );
            let hours = i64::from(state.inner.config.polls.cookie_hours);
            let expires = now + time::Duration::hours(hours);
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
