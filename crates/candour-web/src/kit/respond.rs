//! Small helpers for answers that many capabilities share.

use axum::body::{Body, Bytes};
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

/// How much of a file a download reads from disk at a time.
const PIECE: usize = 64 * 1024;

/// A ZIP of personal data, streamed from `file` (`len` bytes) a piece at a time as the client
/// takes it, so however large the archive, the server holds one piece of it: saved as
/// `my-data.zip`, never cached.
pub(crate) fn zip_download(file: std::fs::File, len: u64) -> Response {
    zip_download_as(
        file,
        len,
        HeaderValue::from_static("attachment; filename=\"my-data.zip\""),
    )
}

/// [`zip_download`] saved under the name `disposition` gives.
pub(crate) fn zip_download_as(file: std::fs::File, len: u64, disposition: HeaderValue) -> Response {
    let file = tokio::fs::File::from_std(file);
    let pieces = futures_util::stream::unfold(Some(file), |file| async move {
        use tokio::io::AsyncReadExt;
        let mut file = file?;
        let mut piece = vec![0u8; PIECE];
        match file.read(&mut piece).await {
            Ok(0) => None,
            Ok(n) => {
                piece.truncate(n);
                Some((Ok(Bytes::from(piece)), Some(file)))
            }
            // The error ends the body (the client sees a cut-short download); nothing follows.
            Err(e) => Some((Err(e), None)),
        }
    });
    no_store(
        (
            [
                (
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/zip"),
                ),
                (header::CONTENT_DISPOSITION, disposition),
                (header::CONTENT_LENGTH, HeaderValue::from(len)),
            ],
            Body::from_stream(pieces),
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
    use super::{PIECE, is_plain_local_path, zip_download};
    use std::io::{Seek, Write};

    #[tokio::test]
    async fn a_download_streams_the_whole_file_piece_by_piece() {
        // Several pieces and a part of one: every byte arrives, in order, and no more.
        let data: Vec<u8> = (0..(3 * PIECE + 1234) as u32)
            .map(|i| (i % 253) as u8)
            .collect();
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(&data).unwrap();
        file.rewind().unwrap();
        let res = zip_download(file, data.len() as u64);
        assert_eq!(res.headers()["content-type"], "application/zip");
        assert_eq!(res.headers()["content-length"], data.len().to_string());
        assert_eq!(res.headers()["cache-control"], "private, no-store");
        let body = axum::body::to_bytes(res.into_body(), usize::MAX)
            .await
            .unwrap();
        assert_eq!(body.len(), data.len());
        assert!(body == data, "the streamed bytes differ from the file");
    }

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
