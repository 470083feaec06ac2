//! Finding a person in the console.

use askama::Template;
use axum::extract::{Query, State};
use axum::response::Response;
use candour_core::account::Permission;
use candour_core::people::Person;
use serde::Deserialize;

use crate::AppState;
use crate::kit::auth::Staff;
use crate::kit::error::AppError;
use crate::kit::frame::{Frame, render};
use crate::kit::nav::Section;
use crate::kit::respond::no_store;

#[derive(Template)]
#[template(path = "admin/people.html")]
struct SearchPage {
    frame: Frame,
    sections: Vec<&'static Section>,
    query: String,
    results: Option<Vec<Person>>,
    total: u64,
    notice: Option<&'static str>,
}

#[derive(Deserialize)]
pub(super) struct SearchQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    done: String,
}

pub(super) async fn search(
    State(state): State<AppState>,
    staff: Staff,
    frame: Frame,
    Query(q): Query<SearchQuery>,
) -> Result<Response, AppError> {
    staff.require(Permission::ManagePeople)?;
    let query: String = q.q.trim().chars().take(100).collect();
    let people = &state.stores().people;
    let results = if query.is_empty() {
        None
    } else {
        let found = people.search_people(&query, 50).await?;
        state
            .audit(
                &staff.account,
                "people.searched",
                "people".to_owned(),
                format!("{} found", found.len()),
            )
            .await?;
        Some(found)
    };
    let notice = (q.done == "erased").then_some(
        "The person has been erased. Any objection to marketing they made is kept, as a one-way code.",
    );
    Ok(no_store(render(&SearchPage {
        frame,
        sections: staff.sections.clone(),
        query,
        results,
        total: people.count_people().await?,
        notice,
    })?))
}
