//! What was wrong with what someone typed or configured, field by field, and the small rules
//! for names that several places accept (slugs, DNS labels).
//!
//! One [`FieldErrors`] list serves the configuration (its fields are keys such as
//! `campaigns.batch_size`), the checks of campaigns and forms in core, and every form of the
//! web (their fields are input names): each entry names the field, says what is wrong, and,
//! where it helps, what is allowed. Entries keep the order in which they were found, which is
//! the order of the fields.

use std::fmt;

use serde::Serialize;

/// One field that was wrong. As JSON (an error body's `fields`) it is `field` and `message`,
/// plus `allowed` when known.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    /// The field's name as its author knows it: a configuration key or a form input's name.
    pub field: String,
    /// What is wrong. For configuration keys and campaign fields, words that follow the
    /// field's name ("must be at least 1"); for a form shown to a visitor, the whole sentence
    /// shown beside the input ("Enter your name").
    #[serde(rename = "message")]
    pub problem: String,
    /// What would be accepted, on its own ("between 1 and 720"), when it can be said apart
    /// from the problem; a form shows it beside the field.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowed: Option<String>,
}

impl FieldError {
    pub fn new(field: impl Into<String>, problem: impl Into<String>) -> FieldError {
        FieldError {
            field: field.into(),
            problem: problem.into(),
            allowed: None,
        }
    }

    /// The same error, saying what would be accepted.
    pub fn with_allowed(mut self, allowed: impl Into<String>) -> FieldError {
        self.allowed = Some(allowed.into());
        self
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}` {}", self.field, self.problem)
    }
}

/// Every problem found, in the order found. As JSON, a list of [`FieldError`]s.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct FieldErrors(Vec<FieldError>);

impl FieldErrors {
    pub fn new() -> FieldErrors {
        FieldErrors::default()
    }

    /// A list of one problem: `field` is wrong.
    pub fn one(field: impl Into<String>, problem: impl Into<String>) -> FieldErrors {
        FieldErrors(vec![FieldError::new(field, problem)])
    }

    /// Note that `field` is wrong.
    pub fn add(&mut self, field: impl Into<String>, problem: impl Into<String>) {
        self.0.push(FieldError::new(field, problem));
    }

    /// Note that `field` must be a number between `low` and `high`; `unit`, when not empty,
    /// follows in brackets ("(milliseconds)").
    pub fn out_of_range(&mut self, field: impl Into<String>, low: u64, high: u64, unit: &str) {
        let allowed = format!("between {low} and {high}");
        let problem = if unit.is_empty() {
            format!("must be {allowed}")
        } else {
            format!("must be {allowed} ({unit})")
        };
        self.0.push(FieldError {
            field: field.into(),
            problem,
            allowed: Some(allowed),
        });
    }

    /// Check that `value` is within `low..=high`, noting it when not.
    pub fn check_range<T: Into<u64> + Copy>(
        &mut self,
        field: &str,
        value: T,
        low: T,
        high: T,
        unit: &str,
    ) {
        let (value, low, high) = (value.into(), low.into(), high.into());
        if !(low..=high).contains(&value) {
            self.out_of_range(field, low, high, unit);
        }
    }

    pub fn push(&mut self, error: FieldError) {
        self.0.push(error);
    }

    /// Add another list's problems after these, their fields under `prefix` (with a dot).
    pub fn extend_under(&mut self, prefix: &str, other: FieldErrors) {
        for mut e in other.0 {
            e.field = format!("{prefix}.{}", e.field);
            self.0.push(e);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn iter(&self) -> std::slice::Iter<'_, FieldError> {
        self.0.iter()
    }

    /// The first problem, found before any other.
    pub fn first(&self) -> Option<&FieldError> {
        self.0.first()
    }

    /// The first problem with `field`, as words.
    pub fn problem(&self, field: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|e| e.field == field)
            .map(|e| e.problem.as_str())
    }

    /// Put the problems in the order of `key`, keeping the order found among equals.
    pub fn sort_by_key<K: Ord>(&mut self, key: impl FnMut(&FieldError) -> K) {
        self.0.sort_by_key(key);
    }

    /// The problems with one field.
    pub fn of<'a>(&'a self, field: &'a str) -> impl Iterator<Item = &'a FieldError> + 'a {
        self.0.iter().filter(move |e| e.field == field)
    }

    /// `Ok` when nothing was wrong.
    pub fn into_result(self) -> Result<(), FieldErrors> {
        if self.0.is_empty() { Ok(()) } else { Err(self) }
    }
}

impl IntoIterator for FieldErrors {
    type Item = FieldError;
    type IntoIter = std::vec::IntoIter<FieldError>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl<'a> IntoIterator for &'a FieldErrors {
    type Item = &'a FieldError;
    type IntoIter = std::slice::Iter<'a, FieldError>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl From<FieldError> for FieldErrors {
    fn from(error: FieldError) -> FieldErrors {
        FieldErrors(vec![error])
    }
}

impl FromIterator<FieldError> for FieldErrors {
    fn from_iter<I: IntoIterator<Item = FieldError>>(iter: I) -> FieldErrors {
        FieldErrors(iter.into_iter().collect())
    }
}

impl Extend<FieldError> for FieldErrors {
    fn extend<I: IntoIterator<Item = FieldError>>(&mut self, iter: I) {
        self.0.extend(iter);
    }
}

impl fmt::Display for FieldErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for FieldErrors {}

/// A slug: one or more lower-case letters, digits and hyphens, at most `max` of them. The ids
/// of purposes and topics and each segment of a page's path are slugs.
pub fn is_slug(s: &str, max: usize) -> bool {
    !s.is_empty()
        && s.len() <= max
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// One label of a domain name (RFC 1035 as hosts use it): letters, digits and hyphens, not at
/// either end, at most 63.
pub fn is_dns_label(l: &str) -> bool {
    !l.is_empty()
        && l.len() <= 63
        && !l.starts_with('-')
        && !l.ends_with('-')
        && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_keep_their_order_and_read_as_sentences() {
        let mut e = FieldErrors::new();
        assert!(e.clone().into_result().is_ok());
        e.add("organisation.name", "must not be empty");
        e.check_range("polls.cookie_hours", 0u32, 1, 9600, "");
        e.check_range("polls.cookie_hours", 5u32, 1, 9600, "");
        e.check_range(
            "database.acquire_timeout_ms",
            1u64,
            100,
            60_000,
            "milliseconds",
        );
        assert_eq!(e.len(), 3);
        assert_eq!(e.first().unwrap().field, "organisation.name");
        assert_eq!(
            e.of("polls.cookie_hours")
                .next()
                .unwrap()
                .allowed
                .as_deref(),
            Some("between 1 and 9600")
        );
        assert_eq!(
            e.to_string(),
            "`organisation.name` must not be empty; `polls.cookie_hours` must be between 1 and \
             9600; `database.acquire_timeout_ms` must be between 100 and 60000 (milliseconds)"
        );
        let mut outer = FieldErrors::new();
        let mut inner = FieldErrors::new();
        inner.add("id", "is already used");
        outer.extend_under("purposes[0]", inner);
        assert_eq!(outer.first().unwrap().field, "purposes[0].id");
        assert!(outer.into_result().is_err());
    }

    #[test]
    fn as_json_each_problem_is_its_field_and_message() {
        let mut e = FieldErrors::one("name", "Enter your name");
        e.check_range("days", 0u32, 1, 90, "");
        assert_eq!(
            serde_json::to_value(&e).unwrap(),
            serde_json::json!([
                {"field": "name", "message": "Enter your name"},
                {"field": "days", "message": "must be between 1 and 90", "allowed": "between 1 and 90"},
            ])
        );
    }

    #[test]
    fn slugs_and_labels() {
        assert!(is_slug("news-2026", 40));
        for bad in ["", "News", "a b", "a_b", "é"] {
            assert!(!is_slug(bad, 40), "{bad:?}");
        }
        assert!(!is_slug(&"a".repeat(41), 40));
        assert!(is_dns_label("mail2026"));
        for bad in ["", "-a", "a-", "a_b", &"a".repeat(64)] {
            assert!(!is_dns_label(bad), "{bad:?}");
        }
    }
}
