//! The preference centre: a person sees every purpose they can consent to, gives or
//! withdraws each with one click, objects to direct marketing by a channel, chooses their
//! interests, and reads the history of their consents. Every change is a ledger event.
//!
//! Who the person is: their account when signed in, or, without an account, a single-use
//! link emailed to them. Using the link opens a short visit, kept in a signed cookie that
//! names their record and when the visit ends.

mod changes;
mod link;
mod visit;

use askama::Template;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::{get, post};
use candour_core::people::ConsentEvent;
use candour_core::purposes::{Channel, Purpose};

use crate::AppState;
use crate::kit::error::AppError;
use crate::kit::form::{DoneQuery, FormState};
use crate::kit::frame::{Frame, render};
use crate::kit::respond::no_store;
use changes::{change_consent, object, save_interests};
use link::{confirm, confirm_page, leave, open, open_page, request_link};
use visit::{Who, who};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/preferences", get(centre))
        .route("/preferences/link", post(request_link))
        .route("/preferences/open", get(open_page).post(open))
        .route("/preferences/confirm", get(confirm_page).post(confirm))
        .route("/preferences/consent", post(change_consent))
        .route("/preferences/object", post(object))
        .route("/preferences/interests", post(save_interests))
        .route("/preferences/leave", post(leave))
}

// ---------- the page ----------

/// One consent a person can give, and where it stands.
struct Row {
    purpose: String,
    channel: Option<Channel>,
    wording: String,
    granted: bool,
    since: Option<String>,
}

struct PurposeView {
    purpose: Purpose,
    rows: Vec<Row>,
}

struct HistoryRow {
    at: String,
    what: String,
    granted: bool,
    how: String,
}

/// A channel a person can object to direct marketing on.
struct ObjectionView {
    channel: Channel,
    objected: bool,
}

#[derive(Template)]
#[template(path = "preferences/centre.html")]
struct CentrePage {
    frame: Frame,
    email: String,
    signed_in: bool,
    purposes: Vec<PurposeView>,
    objections: Vec<ObjectionView>,
    topics: Vec<(String, String, bool)>,
    history: Vec<HistoryRow>,
    notice: Option<&'static str>,
}

#[derive(Template)]
#[template(path = "preferences/ask.html")]
pub(super) struct AskPage {
    frame: Frame,
    form: FormState,
    sent: bool,
    hours: u32,
}

fn date(t: time::OffsetDateTime) -> String {
    candour_core::uk_time::readable_uk(t)
}

fn describe(purposes: &[Purpose], e: &ConsentEvent) -> String {
    let name = purposes
        .iter()
        .find(|p| p.id == e.purpose)
        .map_or(e.purpose.as_str(), |p| p.name.as_str());
    match e.channel {
        Some(c) => format!("{name}, by {}", c.label()),
        None => name.to_owned(),
    }
}

pub(super) async fn centre(
    State(state): State<AppState>,
    frame: Frame,
    headers: HeaderMap,
    Query(q): Query<DoneQuery>,
) -> Result<Response, AppError> {
    let who = who(&state, &frame, &headers).await?;
    let email = match &who {
        Who::Account { email, .. } => email.clone(),
        Who::Visit(p) => p.email.clone(),
        Who::Nobody => {
            let page = AskPage {
                frame,
                form: FormState::new(),
                sent: false,
                hours: state.config().people.preference_link_hours,
            };
            return Ok(no_store(render(&page)?));
        }
    };
    let ledger = &state.stores().ledger;
    let (events, suppressed) = match who.person() {
        Some(p) => (
            ledger.consent_events(p.id).await?,
            ledger.suppressed_channels(&p.email).await?,
        ),
        None => (Vec::new(), ledger.suppressed_channels(&email).await?),
    };
    let purposes = state.purposes();
    let standings = candour_core::people::standings(purposes, &events);
    let views = purposes
        .iter()
        .filter(|p| p.is_consented())
        .map(|p| PurposeView {
            rows: standings
                .iter()
                .filter(|st| st.purpose.id == p.id)
                .map(|st| Row {
                    purpose: p.id.clone(),
                    channel: st.channel,
                    wording: st.wording.clone(),
                    granted: st.granted(),
                    since: st.last.map(|e| date(e.at)),
                })
                .collect(),
            purpose: p.clone(),
        })
        .collect();
    let channels = candour_core::purposes::marketing_channels(purposes);
    let objections = channels
        .into_iter()
        .map(|channel| ObjectionView {
            channel,
            objected: suppressed.contains(&channel),
        })
        .collect();
    let interests = who
        .person()
        .map(|p| p.details.interests.clone())
        .unwrap_or_default();
    let topics = state
        .config()
        .topics
        .iter()
        .map(|t| (t.id.clone(), t.label.clone(), interests.contains(&t.id)))
        .collect();
    let mut history: Vec<HistoryRow> = events
        .iter()
        .map(|e| HistoryRow {
            at: date(e.at),
            what: describe(purposes, e),
            granted: e.granted,
            how: e.method.describe(),
        })
        .collect();
    history.reverse();
    let notice = match q.done.as_str() {
        "granted" => Some("Thank you: your consent has been recorded."),
        "withdrawn" => Some("Your consent has been withdrawn. It takes effect at once."),
        "objected" => Some("We will not contact you for marketing that way again."),
        "interests" => Some("Your interests have been saved."),
        _ => None,
    };
    let page = CentrePage {
        signed_in: matches!(who, Who::Account { .. }),
        email: email.as_str().to_owned(),
        frame,
        purposes: views,
        objections,
        topics,
        history,
        notice,
    };
    Ok(no_store(render(&page)?))
}
