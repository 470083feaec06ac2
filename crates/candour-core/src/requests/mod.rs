//! Requests people make about their own data (UK GDPR Articles 15 to 22): the statutory
//! clock and the bank holidays it skips.

pub mod actions;
pub mod answer;
pub mod case;
pub mod deadline;
pub mod field;
pub mod holidays;
pub mod items;
pub mod record;
pub mod report;
pub mod templates;

pub use actions::{CorrectionDecision, ErasureDecision, Specifics};
pub use case::{Change, Kind, NewRequest, Planned, Status};
pub use deadline::{Due, Extension, ExtensionRefused, Timeline, Wait};
pub use field::CorrectionField;
pub use holidays::{BankHolidays, Region};
pub use record::{Case, CaseEvent, Confirmation, NewCase};
