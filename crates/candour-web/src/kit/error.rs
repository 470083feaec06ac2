//! One error type at the edge. Handlers return [`AppError`]; the error-page layer in
//! [`crate::kit::edge`] turns it (and any bare error status from a lower layer) into an HTML page
//! or JSON, naming the request id.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use candour_core::fields::FieldErrors;
use candour_core::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("not found")]
    NotFound,
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    Conflict(String),
    #[error("the form has errors")]
    Invalid(FieldErrors),
    #[error("{0}")]
    TooManyRequests(String),
    /// Not an error: send the visitor elsewhere (a page they must visit first).
    #[error("see {0}")]
    SeeOther(String),
    #[error("service unavailable")]
    Unavailable(#[source] StoreError),
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(_) => AppError::Unavailable(e),
            StoreError::Refused(why) => AppError::Conflict(why),
            // A handler that expects a duplicate (an address already registered, say) answers
            // it itself; any other is a conflict that says what already exists.
            StoreError::Duplicate(_) => AppError::Conflict(e.to_string()),
            StoreError::Consent(why) => AppError::Conflict(why.to_string()),
            other => AppError::Internal(Box::new(other)),
        }
    }
}

impl From<askama::Error> for AppError {
    fn from(e: askama::Error) -> Self {
        AppError::Internal(Box::new(e))
    }
}

/// What the error-page layer needs to render an error; carried as a response extension.
#[derive(Debug, Clone)]
pub struct ErrorDetail {
    pub message: String,
    pub fields: FieldErrors,
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        if let AppError::SeeOther(to) = &self {
            return axum::response::Redirect::to(to).into_response();
        }
        let status = match &self {
            AppError::NotFound => StatusCode::NOT_FOUND,
            AppError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AppError::Forbidden(_) => StatusCode::FORBIDDEN,
            AppError::Conflict(_) => StatusCode::CONFLICT,
            AppError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            AppError::TooManyRequests(_) => StatusCode::TOO_MANY_REQUESTS,
            AppError::SeeOther(_) => StatusCode::SEE_OTHER,
            AppError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        let message = match &self {
            AppError::Unavailable(cause) => {
                tracing::error!(error = %chain(cause), "The database did not answer.");
                "The service is unavailable for a moment. Please try again shortly.".to_owned()
            }
            AppError::Internal(cause) => {
                tracing::error!(error = %chain(cause.as_ref()), "A request failed unexpectedly.");
                "Something went wrong on our side. It has been logged.".to_owned()
            }
            AppError::NotFound => String::new(),
            other => other.to_string(),
        };
        let fields = match self {
            AppError::Invalid(fields) => fields,
            _ => FieldErrors::new(),
        };
        let mut response = status.into_response();
        response
            .extensions_mut()
            .insert(ErrorDetail { message, fields });
        response
    }
}

/// An error and its causes on one line, for the logs.
fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut next = e.source();
    while let Some(cause) = next {
        out.push_str(": ");
        out.push_str(&cause.to_string());
        next = cause.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(e: StoreError) -> StatusCode {
        AppError::from(e).into_response().status()
    }

    #[test]
    fn store_errors_become_the_status_that_says_what_happened() {
        assert_eq!(
            status(StoreError::Duplicate("a form with this name")),
            StatusCode::CONFLICT
        );
        assert_eq!(
            status(StoreError::Refused("locked".into())),
            StatusCode::CONFLICT
        );
        assert_eq!(
            status(StoreError::Unavailable("gone".into())),
            StatusCode::SERVICE_UNAVAILABLE
        );
        assert_eq!(
            status(StoreError::Corrupt("bad row".into())),
            StatusCode::INTERNAL_SERVER_ERROR
        );
    }
}
