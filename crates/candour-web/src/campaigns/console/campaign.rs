//! One campaign's page in the console: its state, figures, chart and links.

use askama::Template;
use candour_core::campaign::Placeholder;
use candour_core::campaign::{Campaign, CampaignReport, CampaignState, Engagement, Progress};
use candour_core::uk_time::uk_local;
use time::macros::format_description;

use crate::AppState;
use crate::kit::auth::Staff;
use crate::kit::error::AppError;
use crate::kit::form::FormState;
use crate::kit::frame::Frame;
use crate::kit::nav::Section;

use super::{can_send, marketing_purposes, state_label, when};

/// A link and its clicks, for the report.
struct LinkRow {
    url: String,
    clicks: Engagement,
}

/// One bar of the chart.
struct Bar {
    label: String,
    opens: u64,
    clicks: u64,
    x: usize,
    opens_height: u64,
    clicks_height: u64,
}

#[derive(Template)]
#[template(path = "admin/campaign.html")]
pub(super) struct CampaignPage {
    frame: Frame,
    sections: Vec<&'static Section>,
    /// `None` while creating one.
    campaign: Option<Campaign>,
    status: &'static str,
    form: FormState,
    purposes: Vec<(String, String)>,
    topics: Vec<(String, String)>,
    placeholders: String,
    /// People the draft would go to now.
    audience: Option<u64>,
    can_send: bool,
    notice: Option<String>,
    progress: Progress,
    report: Option<CampaignReport>,
    links: Vec<LinkRow>,
    bars: Vec<Bar>,
    chart_width: usize,
    scheduled: String,
    started: String,
    finished: String,
    /// (title, id) of the campaign a follow-up follows.
    follows: Option<(String, i64)>,
    staff_email: String,
    /// The fingerprint of the version shown, sent back when scheduling.
    content: String,
}

impl CampaignPage {
    fn machine_open_seconds(&self) -> i64 {
        candour_core::campaign::MACHINE_OPEN_SECONDS
    }

    fn bot_click_seconds(&self) -> i64 {
        candour_core::campaign::BOT_CLICK_SECONDS
    }

    fn is_draft(&self) -> bool {
        self.campaign
            .as_ref()
            .is_none_or(|c| c.state == CampaignState::Draft)
    }

    fn is_state(&self, s: &str) -> bool {
        self.campaign
            .as_ref()
            .is_some_and(|c| c.state.as_str() == s)
    }

    fn interest_checked(&self, id: &str) -> bool {
        self.form.value(&format!("interest-{id}")) == "on"
    }

    fn percent(&self, part: &u64, whole: &u64) -> String {
        percent(*part, *whole)
    }
}

fn percent(part: u64, whole: u64) -> String {
    if whole == 0 {
        "–".to_owned()
    } else {
        format!("{:.1}%", part as f64 * 100.0 / whole as f64)
    }
}

const CHART_HEIGHT: u64 = 120;
const BAR_WIDTH: usize = 14;

fn chart(report: &CampaignReport) -> Vec<Bar> {
    let hourly: Vec<_> = report.hourly.iter().rev().take(48).rev().collect();
    let top = hourly
        .iter()
        .map(|(_, o, c)| (*o).max(*c))
        .max()
        .unwrap_or(0)
        .max(1);
    let fmt = format_description!("[day] [month repr:short] [hour]:00");
    hourly
        .iter()
        .enumerate()
        .map(|(i, (at, o, c))| Bar {
            label: uk_local(*at).format(fmt).unwrap_or_default(),
            opens: *o,
            clicks: *c,
            x: i * (2 * BAR_WIDTH + 6),
            opens_height: o * CHART_HEIGHT / top,
            clicks_height: c * CHART_HEIGHT / top,
        })
        .collect()
}

pub(super) async fn page(
    state: &AppState,
    staff: &Staff,
    frame: Frame,
    campaign: Option<Campaign>,
    form: FormState,
    notice: Option<String>,
) -> Result<CampaignPage, AppError> {
    let store = &state.stores().campaigns;
    let now = state.now();
    let purposes = marketing_purposes(state)
        .into_iter()
        .map(|p| (p.id.clone(), p.name.clone()))
        .collect();
    let topics = state
        .config()
        .topics
        .iter()
        .map(|t| (t.id.clone(), t.label.clone()))
        .collect();
    let mut audience = None;
    let mut progress = Progress::default();
    let mut report = None;
    let mut links = Vec::new();
    let mut follows = None;
    if let Some(c) = &campaign {
        match c.state {
            CampaignState::Draft | CampaignState::Scheduled => {
                audience = Some(store.count_audience(&c.draft, now).await?);
            }
            CampaignState::Sending | CampaignState::Sent => {
                let r = store.report(c.id, now).await?;
                progress = r.progress;
                links = c
                    .links
                    .iter()
                    .zip(r.links.iter())
                    .map(|(url, clicks)| LinkRow {
                        url: url.clone(),
                        clicks: *clicks,
                    })
                    .collect();
                report = Some(r);
            }
        }
        if let Some(f) = c.draft.follow_up
            && let Some(of) = store.campaign(f.campaign).await?
        {
            follows = Some((of.draft.name, of.id));
        }
    }
    let bars = report.as_ref().map(chart).unwrap_or_default();
    let campaign_fingerprint = campaign
        .as_ref()
        .map(|c| c.draft.fingerprint())
        .unwrap_or_default();
    let chart_width = bars.len().max(1) * (2 * BAR_WIDTH + 6);
    Ok(CampaignPage {
        frame,
        sections: staff.sections.clone(),
        status: campaign.as_ref().map_or("", |c| state_label(c.state)),
        scheduled: when(campaign.as_ref().and_then(|c| c.scheduled_at)),
        started: when(campaign.as_ref().and_then(|c| c.started_at)),
        finished: when(campaign.as_ref().and_then(|c| c.finished_at)),
        campaign,
        form,
        purposes,
        topics,
        placeholders: Placeholder::list(),
        audience,
        can_send: can_send(state, staff),
        notice,
        progress,
        report,
        links,
        bars,
        chart_width,
        follows,
        staff_email: staff.account.email.as_str().to_owned(),
        content: campaign_fingerprint,
    })
}
