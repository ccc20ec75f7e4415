//! Reading a batch file (JSONL: one job per line, in the job-file format, with optional `"id"`
//! and `"output"`) into a plan: each line validated offline, priced, and given a stable key.
//!
//! The key is what makes a rerun resumable: it is journaled with the job, so running the same
//! batch again maps each line to the job it already started (same trace id) instead of paying
//! again. A line with an `"id"` is keyed by that id within its output directory; a line without
//! one by the sha256 of its canonical job (keys sorted) and its output path. Since an id'd line's
//! key ignores its content, the journal also keeps each line's job hash: a rerun whose line kept
//! its id but changed its job is rejected when the batch runs rather than silently mapped to the
//! old job.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use pixfuse_core::batch::split_batch_line;
use pixfuse_core::{Diagnostic, Job, ValidateOptions, estimate_job_with_videos};
use sha2::{Digest, Sha256};

use crate::error::Error;
use crate::identity::digest;
use crate::jobfile::parse_job;
use crate::journal::Store;
use crate::run::absolute;

/// One job of a batch, ready to run.
#[derive(Clone, Debug)]
pub struct BatchItem {
    /// 1-based line number in the batch file.
    pub line: usize,
    /// The line's `"id"`, if it has one.
    pub id: Option<String>,
    /// Stable identity across runs (see the module docs).
    pub key: String,
    /// sha256 of the line's canonical job (keys sorted; `"id"` and `"output"` left out).
    pub job_hash: String,
    /// The job, image paths resolved against the batch file's directory.
    pub job: Job,
    /// Absolute path of the video.
    pub output: PathBuf,
    /// Estimated credits (`None` when the price table cannot price it).
    pub estimate: Option<u64>,
    /// Validation warnings (errors reject the line instead).
    pub warnings: Vec<Diagnostic>,
}

impl BatchItem {
    /// A short human name: the id, else `line N`.
    pub fn name(&self) -> String {
        self.id
            .clone()
            .unwrap_or_else(|| format!("line {}", self.line))
    }
}

/// A line that is not a runnable job.
#[derive(Debug)]
pub struct RejectedLine {
    /// The line's number in the batch file (from 1).
    pub line: usize,
    /// The line's `"id"`, if it could be read.
    pub id: Option<String>,
    /// Why it cannot run.
    pub error: Error,
}

/// A whole batch file, read and checked.
#[derive(Debug, Default)]
pub struct BatchPlan {
    /// The runnable lines, in file order.
    pub items: Vec<BatchItem>,
    /// The lines that are not.
    pub rejected: Vec<RejectedLine>,
}

impl BatchPlan {
    /// Reads `file`; image paths are relative to its directory, outputs to `out_dir`. Only an
    /// unreadable file is an error: a bad line is kept in [`BatchPlan::rejected`].
    pub fn load(file: &Path, out_dir: &Path, opts: &ValidateOptions) -> Result<BatchPlan, Error> {
        let text = std::fs::read_to_string(file)
            .map_err(|e| Error::io("cannot read batch file", file, e))?;
        let base = absolute(file.parent().unwrap_or(Path::new("")));
        Ok(BatchPlan::parse(&text, &base, &absolute(out_dir), opts))
    }

    /// Parses batch text whose relative image paths are relative to `base`.
    pub fn parse(text: &str, base: &Path, out_dir: &Path, opts: &ValidateOptions) -> BatchPlan {
        let mut plan = BatchPlan::default();
        let mut seen: HashMap<String, usize> = HashMap::new();
        let mut outputs: HashMap<PathBuf, usize> = HashMap::new();
        for (index, raw) in text.lines().enumerate() {
            let line = index + 1;
            if raw.trim().is_empty() {
                continue;
            }
            let split = match split_batch_line(line, raw) {
                Ok(split) => split,
                Err(e) => {
                    plan.rejected.push(RejectedLine {
                        line,
                        id: None,
                        error: Error::Config(e.to_string()),
                    });
                    continue;
                }
            };
            let reject = |error| RejectedLine {
                line,
                id: split.id.clone(),
                error,
            };
            let canonical = serde_json::Value::Object(split.job.clone()).to_string();
            let (job, warnings) = match parse_job(canonical.as_bytes(), base, opts) {
                Ok(parsed) => parsed,
                Err(error) => {
                    plan.rejected.push(reject(error));
                    continue;
                }
            };
            let job_hash = hex::encode(Sha256::digest(canonical.as_bytes()));
            if let Some(problem) = split.output.as_deref().and_then(escapes_out_dir) {
                plan.rejected.push(reject(Error::Config(format!(
                    "line {line}: \"output\" {:?} {problem}; give a relative path inside --out-dir",
                    split.output.as_deref().unwrap_or_default()
                ))));
                continue;
            }
            let output = match (&split.output, &split.id) {
                (Some(o), _) => out_dir.join(o),
                (None, Some(id)) => out_dir.join(format!("{}.mp4", file_safe(id))),
                (None, None) => out_dir.join(format!("job-{}.mp4", &job_hash[..12])),
            };
            let key = match &split.id {
                Some(id) => digest(&["id", &out_dir.to_string_lossy(), id]),
                None => digest(&["job", &canonical, &output.to_string_lossy()]),
            };
            if let Some(first) = seen.insert(key.clone(), line) {
                plan.rejected.push(reject(Error::Config(format!(
                    "line {line} is the same job as line {first} (same id, or same request and \
                     output); give each line its own \"id\" to generate both"
                ))));
                continue;
            }
            if let Some(first) = outputs.insert(output.clone(), line) {
                plan.rejected.push(reject(Error::Config(format!(
                    "line {line} writes {} like line {first}; give each line its own \"output\"",
                    output.display()
                ))));
                continue;
            }
            plan.items.push(BatchItem {
                line,
                id: split.id.clone(),
                key,
                job_hash,
                // An Omni line is priced by its local videos' lengths (headers only).
                estimate: estimate_job_with_videos(
                    &job,
                    &crate::jobfile::local_video_seconds(&job),
                )
                .map(|e| e.credits),
                job,
                output,
                warnings,
            });
        }
        plan
    }

    /// Moves to [`BatchPlan::rejected`] every line with an `"id"` whose job differs from the job
    /// the journal already has under that id (a rerun after the line was edited): resuming the
    /// old job would silently ignore the edit. Records the job hash of every other id'd line.
    pub(crate) async fn reject_changed_lines(&mut self, store: &dyn Store) -> Result<(), Error> {
        let lines: Vec<(String, String)> = self
            .items
            .iter()
            .filter(|item| item.id.is_some())
            .map(|item| (item.key.clone(), item.job_hash.clone()))
            .collect();
        let mut verdicts = store.check_batch_lines(lines).await?.into_iter();
        let mut kept = Vec::with_capacity(self.items.len());
        for item in std::mem::take(&mut self.items) {
            let Some(id) = item.id.clone() else {
                kept.push(item);
                continue;
            };
            if verdicts.next().unwrap_or(true) {
                kept.push(item);
                continue;
            }
            self.rejected.push(RejectedLine {
                line: item.line,
                error: Error::Config(format!(
                    "line {} (id {id:?}) differs from the job an earlier run of this batch \
                     started under that id; give the changed line a new \"id\" to generate it \
                     (or restore the line to resume the earlier job)",
                    item.line
                )),
                id: Some(id),
            });
        }
        self.items = kept;
        self.rejected.sort_by_key(|r| r.line);
        Ok(())
    }

    /// Sum of the estimates of the jobs that have one.
    pub fn estimated_credits(&self) -> u64 {
        self.items.iter().filter_map(|i| i.estimate).sum()
    }

    /// Jobs the price table cannot price.
    pub fn unpriced(&self) -> usize {
        self.items.iter().filter(|i| i.estimate.is_none()).count()
    }
}

/// Why an `"output"` value would put the video outside the output directory, if it would.
fn escapes_out_dir(output: &str) -> Option<&'static str> {
    use std::path::Component;
    let path = Path::new(output);
    if path.is_absolute() || path.has_root() {
        return Some("is an absolute path");
    }
    let mut parts = path.components().peekable();
    if parts.peek().is_none() {
        return Some("is empty");
    }
    for part in parts {
        match part {
            Component::ParentDir => return Some("climbs out with `..`"),
            Component::Prefix(_) | Component::RootDir => return Some("is an absolute path"),
            Component::CurDir | Component::Normal(_) => {}
        }
    }
    if path.file_name().is_none() {
        return Some("names no file");
    }
    None
}

/// An id made safe as a file name.
fn file_safe(id: &str) -> String {
    id.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const JOB: &str = r#""image_references":[{"type":"subject","img_id":7,"ref_name":"dog"}],"prompt":"@dog runs ","model":"v5","duration":5,"quality":"540p","aspect_ratio":"16:9""#;

    fn plan(text: &str) -> BatchPlan {
        BatchPlan::parse(
            text,
            Path::new("/b"),
            Path::new("/out"),
            &ValidateOptions::default(),
        )
    }

    #[test]
    fn keys_are_stable_and_outputs_follow_ids() {
        let text = format!(
            "{{\"id\":\"a/1\",{JOB}}}\n\n{{{JOB},\"output\":\"x.mp4\"}}\n{{{JOB}}}\n{{{JOB}}}\nnot json\n"
        );
        let p = plan(&text);
        assert_eq!(p.items.len(), 3);
        assert_eq!(p.items[0].output, PathBuf::from("/out/a_1.mp4"));
        assert_eq!(p.items[1].output, PathBuf::from("/out/x.mp4"));
        assert!(p.items[2].output.to_string_lossy().starts_with("/out/job-"));
        assert_eq!(p.rejected.len(), 2, "{:?}", p.rejected);
        assert!(
            p.rejected[0]
                .error
                .to_string()
                .contains("same job as line 4")
        );
        assert_eq!(p.rejected[1].line, 6);
        let again = plan(&text);
        let keys = |p: &BatchPlan| p.items.iter().map(|i| i.key.clone()).collect::<Vec<_>>();
        assert_eq!(keys(&p), keys(&again));
        assert!(p.estimated_credits() > 0);
    }

    #[test]
    fn outputs_outside_the_out_dir_are_refused_naming_the_line() {
        let mut text = String::new();
        for output in [
            "../elsewhere/x.mp4",
            "/etc/passwd",
            "a/../../x.mp4",
            "",
            ".",
            "ok/x.mp4",
        ] {
            text.push_str(&format!(
                "{{{JOB},\"output\":{output:?},\"id\":{output:?}}}\n"
            ));
        }
        let p = plan(&text);
        assert_eq!(p.items.len(), 1);
        assert_eq!(p.items[0].output, PathBuf::from("/out/ok/x.mp4"));
        let lines: Vec<usize> = p.rejected.iter().map(|r| r.line).collect();
        assert_eq!(lines, [1, 2, 3, 4, 5]);
        let first = p.rejected[0].error.to_string();
        assert!(
            first.starts_with("line 1: \"output\" \"../elsewhere/x.mp4\" climbs out"),
            "{first}"
        );
        assert!(matches!(p.rejected[1].error, Error::Config(_)));
        assert!(p.rejected[1].error.to_string().contains("absolute"));
    }

    #[test]
    fn an_invalid_line_is_rejected_alone() {
        let text = format!("{{{JOB}}}\n{{\"id\":\"bad\",\"model\":\"v5\"}}\n");
        let p = plan(&text);
        assert_eq!(p.items.len(), 1);
        assert!(matches!(p.rejected[0].error, Error::Invalid { .. }));
        assert_eq!(p.rejected[0].id.as_deref(), Some("bad"));
    }
}
