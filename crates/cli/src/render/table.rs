//! Plain text tables (tabled): columns two spaces apart, a rule under the header, the whole
//! fitted to the terminal's width by truncating the widest column first.

use std::io::IsTerminal;

use tabled::builder::Builder;
use tabled::settings::object::Columns;
use tabled::settings::peaker::PriorityMax;
use tabled::settings::style::HorizontalLine;
use tabled::settings::{Modify, Padding, Style, Width};

/// Renders `header` and `rows` within the width of the output ([`output_width`]).
pub fn render(header: &[&str], rows: &[Vec<String>]) -> String {
    render_within(header, rows, output_width())
}

/// The width tables must fit: `COLUMNS` when set (as `ls` and git honour it), else the
/// terminal's when stdout is one; none when stdout is a pipe or a file (a script gets whole
/// cells).
pub fn output_width() -> Option<usize> {
    let from_env = std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.trim().parse::<usize>().ok())
        .filter(|c| *c > 0);
    from_env.or_else(|| {
        let stdout = std::io::stdout();
        if !stdout.is_terminal() {
            return None;
        }
        terminal_size::terminal_size_of(&stdout).map(|(w, _)| usize::from(w.0))
    })
}

/// Renders `header` and `rows`, at most `width` columns wide when given. Cells may hold server
/// text: control characters go, and line breaks become spaces.
pub fn render_within(header: &[&str], rows: &[Vec<String>], width: Option<usize>) -> String {
    render_wrapping(header, rows, width, &[])
}

/// [`render_within`], with the cells of some columns wrapped at word boundaries: `(column,
/// width)` pairs (for lists that must stay whole, such as a model's aspect ratios).
pub fn render_wrapping(
    header: &[&str],
    rows: &[Vec<String>],
    width: Option<usize>,
    wraps: &[(usize, usize)],
) -> String {
    let cells: Vec<Vec<String>> = std::iter::once(header.iter().map(|h| one_line(h)).collect())
        .chain(rows.iter().map(|row| {
            row.iter()
                .enumerate()
                .map(
                    |(i, c)| match wraps.iter().find(|(column, _)| *column == i) {
                        Some(&(_, at)) => wrapped(&one_line(c), at),
                        None => one_line(c),
                    },
                )
                .collect()
        }))
        .collect();
    let natural = natural_widths(&cells);
    let mut table = Builder::from(cells).build();
    table
        .with(Style::empty().horizontals([(1, HorizontalLine::new('─'))]))
        .with(Padding::new(0, GAP, 0, 0))
        .with(Modify::new(Columns::last()).with(Padding::zero()));
    if let Some(width) = width {
        let fitted = fitted_widths(&natural, width);
        for (i, (&w, &n)) in fitted.iter().zip(&natural).enumerate() {
            if w < n {
                table.with(Modify::new(Columns::one(i)).with(Width::truncate(w).suffix("…")));
            }
        }
        // When even that is too wide, every column gives way.
        table.with(
            Width::truncate(width)
                .priority(PriorityMax::right())
                .suffix("…"),
        );
    }
    let mut out = String::new();
    for line in table.to_string().lines() {
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// Spaces between columns.
const GAP: usize = 2;

/// A column is cut to no fewer characters than this (or its own width, if less) before the
/// next widest is cut.
const FLOOR: usize = 10;

/// Each column's width: its widest line.
fn natural_widths(cells: &[Vec<String>]) -> Vec<usize> {
    let columns = cells.first().map_or(0, Vec::len);
    (0..columns)
        .map(|i| {
            cells
                .iter()
                .filter_map(|row| row.get(i))
                .flat_map(|cell| cell.lines())
                .map(|line| line.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect()
}

/// The widths that fit `width`: the widest column is cut first, down to [`FLOOR`], then the
/// next widest, so ids, states and times stay whole while a long path or error gives way.
fn fitted_widths(natural: &[usize], width: usize) -> Vec<usize> {
    let mut widths = natural.to_vec();
    let total = widths.iter().sum::<usize>() + GAP * widths.len().saturating_sub(1);
    let mut excess = total.saturating_sub(width);
    while excess > 0 {
        let widest = widths
            .iter()
            .enumerate()
            .filter(|(_, w)| **w > FLOOR)
            .max_by_key(|(i, w)| (**w, std::cmp::Reverse(*i)));
        let Some((i, &w)) = widest else { break };
        let cut = excess.min(w - FLOOR);
        widths[i] -= cut;
        excess -= cut;
    }
    widths
}

/// `text` in lines of at most `at` characters, broken between words.
fn wrapped(text: &str, at: usize) -> String {
    let mut lines: Vec<String> = Vec::new();
    for word in text.split_whitespace() {
        match lines.last_mut() {
            Some(line) if line.chars().count() + 1 + word.chars().count() <= at => {
                line.push(' ');
                line.push_str(word);
            }
            _ => lines.push(word.to_owned()),
        }
    }
    lines.join("\n")
}

/// A cell's text on one line, safe for a terminal.
fn one_line(cell: &str) -> String {
    pixfuse_core::text::sanitize(&cell.replace(['\n', '\t'], " ")).into_owned()
}

#[cfg(test)]
mod tests {
    use super::render_within;

    fn rows() -> Vec<Vec<String>> {
        vec![
            vec![
                "1".into(),
                "succeeded".into(),
                "out/a-very-long-name-of-a-video.mp4".into(),
            ],
            vec!["22".into(), "failed".into(), "b.mp4".into()],
        ]
    }

    #[test]
    fn cells_cannot_drive_the_terminal_or_break_lines() {
        let out = render_within(
            &["a", "b"],
            &[vec!["x\u{1b}]0;t\u{7}".into(), "one\ntwo\u{1b}[2J".into()]],
            None,
        );
        assert_eq!(out.lines().nth(2), Some("x  one two"));
    }

    #[test]
    fn without_a_width_cells_stay_whole_and_lines_carry_no_trailing_space() {
        let out = render_within(&["job", "state", "output"], &rows(), None);
        assert!(out.contains("out/a-very-long-name-of-a-video.mp4"), "{out}");
        assert!(out.lines().all(|l| l == l.trim_end()), "{out}");
        assert_eq!(
            out.lines().nth(1).map(|l| l.chars().all(|c| c == '─')),
            Some(true)
        );
    }

    #[test]
    fn the_widest_column_gives_way_first() {
        assert_eq!(
            super::fitted_widths(&[3, 12, 26, 28], 80),
            vec![3, 12, 26, 28]
        );
        assert_eq!(
            super::fitted_widths(&[3, 12, 26, 28], 60),
            vec![3, 12, 26, 13]
        );
        assert_eq!(
            super::fitted_widths(&[3, 12, 26, 28], 40),
            vec![3, 11, 10, 10]
        );
    }

    #[test]
    fn wrapped_columns_break_between_words() {
        let out = super::render_wrapping(
            &["model", "ratios"],
            &[vec!["v6".into(), "16:9 9:16 4:3 2:3".into()]],
            None,
            &[(1, 9)],
        );
        assert_eq!(
            out,
            "model  ratios\n────────────────\nv6     16:9 9:16\n       4:3 2:3\n"
        );
    }

    #[test]
    fn a_narrow_width_truncates_the_widest_column_only() {
        let out = render_within(&["job", "state", "output"], &rows(), Some(30));
        for line in out.lines() {
            assert!(line.chars().count() <= 30, "{line:?} in\n{out}");
        }
        let first = out.lines().nth(2).unwrap_or_default();
        assert!(first.starts_with("1    succeeded  out/a-very-"), "{out}");
        assert!(first.ends_with('…'), "{out}");
    }
}
