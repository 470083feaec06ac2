//! Small helpers for answers that many capabilities share.

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// Pages carry the visitor's banner state and a form token, so no shared cache may keep them.
pub(crate) fn no_store(body: impl IntoResponse) -> Response {
    let mut res = body.into_response();
    res.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    res
}

/// A download of personal data: saved as `filename`, never cached.
pub(crate) fn attachment(content_type: &'static str, filename: &str, body: Vec<u8>) -> Response {
    no_store(
        (
            [
                (header::CONTENT_TYPE, content_type.to_owned()),
                (
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"{filename}\""),
                ),
            ],
            body,
        )
            .into_response(),
    )
}

/// Whether `target` is a plain path on this site (letters, digits, `/`, `-`, `_`): safe to
/// redirect to and to carry unencoded in a query string, as the `return_to` of sign-in and
/// polls is.
pub(crate) fn is_plain_local_path(target: &str) -> bool {
    target.starts_with('/')
        && !target.starts_with("//")
        && target.len() <= 512
        && target
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/-_".contains(&b))
}

/// Everything but the unreserved characters of RFC 3986.
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Percent-encode a value for a query string the page links to.
pub(crate) fn query_value(value: &str) -> String {
    utf8_percent_encode(value, QUERY_VALUE).to_string()
}

#[cfg(test)]
mod tests {
    use super::is_plain_local_path;

    #[test]
    fn only_plain_paths_on_this_site_are_accepted() {
        for ok in ["/", "/account", "/polls/12", "/news/road-safety_week"] {
            assert!(is_plain_local_path(ok), "{ok}");
        }
        for bad in [
            "",
            "account",
            "//evil.example",
            "/\\evil",
            "/a?b=c",
            "/a#x",
            "https://x",
            "/%2f",
            "/a b",
        ] {
            assert!(!is_plain_local_path(bad), "{bad}");
        }
        assert!(!is_plain_local_path(&format!("/{}", "a".repeat(600))));
    }
}
