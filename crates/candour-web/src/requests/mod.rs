//! Requests people make about their own data: the front door (`public.rs`: the request
//! form, the emailed confirmation, the status page) and the privacy officer's queue
//! (`console.rs`: cases by due date, each case's steps, assignment and notes).
//!
//! The statutory clock is `candour_core::requests`; this room only shows it and records
//! the steps staff take.

pub(crate) mod actions;
pub(crate) mod answer_download;
mod answer_panel;
pub mod bundle;
pub(crate) mod console;
mod digest;
pub(crate) mod download;
pub(crate) mod items;
pub(crate) mod public;
pub(crate) mod release;
mod reports;
pub(crate) mod templates;

use axum::Router;
use candour_core::requests::{BankHolidays, Case, Due, deadline};
use candour_core::signer::Purpose;
use candour_core::uk_time;
use time::Date;

use crate::AppState;

/// Every route of the room; absent when `[requests] enabled = false`.
pub(crate) fn routes() -> Router<AppState> {
    public::routes()
        .merge(console::routes())
        .merge(download::routes())
        .merge(release::routes())
        .merge(answer_download::routes())
        .merge(actions::routes())
        .merge(items::routes())
        .merge(templates::routes())
        .merge(reports::routes())
}

/// The sentence every refusal carries: the right to complain to the regulator.
pub(crate) const ICO_COMPLAINT: &str = "If you are unhappy with how we have handled your \
    request, you can complain to the Information Commissioner's Office: \
    ico.org.uk/make-a-complaint, or 0303 123 1113.";

/// A size in bytes as the console shows it: "512 bytes", "1.5 KB", "2.0 MB".
pub(crate) fn size_words(bytes: i64) -> String {
    match bytes {
        b if b < 1024 => format!("{b} bytes"),
        b if b < 1024 * 1024 => format!("{:.1} KB", b as f64 / 1024.0),
        b => format!("{:.1} MB", b as f64 / (1024.0 * 1024.0)),
    }
}

/// Today on UK clocks: the day a step is recorded on.
pub(crate) fn today(state: &AppState) -> Date {
    uk_time::uk_local(state.now()).date()
}

pub(crate) fn holidays(state: &AppState) -> &BankHolidays {
    &state.inner.holidays
}

/// The link to a request's status page. It carries the request's number signed for this
/// purpose alone, so a person can follow their request without an account, and a changed
/// number is refused.
pub(crate) fn status_link(state: &AppState, id: i64) -> String {
    let token = state
        .inner
        .signer
        .sign(Purpose::RequestStatus, &id.to_string(), None);
    format!("{}/requests/status?token={token}", state.link_base())
}

/// The request a status link names, if the link is genuine.
pub(crate) fn status_token_id(state: &AppState, token: &str) -> Option<i64> {
    state
        .inner
        .signer
        .verify(Purpose::RequestStatus, token, state.now())
        .ok()
        .and_then(|body| body.parse().ok())
}

/// A case's clock, as the queue and the pages show it.
pub(crate) struct Clock {
    /// "Due 4 January 2027", "Waiting for proof of identity", …
    pub words: String,
    /// Calendar days left; negative once overdue; `None` while it waits on the person.
    pub days_left: Option<i64>,
    /// The due date, for sorting.
    pub due: Option<Date>,
}

impl Clock {
    pub fn of(case: &Case, state: &AppState) -> Clock {
        let today = today(state);
        match case.timeline.due(holidays(state)) {
            Due::By { date, extended } => {
                let left = deadline::days_left(today, date);
                let extended = if extended { " (extended)" } else { "" };
                // A closed case says when it was closed against its due date.
                let closed = case
                    .closed_at
                    .filter(|_| !case.status.is_open())
                    .map(|at| {
                        let on = uk_time::uk_local(at).date();
                        let late = (on - date).whole_days();
                        let how = if case.status == candour_core::requests::Status::Refused {
                            "refused"
                        } else {
                            "answered"
                        };
                        let timing = match late {
                            ..=0 => "in time".to_owned(),
                            1 => "1 day late".to_owned(),
                            n => format!("{n} days late"),
                        };
                        format!("; {how} on {} ({timing})", uk_date(on))
                    })
                    .unwrap_or_default();
                Clock {
                    words: format!("Due {}{extended}{closed}", uk_date(date)),
                    days_left: case.status.is_open().then_some(left),
                    due: Some(date),
                }
            }
            Due::AwaitingIdentity => Clock {
                words: "Waiting for proof of identity: the month starts when it arrives".into(),
                days_left: None,
                due: None,
            },
            Due::Paused { days_left } => Clock {
                words: format!(
                    "Waiting for the person to clarify: {days_left} days will be left when they do"
                ),
                days_left: None,
                due: None,
            },
        }
    }

    /// Plain words for the days left.
    pub fn left(&self) -> String {
        match self.days_left {
            None => "Waiting".into(),
            Some(0) => "Due today".into(),
            Some(1) => "1 day".into(),
            Some(n) if n > 0 => format!("{n} days"),
            Some(-1) => "1 day overdue".into(),
            Some(n) => format!("{} days overdue", -n),
        }
    }

    pub fn overdue(&self) -> bool {
        self.days_left.is_some_and(|n| n < 0)
    }
}

/// A UK date in the GOV.UK style: "4 January 2027".
pub(crate) fn uk_date(date: Date) -> String {
    uk_time::uk_date(uk_time::uk_start_of_day(date))
}
