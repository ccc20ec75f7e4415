//! "Did you mean": the closest allowed value to what was written.

/// The candidate closest to `written`: equal ignoring case first, then the smallest edit
/// distance (ties keep the earlier candidate). `None` when there are no candidates.
pub(crate) fn closest<'c>(
    written: &str,
    candidates: impl IntoIterator<Item = &'c str>,
) -> Option<&'c str> {
    let lower = written.to_lowercase();
    candidates
        .into_iter()
        .map(|c| {
            let score = if c.eq_ignore_ascii_case(written) || c.to_lowercase() == lower {
                0
            } else {
                1 + strsim::levenshtein(&lower, &c.to_lowercase())
            };
            (score, c)
        })
        .min_by_key(|(score, _)| *score)
        .map(|(_, c)| c)
}

/// Like [`closest`], but only when the candidate is plausibly what was meant.
pub(crate) fn plausible<'c>(
    written: &str,
    candidates: impl IntoIterator<Item = &'c str>,
) -> Option<&'c str> {
    let best = closest(written, candidates)?;
    let distance = strsim::levenshtein(&written.to_lowercase(), &best.to_lowercase());
    (distance <= 2 || strsim::jaro_winkler(written, best) >= 0.85).then_some(best)
}

/// The allowed number nearest to `value` (ties: the smaller).
pub(crate) fn nearest(value: i128, allowed: &[u32]) -> Option<u32> {
    allowed
        .iter()
        .copied()
        .min_by_key(|a| ((i128::from(*a) - value).abs(), *a))
}

/// "a, b or c" (or "x to y" for a run of consecutive integers).
pub(crate) fn list_numbers(values: &[u32]) -> String {
    let consecutive = values.len() > 3 && values.windows(2).all(|w| w[1] == w[0] + 1);
    match values {
        [first, .., last] if consecutive => format!("{first} to {last}"),
        _ => list(values.iter().map(u32::to_string)),
    }
}

/// "a, b or c".
pub(crate) fn list(items: impl IntoIterator<Item = impl AsRef<str>>) -> String {
    let items: Vec<String> = items.into_iter().map(|s| s.as_ref().to_owned()).collect();
    match items.as_slice() {
        [] => String::from("nothing"),
        [one] => one.clone(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

/// The ratio of "w:h", if it is one.
pub(crate) fn ratio(s: &str) -> Option<f64> {
    let (w, h) = s.split_once(':')?;
    let (w, h): (f64, f64) = (w.trim().parse().ok()?, h.trim().parse().ok()?);
    (w > 0.0 && h > 0.0 && w.is_finite() && h.is_finite()).then(|| w / h)
}

/// "1 character", "2 characters".
pub(crate) fn plural(n: u64, word: &str) -> String {
    if n == 1 {
        format!("{n} {word}")
    } else {
        format!("{n} {word}s")
    }
}

/// The longest prefix of `s` of at most `max` bytes that ends on a character boundary.
pub(crate) fn truncate(s: &str, max: usize) -> &str {
    let mut end = max.min(s.len());
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}
