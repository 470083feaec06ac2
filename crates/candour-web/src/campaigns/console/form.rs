//! The campaign form: its fields, reading a submission into a draft, and back.

use candour_core::campaign::{CampaignDraft, FollowUp, parse_postcode_area};

use crate::AppState;
use crate::kit::form::{FormData, FormState};

use super::marketing_purposes;

pub(super) const FIELDS: &[&str] = &[
    "csrf",
    "name",
    "subject",
    "preheader",
    "body",
    "purpose",
    "interests",
    "postcode_areas",
    "follow_up_of",
    "follow_up_days",
];
const KEPT: &[&str] = &[
    "name",
    "subject",
    "preheader",
    "body",
    "purpose",
    "postcode_areas",
    "follow_up_of",
    "follow_up_days",
];

/// The label each field's errors follow, as in "Subject is required".
pub(super) fn label(field: &str) -> &'static str {
    match field {
        "name" => "Name",
        "subject" => "Subject",
        "preheader" => "Preview text",
        "body" => "Message",
        "purpose" => "Purpose",
        "interests" => "Interests",
        "postcode_areas" => "Postcode areas",
        "follow_up_days" => "Days to click",
        _ => "This field",
    }
}

pub(super) fn parse(state: &AppState, data: &FormData) -> Result<CampaignDraft, FormState> {
    let mut form = FormState::from_data(data, KEPT);
    let interests: Vec<String> = data
        .all("interests")
        .into_iter()
        .map(str::to_owned)
        .collect();
    for i in &interests {
        form = form.with_value(&format!("interest-{i}"), "on");
    }
    let mut areas = Vec::new();
    for raw in data
        .get("postcode_areas")
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|s| !s.is_empty())
    {
        match parse_postcode_area(raw) {
            Some(a) => areas.push(a),
            None => {
                form.add_error(
                    "postcode_areas",
                    "Enter postcode areas or districts, such as NM or NM1, separated by spaces or commas",
                );
                break;
            }
        }
    }
    let follow_up = if data.get("follow_up_of").is_empty() {
        None
    } else {
        let campaign = data.get("follow_up_of").parse::<i64>().ok();
        let days = data.get("follow_up_days").trim().parse::<u32>().ok();
        match (campaign, days) {
            (Some(campaign), Some(days)) => Some(FollowUp { campaign, days }),
            (None, _) => {
                form.add_error("follow_up_days", "The campaign to follow up is not valid");
                None
            }
            (_, None) => {
                form.add_error(
                    "follow_up_days",
                    "Enter the number of days as a whole number, such as 3",
                );
                None
            }
        }
    };
    let draft = CampaignDraft {
        name: data.get("name").trim().to_owned(),
        subject: data.get("subject").trim().to_owned(),
        preheader: data.get("preheader").trim().to_owned(),
        body: data.get("body").replace("\r\n", "\n"),
        purpose: data.get("purpose").to_owned(),
        interests,
        postcode_areas: areas,
        follow_up,
    };
    let purposes = marketing_purposes(state);
    let ids: Vec<&str> = purposes.iter().map(|p| p.id.as_str()).collect();
    let topics: Vec<&str> = state
        .config()
        .topics
        .iter()
        .map(|t| t.id.as_str())
        .collect();
    match draft.check(&ids, &topics) {
        Ok(_) if !form.has_errors() => Ok(draft),
        Ok(_) => Err(form),
        Err(errors) => {
            for e in errors {
                if form.error(&e.field).is_none() {
                    form.add_error(&e.field, format!("{} {}", label(&e.field), e.problem));
                }
            }
            Err(form)
        }
    }
}

pub(super) fn form_for(c: &CampaignDraft) -> FormState {
    let mut form = FormState::new()
        .with_value("name", &c.name)
        .with_value("subject", &c.subject)
        .with_value("preheader", &c.preheader)
        .with_value("body", &c.body)
        .with_value("purpose", &c.purpose)
        .with_value("postcode_areas", &c.postcode_areas.join(" "));
    for i in &c.interests {
        form = form.with_value(&format!("interest-{i}"), "on");
    }
    if let Some(f) = c.follow_up {
        form = form
            .with_value("follow_up_of", &f.campaign.to_string())
            .with_value("follow_up_days", &f.days.to_string());
    }
    form
}
