//! The stylesheet and script, compiled into the binary. Pages link them with a content hash,
//! so browsers may keep them for a year and still see every change.

use std::sync::LazyLock;

use axum::extract::{Path, Query};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use crate::kit::error::AppError;

const CSS: &str = include_str!("../../assets/candour.css");
const JS: &str = include_str!("../../assets/candour.js");

/// A short hash of both assets, for their URLs.
pub(crate) static VERSION: LazyLock<String> = LazyLock::new(|| {
    let mut h = Sha256::new();
    h.update(CSS);
    h.update(JS);
    hex::encode(&h.finalize()[..6])
});

#[derive(serde::Deserialize)]
pub(crate) struct Versioned {
    v: Option<String>,
}

pub(crate) async fn asset(
    Path(file): Path<String>,
    Query(q): Query<Versioned>,
) -> Result<Response, AppError> {
    let (content_type, body) = match file.as_str() {
        "candour.css" => ("text/css; charset=utf-8", CSS),
        "candour.js" => ("text/javascript; charset=utf-8", JS),
        _ => return Err(AppError::NotFound),
    };
    let cache = if q.v.as_deref() == Some(VERSION.as_str()) {
        "public, max-age=31536000, immutable"
    } else {
        "public, max-age=300"
    };
    Ok((
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, cache),
        ],
        body,
    )
        .into_response())
}
