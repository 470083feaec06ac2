//! `[http]`: limits on requests, and which proxies are believed.

use serde::{Deserialize, Serialize};

use crate::fields::FieldErrors;

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpSettings {
    /// The largest request body accepted, in bytes.
    pub body_limit_bytes: usize,
    /// How long a request may take before it is answered with 408, in seconds.
    pub request_timeout_secs: u64,
    /// Peers whose `X-Forwarded-For` header is believed (your reverse proxies). The client
    /// address is used only for rate limits, and only as a keyed hash.
    pub trusted_proxies: Vec<std::net::IpAddr>,
}

impl Default for HttpSettings {
    fn default() -> Self {
        HttpSettings {
            body_limit_bytes: 64 * 1024,
            request_timeout_secs: 30,
            trusted_proxies: Vec::new(),
        }
    }
}

impl HttpSettings {
    pub(super) fn check(&self) -> FieldErrors {
        let mut errors = FieldErrors::new();
        if self.body_limit_bytes < 1024 {
            errors.add("body_limit_bytes", "must be at least 1024");
        }
        if self.request_timeout_secs == 0 {
            errors.add("request_timeout_secs", "must be at least 1");
        }
        errors
    }
}
