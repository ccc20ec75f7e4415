//! `pixfuse validate`: check a request offline, like a compiler checks code.

use std::io::{BufRead, BufWriter, Write};
use std::path::{Path, PathBuf};

use clap::Args;
use pixfuse_core::fix::Change;
use pixfuse_core::{Diagnostic, ValidateOptions, Validation, fix_job, validate_bytes};
use serde::Serialize;

use super::{Ctx, Failure};
use crate::exit::Exit;
use crate::input;
use crate::render::{Style, diagnostics};

/// Check a Fusion request or job file offline: every mistake, before any credit is spent.
///
/// Exit status: 0 when there is no error (warnings allowed), 3 when there is any error
/// (unparsable JSON included), 2 when the file cannot be read.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  pixfuse validate job.json
  pixfuse validate --json job.json              {valid, errors, warnings}
  pixfuse validate --fix job.json               add spaces after @mentions
  cat job.json | pixfuse validate -
  pixfuse validate --jsonl jobs.jsonl           each batch line, then a summary
  pixfuse validate --json --jsonl jobs.jsonl    a JSON result per line, streamed

Local image files (`image` paths, relative to the file) are read offline: they must exist and be png, jpeg or webp by their first bytes, within the upload's size and pixel limits.")]
pub struct ValidateArgs {
    /// The request or job file (JSON), or `-` for stdin.
    pub file: PathBuf,
    /// Apply safe mechanical fixes (a space after a mention), list each one, and rewrite the
    /// file (stdin: print the fixed JSON on stdout). The file is rewritten in pixfuse's layout.
    #[arg(long, conflicts_with = "jsonl")]
    pub fix: bool,
    /// Accept a model this build does not know (a warning instead of an error; model-specific
    /// checks are skipped).
    #[arg(long)]
    pub allow_unknown_model: bool,
    /// FILE holds one request per line, as a `batch` file (its `id` and `output` keys
    /// included): each line is checked; with --json, a JSON result per line, streamed.
    #[arg(long)]
    pub jsonl: bool,
    /// With --jsonl: a longer line is reported as `line_too_long` and skipped unread (memory
    /// stays bounded whatever the input).
    #[arg(long, value_name = "BYTES", default_value_t = DEFAULT_MAX_LINE_BYTES, requires = "jsonl")]
    pub max_line_bytes: usize,
}

/// One request is a few kilobytes; a line of a megabyte is not a request.
pub const DEFAULT_MAX_LINE_BYTES: usize = 1 << 20;

/// The `--json` answer (also the MCP `validate` tool's).
#[derive(Serialize)]
pub(crate) struct Report<'a> {
    valid: bool,
    errors: Vec<&'a Diagnostic>,
    warnings: Vec<&'a Diagnostic>,
    #[serde(skip_serializing_if = "Option::is_none")]
    fixes: Option<&'a [Change]>,
    /// With `--fix`: every problem left, and why it was not fixed.
    #[serde(skip_serializing_if = "Option::is_none")]
    not_fixed: Option<Vec<NotFixed<'a>>>,
}

/// A problem `--fix` left alone.
#[derive(Serialize)]
pub(crate) struct NotFixed<'a> {
    code: &'static str,
    severity: &'static str,
    path: &'a str,
    reason: &'static str,
}

/// Why `--fix` did not rewrite a file whose references hold unknown fields.
const WOULD_DROP: &str = "rewriting the file would drop the unknown fields inside its references";

/// What `--fix` left in `v`, each with its reason (`dropped`: the file was not rewritten).
fn not_fixed(v: &Validation, dropped: bool) -> Vec<NotFixed<'_>> {
    v.diagnostics
        .iter()
        .map(|d| NotFixed {
            code: d.code,
            severity: d.severity.as_str(),
            path: &d.path,
            reason: match d.code {
                "mention_no_space" | "mention_at_end" if dropped => WOULD_DROP,
                code => pixfuse_core::fix::why_not_fixed(code),
            },
        })
        .collect()
}

impl<'a> Report<'a> {
    pub(crate) fn new(v: &'a Validation, fixes: Option<&'a [Change]>) -> Self {
        Report {
            valid: v.is_valid(),
            errors: v.errors().collect(),
            warnings: v.warnings().collect(),
            fixes,
            not_fixed: None,
        }
    }
}

pub fn run(ctx: &Ctx, args: &ValidateArgs) -> Result<Exit, Failure> {
    let opts = ValidateOptions::default().allow_unknown_model(args.allow_unknown_model);
    if args.jsonl {
        return run_jsonl(ctx, &args.file, &opts, args.max_line_bytes);
    }
    let bytes = input::read(&args.file)?;
    let base = base_dir(&args.file);
    let mut validation = validate_bytes(&bytes, &opts);
    check_files(&mut validation, &base);
    let mut fixes = None;
    let mut fixed_bytes = None;
    // A rewrite would drop unknown fields inside references (a job cannot hold them): then
    // nothing is rewritten rather than something lost.
    let would_drop = validation
        .diagnostics
        .iter()
        .any(|d| d.code == "unknown_field" && d.path.starts_with("/image_references/"));
    if args.fix && would_drop {
        let style = Style::for_stderr();
        writeln!(
            std::io::stderr().lock(),
            "{}: not fixing {}: {WOULD_DROP}",
            style.warning("note"),
            input::display_name(&args.file)
        )?;
    }
    if args.fix
        && !would_drop
        && let Some(job) = &mut validation.job
    {
        let changes = fix_job(job);
        if !changes.is_empty() {
            let mut text = serde_json::to_vec_pretty(&*job).map_err(|e| Failure {
                exit: Exit::Internal,
                message: format!("cannot serialize the fixed request: {e}"),
            })?;
            text.push(b'\n');
            validation = validate_bytes(&text, &opts);
            check_files(&mut validation, &base);
            fixed_bytes = Some(text);
        }
        fixes = Some(changes);
    }
    let to_stdin = args.file == Path::new("-");
    if let Some(text) = &fixed_bytes {
        // With --json the fixed request on stdin goes inside the report (`fixed`), so stdout
        // holds one JSON object.
        if to_stdin {
            if !ctx.json {
                std::io::stdout().lock().write_all(text)?;
            }
        } else {
            pixfuse::write_file_atomically(&args.file, text).map_err(|e| Failure {
                exit: Exit::Usage,
                message: format!("cannot write the fixed file {}: {e}", args.file.display()),
            })?;
        }
    }
    // Data on stdout, messages on stderr: the --json report is data; the human report is
    // diagnostics, on stderr as `run` prints them.
    if ctx.json {
        let mut report = Report::new(&validation, fixes.as_deref());
        if args.fix {
            report.not_fixed = Some(not_fixed(&validation, would_drop));
        }
        let mut report = serde_json::to_value(report).map_err(|e| Failure {
            exit: Exit::Internal,
            message: format!("cannot serialize the report: {e}"),
        })?;
        if to_stdin && let Some(text) = &fixed_bytes {
            report["fixed"] = serde_json::from_slice(text).map_err(|e| Failure {
                exit: Exit::Internal,
                message: format!("cannot serialize the fixed request: {e}"),
            })?;
        }
        ctx.print_json(&report)?;
    } else {
        let prompt = prompt_of(&validation, &bytes);
        let left = args.fix.then(|| not_fixed(&validation, would_drop));
        let text = human(
            &input::display_name(&args.file),
            &validation,
            (fixes.as_deref(), left.as_deref()),
            prompt.as_deref(),
            ctx,
            Style::for_stderr(),
        );
        std::io::stderr().lock().write_all(text.as_bytes())?;
    }
    Ok(if validation.is_valid() {
        Exit::Success
    } else {
        Exit::InvalidRequest
    })
}

/// Where a request's relative image paths start: the file's directory (the current one for
/// stdin).
pub(crate) fn base_dir(file: &Path) -> PathBuf {
    if file == Path::new("-") {
        return PathBuf::new();
    }
    file.parent().map(Path::to_owned).unwrap_or_default()
}

/// Adds what is wrong with the request's local image files (read offline: existence, magic
/// bytes, size, dimensions), relative paths taken from `base`. A request that did not parse
/// has no files to check.
pub(crate) fn check_files(v: &mut Validation, base: &Path) {
    let Some(job) = &v.job else { return };
    if !job
        .image_references
        .iter()
        .any(|r| matches!(r.source, pixfuse::ImageSource::Path(_)))
    {
        return;
    }
    let job = pixfuse::rebase_paths(job.clone(), base);
    v.diagnostics.extend(pixfuse::check_local_images(&job));
}

/// The prompt text the spans point into (from the job, or from the raw JSON when the request
/// did not parse as a whole).
fn prompt_of(v: &Validation, bytes: &[u8]) -> Option<String> {
    if let Some(job) = &v.job {
        return Some(job.prompt.clone());
    }
    if !v.diagnostics.iter().any(|d| d.span.is_some()) {
        return None;
    }
    let value: serde_json::Value = serde_json::from_slice(bytes).ok()?;
    value.get("prompt")?.as_str().map(str::to_owned)
}

fn human(
    name: &str,
    v: &Validation,
    (fixes, left): (Option<&[Change]>, Option<&[NotFixed<'_>]>),
    prompt: Option<&str>,
    ctx: &Ctx,
    style: Style,
) -> String {
    let mut out = String::new();
    for change in fixes.unwrap_or_default() {
        out.push_str(&format!(
            "{} {} at {}: \"{}\" → \"{}\"\n",
            style.ok("fixed:"),
            change.description,
            change.path,
            change.before,
            change.after
        ));
    }
    if fixes.is_some_and(|f| !f.is_empty()) {
        out.push('\n');
    }
    for d in &v.diagnostics {
        if ctx.quiet && !d.is_error() {
            continue;
        }
        out.push_str(&diagnostics::render(d, prompt, style));
    }
    let left: Vec<&NotFixed<'_>> = left
        .unwrap_or_default()
        .iter()
        .filter(|n| !(ctx.quiet && n.severity != "error"))
        .collect();
    if !left.is_empty() {
        out.push_str(&format!("{}\n", style.warning("not fixed:")));
        for n in left {
            let path = if n.path.is_empty() {
                "(whole document)"
            } else {
                n.path
            };
            out.push_str(&format!("  {} at {path}: {}\n", n.code, n.reason));
        }
    }
    let errors = v.errors().count();
    let warnings = v.warnings().count();
    let verdict = if errors == 0 {
        style.ok("valid")
    } else {
        style.error("invalid")
    };
    if !(ctx.quiet && errors == 0) {
        out.push_str(&format!(
            "{name}: {verdict} ({})\n",
            diagnostics::summary(errors, warnings)
        ));
    }
    out
}

/// One line of `--jsonl` output: `{line, valid, errors, warnings}`, serialized straight from
/// the validation (no intermediate vectors: this runs hundreds of thousands of times a second).
struct LineReport<'a> {
    line: u64,
    validation: &'a Validation,
}

impl Serialize for LineReport<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let v = self.validation;
        let mut map = serializer.serialize_map(Some(4))?;
        map.serialize_entry("line", &self.line)?;
        map.serialize_entry("valid", &v.is_valid())?;
        map.serialize_entry("errors", &Seq(|| v.errors()))?;
        map.serialize_entry("warnings", &Seq(|| v.warnings()))?;
        map.end()
    }
}

/// Serializes the items an iterator factory yields, as a JSON array.
struct Seq<F>(F);

impl<'a, F, I> Serialize for Seq<F>
where
    F: Fn() -> I,
    I: Iterator<Item = &'a Diagnostic>,
{
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq((self.0)())
    }
}

/// Streams: one request per input line, one result per output line (`--json`; a rendered
/// report per invalid line and a summary otherwise), memory bounded by the line limit. Blank
/// lines are skipped; a file without a request is a usage error, as for `batch`. Exit 3 when any
/// request is invalid.
fn run_jsonl(
    ctx: &Ctx,
    path: &Path,
    opts: &ValidateOptions,
    max_line: usize,
) -> Result<Exit, Failure> {
    let stdin;
    let reader: Box<dyn BufRead> = if path == Path::new("-") {
        stdin = std::io::stdin();
        Box::new(stdin.lock())
    } else {
        let file = std::fs::File::open(path)
            .map_err(|e| Failure::usage(format!("cannot read {}: {e}", path.display())))?;
        Box::new(std::io::BufReader::with_capacity(1 << 16, file))
    };
    let mut out = BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    let base = base_dir(path);
    let lines = Lines {
        base: Some(&base),
        human: (!ctx.json).then_some((ctx.style, ctx.quiet)),
    };
    let tally = validate_lines_with(reader, &mut out, opts, max_line, &lines)?;
    if tally.requests == 0 {
        return Err(Failure::usage(format!(
            "{} has no jobs (one job object per line)",
            input::display_name(path)
        )));
    }
    let quiet_and_clean = ctx.quiet && tally.invalid == 0;
    if !ctx.json && !quiet_and_clean {
        let verdict = if tally.invalid == 0 {
            ctx.style.ok("valid")
        } else {
            ctx.style.error("invalid")
        };
        writeln!(
            out,
            "{}: {verdict} ({} of {} valid; {})",
            input::display_name(path),
            tally.requests - tally.invalid,
            pixfuse_core::text::plural(tally.requests, "request"),
            diagnostics::summary(tally.errors, tally.warnings)
        )?;
    }
    out.flush()?;
    Ok(tally.exit())
}

/// How [`validate_lines_with`] reads and reports.
#[derive(Default)]
struct Lines<'a> {
    /// Check local image files, relative paths from here (`None`: no file is read).
    base: Option<&'a Path>,
    /// Render diagnostics for people (style, quiet) instead of one JSON object per line.
    human: Option<(Style, bool)>,
}

/// What the lines held.
#[derive(Default)]
struct Tally {
    requests: u64,
    invalid: u64,
    errors: usize,
    warnings: usize,
}

impl Tally {
    fn exit(&self) -> Exit {
        if self.invalid == 0 {
            Exit::Success
        } else {
            Exit::InvalidRequest
        }
    }
}

/// The `--jsonl` loop over any reader and writer (public for the benchmark): one JSON result
/// per line, no file read. A line longer than `max_line` bytes (its newline not counted) is
/// reported and skipped unread.
pub fn validate_lines(
    reader: impl BufRead,
    out: &mut impl Write,
    opts: &ValidateOptions,
    max_line: usize,
) -> Result<Exit, Failure> {
    validate_lines_with(reader, out, opts, max_line, &Lines::default()).map(|t| t.exit())
}

fn validate_lines_with(
    mut reader: impl BufRead,
    out: &mut impl Write,
    opts: &ValidateOptions,
    max_line: usize,
    how: &Lines<'_>,
) -> Result<Tally, Failure> {
    let mut buf = Vec::with_capacity(4096);
    let mut line = 0u64;
    let mut tally = Tally::default();
    loop {
        buf.clear();
        let read = read_line(&mut reader, &mut buf, max_line)
            .map_err(|e| Failure::usage(format!("cannot read line {}: {e}", line + 1)))?;
        let length = match read {
            Line::End => break,
            Line::Fits => None,
            Line::TooLong(length) => Some(length),
        };
        line += 1;
        let v = match length {
            Some(length) => Validation {
                diagnostics: vec![Diagnostic::error(
                    "line_too_long",
                    "",
                    format!(
                        "line {line} is {length} bytes, over the limit of {max_line} \
                         (--max-line-bytes); it was skipped"
                    ),
                )],
                job: None,
            },
            None if buf.iter().all(u8::is_ascii_whitespace) => continue,
            None => {
                let mut v = validate_bytes(&buf, opts);
                batch_keys(&mut v, &buf, line);
                if let Some(base) = how.base {
                    check_files(&mut v, base);
                }
                v
            }
        };
        tally.requests += 1;
        tally.invalid += u64::from(!v.is_valid());
        tally.errors += v.errors().count();
        tally.warnings += v.warnings().count();
        match how.human {
            None => {
                let report = LineReport {
                    line,
                    validation: &v,
                };
                crate::json_out::write_serialized(&mut *out, &report)?;
            }
            Some((style, quiet)) => {
                let prompt = v.job.as_ref().map(|j| j.prompt.as_str());
                for d in &v.diagnostics {
                    if quiet && !d.is_error() {
                        continue;
                    }
                    write!(
                        out,
                        "line {line}: {}",
                        diagnostics::render(d, prompt, style)
                    )?;
                }
            }
        }
    }
    Ok(tally)
}

/// A batch line's own keys, `id` and `output`, are not unknown fields: their warnings go, and
/// a malformed one (not a non-empty string) is reported as `batch` would refuse it.
fn batch_keys(v: &mut Validation, text: &[u8], line: u64) {
    let is_batch_key =
        |d: &Diagnostic| d.code == "unknown_field" && (d.path == "/id" || d.path == "/output");
    if !v.diagnostics.iter().any(is_batch_key) {
        return;
    }
    v.diagnostics.retain(|d| !is_batch_key(d));
    let text = String::from_utf8_lossy(text);
    if let Err(pixfuse_core::batch::BatchLineError::BadKey { key, .. }) =
        pixfuse_core::batch::split_batch_line(usize::try_from(line).unwrap_or(usize::MAX), &text)
    {
        v.diagnostics.push(Diagnostic::error(
            "wrong_type",
            format!("/{key}"),
            format!("\"{key}\" (a batch key) must be a non-empty string"),
        ));
    }
}

/// What [`read_line`] found.
enum Line {
    /// The input has ended.
    End,
    /// A line is in the buffer.
    Fits,
    /// The line was this many bytes, over the limit: skipped, the buffer left empty.
    TooLong(u64),
}

/// Reads one line (with its newline) into `buf`, keeping at most `max` bytes of it in memory.
fn read_line(reader: &mut impl BufRead, buf: &mut Vec<u8>, max: usize) -> std::io::Result<Line> {
    let mut length = 0u64;
    let mut too_long = false;
    loop {
        let available = match reader.fill_buf() {
            Ok(available) => available,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if available.is_empty() {
            break;
        }
        let (taken, ended) = match memchr::memchr(b'\n', available) {
            Some(i) => (i + 1, true),
            None => (available.len(), false),
        };
        let content = if ended { taken - 1 } else { taken };
        length += content as u64;
        if !too_long && length > max as u64 {
            too_long = true;
            buf.clear();
            buf.shrink_to(4096);
        }
        if !too_long {
            buf.extend_from_slice(&available[..taken]);
        }
        reader.consume(taken);
        if ended {
            break;
        }
    }
    Ok(match (too_long, length, buf.is_empty()) {
        (true, length, _) => Line::TooLong(length),
        (false, 0, true) => Line::End,
        _ => Line::Fits,
    })
}
