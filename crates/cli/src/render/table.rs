//! A plain text table: columns padded to their widest cell.

/// Renders `header` and `rows` with two spaces between columns and a rule under the header.
/// Cells may hold server text: control characters go, and line breaks become spaces.
pub fn render(header: &[&str], rows: &[Vec<String>]) -> String {
    let rows: Vec<Vec<String>> = rows
        .iter()
        .map(|row| row.iter().map(|cell| one_line(cell)).collect())
        .collect();
    let rows = &rows;
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let line = |cells: Vec<&str>, out: &mut String| {
        let mut text = String::new();
        for (i, cell) in cells.iter().enumerate() {
            if i > 0 {
                text.push_str("  ");
            }
            text.push_str(cell);
            if i + 1 < cells.len() {
                text.push_str(&" ".repeat(widths[i] - cell.chars().count()));
            }
        }
        out.push_str(text.trim_end());
        out.push('\n');
    };
    line(header.to_vec(), &mut out);
    let rule: Vec<String> = widths.iter().map(|w| "─".repeat(*w)).collect();
    line(rule.iter().map(String::as_str).collect(), &mut out);
    for row in rows {
        line(row.iter().map(String::as_str).collect(), &mut out);
    }
    out
}

/// A cell's text on one line, safe for a terminal.
fn one_line(cell: &str) -> String {
    pixfuse_core::text::sanitize(&cell.replace(['\n', '\t'], " ")).into_owned()
}

#[cfg(test)]
mod tests {
    #[test]
    fn cells_cannot_drive_the_terminal_or_break_lines() {
        let out = super::render(
            &["a", "b"],
            &[vec!["x\u{1b}]0;t\u{7}".into(), "one\ntwo\u{1b}[2J".into()]],
        );
        assert_eq!(out.lines().nth(2), Some("x  one two"));
    }
}
