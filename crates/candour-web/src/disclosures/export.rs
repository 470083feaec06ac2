//! What every console export of personal data shares: it asks "for whom" (an active
//! recipient of the register, or internal use with what for), refuses the export when the
//! answer is missing or names a retired or unknown recipient, and records the disclosure,
//! with the people it covered, before the file is handed over.
//!
//! A refused export writes nothing: the handler draws its own page again (status 422) with
//! the form that was sent, what was chosen kept and the problem beside its field. The
//! form's fields come from the `ask` macro of `templates/admin/for_whom.html`, which reads
//! them from the page's `FormState`.

use candour_core::disclosures::{ForWhom, NewDisclosure, Recipient};
use candour_core::fields::FieldErrors;
use candour_core::store::StoreError;
use serde::Deserialize;

use crate::AppState;
use crate::kit::auth::Staff;
use crate::kit::error::AppError;
use crate::kit::form::FormState;

/// The recipients an export may be made for: the register's active ones.
pub(crate) async fn choices(state: &AppState) -> Result<Vec<Recipient>, AppError> {
    let mut all = state.stores().disclosures.recipients().await?;
    all.retain(|r| r.active);
    Ok(all)
}

/// The "for whom" fields of an export form, with its CSRF token.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ExportForm {
    pub csrf: String,
    #[serde(default, rename = "for")]
    pub for_whom: String,
    #[serde(default)]
    pub for_purpose: String,
}

impl ExportForm {
    /// For whom the export is, or the problems that refuse it (the outer error is the
    /// store's: the register could not be read).
    pub(crate) async fn for_whom(
        &self,
        state: &AppState,
    ) -> Result<Result<ForWhom, FieldErrors>, AppError> {
        let active = choices(state).await?;
        Ok(ForWhom::parse(&self.for_whom, &self.for_purpose, &active))
    }

    /// The page's form (`base`) with this answer kept and `errors` beside its fields, to draw
    /// the page again after a refusal.
    pub(crate) fn refused(&self, base: FormState, errors: FieldErrors) -> FormState {
        let mut form = base
            .with_value("for", self.for_whom.trim())
            .with_value("for_purpose", &self.for_purpose);
        form.errors = errors;
        form
    }
}

/// One export about to be handed over: what it is and whom it covers.
pub(crate) struct Export<'a> {
    pub kind: &'static str,
    pub description: String,
    pub people: Vec<i64>,
    pub for_whom: &'a ForWhom,
}

/// Record the disclosure, made by `staff` now. A recipient retired since the form was read
/// refuses it (nothing is written), with the same field error as the form gives.
pub(crate) async fn record(
    state: &AppState,
    staff: &Staff,
    export: Export<'_>,
) -> Result<Result<i64, FieldErrors>, AppError> {
    let new = NewDisclosure {
        for_whom: export.for_whom.clone(),
        actor: Some(staff.account.id),
        kind: export.kind.to_owned(),
        description: export.description,
        people: export.people,
        at: state.now(),
    };
    match state.stores().disclosures.record_disclosure(&new).await {
        Ok(id) => Ok(Ok(id)),
        Err(StoreError::Refused(_)) => Ok(Err(FieldErrors::one(
            "for",
            "That recipient is not an active one in the register",
        ))),
        Err(e) => Err(e.into()),
    }
}

/// For whom, as the audit log keeps it.
pub(crate) fn audit_words(for_whom: &ForWhom, disclosure: i64) -> String {
    match for_whom {
        ForWhom::Internal(purpose) => format!("disclosure:{disclosure}, internal use: {purpose}"),
        ForWhom::Recipient(id) => format!("disclosure:{disclosure}, for recipient:{id}"),
    }
}
