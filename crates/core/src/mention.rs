//! The prompt linter's tokeniser (fusion-api.md §4): a mention starts at `@` and runs to the next
//! whitespace or the end of the prompt; the token must equal a `ref_name` exactly.

use std::ops::Range;

/// One `@token` of a prompt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mention<'a> {
    /// Byte span of `@token` in the prompt.
    pub span: Range<usize>,
    /// The token after `@` (may be empty for a lone `@`).
    pub token: &'a str,
}

impl Mention<'_> {
    /// Whether nothing (not even whitespace) follows the token.
    pub fn at_end(&self, prompt: &str) -> bool {
        self.span.end == prompt.len()
    }
}

/// Every `@token` of `prompt`, in order.
pub fn mentions(prompt: &str) -> impl Iterator<Item = Mention<'_>> {
    let bytes = prompt.as_bytes();
    let mut pos = 0;
    std::iter::from_fn(move || {
        let at = pos + bytes[pos..].iter().position(|&b| b == b'@')?;
        let start_token = at + 1;
        let end = find_whitespace(&prompt[start_token..]).map_or(prompt.len(), |i| start_token + i);
        pos = end;
        Some(Mention {
            span: at..end,
            token: &prompt[start_token..end],
        })
    })
}

/// How a mention relates to the request's reference names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MentionKind<'n> {
    /// The token is a `ref_name`.
    Exact(&'n str),
    /// The token is a `ref_name` followed directly by punctuation (`@dog,` `@dog's`): a space
    /// is missing at byte `split` of the prompt.
    NoSpace {
        /// The `ref_name` the token starts with.
        name: &'n str,
        /// Byte offset in the prompt where the space belongs.
        split: usize,
    },
    /// No `ref_name` matches.
    Unknown,
    /// A lone `@` (nothing to mention): not treated as a mention.
    Bare,
}

/// Classifies `mention` against the valid reference names.
pub fn classify<'n>(mention: &Mention<'_>, names: &[&'n str]) -> MentionKind<'n> {
    let token = mention.token;
    if token.is_empty() {
        return MentionKind::Bare;
    }
    if let Some(name) = names.iter().find(|n| same(n, token)) {
        return MentionKind::Exact(name);
    }
    // The longest name the token starts with, if what follows cannot continue a name.
    let prefix = names
        .iter()
        .filter(|n| !n.is_empty() && token.starts_with(**n))
        .filter(|n| {
            token[n.len()..]
                .chars()
                .next()
                .is_some_and(|c| !continues_name(c))
        })
        .max_by_key(|n| n.len());
    match prefix {
        Some(name) => MentionKind::NoSpace {
            name,
            split: mention.span.start + 1 + name.len(),
        },
        None => MentionKind::Unknown,
    }
}

/// Characters that would make `@dogs` or `@dog_2` a different name rather than `@dog` + text.
fn continues_name(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '-'
}

/// String equality without a `memcmp` call: names are short, and the rules compare many of them.
#[inline]
pub(crate) fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).all(|(x, y)| x == y)
}

/// Byte index of the first whitespace (`char::is_whitespace`) in `s`: ASCII is decided per
/// byte, and only non-ASCII bytes pay for decoding a character.
pub(crate) fn find_whitespace(s: &str) -> Option<usize> {
    find_char(s, |c| c.is_whitespace())
}

/// Whether `s` holds whitespace or `@` (what a `ref_name` may not contain).
pub(crate) fn has_space_or_at(s: &str) -> bool {
    find_char(s, |c| c == '@' || c.is_whitespace()).is_some()
}

#[inline]
fn find_char(s: &str, hit: impl Fn(char) -> bool) -> Option<usize> {
    let bytes = s.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b.is_ascii() {
            if hit(char::from(b)) {
                return Some(i);
            }
            i += 1;
        } else {
            let c = s[i..].chars().next()?;
            if hit(c) {
                return Some(i);
            }
            i += c.len_utf8();
        }
    }
    None
}
