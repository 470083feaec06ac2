//! `public_url`: the address visitors use.

use std::fmt;

/// An `http://` or `https://` address, parsed once: the text as written (links are built
/// from it) and the origin browsers send in `Origin`.
#[derive(Clone, PartialEq, Eq)]
pub struct PublicUrl {
    text: String,
    origin: String,
    https: bool,
}

impl PublicUrl {
    pub fn parse(raw: &str) -> Result<PublicUrl, String> {
        const PROBLEM: &str = "must be an http:// or https:// address";
        let url = url::Url::parse(raw).map_err(|_| PROBLEM.to_owned())?;
        let https = match url.scheme() {
            "https" => true,
            "http" => false,
            _ => return Err(PROBLEM.to_owned()),
        };
        if url.host_str().is_none_or(str::is_empty) {
            return Err(PROBLEM.to_owned());
        }
        Ok(PublicUrl {
            text: raw.to_owned(),
            origin: url.origin().ascii_serialization(),
            https,
        })
    }

    /// The address as it was written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The scheme, host and port, as browsers send them in `Origin`.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    pub fn is_https(&self) -> bool {
        self.https
    }
}

impl fmt::Display for PublicUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl fmt::Debug for PublicUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicUrl({})", self.text)
    }
}

impl std::str::FromStr for PublicUrl {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        PublicUrl::parse(s)
    }
}

impl<'de> serde::Deserialize<'de> for PublicUrl {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        PublicUrl::parse(&raw).map_err(serde::de::Error::custom)
    }
}

impl serde::Serialize for PublicUrl {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_origin_drops_the_path_and_the_text_is_kept() {
        let u = PublicUrl::parse("https://police.example/site/").unwrap();
        assert_eq!(
            (u.origin(), u.as_str(), u.is_https()),
            (
                "https://police.example",
                "https://police.example/site/",
                true
            )
        );
        let u = PublicUrl::parse("http://127.0.0.1:8080").unwrap();
        assert_eq!((u.origin(), u.is_https()), ("http://127.0.0.1:8080", false));
        for bad in [
            "police.example",
            "ftp://police.example",
            "https://",
            "mailto:a@b.c",
        ] {
            assert!(PublicUrl::parse(bad).is_err(), "{bad}");
        }
    }
}
