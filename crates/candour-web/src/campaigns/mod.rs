//! Campaigns: the console (`console`: compose, preview, approve, schedule, report), and what
//! the emails link to: the open pixel and click redirect (`tracking`, with the group-commit
//! `queue` and the `links` cache) and one-click unsubscribe (`unsubscribe`).

pub(crate) mod console;
pub(crate) mod links;
pub(crate) mod queue;
pub(crate) mod tracking;
pub(crate) mod unsubscribe;
