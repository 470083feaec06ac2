//! Requests people make about their own data (UK GDPR Articles 15 to 22): the statutory
//! clock and the bank holidays it skips.

pub mod answer;
pub mod case;
pub mod deadline;
pub mod holidays;
pub mod record;

pub use case::{Change, Kind, NewRequest, Planned, Status};
pub use deadline::{Due, Extension, ExtensionRefused, Timeline, Wait};
pub use holidays::{BankHolidays, Region};
pub use record::{Case, CaseEvent, Confirmation, NewCase};
