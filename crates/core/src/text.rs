//! Making server text safe to show: control characters and terminal escape sequences stripped
//! ([`sanitize`]), the API key removed in every form a server may echo it in ([`Redactor`]),
//! and the credentials of signed URLs kept out of messages ([`redact_url`]).
//!
//! A server (or a relay, or anyone able to answer for it) chooses these bytes; they end up on a
//! terminal, in the journal and in logs. Pure functions: the transport applies them where the
//! text enters, the CLI again where it leaves.

use std::borrow::Cow;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// What replaces a secret.
pub const REDACTED: &str = "[redacted]";

/// Removes what could drive a terminal: C0 controls except newline and tab, DEL, C1 controls,
/// and whole escape sequences (CSI such as `ESC [ 31 m`, OSC such as `ESC ] 0 ; title BEL`,
/// DCS/APC/PM/SOS strings, two-character escapes). Printable text is kept as it is.
pub fn sanitize(text: &str) -> Cow<'_, str> {
    if !text
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\n' | '\t' => out.push(c),
            '\u{1b}' => skip_escape(&mut chars),
            // C1 CSI and the C1 string introducers (DCS, SOS, OSC, PM, APC).
            '\u{9b}' => skip_csi(&mut chars),
            '\u{90}' | '\u{98}' | '\u{9d}' | '\u{9e}' | '\u{9f}' => skip_string(&mut chars),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

type Chars<'a> = std::iter::Peekable<std::str::Chars<'a>>;

/// After an ESC: the rest of its sequence.
fn skip_escape(chars: &mut Chars<'_>) {
    match chars.next() {
        Some('[') => skip_csi(chars),
        Some(']' | 'P' | 'X' | '^' | '_') => skip_string(chars),
        // Intermediate bytes, then one final byte (`ESC ( B`).
        Some('\u{20}'..='\u{2f}') => {
            while chars
                .next_if(|c| ('\u{20}'..='\u{2f}').contains(c))
                .is_some()
            {}
            chars.next_if(|c| ('\u{30}'..='\u{7e}').contains(c));
        }
        // A two-character escape (`ESC c`, `ESC 7`); anything else was not a sequence.
        _ => {}
    }
}

/// Parameter and intermediate bytes, then the final byte.
fn skip_csi(chars: &mut Chars<'_>) {
    while chars
        .next_if(|c| ('\u{20}'..='\u{3f}').contains(c))
        .is_some()
    {}
    chars.next_if(|c| ('\u{40}'..='\u{7e}').contains(c));
}

/// A control string, up to its terminator: BEL, ST (`ESC \` or U+009C), or the end.
fn skip_string(chars: &mut Chars<'_>) {
    while let Some(c) = chars.next() {
        match c {
            '\u{7}' | '\u{9c}' => return,
            '\u{1b}' => {
                chars.next_if_eq(&'\\');
                return;
            }
            _ => {}
        }
    }
}

/// Forms shorter than this are not redacted (they would match ordinary text).
const MIN_FORM: usize = 6;

/// Removes a secret from text in every form a server might echo it in: raw, JSON-escaped
/// (`\/`, `\u003c`), percent-encoded (upper- or lower-case hex, any common reserved set) and
/// base64 (standard or URL-safe, at any alignment inside a longer encoded value). A text that
/// ends in the first characters of a form (a body cut inside the secret) loses them too.
///
/// Apply it to the whole text before cutting an excerpt: a cut can leave a fragment that no
/// longer matches.
#[derive(Clone)]
pub struct Redactor {
    /// Longest first, so a form containing another is replaced whole.
    forms: Vec<String>,
}

impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Redactor({} forms)", self.forms.len())
    }
}

/// What JavaScript's `encodeURIComponent` leaves alone: letters, digits and `-_.!~*'()` (a
/// URL's forms to redact here; a webhook payload's reading in pixfuse-webhook).
pub const URI_COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'!')
    .remove(b'~')
    .remove(b'*')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')');

/// What RFC 3986 calls unreserved: letters, digits and `-._~`.
const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

impl Redactor {
    /// A redactor for `secret` (surrounding whitespace ignored).
    pub fn new(secret: &str) -> Self {
        let secret = secret.trim();
        let mut forms = vec![secret.to_owned()];
        // JSON: serde's escaping, then the optional `\/` and the HTML-safe `\u003c` styles.
        let json = serde_json::to_string(secret).unwrap_or_default();
        let json = json
            .strip_prefix('"')
            .and_then(|s| s.strip_suffix('"'))
            .unwrap_or(secret);
        forms.push(json.to_owned());
        forms.push(json.replace('/', "\\/"));
        forms.push(
            json.replace('<', "\\u003c")
                .replace('>', "\\u003e")
                .replace('&', "\\u0026"),
        );
        for set in [NON_ALPHANUMERIC, URI_COMPONENT, UNRESERVED] {
            let upper = utf8_percent_encode(secret, set).to_string();
            forms.push(lower_hex_escapes(&upper));
            forms.push(upper.replace("%20", "+"));
            forms.push(upper);
        }
        for engine in [STANDARD_NO_PAD, URL_SAFE_NO_PAD] {
            for shift in 0..3 {
                forms.push(base64_core(&engine, secret.as_bytes(), shift));
            }
        }
        forms.retain(|f| f.chars().count() >= MIN_FORM.min(secret.chars().count().max(1)));
        forms.sort_by_key(|f| std::cmp::Reverse(f.len()));
        forms.dedup();
        Redactor { forms }
    }

    /// `text` with every form of the secret replaced by [`REDACTED`].
    pub fn redact<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let mut out = Cow::Borrowed(text);
        for form in &self.forms {
            if out.contains(form.as_str()) {
                out = Cow::Owned(out.replace(form.as_str(), REDACTED));
            }
        }
        // A body cut inside the secret ends with its first characters.
        let cut = self
            .forms
            .iter()
            .filter_map(|form| trailing_prefix(&out, form))
            .max();
        if let Some(len) = cut {
            let keep = out.len() - len;
            let mut owned = out.into_owned();
            owned.truncate(keep);
            owned.push_str(REDACTED);
            out = Cow::Owned(owned);
        }
        out
    }

    /// Whether `text` still holds a form of the secret.
    pub fn finds_in(&self, text: &str) -> bool {
        self.forms.iter().any(|f| text.contains(f.as_str()))
    }
}

/// The length of the longest proper prefix of `form` (at least [`MIN_FORM`] long) that `text`
/// ends with.
fn trailing_prefix(text: &str, form: &str) -> Option<usize> {
    let mut ends = form
        .char_indices()
        .map(|(i, _)| i)
        .skip(MIN_FORM)
        .collect::<Vec<_>>();
    ends.reverse();
    ends.into_iter().find(|&end| text.ends_with(&form[..end]))
}

/// `%2F` → `%2f` (other characters unchanged).
fn lower_hex_escapes(encoded: &str) -> String {
    let mut out = String::with_capacity(encoded.len());
    let mut after_percent = 0;
    for c in encoded.chars() {
        if c == '%' {
            after_percent = 2;
            out.push(c);
        } else if after_percent > 0 {
            after_percent -= 1;
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// The base64 characters that encode only `secret`'s bits when it starts `shift` bytes into a
/// longer encoded value: found whatever surrounds it.
fn base64_core(engine: &base64::engine::GeneralPurpose, secret: &[u8], shift: usize) -> String {
    let mut bytes = vec![0u8; shift];
    bytes.extend_from_slice(secret);
    let encoded = engine.encode(&bytes);
    let first = (8 * shift).div_ceil(6);
    let end = (8 * (shift + secret.len())) / 6;
    encoded
        .get(first..end.min(encoded.len()))
        .unwrap_or_default()
        .to_owned()
}

/// A URL safe for a message: its query and fragment (where signed links carry their
/// credentials) and any password replaced by `…`. Text that is not a URL is kept whole up to
/// a `?` or `#`.
pub fn redact_url(url: &str) -> String {
    let cut = url.find(['?', '#']);
    let (base, tail) = match cut {
        Some(i) => (&url[..i], "?…"),
        None => (url, ""),
    };
    // `scheme://user:password@host` → `scheme://user:…@host`.
    let base = match base.split_once("://") {
        Some((scheme, rest)) => {
            let authority_end = rest.find('/').unwrap_or(rest.len());
            let (authority, path) = rest.split_at(authority_end);
            match authority.rsplit_once('@') {
                Some((userinfo, host)) => match userinfo.split_once(':') {
                    Some((user, _)) => format!("{scheme}://{user}:…@{host}{path}"),
                    None => format!("{scheme}://{userinfo}@{host}{path}"),
                },
                None => base.to_owned(),
            }
        }
        None => base.to_owned(),
    };
    format!("{base}{tail}")
}

/// Every URL in `text` passed through [`redact_url`] (for messages that quote a URL among
/// other words, like a library's error text).
pub fn redact_urls(text: &str) -> Cow<'_, str> {
    if !text.contains("://") {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        let start = rest[..at]
            .rfind(|c: char| !(c.is_ascii_alphanumeric() || "+-.".contains(c)))
            .map_or(0, |i| i + 1);
        let end = rest[at..]
            .find(|c: char| c.is_whitespace() || "\"'<>()[]{}`".contains(c))
            .map_or(rest.len(), |i| at + i);
        out.push_str(&rest[..start]);
        out.push_str(&redact_url(&rest[start..end]));
        rest = &rest[end..];
    }
    out.push_str(rest);
    Cow::Owned(out)
}

/// `1 poll`, `2 polls`, `0 errors`: a count with its noun, plural (an added `s`) unless the count
/// is one. Every message that counts something says it this way.
pub fn plural(n: impl Into<i128>, noun: &str) -> String {
    let n = n.into();
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn plurals_agree_with_their_count() {
        assert_eq!(super::plural(1u32, "poll"), "1 poll");
        assert_eq!(super::plural(2u32, "poll"), "2 polls");
        assert_eq!(super::plural(0u64, "error"), "0 errors");
    }

    use super::*;

    #[test]
    fn sanitize_strips_controls_and_sequences_only() {
        assert!(matches!(sanitize("plain\ttext\n"), Cow::Borrowed(_)));
        assert_eq!(sanitize("a\u{1b}[31mred\u{1b}[0m b"), "ared b");
        assert_eq!(sanitize("x\u{1b}]0;owned\u{7}y"), "xy");
        assert_eq!(
            sanitize("x\u{1b}]8;;http://e\u{1b}\\link\u{1b}]8;;\u{1b}\\"),
            "xlink"
        );
        assert_eq!(sanitize("\u{9b}2Jcleared"), "cleared");
        assert_eq!(sanitize("a\rb\u{8}c\u{7f}d\u{85}e\u{0}"), "abcde");
        assert_eq!(sanitize("\u{1b}(Bok\u{1b}c"), "ok");
        assert_eq!(sanitize("é ✓ 日本"), "é ✓ 日本");
        assert_eq!(sanitize("cut\u{1b}["), "cut");
    }

    const KEY: &str = "sk-live/AbC+123_xyz<&>";

    fn leaks(text: &str) -> Option<String> {
        let chars: Vec<char> = KEY.chars().collect();
        chars
            .windows(8)
            .map(|w| w.iter().collect::<String>())
            .find(|w| text.contains(w.as_str()))
    }

    #[test]
    fn every_form_of_the_key_goes() {
        let r = Redactor::new(KEY);
        let json = serde_json::to_string(KEY).unwrap();
        let forms = [
            KEY.to_owned(),
            json.clone(),
            json.replace('/', "\\/"),
            utf8_percent_encode(KEY, NON_ALPHANUMERIC).to_string(),
            lower_hex_escapes(&utf8_percent_encode(KEY, URI_COMPONENT).to_string()),
            STANDARD_NO_PAD.encode(KEY),
            URL_SAFE_NO_PAD.encode(format!("Bearer {KEY}")),
            STANDARD_NO_PAD.encode(format!("api-key: {KEY}\r\n")),
        ];
        for form in forms {
            let text = format!("echo: {form} end");
            let out = r.redact(&text);
            assert!(out.contains(REDACTED), "{form} → {out}");
            assert!(!r.finds_in(&out), "{out}");
            assert_eq!(leaks(&out), None, "{out}");
        }
    }

    #[test]
    fn a_body_cut_inside_the_key_loses_the_fragment() {
        let r = Redactor::new(KEY);
        let text = format!("headers: api-key: {}", &KEY[..10]);
        let out = r.redact(&text);
        assert_eq!(out, format!("headers: api-key: {REDACTED}"));
        assert_eq!(r.redact("short sk-l"), "short sk-l");
    }

    #[test]
    fn redactor_debug_hides_the_forms() {
        assert!(!format!("{:?}", Redactor::new(KEY)).contains("sk-live"));
    }

    #[test]
    fn urls_lose_query_fragment_and_password() {
        assert_eq!(
            redact_url("https://cdn/x.mp4?sig=abc&e=1"),
            "https://cdn/x.mp4?…"
        );
        assert_eq!(redact_url("https://cdn/x.mp4#t=1"), "https://cdn/x.mp4?…");
        assert_eq!(
            redact_url("https://u:pw@cdn:8/x?y"),
            "https://u:…@cdn:8/x?…"
        );
        assert_eq!(redact_url("https://cdn/x.mp4"), "https://cdn/x.mp4");
        assert_eq!(
            redact_urls("error sending request for url (https://cdn/x.mp4?sig=s3cr3t): boom"),
            "error sending request for url (https://cdn/x.mp4?…): boom"
        );
        assert_eq!(redact_urls("no url here"), "no url here");
    }
}
