//! Diagnostics rendered like a compiler's: the code, the message, the JSON path, the prompt line
//! with carets under the span, and the suggestion.

use std::fmt::Write;
use std::ops::Range;

use pixfuse_core::{Diagnostic, Severity};

use super::Style;

/// Longest stretch of a prompt line shown around a span.
const WINDOW: usize = 72;

/// Renders one diagnostic (ending with a blank line).
pub fn render(d: &Diagnostic, prompt: Option<&str>, style: Style) -> String {
    let mut out = String::new();
    let label = match d.severity {
        Severity::Error => style.error(&format!("error[{}]", d.code)),
        Severity::Warning => style.warning(&format!("warning[{}]", d.code)),
    };
    let _ = writeln!(out, "{label}: {}", style.bold(&d.message));
    let path = if d.path.is_empty() {
        "(whole document)"
    } else {
        &d.path
    };
    let _ = writeln!(out, "  {} {path}", style.accent("-->"));
    if let (Some(span), Some(prompt)) = (&d.span, prompt)
        && let Some((line_no, shown, carets)) = excerpt(prompt, span.clone())
    {
        let gutter = line_no.to_string();
        let pad = " ".repeat(gutter.len());
        let bar = style.accent("|");
        let _ = writeln!(out, "  {pad} {bar}");
        let _ = writeln!(out, "  {} {bar} {shown}", style.accent(&gutter));
        let marks = match d.severity {
            Severity::Error => style.error(&carets),
            Severity::Warning => style.warning(&carets),
        };
        let _ = writeln!(out, "  {pad} {bar} {marks}");
    }
    if let Some(suggestion) = &d.suggestion {
        let _ = writeln!(out, "  {} {suggestion}", style.accent("= help:"));
    }
    out.push('\n');
    out
}

/// The prompt line holding `span` (1-based number), cut to a window around the span, and the
/// caret line under it. Columns count characters.
fn excerpt(prompt: &str, span: Range<usize>) -> Option<(usize, String, String)> {
    let start = span.start.min(prompt.len());
    if !prompt.is_char_boundary(start) {
        return None;
    }
    let line_start = prompt[..start].rfind('\n').map_or(0, |i| i + 1);
    let line_end = prompt[start..]
        .find('\n')
        .map_or(prompt.len(), |i| start + i);
    let line_no = prompt[..line_start].matches('\n').count() + 1;
    let end = span.end.clamp(start, line_end);
    let line = &prompt[line_start..line_end];
    let col = prompt[line_start..start].chars().count();
    let width = prompt[start..end].chars().count().max(1);

    // Keep the window at most WINDOW characters, starting a little before the span.
    let skip = col.saturating_sub(16);
    let chars: Vec<char> = line.chars().skip(skip).take(WINDOW).collect();
    let mut shown: String = chars.iter().collect();
    let mut lead = String::new();
    if skip > 0 {
        shown.insert(0, '…');
        lead.push(' ');
    }
    if line.chars().count() > skip + WINDOW {
        shown.push('…');
    }
    let caret_col = col - skip;
    let caret_width = width.min(WINDOW.saturating_sub(caret_col)).max(1);
    let carets = format!("{lead}{}{}", " ".repeat(caret_col), "^".repeat(caret_width));
    Some((line_no, shown, carets))
}

/// "2 errors, 1 warning".
pub fn summary(errors: usize, warnings: usize) -> String {
    let plural = |n: usize, word: &str| {
        if n == 1 {
            format!("{n} {word}")
        } else {
            format!("{n} {word}s")
        }
    };
    format!(
        "{}, {}",
        plural(errors, "error"),
        plural(warnings, "warning")
    )
}
