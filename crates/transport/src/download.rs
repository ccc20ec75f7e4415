//! Downloading a result: streamed to a temporary file next to the destination, resumed with
//! `Range` after a cut, length verified, fsynced, then renamed into place — so the final path
//! only ever holds a complete file. Memory stays flat whatever the size.

use std::path::{Path, PathBuf};
use std::time::Instant;

use pixfuse_core::retry::{self, Attempted, Failure, Step, TransportFailure};
use reqwest::StatusCode;
use reqwest::header::{CONTENT_RANGE, RANGE};
use tokio::io::AsyncWriteExt;
use tracing::Instrument;
use uuid::Uuid;

use crate::client::{Transport, check_scheme, jitter, network_failure};
use crate::error::TransportError;

const WRITE_BUFFER: usize = 256 * 1024;

/// Progress of a download.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DownloadProgress {
    pub received: u64,
    /// Total size, once the server has said.
    pub total: Option<u64>,
    /// Connections opened so far (more than 1 after a resume).
    pub connections: u32,
}

/// A finished download.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Downloaded {
    pub path: PathBuf,
    pub bytes: u64,
    /// Times the transfer resumed after a cut.
    pub resumes: u32,
}

/// Why one connection ended before the file was complete.
enum Cut {
    /// Worth another connection from `received` on.
    Retry {
        failure: Failure<'static>,
        why: String,
    },
    /// Give up now.
    Fatal(TransportError),
}

impl Transport {
    /// Downloads `url` to `dest`. The API key is never sent to the download host.
    pub async fn download(
        &self,
        url: &str,
        dest: &Path,
        on_progress: &mut (dyn FnMut(DownloadProgress) + Send),
    ) -> Result<Downloaded, TransportError> {
        let parsed = reqwest::Url::parse(url).map_err(|e| TransportError::Download {
            url: url.to_owned(),
            problem: format!("not a URL ({e})"),
        })?;
        check_scheme(&parsed, "download URL")?;
        let file_name = dest.file_name().ok_or_else(|| TransportError::Download {
            url: url.to_owned(),
            problem: format!("destination {} has no file name", dest.display()),
        })?;
        let dir = match dest.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let temp = dir.join(format!(
            ".{}.{}.part",
            file_name.to_string_lossy(),
            Uuid::new_v4().simple()
        ));
        let result = self.download_to(url, &temp, on_progress).await;
        match result {
            Ok((bytes, resumes)) => {
                tokio::fs::rename(&temp, dest)
                    .await
                    .map_err(|source| TransportError::Io {
                        action: "cannot move the download into place at",
                        path: dest.to_owned(),
                        source,
                    })?;
                sync_dir(&dir).await;
                Ok(Downloaded {
                    path: dest.to_owned(),
                    bytes,
                    resumes,
                })
            }
            Err(e) => {
                let _ = tokio::fs::remove_file(&temp).await;
                Err(e)
            }
        }
    }

    async fn download_to(
        &self,
        url: &str,
        temp: &Path,
        on_progress: &mut (dyn FnMut(DownloadProgress) + Send),
    ) -> Result<(u64, u32), TransportError> {
        let io = |action| {
            move |source| TransportError::Io {
                action,
                path: temp.to_owned(),
                source,
            }
        };
        let file = tokio::fs::File::create(temp)
            .await
            .map_err(io("cannot create"))?;
        let mut out = tokio::io::BufWriter::with_capacity(WRITE_BUFFER, file);
        let policy = self.inner.config.retry;
        let mut last_progress = Instant::now();
        let mut progress = DownloadProgress {
            received: 0,
            total: None,
            connections: 0,
        };
        // Failed connections in a row that delivered nothing; a connection that makes
        // progress resets the count, so a long download may survive many cuts.
        let mut fruitless = 0u32;
        loop {
            progress.connections += 1;
            let before = progress.received;
            let span = tracing::info_span!(
                "pixfuse.download",
                connection = progress.connections,
                from_byte = before
            );
            let cut = match self
                .download_once(url, &mut out, &mut progress, on_progress)
                .instrument(span)
                .await
            {
                Ok(()) => break,
                Err(Cut::Fatal(e)) => return Err(e),
                Err(Cut::Retry { failure, why }) => (failure, why),
            };
            if progress.received > before {
                fruitless = 1;
                last_progress = Instant::now();
            } else {
                fruitless += 1;
            }
            let verdict = retry::classify(&cut.0);
            let step = retry::next_step(
                &policy,
                &verdict,
                &Attempted {
                    attempts: fruitless,
                    elapsed: last_progress.elapsed(),
                    retry_after: None,
                    jitter: jitter(),
                },
            );
            match step {
                Step::RetryAfter(delay) => {
                    tracing::warn!(
                        received = progress.received,
                        delay_ms = delay.as_millis() as u64,
                        "download cut ({}); resuming",
                        cut.1
                    );
                    tokio::time::sleep(delay).await;
                }
                Step::GiveUp(_) => {
                    return Err(TransportError::Download {
                        url: redact_query(url),
                        problem: format!(
                            "{} after {} connections ({} bytes received); try again later",
                            cut.1, progress.connections, progress.received
                        ),
                    });
                }
            }
        }
        out.flush().await.map_err(io("cannot write"))?;
        let file = out.into_inner();
        file.sync_all().await.map_err(io("cannot sync"))?;
        Ok((progress.received, progress.connections - 1))
    }

    /// One connection: request from `progress.received` on and append what arrives.
    async fn download_once(
        &self,
        url: &str,
        out: &mut tokio::io::BufWriter<tokio::fs::File>,
        progress: &mut DownloadProgress,
        on_progress: &mut (dyn FnMut(DownloadProgress) + Send),
    ) -> Result<(), Cut> {
        let read_timeout = self.inner.config.download_read_timeout;
        let mut request = self.inner.http.get(url);
        if progress.received > 0 {
            request = request.header(RANGE, format!("bytes={}-", progress.received));
        }
        let mut response = match tokio::time::timeout(read_timeout, request.send()).await {
            Err(_) => return Err(cut(TransportFailure::LostAfterSend, "no answer in time")),
            Ok(Err(e)) => return Err(cut(network_failure(&e), &e.to_string())),
            Ok(Ok(r)) => r,
        };
        let status = response.status();
        match status {
            StatusCode::PARTIAL_CONTENT if progress.received > 0 => {
                let (start, total) = response
                    .headers()
                    .get(CONTENT_RANGE)
                    .and_then(|v| v.to_str().ok())
                    .and_then(parse_content_range)
                    .ok_or_else(|| fatal(url, "a 206 answer without a usable Content-Range"))?;
                if start != progress.received {
                    return Err(fatal(
                        url,
                        &format!(
                            "asked to resume at byte {} but the server sent from {start}",
                            progress.received
                        ),
                    ));
                }
                if let (Some(known), Some(total)) = (progress.total, total)
                    && known != total
                {
                    return Err(fatal(url, "the file changed size between connections"));
                }
                progress.total = progress.total.or(total);
            }
            StatusCode::OK => {
                if progress.received > 0 {
                    // The server ignored Range: start over.
                    tracing::debug!("range ignored; restarting from byte 0");
                    restart(out).await.map_err(|e| fatal(url, &e.to_string()))?;
                    progress.received = 0;
                }
                progress.total = response.content_length();
            }
            StatusCode::RANGE_NOT_SATISFIABLE if Some(progress.received) == progress.total => {
                return Ok(());
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
                return Err(fatal(
                    url,
                    &format!(
                        "HTTP {other}; the link may have expired: fetch the job status again for a fresh URL"
                    ),
                ));
            }
        }
        on_progress(*progress);
        loop {
            let chunk = match tokio::time::timeout(read_timeout, response.chunk()).await {
                Err(_) => {
                    return Err(cut(
                        TransportFailure::LostAfterSend,
                        &format!("no data for {} s", read_timeout.as_secs()),
                    ));
                }
                Ok(Err(e)) => return Err(cut(TransportFailure::LostAfterSend, &e.to_string())),
                Ok(Ok(None)) => break,
                Ok(Ok(Some(chunk))) => chunk,
            };
            if let Some(total) = progress.total
                && progress.received + chunk.len() as u64 > total
            {
                return Err(fatal(url, "the server sent more bytes than it announced"));
            }
            out.write_all(&chunk)
                .await
                .map_err(|e| fatal(url, &format!("cannot write the file: {e}")))?;
            progress.received += chunk.len() as u64;
            on_progress(*progress);
        }
        match progress.total {
            Some(total) if progress.received < total => Err(cut(
                TransportFailure::LostAfterSend,
                &format!("connection closed at byte {} of {total}", progress.received),
            )),
            _ => Ok(()),
        }
    }
}

fn cut(failure: TransportFailure, why: &str) -> Cut {
    Cut::Retry {
        failure: Failure::Transport(failure),
        why: why.to_owned(),
    }
}

fn fatal(url: &str, problem: &str) -> Cut {
    Cut::Fatal(TransportError::Download {
        url: redact_query(url),
        problem: problem.to_owned(),
    })
}

/// Signed CDN links carry credentials in the query; keep them out of messages.
fn redact_query(url: &str) -> String {
    match url.split_once('?') {
        Some((base, _)) => format!("{base}?…"),
        None => url.to_owned(),
    }
}

async fn restart(out: &mut tokio::io::BufWriter<tokio::fs::File>) -> std::io::Result<()> {
    use tokio::io::AsyncSeekExt;
    out.flush().await?;
    let file = out.get_mut();
    file.set_len(0).await?;
    file.seek(std::io::SeekFrom::Start(0)).await?;
    Ok(())
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
    fn query_is_redacted() {
        assert_eq!(
            redact_query("https://cdn/x.mp4?sig=secret"),
            "https://cdn/x.mp4?…"
        );
    }
}
