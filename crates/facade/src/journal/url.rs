//! Where a shared journal lives: a `postgres://` URL whose password never shows.
//!
//! The URL (and so the password) comes from the environment (`PIXFUSE_JOURNAL_URL`) or the
//! config file; a password on the command line is refused by the CLI, since every user of the
//! machine can read argv. Every message shows [`JournalUrl::redacted`] instead.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use secrecy::{ExposeSecret, SecretString};

use super::JournalError;

/// A PostgreSQL journal's connection URL (`postgres://user:password@host:port/db?sslmode=…`).
/// `Debug` and `Display` show it with the password replaced by `***`.
#[derive(Clone)]
pub struct JournalUrl {
    secret: SecretString,
    redacted: String,
    password: Option<SecretString>,
    /// `sslrootcert=FILE`: the CA that signs the server's certificate (else the system's roots).
    root_cert: Option<PathBuf>,
}

impl JournalUrl {
    /// Parses `text`, which must be a `postgres://` or `postgresql://` URL.
    pub fn parse(text: &str) -> Result<JournalUrl, JournalError> {
        let text = text.trim();
        let redacted = redact(text);
        if !(text.starts_with("postgres://") || text.starts_with("postgresql://")) {
            return Err(JournalError::BadUrl {
                url: redacted,
                why: "a shared journal is a postgres:// (or postgresql://) URL".to_owned(),
            });
        }
        let (rest, root_cert) = take_param(text, "sslrootcert");
        let config = tokio_postgres::Config::from_str(&rest).map_err(|e| JournalError::BadUrl {
            url: redacted.clone(),
            why: e.to_string(),
        })?;
        let password = config
            .get_password()
            .map(|p| SecretString::from(String::from_utf8_lossy(p).into_owned()));
        Ok(JournalUrl {
            secret: SecretString::from(rest),
            redacted,
            password,
            root_cert: root_cert.map(PathBuf::from),
        })
    }

    /// The URL with its password replaced by `***`.
    pub fn redacted(&self) -> &str {
        &self.redacted
    }

    /// Whether the URL carries a password.
    pub fn has_password(&self) -> bool {
        self.password.is_some()
    }

    /// The driver's configuration (the password included).
    pub(crate) fn config(&self) -> tokio_postgres::Config {
        // Parsed once already in `parse`, so this cannot fail; fall back to the defaults anyway.
        tokio_postgres::Config::from_str(self.secret.expose_secret()).unwrap_or_default()
    }

    pub(crate) fn root_cert(&self) -> Option<&std::path::Path> {
        self.root_cert.as_deref()
    }

    /// `message` with the password, should the driver ever echo it, replaced by `***`.
    pub(crate) fn scrub(&self, message: &str) -> String {
        match &self.password {
            Some(p) if !p.expose_secret().is_empty() => message.replace(p.expose_secret(), "***"),
            _ => message.to_owned(),
        }
    }
}

impl fmt::Debug for JournalUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("JournalUrl").field(&self.redacted).finish()
    }
}

impl fmt::Display for JournalUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted)
    }
}

impl FromStr for JournalUrl {
    type Err = JournalError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        JournalUrl::parse(s)
    }
}

/// `text` with the password of its user info and any `password=` parameter replaced by `***`.
pub(crate) fn redact(text: &str) -> String {
    let mut out = text.to_owned();
    if let Some(scheme) = out.find("://") {
        let start = scheme + 3;
        let end = out[start..]
            .find(['/', '?'])
            .map_or(out.len(), |i| start + i);
        if let Some(at) = out[start..end].rfind('@') {
            let userinfo = &out[start..start + at];
            if let Some(colon) = userinfo.find(':') {
                out.replace_range(start + colon + 1..start + at, "***");
            }
        }
    }
    if let Some(q) = out.find('?') {
        let (head, query) = out.split_at(q + 1);
        let query: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
                _ => pair.to_owned(),
            })
            .collect();
        out = format!("{head}{}", query.join("&"));
    }
    out
}

/// Removes query parameter `name` from `url`, returning the rest and its value.
fn take_param(url: &str, name: &str) -> (String, Option<String>) {
    let Some(q) = url.find('?') else {
        return (url.to_owned(), None);
    };
    let (head, query) = (&url[..q], &url[q + 1..]);
    let mut value = None;
    let kept: Vec<&str> = query
        .split('&')
        .filter(|pair| match pair.split_once('=') {
            Some((k, v)) if k == name => {
                value = Some(v.to_owned());
                false
            }
            _ => !pair.is_empty(),
        })
        .collect();
    if kept.is_empty() {
        (head.to_owned(), value)
    } else {
        (format!("{head}?{}", kept.join("&")), value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_password_never_shows() {
        let url = JournalUrl::parse("postgres://app:s3cr%21t@db.example:5432/jobs?sslmode=require")
            .unwrap();
        assert_eq!(
            url.redacted(),
            "postgres://app:***@db.example:5432/jobs?sslmode=require"
        );
        assert!(url.has_password());
        assert!(!format!("{url} {url:?}").contains("s3cr"));
        let q =
            JournalUrl::parse("postgresql://app@h/db?password=hunter2&sslmode=disable").unwrap();
        assert_eq!(
            q.redacted(),
            "postgresql://app@h/db?password=***&sslmode=disable"
        );
        assert_eq!(q.scrub("failed for hunter2"), "failed for ***");
        let e = JournalUrl::parse("mysql://a:pw@h/db")
            .unwrap_err()
            .to_string();
        assert!(e.contains("postgres://") && !e.contains("pw@"), "{e}");
    }

    #[test]
    fn sslrootcert_is_ours_and_leaves_the_driver_s_url() {
        let url =
            JournalUrl::parse("postgres://u@h/db?sslrootcert=/ca.pem&sslmode=require").unwrap();
        assert_eq!(url.root_cert(), Some(std::path::Path::new("/ca.pem")));
        assert_eq!(
            url.config().get_ssl_mode(),
            tokio_postgres::config::SslMode::Require
        );
    }
}
