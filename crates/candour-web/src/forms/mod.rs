//! Forms and surveys: the public pages and submissions (`public`) and the console's builder,
//! summaries and responses (`console`).

pub(crate) mod console;
pub(crate) mod public;
