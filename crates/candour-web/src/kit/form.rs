//! Submitted forms: what was typed (to show it again) and what was wrong with it, in the
//! GOV.UK error-summary pattern. Passwords are never shown again.

use std::collections::HashMap;

use serde::Deserialize;

use candour_core::fields::FieldErrors;

use crate::kit::error::AppError;

/// A post that carries only its form token (a button that does one thing).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CsrfOnly {
    pub csrf: String,
}

/// `?done=…` after a change: which confirmation to show.
#[derive(Debug, Deserialize)]
pub(crate) struct DoneQuery {
    #[serde(default)]
    pub done: String,
}

/// The fields of a form post, as name and value pairs in order.
#[derive(Debug, Default, Clone)]
pub(crate) struct FormData {
    pairs: Vec<(String, String)>,
}

impl FormData {
    /// Refuse a form that carries a field the handler does not know: a request that tries to
    /// set something else (`role=admin`) changes nothing.
    pub fn parse(pairs: Vec<(String, String)>, allowed: &[&str]) -> Result<FormData, AppError> {
        if let Some((name, _)) = pairs.iter().find(|(k, _)| !allowed.contains(&k.as_str())) {
            return Err(AppError::Invalid(FieldErrors::one(
                name.chars().take(40).collect::<String>(),
                format!(
                    "This form does not accept that field. Accepted fields: {}",
                    allowed.join(", ")
                ),
            )));
        }
        Ok(FormData { pairs })
    }

    pub fn get(&self, name: &str) -> &str {
        self.pairs
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.as_str())
    }

    pub fn all(&self, name: &str) -> Vec<&str> {
        self.pairs
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

/// A form being shown: values to fill in and errors to show.
#[derive(Debug, Default, Clone)]
pub(crate) struct FormState {
    values: HashMap<String, String>,
    pub errors: FieldErrors,
}

impl FormState {
    pub fn new() -> FormState {
        FormState::default()
    }

    /// Keep what was typed, except secrets.
    pub fn from_data(data: &FormData, keep: &[&str]) -> FormState {
        let mut values = HashMap::new();
        for name in keep {
            values.insert((*name).to_owned(), data.get(name).to_owned());
        }
        FormState {
            values,
            errors: FieldErrors::new(),
        }
    }

    pub fn with_value(mut self, name: &str, value: &str) -> FormState {
        self.values.insert(name.to_owned(), value.to_owned());
        self
    }

    pub fn value(&self, name: &str) -> &str {
        self.values.get(name).map_or("", String::as_str)
    }

    pub fn error(&self, name: &str) -> Option<&str> {
        self.errors.problem(name)
    }

    pub fn add_error(&mut self, field: &str, message: impl Into<String>) {
        self.errors.add(field, message);
    }

    pub fn has_errors(&self) -> bool {
        !self.errors.is_empty()
    }
}
