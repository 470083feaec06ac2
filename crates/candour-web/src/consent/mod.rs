//! What the site tells visitors and asks them: the cookie banner and settings (`settings`),
//! the privacy notice (`policy`), and the content pages (`content`).

pub mod content;
pub(crate) mod policy;
pub(crate) mod settings;
