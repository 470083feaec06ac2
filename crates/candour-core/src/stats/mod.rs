//! Site statistics without cookies.

pub mod figures;
pub mod history;
pub mod range;
