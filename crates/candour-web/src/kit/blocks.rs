//! Blocks that capabilities put into content pages. A paragraph holding only `[[name:arg]]`
//! becomes the block registered under `name`, rendered for this visitor; content pages know
//! the registry, never the capabilities behind it. Polls register `poll` (see
//! `polls::block`); media embeds and share links will register theirs the same way.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use axum::http::HeaderMap;

use crate::AppState;
use crate::kit::error::AppError;
use crate::kit::frame::Frame;

/// What rendering a block gives: its HTML, or nothing (the marker then leaves nothing).
pub(crate) type Rendered<'a> =
    Pin<Box<dyn Future<Output = Result<Option<String>, AppError>> + Send + 'a>>;

/// A block a capability offers to content pages.
pub(crate) trait Block: Send + Sync {
    /// Whether `arg` is something this block renders. A marker whose argument is not stays
    /// in the page as the text it was.
    fn accepts(&self, arg: &str) -> bool;

    /// The block for `arg`, in the state this visitor sees it.
    fn render<'a>(
        &'a self,
        state: &'a AppState,
        frame: &'a Frame,
        headers: &'a HeaderMap,
        arg: &'a str,
    ) -> Rendered<'a>;
}

/// The blocks registered, by name.
#[derive(Default, Clone)]
pub(crate) struct Blocks(HashMap<&'static str, Arc<dyn Block>>);

impl Blocks {
    pub(crate) fn register(&mut self, name: &'static str, block: Arc<dyn Block>) {
        self.0.insert(name, block);
    }

    fn get(&self, name: &str) -> Option<&Arc<dyn Block>> {
        self.0.get(name)
    }
}

const OPEN: &str = "<p>[[";
const CLOSE: &str = "]]</p>";

/// Replace each paragraph that holds only a registered block's marker with the block.
pub(crate) async fn fill(
    state: &AppState,
    frame: &Frame,
    headers: &HeaderMap,
    html: &str,
) -> Result<String, AppError> {
    let blocks = &state.inner.blocks;
    // Room for a block or two, so the page is not copied as it grows.
    let mut out = String::with_capacity(html.len() + 4096);
    let mut rest = html;
    while let Some(start) = rest.find(OPEN) {
        out.push_str(&rest[..start]);
        let after = &rest[start + OPEN.len()..];
        let found = after.find(CLOSE).and_then(|end| {
            let (name, arg) = after[..end].split_once(':')?;
            let block = blocks.get(name).filter(|b| b.accepts(arg))?;
            Some((block, arg, end))
        });
        match found {
            Some((block, arg, end)) => {
                if let Some(html) = block.render(state, frame, headers, arg).await? {
                    out.push_str(&html);
                }
                rest = &after[end + CLOSE.len()..];
            }
            None => {
                out.push_str(OPEN);
                rest = after;
            }
        }
    }
    out.push_str(rest);
    Ok(out)
}
