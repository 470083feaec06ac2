//! What every capability shares: the edge layers, the page frame, errors, form tokens, the
//! cookie jar, assets, rate limits, who is asking, navigation, content-page blocks, the
//! group-commit queue, and small response helpers. Nothing here imports a capability.

pub(crate) mod assets;
pub(crate) mod auth;
pub(crate) mod batch;
pub(crate) mod blocks;
pub(crate) mod chart;
pub(crate) mod choice;
pub(crate) mod cookie_jar;
pub(crate) mod csrf;
pub(crate) mod edge;
pub(crate) mod error;
pub(crate) mod form;
pub(crate) mod frame;
pub(crate) mod health;
pub(crate) mod limits;
pub(crate) mod mail;
pub(crate) mod metrics;
pub(crate) mod nav;
pub(crate) mod passwords;
pub(crate) mod respond;
pub(crate) mod share;
