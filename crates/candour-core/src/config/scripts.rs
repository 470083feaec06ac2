//! `[[scripts]]`: scripts that run only after consent to their category.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::cookies::Category;
use crate::fields::FieldErrors;

/// A script that stays inert until the visitor consents to its category.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct GatedScript {
    pub src: ScriptSrc,
    pub category: Category,
}

/// Where a gated script comes from: an https address, or a path on this site starting with
/// `/`, parsed once (with the other site's origin, for the CSP). It holds none of the
/// characters that could end the HTML attribute it is written into.
#[derive(Clone, PartialEq, Eq)]
pub struct ScriptSrc {
    text: String,
    /// The scheme, host and port of another site's address; `None` for a path on this site.
    origin: Option<String>,
}

impl ScriptSrc {
    pub fn parse(raw: &str) -> Result<ScriptSrc, String> {
        const PROBLEM: &str = "must be an https:// address or a path starting with /";
        if raw.contains(['"', '<', '>', ' ', '\\']) {
            return Err(PROBLEM.to_owned());
        }
        let origin = if raw.starts_with('/') && !raw.starts_with("//") {
            None
        } else {
            let url = url::Url::parse(raw).map_err(|_| PROBLEM.to_owned())?;
            if url.scheme() != "https" || url.host_str().is_none_or(str::is_empty) {
                return Err(PROBLEM.to_owned());
            }
            Some(url.origin().ascii_serialization())
        };
        Ok(ScriptSrc {
            text: raw.to_owned(),
            origin,
        })
    }

    /// The address as it was written.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl fmt::Display for ScriptSrc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl fmt::Debug for ScriptSrc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ScriptSrc({})", self.text)
    }
}

impl std::str::FromStr for ScriptSrc {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ScriptSrc::parse(s)
    }
}

impl<'de> Deserialize<'de> for ScriptSrc {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        ScriptSrc::parse(&raw).map_err(serde::de::Error::custom)
    }
}

impl Serialize for ScriptSrc {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

impl GatedScript {
    /// The origin the script comes from, when it is another site's (for the CSP).
    pub fn origin(&self) -> Option<&str> {
        self.src.origin.as_deref()
    }

    /// The problems of the script at `[[scripts]]` index `i` (its address was checked as it
    /// was read).
    pub(super) fn check(&self, i: usize, errors: &mut FieldErrors) {
        let key = format!("scripts[{i}]");
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
            src: "https://stats.example.com/a/b.js".parse().unwrap(),
            category: Category::Statistics,
        };
        assert_eq!(s.origin(), Some("https://stats.example.com"));
        let s = GatedScript {
            src: "/assets/x.js".parse().unwrap(),
            category: Category::Statistics,
        };
        assert_eq!(s.origin(), None);
        for bad in [
            "//cdn.example/x.js",
            "http://cdn.example/x.js",
            "https://",
            "x.js",
            "/a b.js",
            "/\"x",
        ] {
            assert!(ScriptSrc::parse(bad).is_err(), "{bad}");
        }
    }
}
