//! The console's list of campaigns.

use askama::Template;
use axum::extract::{Query, State};
use axum::response::Response;
use candour_core::account::Permission;
use candour_core::campaign::{Campaign, CampaignState, Progress};

use crate::AppState;
use crate::kit::auth::Staff;
use crate::kit::error::AppError;
use crate::kit::form::DoneQuery;
use crate::kit::frame::{Frame, render};
use crate::kit::nav::Section;
use crate::kit::respond::no_store;

use super::state_label;

#[derive(Template)]
#[template(path = "admin/campaigns.html")]
struct ListPage {
    frame: Frame,
    sections: Vec<&'static Section>,
    campaigns: Vec<(Campaign, &'static str, Progress)>,
    notice: Option<&'static str>,
}

pub(super) async fn list(
    State(state): State<AppState>,
    staff: Staff,
    frame: Frame,
    Query(q): Query<DoneQuery>,
) -> Result<Response, AppError> {
    staff.require(Permission::ManageCampaigns)?;
    let store = &state.stores().campaigns;
    let now = state.now();
    let mut campaigns = Vec::new();
    for c in store.campaigns().await? {
        let progress = match c.state {
            CampaignState::Sending | CampaignState::Sent => store.progress(c.id, now).await?,
            _ => Progress::default(),
        };
        let label = state_label(c.state);
        campaigns.push((c, label, progress));
    }
    let notice = match q.done.as_str() {
        "deleted" => Some("The campaign has been deleted."),
        _ => None,
    };
    Ok(no_store(render(&ListPage {
        frame,
        sections: staff.sections.clone(),
        campaigns,
        notice,
    })?))
}
