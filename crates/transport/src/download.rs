//! Downloading a result: streamed to a partial file next to the destination, resumed with
//! `Range` (and `If-Range`) after a cut — in this process or, when the caller names the partial
//! file, in a later one — verified, fsynced, then renamed into place, so the final path only
//! ever holds a complete video. Memory stays flat whatever the size.
//!
//! Verified means: the length matches what the server announced (`Content-Length`, the
//! `Content-Range` total) or, when it announced none, what a range probe at the end confirms
//! (416, or an empty 206) or the caller expected; and the bytes are a video (no HTML or JSON
//! `Content-Type`; an MP4/MOV or WebM signature).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use pixfuse_core::retry::{self, Attempted, Failure, Step, TransportFailure};
use pixfuse_core::text::redact_url;
use reqwest::StatusCode;
use reqwest::header::{
    CONTENT_RANGE, CONTENT_TYPE, ETAG, HeaderMap, IF_RANGE, LAST_MODIFIED, RANGE, TRANSFER_ENCODING,
};
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};
use tracing::Instrument;
use uuid::Uuid;

use crate::attempt::network_failure;
use crate::client::{Transport, check_scheme, jitter};
use crate::envelope::excerpt;
use crate::error::TransportError;

const WRITE_BUFFER: usize = 256 * 1024;
/// Bytes a signature check looks at.
const HEAD: usize = 12;
/// Bytes of a refused body read for its excerpt.
const EXCERPT_BYTES: usize = 512;
/// A pause in the body this long flushes what arrived to the partial file.
const LULL: Duration = Duration::from_millis(200);

/// Progress of a download.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DownloadProgress {
    /// Bytes in the partial file so far (an earlier download's included).
    pub received: u64,
    /// Total size, once the server has said.
    pub total: Option<u64>,
    /// Connections opened so far (more than 1 after a resume).
    pub connections: u32,
}

/// A finished download.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Downloaded {
    /// Where the video is now.
    pub path: PathBuf,
    /// Its size.
    pub bytes: u64,
    /// Times the transfer resumed after a cut.
    pub resumes: u32,
    /// Bytes an earlier download had left in the partial file (continued, not fetched again).
    pub continued_from: u64,
}

/// Where a download collects its bytes, and what the caller knows about its length.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DownloadOptions {
    /// The partial file, in the destination's directory. Bytes collect here until the whole
    /// video is verified; then it becomes the destination. It is kept when the download fails
    /// or runs out of time, and a later download with the same partial continues it (`Range`,
    /// with `If-Range` so a changed file starts over). Name it after the job (see
    /// [`partial_path`]). `None`: a unique temporary file, removed on failure.
    pub partial: Option<PathBuf>,
    /// The length in bytes the caller expects (a status answer's size), used only when the
    /// server announces none: a shorter body counts as cut.
    pub expected_len: Option<u64>,
}

/// The partial file of the download of job `job` to `dest`: `<dest>.pixfuse-<job>.part`.
pub fn partial_path(dest: &Path, job: &str) -> PathBuf {
    let mut name = dest.as_os_str().to_owned();
    name.push(format!(".pixfuse-{job}.part"));
    PathBuf::from(name)
}

/// Removes a partial file and its validator; `Ok` when neither exists.
pub fn discard_partial(partial: &Path) -> std::io::Result<()> {
    for path in [partial.to_owned(), meta_path(partial)] {
        match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
    }
    Ok(())
}

/// Next to a partial file: what `If-Range` needs to continue it in another process.
fn meta_path(partial: &Path) -> PathBuf {
    let mut name = partial.as_os_str().to_owned();
    name.push(".meta");
    PathBuf::from(name)
}

/// What identifies the file being downloaded, kept beside its partial.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
struct Validator {
    /// A strong `ETag`, else the `Last-Modified` date: the `If-Range` value.
    #[serde(default)]
    if_range: Option<String>,
    #[serde(default)]
    total: Option<u64>,
}

impl Validator {
    fn of(headers: &HeaderMap, total: Option<u64>) -> Self {
        let text = |name| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
        };
        // If-Range takes a strong validator only: a weak ETag could match changed bytes.
        let etag = text(ETAG).filter(|e| !e.starts_with("W/"));
        Validator {
            if_range: etag.or_else(|| text(LAST_MODIFIED)),
            total,
        }
    }
}

/// Why one connection ended before the video was complete.
enum Cut {
    /// Worth another connection from `received` on.
    Retry {
        failure: Failure<'static>,
        why: String,
    },
    /// The deadline passed.
    OutOfTime(String),
    /// Give up now; `discard` when the partial file is not worth continuing.
    Fatal {
        error: TransportError,
        discard: bool,
    },
}

/// One download in progress.
struct Transfer<'a> {
    url: &'a str,
    shown: String,
    out: tokio::io::BufWriter<tokio::fs::File>,
    partial: &'a Path,
    keep: bool,
    validator: Validator,
    progress: DownloadProgress,
    expected_len: Option<u64>,
    /// The start of the file, as far as this process has seen it (for the signature).
    head: Vec<u8>,
    /// The last body ended without an announced length: ask whether more is there.
    probing: bool,
    /// The last body was chunked and ended with its terminator (framed, unlike a close).
    framed_end: bool,
}

impl Transport {
    /// Downloads `url` to `dest` (see [`DownloadOptions`] for the partial file). The API key is
    /// never sent to the download host; redirects are followed (up to 10, across hosts), each
    /// hop checked against the scheme rule.
    pub async fn download(
        &self,
        url: &str,
        dest: &Path,
        options: &DownloadOptions,
        on_progress: &mut (dyn FnMut(DownloadProgress) + Send),
    ) -> Result<Downloaded, TransportError> {
        let parsed = reqwest::Url::parse(url).map_err(|e| TransportError::Download {
            url: redact_url(url),
            problem: format!("not a URL ({e})"),
        })?;
        check_scheme(&parsed, "download URL")?;
        let file_name = dest.file_name().ok_or_else(|| TransportError::Download {
            url: redact_url(url),
            problem: format!("destination {} has no file name", dest.display()),
        })?;
        let dir = match dest.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let (partial, keep) = match &options.partial {
            Some(p) => (p.clone(), true),
            None => (
                dir.join(format!(
                    ".{}.{}.part",
                    file_name.to_string_lossy(),
                    Uuid::new_v4().simple()
                )),
                false,
            ),
        };
        let result = self
            .transfer(url, &partial, keep, options.expected_len, on_progress)
            .await;
        match result {
            Ok((bytes, resumes, continued_from)) => {
                tokio::fs::rename(&partial, dest)
                    .await
                    .map_err(|source| TransportError::Io {
                        action: "cannot move the download into place at",
                        path: dest.to_owned(),
                        source,
                    })?;
                sync_dir(&dir).await;
                let _ = tokio::fs::remove_file(meta_path(&partial)).await;
                Ok(Downloaded {
                    path: dest.to_owned(),
                    bytes,
                    resumes,
                    continued_from,
                })
            }
            Err((e, discard)) => {
                if discard || !keep {
                    let _ = tokio::fs::remove_file(&partial).await;
                    let _ = tokio::fs::remove_file(meta_path(&partial)).await;
                }
                Err(e)
            }
        }
    }

    /// Fills `partial` with the whole verified video: (bytes, resumes, bytes continued).
    async fn transfer(
        &self,
        url: &str,
        partial: &Path,
        keep: bool,
        expected_len: Option<u64>,
        on_progress: &mut (dyn FnMut(DownloadProgress) + Send),
    ) -> Result<(u64, u32, u64), (TransportError, bool)> {
        let io = |action| {
            move |source| {
                (
                    TransportError::Io {
                        action,
                        path: partial.to_owned(),
                        source,
                    },
                    false,
                )
            }
        };
        let mut file = tokio::fs::OpenOptions::new()
            .create(true)
            .read(true)
            .write(true)
            .truncate(!keep)
            .open(partial)
            .await
            .map_err(io("cannot create"))?;
        let mut received = file.metadata().await.map_err(io("cannot inspect"))?.len();
        let mut validator = Validator::default();
        let mut head = Vec::new();
        if received > 0 {
            validator = tokio::fs::read(meta_path(partial))
                .await
                .ok()
                .and_then(|bytes| serde_json::from_slice(&bytes).ok())
                .unwrap_or_default();
            let mut start = vec![0u8; HEAD];
            let n = file.read(&mut start).await.map_err(io("cannot read"))?;
            head.extend_from_slice(&start[..n]);
            // Longer than the file can be, or not a video: not worth continuing.
            if validator.total.is_some_and(|t| received > t)
                || (head.len() >= HEAD && !looks_like_video(&head))
            {
                tracing::debug!(received, "the partial file is unusable; starting over");
                file.set_len(0).await.map_err(io("cannot write"))?;
                received = 0;
                head.clear();
                validator = Validator::default();
            }
        }
        file.seek(std::io::SeekFrom::Start(received))
            .await
            .map_err(io("cannot write"))?;
        let continued_from = received;
        let mut t = Transfer {
            url,
            shown: redact_url(url),
            out: tokio::io::BufWriter::with_capacity(WRITE_BUFFER, file),
            partial,
            keep,
            progress: DownloadProgress {
                received,
                total: validator.total,
                connections: 0,
            },
            validator,
            expected_len,
            head,
            probing: false,
            framed_end: false,
        };
        if continued_from > 0 {
            tracing::info!(from_byte = continued_from, "continuing a partial download");
        }
        let outcome = self.connections(&mut t, on_progress).await;
        // Whatever happened, what arrived is on disk for the next try.
        let flushed = t.out.flush().await;
        let connections = t.progress.connections;
        match outcome {
            Ok(()) => {
                flushed.map_err(io("cannot write"))?;
                t.out
                    .get_ref()
                    .sync_all()
                    .await
                    .map_err(io("cannot sync"))?;
                if !looks_like_video(&t.head) {
                    let problem = not_a_video(&t.head, "", |s| self.clean(s));
                    return Err((self.fatal(&t.shown, &problem), true));
                }
                let resumes = connections.saturating_sub(1);
                Ok((t.progress.received, resumes, continued_from))
            }
            Err(Cut::Fatal { error, discard }) => Err((error, discard)),
            Err(Cut::OutOfTime(why)) => Err((
                TransportError::TimedOut {
                    what: format!("the download of {}", t.shown),
                    trace_id: None,
                    attempts: connections,
                    may_have_reached_server: false,
                    last: Some(format!(
                        "{why}; {} bytes received{}",
                        t.progress.received,
                        if t.keep {
                            ", kept for the next try"
                        } else {
                            ""
                        }
                    )),
                },
                false,
            )),
            Err(Cut::Retry { why, .. }) => Err((self.fatal(&t.shown, &why), false)),
        }
    }

    /// Connections until the video is complete, retried as core decides.
    async fn connections(
        &self,
        t: &mut Transfer<'_>,
        on_progress: &mut (dyn FnMut(DownloadProgress) + Send),
    ) -> Result<(), Cut> {
        let policy = self.inner.config.retry;
        let mut last_progress = Instant::now();
        // Failed connections in a row that delivered nothing; a connection that makes
        // progress resets the count, so a long download may survive many cuts.
        let mut fruitless = 0u32;
        loop {
            if self.time_left().is_some_and(|left| left.is_zero()) {
                return Err(Cut::OutOfTime("the deadline passed".to_owned()));
            }
            t.progress.connections += 1;
            let before = t.progress.received;
            let span = tracing::info_span!(
                "pixfuse.download",
                connection = t.progress.connections,
                from_byte = before
            );
            let (failure, why) = match self.connection(t, on_progress).instrument(span).await {
                Ok(true) => return Ok(()),
                // A probe answered with more bytes: keep going without counting a failure.
                Ok(false) => {
                    fruitless = 0;
                    continue;
                }
                Err(Cut::Retry { failure, why }) => (failure, why),
                Err(other) => return Err(other),
            };
            if t.progress.received > before {
                fruitless = 1;
                last_progress = Instant::now();
            } else {
                fruitless += 1;
            }
            let verdict = retry::classify(&failure);
            let step = retry::next_step(
                &policy,
                &verdict,
                &Attempted {
                    attempts: fruitless,
                    elapsed: last_progress.elapsed(),
                    retry_after: None,
                    jitter: jitter(),
                    time_left: self.time_left(),
                },
            );
            match step {
                Step::RetryAfter(delay) => {
                    tracing::warn!(
                        received = t.progress.received,
                        delay_ms = delay.as_millis() as u64,
                        "download cut ({why}); resuming"
                    );
                    tokio::time::sleep(delay).await;
                }
                Step::GiveUp(retry::GiveUpReason::OutOfTime) => return Err(Cut::OutOfTime(why)),
                Step::GiveUp(_) => {
                    return Err(Cut::Retry {
                        failure,
                        why: format!(
                            "{why} after {} connections ({} bytes received); try again later",
                            t.progress.connections, t.progress.received
                        ),
                    });
                }
            }
        }
    }

    /// One connection: asks for what is missing (or, probing, whether anything is) and appends
    /// what arrives. `Ok(true)`: the video is complete; `Ok(false)`: more is needed.
    async fn connection(
        &self,
        t: &mut Transfer<'_>,
        on_progress: &mut (dyn FnMut(DownloadProgress) + Send),
    ) -> Result<bool, Cut> {
        let read_timeout = self.inner.config.download_read_timeout;
        let probing = std::mem::take(&mut t.probing);
        let framed_end = std::mem::take(&mut t.framed_end);
        let mut request = self.inner.downloads.get(t.url);
        if t.progress.received > 0 {
            request = request.header(RANGE, format!("bytes={}-", t.progress.received));
            if let Some(v) = &t.validator.if_range {
                request = request.header(IF_RANGE, v.as_str());
            }
        }
        let mut response =
            match tokio::time::timeout(self.bounded(read_timeout), request.send()).await {
                Err(_) => return Err(self.silence(read_timeout, "no answer")),
                Ok(Err(e)) if e.is_redirect() => {
                    return Err(Cut::Fatal {
                        error: self.fatal(&t.shown, &describe(&e)),
                        discard: false,
                    });
                }
                Ok(Err(e)) => return Err(cut(network_failure(&e), &describe(&e))),
                Ok(Ok(r)) => r,
            };
        let status = response.status();
        let announced = response.content_length();
        // This answer starts the file over (a 200): it brings no news about the old end.
        let mut from_scratch = false;
        match status {
            StatusCode::PARTIAL_CONTENT if t.progress.received > 0 => {
                let range = response
                    .headers()
                    .get(CONTENT_RANGE)
                    .and_then(|v| v.to_str().ok())
                    .and_then(parse_content_range);
                let Some((start, total)) = range else {
                    return Err(self.fatal_cut(t, "a 206 answer without a usable Content-Range"));
                };
                if start != t.progress.received {
                    return Err(self.fatal_cut(
                        t,
                        &format!(
                            "asked to resume at byte {} but the server sent from {start}",
                            t.progress.received
                        ),
                    ));
                }
                if let (Some(known), Some(total)) = (t.progress.total, total)
                    && known != total
                {
                    tracing::debug!(known, total, "the file changed size; starting over");
                    self.restart(t, None, response.headers()).await?;
                    return Err(cut(
                        TransportFailure::LostAfterSend,
                        "the file changed size",
                    ));
                }
                if probing && (announced == Some(0) || total == Some(start)) {
                    t.progress.total = Some(start);
                    return Ok(true);
                }
                t.progress.total = t.progress.total.or(total);
                self.check_type(t, &mut response).await?;
            }
            StatusCode::OK | StatusCode::PARTIAL_CONTENT => {
                if probing && announced == Some(t.progress.received) {
                    // The server ignored the probe's range but says how long the file is.
                    t.progress.total = announced;
                    return Ok(true);
                }
                if probing && framed_end && announced.is_none() {
                    // No range support; the last body ended with its chunked terminator.
                    return Ok(true);
                }
                if t.progress.received > 0 {
                    // The server ignored Range (or If-Range found the file changed): start over.
                    tracing::debug!("range not honoured; restarting from byte 0");
                }
                self.check_type(t, &mut response).await?;
                self.restart(t, announced, response.headers()).await?;
                from_scratch = true;
            }
            StatusCode::RANGE_NOT_SATISFIABLE => {
                let total = response
                    .headers()
                    .get(CONTENT_RANGE)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| {
                        v.trim()
                            .strip_prefix("bytes */")?
                            .trim()
                            .parse::<u64>()
                            .ok()
                    })
                    .or(t.progress.total);
                match total {
                    Some(total) if total == t.progress.received => {
                        t.progress.total = Some(total);
                        return Ok(true);
                    }
                    None if probing => return Ok(true),
                    _ => {
                        tracing::debug!(?total, "416 for the missing part; starting over");
                        self.restart(t, None, response.headers()).await?;
                        return Err(cut(
                            TransportFailure::LostAfterSend,
                            "range not satisfiable",
                        ));
                    }
                }
            }
            other => {
                let failure = Failure::Answer {
                    status: other.as_u16(),
                    err_code: None,
                    err_msg: None,
                };
                if retry::classify(&failure).is_retryable() {
                    return Err(Cut::Retry {
                        failure,
                        why: format!("HTTP {other}"),
                    });
                }
                return Err(self.fatal_cut(
                    t,
                    &format!(
                        "HTTP {other}; the link may have expired: fetch the job status again for a fresh URL"
                    ),
                ));
            }
        }
        let chunked = response
            .headers()
            .get(TRANSFER_ENCODING)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
        on_progress(t.progress);
        loop {
            let idle = self.bounded(read_timeout);
            let next = match tokio::time::timeout(LULL.min(idle), response.chunk()).await {
                Ok(next) => Ok(next),
                // A lull: put what arrived on disk (a crash now keeps it for the next process),
                // then wait out the rest of the idle limit. `chunk` loses nothing when dropped
                // before it is ready.
                Err(_) => {
                    let flushed = t.out.flush().await;
                    flushed
                        .map_err(|e| self.fatal_cut(t, &format!("cannot write the file: {e}")))?;
                    tokio::time::timeout(idle.saturating_sub(LULL), response.chunk()).await
                }
            };
            let chunk = match next {
                Err(_) => return Err(self.silence(read_timeout, "no data")),
                Ok(Err(e)) => return Err(cut(TransportFailure::LostAfterSend, &describe(&e))),
                Ok(Ok(None)) => break,
                Ok(Ok(Some(chunk))) => chunk,
            };
            if let Some(total) = t.progress.total
                && t.progress.received + chunk.len() as u64 > total
            {
                return Err(self.fatal_cut(t, "the server sent more bytes than it announced"));
            }
            if t.head.len() < HEAD {
                let take = (HEAD - t.head.len()).min(chunk.len());
                t.head.extend_from_slice(&chunk[..take]);
                if t.head.len() >= HEAD && !looks_like_video(&t.head) {
                    let problem = not_a_video(&t.head, "", |s| self.clean(s));
                    return Err(Cut::Fatal {
                        error: self.fatal(&t.shown, &problem),
                        discard: true,
                    });
                }
            }
            t.out
                .write_all(&chunk)
                .await
                .map_err(|e| self.fatal_cut(t, &format!("cannot write the file: {e}")))?;
            t.progress.received += chunk.len() as u64;
            on_progress(t.progress);
        }
        let received = t.progress.received;
        match t.progress.total {
            Some(total) if received < total => Err(cut(
                TransportFailure::LostAfterSend,
                &format!("connection closed at byte {received} of {total}"),
            )),
            Some(_) => Ok(true),
            None => match t.expected_len {
                Some(expected) if received < expected => Err(cut(
                    TransportFailure::LostAfterSend,
                    &format!(
                        "connection closed at byte {received}; the status answer says {expected}"
                    ),
                )),
                Some(expected) if received == expected => Ok(true),
                // Nothing says how long the file is: ask the server for what follows.
                _ => {
                    tracing::debug!(received, "no length announced; probing the end");
                    t.probing = true;
                    t.framed_end = chunked;
                    if probing && from_scratch {
                        // The probe brought the whole file again, unannounced once more.
                        return Err(cut(
                            TransportFailure::LostAfterSend,
                            "the server announces no length and does not answer a range probe, so the end of the video cannot be confirmed",
                        ));
                    }
                    Ok(false)
                }
            },
        }
    }

    /// Refuses an answer whose Content-Type says it is a page or an API answer, not a video.
    async fn check_type(
        &self,
        t: &Transfer<'_>,
        response: &mut reqwest::Response,
    ) -> Result<(), Cut> {
        let content_type = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_ascii_lowercase();
        let essence = content_type.split(';').next().unwrap_or_default().trim();
        let refused = essence.starts_with("text/html")
            || essence == "application/json"
            || essence.ends_with("+json")
            || essence == "application/xhtml+xml";
        if !refused {
            return Ok(());
        }
        let mut start = Vec::new();
        while start.len() < EXCERPT_BYTES {
            match tokio::time::timeout(self.bounded(Duration::from_secs(2)), response.chunk()).await
            {
                Ok(Ok(Some(chunk))) => start.extend_from_slice(&chunk),
                _ => break,
            }
        }
        start.truncate(EXCERPT_BYTES);
        let problem = not_a_video(&start, &format!(" (Content-Type {essence})"), |s| {
            self.clean(s)
        });
        Err(Cut::Fatal {
            error: self.fatal(&t.shown, &problem),
            // A page instead of the next bytes says nothing about those already here.
            discard: t.progress.received == 0,
        })
    }

    /// Empties the partial file for a fresh body and records how to continue it later.
    async fn restart(
        &self,
        t: &mut Transfer<'_>,
        total: Option<u64>,
        headers: &HeaderMap,
    ) -> Result<(), Cut> {
        let shown = t.shown.clone();
        let write = |e: std::io::Error| Cut::Fatal {
            error: self.fatal(&shown, &format!("cannot write the file: {e}")),
            discard: false,
        };
        t.out.flush().await.map_err(write)?;
        let file = t.out.get_mut();
        file.set_len(0).await.map_err(write)?;
        file.seek(std::io::SeekFrom::Start(0))
            .await
            .map_err(write)?;
        t.progress.received = 0;
        t.progress.total = total;
        t.head.clear();
        t.validator = Validator::of(headers, total);
        if t.keep {
            let meta = meta_path(t.partial);
            let bytes = serde_json::to_vec(&t.validator).unwrap_or_default();
            let temp = meta.with_extension("meta.tmp");
            let written = async {
                tokio::fs::write(&temp, &bytes).await?;
                tokio::fs::rename(&temp, &meta).await
            };
            if let Err(e) = written.await {
                // Only a later process needs it, and it copes without (no If-Range).
                tracing::debug!(error = %e, "cannot record the download's validator");
            }
        }
        Ok(())
    }

    /// A read that timed out: the deadline's doing, or the server's silence.
    fn silence(&self, read_timeout: Duration, what: &str) -> Cut {
        if self.time_left().is_some_and(|left| left.is_zero()) {
            return Cut::OutOfTime(format!("{what} before the deadline"));
        }
        cut(
            TransportFailure::LostAfterSend,
            &format!("{what} for {} s", read_timeout.as_secs_f64()),
        )
    }

    fn fatal(&self, shown: &str, problem: &str) -> TransportError {
        TransportError::Download {
            url: shown.to_owned(),
            problem: self.clean(problem),
        }
    }

    fn fatal_cut(&self, t: &Transfer<'_>, problem: &str) -> Cut {
        Cut::Fatal {
            error: self.fatal(&t.shown, problem),
            discard: false,
        }
    }
}

fn cut(failure: TransportFailure, why: &str) -> Cut {
    Cut::Retry {
        failure: Failure::Transport(failure),
        why: why.to_owned(),
    }
}

/// A reqwest error with its causes, every URL in it redacted.
fn describe(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        let said = cause.to_string();
        if !text.contains(&said) {
            text.push_str(": ");
            text.push_str(&said);
        }
        source = cause.source();
    }
    pixfuse_core::text::redact_urls(&text).into_owned()
}

/// Whether `head` starts like an MP4/MOV (an ISO box type at bytes 4..8) or a WebM (EBML).
fn looks_like_video(head: &[u8]) -> bool {
    let iso = head.len() >= 8
        && matches!(
            &head[4..8],
            b"ftyp" | b"moov" | b"mdat" | b"free" | b"skip" | b"wide" | b"pnot"
        );
    iso || head.starts_with(&[0x1a, 0x45, 0xdf, 0xa3])
}

/// The refusal of a body that is not a video, with what it was (`clean` makes its text safe).
fn not_a_video(start: &[u8], why: &str, clean: impl Fn(&str) -> String) -> String {
    let text = String::from_utf8_lossy(start);
    let printable = text
        .chars()
        .filter(|c| !c.is_control() || c.is_whitespace())
        .filter(|c| *c != char::REPLACEMENT_CHARACTER)
        .count();
    let shown = if start.is_empty() {
        "nothing".to_owned()
    } else if printable * 4 >= text.chars().count() * 3 {
        format!("{:?}", excerpt(clean(&text).as_bytes(), 200))
    } else {
        let hex: Vec<String> = start.iter().take(16).map(|b| format!("{b:02x}")).collect();
        format!("bytes {}", hex.join(" "))
    };
    format!(
        "the answer is not a video{why}; it starts with {shown}. The link may have expired or point at an error page: fetch the job status again for a fresh URL"
    )
}

/// `bytes START-END/TOTAL` → (START, TOTAL if known).
fn parse_content_range(value: &str) -> Option<(u64, Option<u64>)> {
    let rest = value.trim().strip_prefix("bytes ")?;
    let (range, total) = rest.split_once('/')?;
    let (start, _end) = range.split_once('-')?;
    let total = match total.trim() {
        "*" => None,
        t => Some(t.parse().ok()?),
    };
    Some((start.trim().parse().ok()?, total))
}

/// Makes the rename durable; best effort (not every platform can sync a directory).
async fn sync_dir(dir: &Path) {
    #[cfg(unix)]
    if let Ok(d) = tokio::fs::File::open(dir).await {
        let _ = d.sync_all().await;
    }
    #[cfg(not(unix))]
    let _ = dir;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_range() {
        assert_eq!(
            parse_content_range("bytes 100-199/1000"),
            Some((100, Some(1000)))
        );
        assert_eq!(parse_content_range("bytes 5-9/*"), Some((5, None)));
        assert_eq!(parse_content_range("items 1-2/3"), None);
    }

    #[test]
    fn video_signatures() {
        assert!(looks_like_video(b"\0\0\0\x18ftypisom\0\0"));
        assert!(looks_like_video(b"\0\0\0\x08wide\0\0\0\0"));
        assert!(looks_like_video(&[0x1a, 0x45, 0xdf, 0xa3, 1, 0, 0, 0]));
        assert!(!looks_like_video(b"<!DOCTYPE html>"));
        assert!(!looks_like_video(b"{\"ErrCode\":1"));
        assert!(!looks_like_video(b"\0\0"));
    }

    #[test]
    fn refusals_show_text_or_bytes() {
        let same = |s: &str| s.to_owned();
        let page = not_a_video(
            b"<html>\n<body>Access Denied</body>",
            " (Content-Type text/html)",
            same,
        );
        assert!(
            page.contains("\"<html> <body>Access Denied</body>\""),
            "{page}"
        );
        assert!(page.contains("text/html"), "{page}");
        let binary = not_a_video(&[0xff, 0xfe, 0, 1, 2, 3], "", same);
        assert!(binary.contains("bytes ff fe 00 01 02 03"), "{binary}");
    }

    #[test]
    fn partials_are_named_after_the_job() {
        assert_eq!(
            partial_path(Path::new("/out/clip.mp4"), "7"),
            PathBuf::from("/out/clip.mp4.pixfuse-7.part")
        );
        assert_eq!(
            meta_path(Path::new("/out/clip.mp4.pixfuse-7.part")),
            PathBuf::from("/out/clip.mp4.pixfuse-7.part.meta")
        );
    }
}
