//! Requests people make about their own data (UK GDPR Articles 15 to 22): the statutory
//! clock and the bank holidays it skips.

pub mod deadline;
pub mod holidays;

pub use deadline::{Due, Extension, ExtensionRefused, Timeline, Wait};
pub use holidays::{BankHolidays, Region};
