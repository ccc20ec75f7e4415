//! Which accepted key a request carries, in the configured style.

use axum::http::{HeaderMap, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

use crate::config::AuthStyle;
use crate::reply::Reply;

/// ErrCode of a missing or wrong key ("invalid account").
const INVALID_ACCOUNT: i64 = 400012;

pub(crate) struct Keys {
    keys: Vec<SecretString>,
    style: AuthStyle,
}

impl Keys {
    pub(crate) fn new(keys: Vec<SecretString>, style: AuthStyle) -> Self {
        Self { keys, style }
    }

    pub(crate) fn first(&self) -> Option<&SecretString> {
        self.keys.first()
    }

    /// A stable name of the key presented, or the vendor's answer to a bad or missing key. The
    /// name is a hash salted with `salt` (the store's identity): the store counts jobs per key
    /// without ever holding one.
    pub(crate) fn check(&self, headers: &HeaderMap, salt: &str) -> Result<String, Reply> {
        let api_key = || headers.get("api-key").and_then(|v| v.to_str().ok());
        let bearer = || {
            headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "))
        };
        let presented = match self.style {
            AuthStyle::ApiKey => api_key(),
            AuthStyle::Bearer => bearer(),
            AuthStyle::Either => api_key().or_else(bearer),
        };
        let presented = presented.map(str::trim).unwrap_or_default();
        self.keys
            .iter()
            .find(|k| !presented.is_empty() && k.expose_secret() == presented)
            .map(|k| key_hash(salt, k.expose_secret()))
            .ok_or_else(|| {
                Reply::err_with_status(StatusCode::UNAUTHORIZED, INVALID_ACCOUNT, "Invalid API-KEY")
            })
    }
}

fn key_hash(salt: &str, key: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(salt.as_bytes());
    hasher.update([0]);
    hasher.update(key.as_bytes());
    hasher
        .finalize()
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect()
}
