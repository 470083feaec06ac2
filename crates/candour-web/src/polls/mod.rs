//! Polls: the public pages and voting (`public`), the console (`console`), the vote queue
//! (`queue`, a user of the group commit), what the vote path keeps in memory (`memory`), the
//! poll cookie (`cookie`), and the `poll` block that content pages embed.

pub(crate) mod console;
mod cookie;
pub(crate) mod memory;
pub(crate) mod public;
pub(crate) mod queue;
mod voter;

/// The templates of the poll list and page name the fragment by this path.
pub(crate) use public::Fragment;

use axum::http::HeaderMap;

use crate::AppState;
use crate::kit::blocks::{Block, Rendered};
use crate::kit::frame::Frame;

/// `[[poll:ID]]` in a content page: the poll, in the state this visitor sees it (the form,
/// or the results). An unknown poll, or polls switched off, leave nothing.
pub(crate) struct PollBlock;

impl Block for PollBlock {
    fn accepts(&self, arg: &str) -> bool {
        arg.parse::<i64>().is_ok()
    }

    fn render<'a>(
        &'a self,
        state: &'a AppState,
        frame: &'a Frame,
        headers: &'a HeaderMap,
        arg: &'a str,
    ) -> Rendered<'a> {
        Box::pin(async move {
            match arg.parse::<i64>() {
                Ok(id) if state.inner.config.polls.enabled => {
                    public::fragment_html(state, frame, headers, id).await
                }
                _ => Ok(None),
            }
        })
    }
}
