//! `[[scripts]]`: scripts that run only after consent to their category.

use serde::{Deserialize, Serialize};

use crate::cookies::Category;
use crate::fields::FieldErrors;

/// A script that stays inert until the visitor consents to its category.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct GatedScript {
    /// An https address, or a path on this site starting with `/`.
    pub src: String,
    pub category: Category,
}

impl GatedScript {
    /// The origin the script comes from, when it is another site's (for the CSP).
    pub fn origin(&self) -> Option<&str> {
        let rest = self.src.strip_prefix("https://")?;
        let host_end = rest.find('/').unwrap_or(rest.len());
        Some(&self.src[..("https://".len() + host_end)])
    }

    /// The problems of the script at `[[scripts]]` index `i`.
    pub(super) fn check(&self, i: usize, errors: &mut FieldErrors) {
        let key = format!("scripts[{i}]");
        let path_ok = self.src.starts_with('/') && !self.src.starts_with("//");
        let https_ok = self.origin().is_some_and(|o| o.len() > "https://".len());
        if !(path_ok || https_ok) || self.src.contains(['"', '<', '>', ' ', '\\']) {
            errors.add(
                format!("{key}.src"),
                "must be an https:// address or a path starting with /",
            );
        }
        if self.category == Category::Necessary {
            errors.add(
                format!("{key}.category"),
                "a gated script must be preferences, statistics or marketing",
            );
        }
    }

    pub(super) fn warnings(&self, out: &mut Vec<String>) {
        if let Some(origin) = self.origin() {
            out.push(format!(
                "scripts: {} loads from {origin} once a visitor consents to {}; that host then \
                 sees the visitor's address. Declare the cookies it sets under [[cookies.declared]].",
                self.src,
                self.category.label()
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_origin_is_the_scheme_and_host() {
        let s = GatedScript {
            src: "https://stats.example.com/a/b.js".into(),
            category: Category::Statistics,
        };
        assert_eq!(s.origin(), Some("https://stats.example.com"));
        let s = GatedScript {
            src: "/assets/x.js".into(),
            category: Category::Statistics,
        };
        assert_eq!(s.origin(), None);
    }
}
