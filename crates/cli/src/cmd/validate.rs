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
  pixfuse validate --json job.json              one JSON object: {valid, errors, warnings}
  pixfuse validate --fix job.json               insert missing spaces after @mentions (listed)
  cat job.json | pixfuse validate -
  pixfuse validate --jsonl requests.jsonl       one request per line, one result per line")]
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
    /// FILE holds one request per line: print one JSON result per line, streaming.
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
}

impl<'a> Report<'a> {
    pub(crate) fn new(v: &'a Validation, fixes: Option<&'a [Change]>) -> Self {
        Report {
            valid: v.is_valid(),
            errors: v.errors().collect(),
            warnings: v.warnings().collect(),
            fixes,
        }
    }
}

pub fn run(ctx: &Ctx, args: &ValidateArgs) -> Result<Exit, Failure> {
    let opts = ValidateOptions::default().allow_unknown_model(args.allow_unknown_model);
    if args.jsonl {
        return run_jsonl(&args.file, &opts, args.max_line_bytes);
    }
    let bytes = input::read(&args.file)?;
    let mut validation = validate_bytes(&bytes, &opts);
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
            "{}: not fixing {}: rewriting it would drop the unknown fields inside its references",
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
        let mut report =
            serde_json::to_value(Report::new(&validation, fixes.as_deref())).map_err(|e| {
                Failure {
                    exit: Exit::Internal,
                    message: format!("cannot serialize the report: {e}"),
                }
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
        let text = human(
            &input::display_name(&args.file),
            &validation,
            fixes.as_deref(),
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
    fixes: Option<&[Change]>,
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

/// Streams: one request per input line, one result per output line, memory bounded by the line
/// limit. Blank lines are skipped. Exit 3 when any request is invalid.
fn run_jsonl(path: &Path, opts: &ValidateOptions, max_line: usize) -> Result<Exit, Failure> {
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
    let exit = validate_lines(reader, &mut out, opts, max_line)?;
    out.flush()?;
    Ok(exit)
}

/// The `--jsonl` loop over any reader and writer (public for the benchmark). A line longer
/// than `max_line` bytes (its newline not counted) is reported and skipped unread.
pub fn validate_lines(
    mut reader: impl BufRead,
    out: &mut impl Write,
    opts: &ValidateOptions,
    max_line: usize,
) -> Result<Exit, Failure> {
    let mut buf = Vec::with_capacity(4096);
    let mut line = 0u64;
    let mut all_valid = true;
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
        if let Some(length) = length {
            all_valid = false;
            let v = Validation {
                diagnostics: vec![Diagnostic::error(
                    "line_too_long",
                    "",
                    format!(
                        "line {line} is {length} bytes, over the limit of {max_line} \
                         (--max-line-bytes); it was skipped"
                    ),
                )],
                job: None,
            };
            let report = LineReport {
                line,
                validation: &v,
            };
            serde_json::to_writer(&mut *out, &report).map_err(std::io::Error::from)?;
            out.write_all(b"\n")?;
            continue;
        }
        if buf.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let v = validate_bytes(&buf, opts);
        all_valid &= v.is_valid();
        let report = LineReport {
            line,
            validation: &v,
        };
        serde_json::to_writer(&mut *out, &report).map_err(std::io::Error::from)?;
        out.write_all(b"\n")?;
    }
    Ok(if all_valid {
        Exit::Success
    } else {
        Exit::InvalidRequest
    })
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
