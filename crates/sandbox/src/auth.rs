//! Which accepted key a request carries, in the configured style.

use axum::http::{HeaderMap, StatusCode};
use secrecy::{ExposeSecret, SecretString};

use crate::config::AuthStyle;
use crate::reply::Reply;

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

    /// The index of the key presented, or the vendor's answer to a bad or missing key.
    pub(crate) fn check(&self, headers: &HeaderMap) -> Result<usize, Reply> {
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
            .position(|k| !presented.is_empty() && k.expose_secret() == presented)
            .ok_or_else(|| {
                Reply::err_with_status(StatusCode::UNAUTHORIZED, 400012, self.refusal(presented))
            })
    }

    fn refusal(&self, presented: &str) -> &'static str {
        match (presented.is_empty(), self.style) {
            (false, _) => "Invalid API-KEY",
            (true, AuthStyle::ApiKey) => "Invalid API-KEY: send the key in the API-KEY header",
            (true, AuthStyle::Bearer) => {
                "Invalid API-KEY: send the key as Authorization: Bearer <key>"
            }
            (true, AuthStyle::Either) => {
                "Invalid API-KEY: send the key in the API-KEY header or as Authorization: Bearer <key>"
            }
        }
    }
}
