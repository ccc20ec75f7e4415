//! `Range: bytes=…` for the media server: one range per request, as CDNs commonly serve video.

use std::ops::Range;

/// What a `Range` header asks of a body of `len` bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum RangeRequest {
    /// No usable range (absent, another unit, or several ranges): send everything with 200.
    Whole,
    /// Send these bytes with 206.
    Partial(Range<u64>),
    /// Nothing of the body matches: 416.
    Unsatisfiable,
}

/// Reads `header` (the value of `Range`) against a body of `len` bytes (RFC 9110 §14.1.2).
pub(crate) fn parse(header: Option<&str>, len: u64) -> RangeRequest {
    let Some(spec) = header.and_then(|h| h.trim().strip_prefix("bytes=")) else {
        return RangeRequest::Whole;
    };
    if spec.contains(',') {
        return RangeRequest::Whole;
    }
    let Some((first, last)) = spec.trim().split_once('-') else {
        return RangeRequest::Whole;
    };
    let (first, last) = (first.trim(), last.trim());
    let range = if first.is_empty() {
        // Suffix range: the last N bytes.
        let Ok(n) = last.parse::<u64>() else {
            return RangeRequest::Whole;
        };
        if n == 0 || len == 0 {
            return RangeRequest::Unsatisfiable;
        }
        len.saturating_sub(n)..len
    } else {
        let Ok(start) = first.parse::<u64>() else {
            return RangeRequest::Whole;
        };
        let end = if last.is_empty() {
            len
        } else {
            match last.parse::<u64>() {
                Ok(l) if l >= start => l.saturating_add(1).min(len),
                _ => return RangeRequest::Whole,
            }
        };
        if start >= len {
            return RangeRequest::Unsatisfiable;
        }
        start..end
    };
    RangeRequest::Partial(range)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_three_forms() {
        assert_eq!(parse(Some("bytes=0-9"), 100), RangeRequest::Partial(0..10));
        assert_eq!(
            parse(Some("bytes=90-"), 100),
            RangeRequest::Partial(90..100)
        );
        assert_eq!(parse(Some("bytes=-5"), 100), RangeRequest::Partial(95..100));
        assert_eq!(
            parse(Some("bytes=-500"), 100),
            RangeRequest::Partial(0..100)
        );
        assert_eq!(
            parse(Some("bytes=50-5000"), 100),
            RangeRequest::Partial(50..100)
        );
    }

    #[test]
    fn refuses_what_lies_outside() {
        assert_eq!(parse(Some("bytes=100-"), 100), RangeRequest::Unsatisfiable);
        assert_eq!(parse(Some("bytes=-0"), 100), RangeRequest::Unsatisfiable);
    }

    #[test]
    fn ignores_what_it_does_not_serve() {
        assert_eq!(parse(None, 100), RangeRequest::Whole);
        assert_eq!(parse(Some("items=0-1"), 100), RangeRequest::Whole);
        assert_eq!(parse(Some("bytes=0-1,5-6"), 100), RangeRequest::Whole);
        assert_eq!(parse(Some("bytes=9-3"), 100), RangeRequest::Whole);
        assert_eq!(parse(Some("bytes=x-3"), 100), RangeRequest::Whole);
    }
}
