//! The consent banner and the cookie settings page. Every choice is recorded as a receipt
//! before the cookie that carries it is set.

use askama::Template;
use axum::Form;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use candour_core::consent::{Choice, Method, Receipt, State as ConsentState};
use candour_core::cookies::Category;
use candour_core::fields::FieldErrors;
use candour_core::media::Provider;
use candour_core::policy::CategoryFacts;
use serde::Deserialize;

use crate::AppState;
use crate::kit::auth::Visitor;
use crate::kit::choice::{record, safe_return};
use crate::kit::edge::wants_json;
use crate::kit::error::AppError;
use crate::kit::frame::{Frame, SAVED_PARAM, render, sends_gpc};
use crate::kit::respond::no_store;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct BannerForm {
    csrf: String,
    choice: BannerChoice,
    #[serde(default)]
    return_to: String,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "lowercase")]
enum BannerChoice {
    Accept,
    Reject,
}

/// The banner's Accept or Reject. Without JavaScript the visitor is sent back to the page
/// they were on, which then confirms the choice; with it, the answer is JSON.
pub(crate) async fn banner_choice(
    State(state): State<AppState>,
    visitor: Visitor,
    headers: HeaderMap,
    Form(form): Form<BannerForm>,
) -> Result<Response, AppError> {
    state.check_form(&visitor, &form.csrf)?;
    let choice = match form.choice {
        BannerChoice::Accept => Choice::ALL,
        BannerChoice::Reject => Choice::NONE,
    };
    let (receipt, cookie) = record(&state, &headers, choice, Method::Banner).await?;
    if wants_json(&headers) {
        let body = serde_json::json!({
            "receipt": receipt.id,
            "granted": choice.granted(),
            "policy_version": receipt.policy_version,
        });
        return Ok((cookie, axum::Json(body)).into_response());
    }
    let back = with_saved_flag(safe_return(&form.return_to));
    Ok((cookie, Redirect::to(&back)).into_response())
}

fn with_saved_flag(path: &str) -> String {
    // A fragment would hide the flag from the server; the page is shown from its top.
    let path = path.split_once('#').map_or(path, |(p, _)| p);
    let sep = if path.contains('?') { '&' } else { '?' };
    format!("{path}{sep}{SAVED_PARAM}=saved")
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
enum YesNo {
    Yes,
    No,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SettingsForm {
    csrf: String,
    preferences: Option<YesNo>,
    statistics: Option<YesNo>,
    marketing: Option<YesNo>,
    always_youtube: Option<YesNo>,
    always_vimeo: Option<YesNo>,
    always_flickr: Option<YesNo>,
    always_slideshare: Option<YesNo>,
}

impl SettingsForm {
    /// An unanswered provider is "No": its radios start on the visitor's current choice.
    fn always(&self, p: Provider) -> bool {
        let answer = match p {
            Provider::YouTube => self.always_youtube,
            Provider::Vimeo => self.always_vimeo,
            Provider::Flickr => self.always_flickr,
            Provider::SlideShare => self.always_slideshare,
        };
        answer == Some(YesNo::Yes)
    }
}

/// "Always load … from <provider>" on the settings page, for each provider pages embed.
struct ProviderRow {
    provider: Provider,
    always: bool,
}

struct CategoryRow<'a> {
    facts: &'a CategoryFacts,
    scripts: usize,
    allowed: bool,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "cookies.html")]
struct SettingsPage<'a> {
    frame: Frame,
    categories: Vec<CategoryRow<'a>>,
    necessary: &'a CategoryFacts,
    receipt: Option<Receipt>,
    gpc: bool,
    errors: FieldErrors,
    providers: Vec<ProviderRow>,
    media: Option<&'a CategoryFacts>,
}

fn provider_rows(state: &AppState, choice: Choice) -> Vec<ProviderRow> {
    state
        .inner
        .cookies
        .media_providers()
        .iter()
        .map(|&provider| ProviderRow {
            provider,
            always: choice.loads_always(provider),
        })
        .collect()
}

fn media_facts(state: &AppState) -> Option<&CategoryFacts> {
    state
        .inner
        .policy
        .cookie_categories
        .iter()
        .find(|c| c.category == Category::Media && !c.cookies.is_empty())
}

impl SettingsPage<'_> {
    fn saved(&self) -> bool {
        self.frame.confirmation.is_some()
    }
}

/// The optional categories the visitor is asked about: those with a cookie or a script.
fn optional_categories(state: &AppState) -> impl Iterator<Item = (&CategoryFacts, usize)> {
    state
        .inner
        .policy
        .cookie_categories
        .iter()
        .filter(|c| c.needs_consent && c.category != Category::Media)
        .map(|c| {
            let scripts = state
                .inner
                .config
                .scripts
                .iter()
                .filter(|s| s.category == c.category)
                .count();
            (c, scripts)
        })
        .filter(|(c, scripts)| !c.cookies.is_empty() || *scripts > 0)
}

fn necessary(state: &AppState) -> &CategoryFacts {
    let all = &state.inner.policy.cookie_categories;
    all.iter()
        .find(|c| c.category == Category::Necessary)
        .unwrap_or(&all[0])
}

pub(crate) async fn settings_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    frame: Frame,
) -> Result<Response, AppError> {
    let receipt = match &frame.consent {
        ConsentState::Decided { receipt, .. } => {
            state.stores().consent.find_receipt(receipt).await?
        }
        _ => None,
    };
    let effective = frame.consent.effective();
    let page = SettingsPage {
        categories: optional_categories(&state)
            .map(|(facts, scripts)| CategoryRow {
                facts,
                scripts,
                allowed: effective.allows(facts.category),
                error: None,
            })
            .collect(),
        necessary: necessary(&state),
        receipt,
        gpc: sends_gpc(&headers),
        errors: FieldErrors::new(),
        providers: provider_rows(&state, effective),
        media: media_facts(&state),
        frame,
    };
    Ok(no_store(render(&page)?))
}

/// The settings form: one Yes/No per category in use. A missing answer is an error, shown
/// beside the question, and nothing is saved.
pub(crate) async fn save_settings(
    State(state): State<AppState>,
    headers: HeaderMap,
    frame: Frame,
    Form(form): Form<SettingsForm>,
) -> Result<Response, AppError> {
    state.check_form(&frame.visitor, &form.csrf)?;
    let answer = |c: Category| match c {
        Category::Preferences => form.preferences,
        Category::Statistics => form.statistics,
        Category::Marketing => form.marketing,
        Category::Necessary | Category::Media => Some(YesNo::Yes),
    };
    let mut choice = Choice::NONE;
    let mut rows = Vec::new();
    let mut errors = FieldErrors::new();
    for (facts, scripts) in optional_categories(&state) {
        let a = answer(facts.category);
        let error = a.is_none().then(|| {
            format!(
                "Select whether you accept {} cookies",
                facts.category.label()
            )
        });
        if let Some(message) = &error {
            errors.add(facts.category.slug(), message.clone());
        }
        choice = choice.with(facts.category, a == Some(YesNo::Yes));
        rows.push(CategoryRow {
            facts,
            scripts,
            allowed: a == Some(YesNo::Yes),
            error,
        });
    }
    for p in state.inner.cookies.media_providers() {
        choice = choice.with_always(*p, form.always(*p));
    }
    if !errors.is_empty() {
        let page = SettingsPage {
            categories: rows,
            necessary: necessary(&state),
            receipt: None,
            gpc: sends_gpc(&headers),
            errors,
            providers: provider_rows(&state, choice),
            media: media_facts(&state),
            frame,
        };
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, no_store(render(&page)?)).into_response());
    }
    let (_, cookie) = record(&state, &headers, choice, Method::Settings).await?;
    Ok((cookie, Redirect::to(&with_saved_flag("/cookies"))).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_saved_flag_joins_any_query() {
        assert_eq!(with_saved_flag("/"), "/?cookies=saved");
        assert_eq!(with_saved_flag("/a?b=1"), "/a?b=1&cookies=saved");
        assert_eq!(with_saved_flag("/a#top"), "/a?cookies=saved");
    }
}
