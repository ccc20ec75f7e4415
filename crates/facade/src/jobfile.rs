//! Reading a job file: the vendor's request JSON where each reference has `img_id` or `image`
//! (a path relative to the job file, or an https URL).

use std::path::{Path, PathBuf};

use pixfuse_core::video::VideoHeader;
use pixfuse_core::{ImageSource, Job, ValidateOptions, VideoSource, validate_bytes};

use crate::error::Error;

/// The largest job file read: a request is a few kilobytes, and parsing a huge one costs many
/// times its size in memory.
pub const MAX_JOB_FILE_BYTES: u64 = 16 << 20;

/// Reads at most [`MAX_JOB_FILE_BYTES`] from `reader`; a larger input is refused before any of
/// it is parsed. `name` names the input in the message.
pub fn read_job_bytes(reader: impl std::io::Read, name: &str) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut bytes = Vec::new();
    reader
        .take(MAX_JOB_FILE_BYTES + 1)
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_JOB_FILE_BYTES {
        return Err(too_large(name));
    }
    Ok(bytes)
}

/// Reads the job file at `path`, refusing one over [`MAX_JOB_FILE_BYTES`] by its size alone.
pub fn read_job_file(path: &Path) -> std::io::Result<Vec<u8>> {
    let file = std::fs::File::open(path)?;
    if file.metadata()?.len() > MAX_JOB_FILE_BYTES {
        return Err(too_large("the file"));
    }
    read_job_bytes(file, "the file")
}

fn too_large(name: &str) -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::InvalidData,
        format!(
            "{name} is larger than {} MiB; a job file holds one request of a few kilobytes",
            MAX_JOB_FILE_BYTES >> 20
        ),
    )
}

/// Reads and validates the job file at `path` (or JSON text from `-`), returning the job with
/// every relative image path made relative to the job file's directory instead of the current
/// one. Warnings stay in the returned list; errors fail with [`Error::Invalid`]. A file over
/// [`MAX_JOB_FILE_BYTES`] is refused unread.
pub fn load_job_file(
    path: &Path,
    opts: &ValidateOptions,
) -> Result<(Job, Vec<pixfuse_core::Diagnostic>), Error> {
    let bytes = read_job_file(path).map_err(|e| Error::io("cannot read job file", path, e))?;
    let base = path.parent().unwrap_or(Path::new(""));
    parse_job(&bytes, base, opts)
}

/// Parses job JSON whose relative image paths are relative to `base`.
pub fn parse_job(
    bytes: &[u8],
    base: &Path,
    opts: &ValidateOptions,
) -> Result<(Job, Vec<pixfuse_core::Diagnostic>), Error> {
    let validation = validate_bytes(bytes, opts);
    let job = match validation.job {
        Some(job) if validation.diagnostics.iter().all(|d| !d.is_error()) => job,
        _ => {
            return Err(Error::Invalid {
                diagnostics: validation.diagnostics,
            });
        }
    };
    Ok((rebase_paths(job, base), validation.diagnostics))
}

/// Reads every local image and reference video of `job` (its paths as the job holds them,
/// already relative to the current directory: see [`rebase_paths`]) offline — existence, format
/// by magic bytes, size, dimensions and (videos) length against the capability table, the
/// videos' lengths against Omni's ([`pixfuse_core::omni::check_video_lengths`]) — and returns what is wrong as diagnostics at
/// each reference's `/image` or `/video`. Only headers are read; URLs and ids are not checked.
pub fn check_local_images(job: &Job) -> Vec<pixfuse_core::Diagnostic> {
    let mut out = Vec::new();
    for (i, reference) in job.image_references.iter().enumerate() {
        let ImageSource::Path(p) = &reference.source else {
            continue;
        };
        let pointer = format!("/image_references/{i}/image");
        for problem in pixfuse_transport::image_problems(Path::new(p)) {
            out.push(problem.to_diagnostic(pointer.clone(), p));
        }
    }
    for (i, reference) in job.video_references.iter().enumerate() {
        let VideoSource::Path(p) = &reference.source else {
            continue;
        };
        let pointer = format!("/video_references/{i}/video");
        for problem in pixfuse_transport::video_problems(Path::new(p)).1 {
            out.push(problem.to_diagnostic(pointer.clone(), p));
        }
    }
    // The lengths read from the local files, against Omni's limits (each and together).
    out.extend(pixfuse_core::omni::check_video_lengths(
        job,
        &local_video_seconds(job),
    ));
    out
}

/// The length in seconds of each of `job`'s reference videos that is a local file (in order;
/// `None` for a URL, an id, or a file whose header does not say), for
/// [`pixfuse_core::estimate_job_with_videos`]. Only headers are read.
pub fn local_video_seconds(job: &Job) -> Vec<Option<f64>> {
    job.video_references
        .iter()
        .map(|reference| match &reference.source {
            VideoSource::Path(p) => pixfuse_transport::video_problems(Path::new(p))
                .0
                .as_ref()
                .and_then(VideoHeader::seconds),
            _ => None,
        })
        .collect()
}

/// Makes relative `image` and `video` paths relative to `base`.
pub fn rebase_paths(mut job: Job, base: &Path) -> Job {
    let rebased = |p: &str| -> Option<String> {
        let path = Path::new(p);
        (path.is_relative() && !base.as_os_str().is_empty()).then(|| {
            let joined: PathBuf = base.join(path);
            joined.to_string_lossy().into_owned()
        })
    };
    for reference in &mut job.image_references {
        if let ImageSource::Path(p) = &reference.source
            && let Some(joined) = rebased(p)
        {
            reference.source = ImageSource::Path(joined);
        }
    }
    for reference in &mut job.video_references {
        if let VideoSource::Path(p) = &reference.source
            && let Some(joined) = rebased(p)
        {
            reference.source = VideoSource::Path(joined);
        }
    }
    job
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths_follow_the_job_file_and_urls_stay() {
        let json = br#"{"image_references":[
            {"type":"subject","image":"dog.png","ref_name":"dog"},
            {"type":"background","image":"/abs/park.jpg","ref_name":"park"},
            {"type":"subject","image":"https://cdn.example/cat.webp","ref_name":"cat"},
            {"type":"subject","img_id":7,"ref_name":"hat"}],
            "prompt":"@dog @cat @hat in @park ","model":"v6","duration":5,"quality":"540p","aspect_ratio":"16:9"}"#;
        let (job, _) = parse_job(json, Path::new("jobs"), &ValidateOptions::default()).unwrap();
        let sources: Vec<_> = job
            .image_references
            .iter()
            .map(|r| r.source.clone())
            .collect();
        assert_eq!(
            sources,
            vec![
                ImageSource::Path("jobs/dog.png".into()),
                ImageSource::Path("/abs/park.jpg".into()),
                ImageSource::Url("https://cdn.example/cat.webp".into()),
                ImageSource::ImgId(7),
            ]
        );
    }

    #[test]
    fn an_invalid_job_is_refused_with_every_diagnostic() {
        let json = br#"{"image_references":[],"prompt":"","model":"v5","duration":"5","quality":"540p","aspect_ratio":"16:9"}"#;
        let err = parse_job(json, Path::new(""), &ValidateOptions::default()).unwrap_err();
        let Error::Invalid { diagnostics } = err else {
            panic!("expected Invalid")
        };
        assert!(
            diagnostics.iter().any(|d| d.path == "/duration"),
            "{diagnostics:?}"
        );
    }
}
