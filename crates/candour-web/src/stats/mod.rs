//! Site statistics without cookies: the console's dashboard, the public statistics page and
//! the import of history from Google Analytics.

pub(crate) mod console;
pub(crate) mod history;
pub(crate) mod public_page;
pub(crate) mod report;
