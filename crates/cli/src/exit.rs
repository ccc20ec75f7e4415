//! Exit codes: the complete table every pixfuse command uses (other tooling depends on it).
//! [`TABLE`] is the one place each code is explained: `pixfuse help exit-codes`, the top-level
//! `--help` footer, `batch --help` and the README's table are all generated from it.

use pixfuse_core::ErrorClass;

/// How a `pixfuse` process ends (each code is explained in [`TABLE`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    Success = 0,
    Internal = 1,
    Usage = 2,
    InvalidRequest = 3,
    Auth = 4,
    Credits = 5,
    Moderation = 6,
    GenerationFailed = 7,
    StillRunning = 8,
    Concurrency = 9,
    Network = 10,
    Interrupted = 130,
    Terminated = 143,
}

/// One exit code: a short name, what it means, and the official PixVerse CLI's code for the same
/// outcome.
#[derive(Debug)]
pub struct Row {
    pub exit: Exit,
    /// A word or two (`credits`), for compact lists.
    pub name: &'static str,
    /// One sentence (the help wraps it).
    pub meaning: &'static str,
    /// The [`PIXVERSE_CLI`] codes for the same outcome; two when that CLI splits what pixfuse
    /// counts as one, none when it has no counterpart.
    pub pixverse: &'static [u8],
}

/// Every exit code, in numeric order.
pub const TABLE: [Row; 13] = [
    Row {
        exit: Exit::Success,
        name: "done",
        meaning: "done",
        pixverse: &[0],
    },
    Row {
        exit: Exit::Internal,
        name: "internal error",
        meaning: "an unexpected internal error (a bug: please report it)",
        pixverse: &[1],
    },
    Row {
        exit: Exit::Usage,
        name: "usage",
        meaning: "bad command line, missing or unreadable file, configuration problem",
        pixverse: &[1, 6],
    },
    Row {
        exit: Exit::InvalidRequest,
        name: "invalid request",
        meaning: "the request is invalid (offline validation, or a server 400xxx)",
        pixverse: &[6],
    },
    Row {
        exit: Exit::Auth,
        name: "auth",
        meaning: "missing, wrong or unauthorised API key",
        pixverse: &[3],
    },
    Row {
        exit: Exit::Credits,
        name: "credits",
        meaning: "not enough credits (in a batch: a line --budget skipped)",
        pixverse: &[4],
    },
    Row {
        exit: Exit::Moderation,
        name: "moderation",
        meaning: "content moderation refused the input or the output",
        pixverse: &[5],
    },
    Row {
        exit: Exit::GenerationFailed,
        name: "generation failed",
        meaning: "the generation failed or the video was deleted",
        pixverse: &[5],
    },
    Row {
        exit: Exit::StillRunning,
        name: "still running",
        meaning: "--timeout expired once the job was journaled: `pixfuse resume` continues it",
        pixverse: &[2],
    },
    Row {
        exit: Exit::Concurrency,
        name: "concurrency",
        meaning: "the concurrency or rate limit persisted after retries",
        pixverse: &[7],
    },
    Row {
        exit: Exit::Network,
        name: "network",
        meaning: "network or server failure after retries, or --timeout before the job was \
                  journaled (nothing to resume: run it again)",
        pixverse: &[1, 2],
    },
    Row {
        exit: Exit::Interrupted,
        name: "interrupted",
        meaning: "interrupted (Ctrl-C); the journal is consistent and the job resumable",
        pixverse: &[],
    },
    Row {
        exit: Exit::Terminated,
        name: "terminated",
        meaning: "terminated (SIGTERM); the journal is consistent and the job resumable",
        pixverse: &[],
    },
];

/// The official PixVerse CLI's exit codes (`pixverse`, from its documentation; 7 since 1.2.10).
pub const PIXVERSE_CLI: [(u8, &str); 8] = [
    (0, "ok"),
    (1, "general error"),
    (2, "timeout"),
    (3, "auth"),
    (4, "credits or subscription"),
    (5, "generation failed or moderated"),
    (6, "validation"),
    (7, "concurrency limit"),
];

impl Exit {
    /// The process exit status.
    pub fn code(self) -> u8 {
        self as u8
    }

    /// Its row of [`TABLE`].
    pub fn row(self) -> &'static Row {
        // Every variant has a row (a unit test proves it); the first row is only a fallback.
        TABLE
            .iter()
            .find(|row| row.exit == self)
            .unwrap_or(&TABLE[0])
    }

    /// `5 credits`: the code and its short name.
    pub fn label(self) -> String {
        format!("{} {}", self.code(), self.row().name)
    }
}

impl From<ErrorClass> for Exit {
    fn from(class: ErrorClass) -> Self {
        match class {
            ErrorClass::InvalidRequest | ErrorClass::NotFound => Exit::InvalidRequest,
            ErrorClass::Auth => Exit::Auth,
            ErrorClass::Credits => Exit::Credits,
            ErrorClass::Moderation => Exit::Moderation,
            ErrorClass::Deleted => Exit::GenerationFailed,
            ErrorClass::Concurrency => Exit::Concurrency,
            ErrorClass::Transient => Exit::Network,
            _ => Exit::Internal,
        }
    }
}

impl From<Exit> for std::process::ExitCode {
    fn from(exit: Exit) -> Self {
        std::process::ExitCode::from(exit.code())
    }
}

fn pixverse_name(code: u8) -> &'static str {
    PIXVERSE_CLI
        .iter()
        .find(|(c, _)| *c == code)
        .map_or("?", |(_, name)| name)
}

/// `1, 6` or `—`.
fn pixverse_codes(row: &Row) -> String {
    if row.pixverse.is_empty() {
        return "—".to_owned();
    }
    let codes: Vec<String> = row.pixverse.iter().map(u8::to_string).collect();
    codes.join(", ")
}

/// What the PixVerse column means, and that CLI's own codes.
fn pixverse_note() -> String {
    let codes: Vec<String> = PIXVERSE_CLI
        .iter()
        .map(|(code, name)| format!("{code} {name}"))
        .collect();
    format!(
        "The PixVerse column is the code the official PixVerse CLI (`pixverse`) ends with for the \
         same outcome; its codes are {}. pixfuse keeps apart what it lumps together \
         (moderation and failure, credits and a stuck job), so a script can react to each.",
        codes.join(", ")
    )
}

/// `pixfuse help exit-codes`.
pub fn help_topic() -> String {
    let mut out = String::from("Exit codes, the same for every pixfuse command:\n\n");
    out.push_str("  code  PixVerse  meaning\n");
    // The meaning column starts at 18 and wraps under itself.
    let hang = " ".repeat(18);
    for row in &TABLE {
        let meaning = wrap(row.meaning, 80 - hang.len(), "");
        let mut lines = meaning.lines();
        out.push_str(&format!(
            "  {:>4}  {:<8}  {}\n",
            row.exit.code(),
            pixverse_codes(row),
            lines.next().unwrap_or_default()
        ));
        for line in lines {
            out.push_str(&format!("{hang}{line}\n"));
        }
    }
    out.push('\n');
    out.push_str(&wrap(&pixverse_note(), 80, ""));
    out.push('\n');
    out.push_str(&wrap(
        "`pixfuse batch` ends with the most severe code among its lines (`pixfuse batch --help` \
         gives the order).",
        80,
        "",
    ));
    out
}

/// The top-level `--help` footer: every code and its name, wrapped to 80 columns.
pub fn help_footer() -> String {
    let names: Vec<String> = TABLE.iter().map(|row| row.exit.label()).collect();
    format!(
        "Exit codes (`pixfuse help exit-codes` explains each, with the PixVerse CLI's):\n{}",
        wrap_list(&names, ",", 80, "  ").trim_end()
    )
}

/// The README's table (Markdown); a test keeps the README's copy equal to it.
pub fn markdown() -> String {
    let mut out = String::from("| code | meaning | PixVerse CLI |\n|---|---|---|\n");
    for row in &TABLE {
        let pixverse = if row.pixverse.is_empty() {
            "—".to_owned()
        } else {
            let named: Vec<String> = row
                .pixverse
                .iter()
                .map(|c| format!("{c} ({})", pixverse_name(*c)))
                .collect();
            named.join(" or ")
        };
        out.push_str(&format!(
            "| {} | {} | {pixverse} |\n",
            row.exit.code(),
            row.meaning
        ));
    }
    out.push('\n');
    out.push_str(&pixverse_note());
    out.push('\n');
    out
}

/// The man page's EXIT STATUS section (roff).
pub fn roff() -> String {
    let escape = |text: &str| text.replace('\\', "\\e").replace('-', "\\-");
    let mut out = String::from(".SH \"EXIT STATUS\"\n");
    for row in &TABLE {
        let pixverse = if row.pixverse.is_empty() {
            String::new()
        } else {
            format!(" (PixVerse CLI: {})", pixverse_codes(row))
        };
        out.push_str(&format!(
            ".TP\n.B {}\n{}{pixverse}\n",
            row.exit.code(),
            escape(row.meaning)
        ));
    }
    out.push_str(&format!(".PP\n{}\n", escape(&pixverse_note())));
    out
}

/// `items` separated by `sep` (`,` or ` >`) and a space, in lines of at most `width` columns
/// that never break inside an item, each starting with `indent`.
pub fn wrap_list(items: &[String], sep: &str, width: usize, indent: &str) -> String {
    let mut out = String::new();
    let mut line = String::new();
    for (i, item) in items.iter().enumerate() {
        let piece = if i + 1 < items.len() {
            format!("{item}{sep}")
        } else {
            item.clone()
        };
        if !line.is_empty() && indent.len() + line.len() + 1 + piece.len() > width {
            out.push_str(&format!("{indent}{line}\n"));
            line.clear();
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(&piece);
    }
    if !line.is_empty() {
        out.push_str(&format!("{indent}{line}\n"));
    }
    out
}

/// `text` in lines of at most `width` columns (a longer word stands alone), each starting with
/// `indent`.
fn wrap(text: &str, width: usize, indent: &str) -> String {
    let mut out = String::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && indent.len() + line.len() + 1 + word.len() > width {
            out.push_str(indent);
            out.push_str(&line);
            out.push('\n');
            line.clear();
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        out.push_str(indent);
        out.push_str(&line);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_match_the_issue_5_table() {
        let table = [
            (Exit::Success, 0),
            (Exit::Internal, 1),
            (Exit::Usage, 2),
            (Exit::InvalidRequest, 3),
            (Exit::Auth, 4),
            (Exit::Credits, 5),
            (Exit::Moderation, 6),
            (Exit::GenerationFailed, 7),
            (Exit::StillRunning, 8),
            (Exit::Concurrency, 9),
            (Exit::Network, 10),
            (Exit::Interrupted, 130),
            (Exit::Terminated, 143),
        ];
        for (exit, code) in table {
            assert_eq!(exit.code(), code, "{exit:?}");
            assert_eq!(exit.row().exit, exit, "{exit:?} has its own row");
        }
        assert_eq!(Exit::from(ErrorClass::Credits), Exit::Credits);
        assert_eq!(Exit::from(ErrorClass::Concurrency), Exit::Concurrency);
        assert_eq!(Exit::from(ErrorClass::Transient), Exit::Network);
        assert_eq!(Exit::from(ErrorClass::Moderation), Exit::Moderation);
        assert_eq!(Exit::from(ErrorClass::Deleted), Exit::GenerationFailed);
        assert_eq!(Exit::from(ErrorClass::Auth), Exit::Auth);
    }

    #[test]
    fn the_table_is_in_order_and_maps_only_to_real_pixverse_codes() {
        let codes: Vec<u8> = TABLE.iter().map(|r| r.exit.code()).collect();
        let mut sorted = codes.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(codes, sorted, "numeric order, each code once");
        for row in &TABLE {
            assert!(!row.name.is_empty() && !row.meaning.is_empty(), "{row:?}");
            for code in row.pixverse {
                assert_ne!(pixverse_name(*code), "?", "{row:?}");
            }
        }
    }

    #[test]
    fn generated_help_fits_80_columns_and_names_every_code() {
        for text in [help_footer(), help_topic()] {
            for line in text.lines() {
                assert!(line.chars().count() <= 80, "{line}");
            }
        }
        let footer = help_footer();
        for row in &TABLE {
            assert!(footer.contains(&row.exit.label()), "{footer}");
        }
        assert_eq!(wrap("a b c", 3, ""), "a b\nc\n");
        let items = ["6 moderation".to_owned(), "7 generation failed".to_owned()];
        assert_eq!(
            wrap_list(&items, ",", 16, ""),
            "6 moderation,\n7 generation failed\n"
        );
        assert_eq!(wrap("a b", 4, "  "), "  a\n  b\n");
    }
}
