//! The vendor's JSON endpoints: upload, submit, status, balance.

use std::path::{Path, PathBuf};
use std::time::Duration;

use bytes::Bytes;
use pixfuse_core::endpoint::{self, BALANCE, Endpoint, GENERATE, MEDIA_UPLOAD, RESULT, UPLOAD};
use pixfuse_core::poll::JobStatus;
use pixfuse_core::wire::{
    BalanceResp, GenerateResp, ImageUploadResp, MediaUploadResp, VideoResultResp,
};
use reqwest::header::CONTENT_TYPE;
use reqwest::multipart::{Form, Part};
use uuid::Uuid;

use crate::client::{Transport, check_scheme};
use crate::error::TransportError;
use crate::preflight::{ImageInfo, preflight_image};
use crate::video_preflight::{VideoInfo, preflight_video};

/// Slowest upload speed the upload timeout allows for.
const MIN_UPLOAD_BYTES_PER_SEC: u64 = 256 * 1024;

/// An image the vendor stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UploadedImage {
    /// Use as `image_references[].img_id`.
    pub img_id: u64,
    /// Where the vendor keeps the image, when the answer says.
    pub img_url: Option<String>,
    /// The upload's `Ai-trace-id`.
    pub trace_id: Uuid,
    /// What preflight found (`None` for URL uploads).
    pub image: Option<ImageInfo>,
}

/// A reference video the vendor stored (v6 Omni mode).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UploadedVideo {
    /// Use as `video_references[].video_media_id`.
    pub media_id: u64,
    /// What the vendor says it stored (`video`), when the answer says.
    pub media_type: Option<String>,
    /// Where the vendor keeps it, when the answer says.
    pub url: Option<String>,
    /// Width and height in pixels, when the answer says.
    pub width: Option<i64>,
    /// See `width`.
    pub height: Option<i64>,
    /// The upload's `Ai-trace-id`.
    pub trace_id: Uuid,
    /// What preflight found (`None` for URL uploads).
    pub video: Option<VideoInfo>,
}

impl UploadedVideo {
    fn from_resp(resp: MediaUploadResp, trace_id: Uuid, video: Option<VideoInfo>) -> Self {
        if let Some(kind) = resp.media_type.as_deref().filter(|k| *k != "video") {
            tracing::warn!(
                media_id = resp.media_id,
                media_type = kind,
                "the media upload answered with another media_type than video"
            );
        }
        UploadedVideo {
            media_id: resp.media_id,
            media_type: resp.media_type,
            url: resp.url,
            width: resp.width,
            height: resp.height,
            trace_id,
            video,
        }
    }
}

/// A local file to post, as preflight measured it.
struct LocalFile<'a> {
    path: &'a Path,
    bytes: u64,
    mime: &'static str,
    /// The part's file name when the path has none.
    default_name: String,
}

/// A job the vendor accepted (or, for a re-sent trace id, the earlier job).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Submitted {
    /// The job's video id: what status polls and downloads name.
    pub video_id: u64,
    /// Credits charged, when the answer says.
    pub credits: Option<i64>,
    /// The submit's `Ai-trace-id` (sending it again returns this job, not a new bill).
    pub trace_id: Uuid,
}

/// A job's state on the result endpoint.
#[derive(Clone, Debug, PartialEq)]
pub struct VideoStatus {
    /// The id that was asked about (an answer naming another id is logged as a warning and
    /// kept in `resp.id`).
    pub video_id: u64,
    /// Where the job stands.
    pub status: JobStatus,
    /// Download URL; meaningful only when `status` is `Succeeded`.
    pub url: Option<String>,
    /// Credits actually charged, when reported.
    pub credits: Option<i64>,
    /// The file size in bytes, when the answer's `size` is a whole number (its unit is
    /// undocumented; a fraction such as `10.5` is taken for megabytes and not used).
    pub size_bytes: Option<u64>,
    /// The whole answer (every field optional; fields of an unexpected type are left out).
    pub resp: VideoResultResp,
}

impl VideoStatus {
    /// Whether the answer names another video than the one asked about.
    pub fn answered_for_other_id(&self) -> Option<u64> {
        self.resp.id.filter(|id| *id != self.video_id)
    }
}

/// The account's credits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Balance {
    /// The account, when the answer names it.
    pub account_id: Option<u64>,
    /// Credits of the monthly allowance.
    pub monthly: i64,
    /// Credits bought in packages.
    pub package: i64,
}

impl Balance {
    /// Spendable credits: monthly plus package.
    pub fn total(&self) -> i64 {
        self.monthly.saturating_add(self.package)
    }
}

impl Transport {
    /// Checks the image locally ([`preflight_image`]), then uploads it as multipart field
    /// `image`, streamed from disk. Retried transient failures re-open the file.
    pub async fn upload_image(&self, path: &Path) -> Result<UploadedImage, TransportError> {
        let info = preflight_off_thread(path, preflight_image, |path, problem| {
            TransportError::Image { path, problem }
        })
        .await?;
        let file = LocalFile {
            path,
            bytes: info.bytes,
            mime: info.format.mime(),
            default_name: format!("image.{}", info.format.extension()),
        };
        let trace_id = Uuid::new_v4();
        let resp: ImageUploadResp = self.upload_file(UPLOAD, "image", &file, trace_id).await?;
        Ok(UploadedImage {
            img_id: resp.img_id,
            img_url: resp.img_url,
            trace_id,
            image: Some(info),
        })
    }

    /// Checks the video locally ([`preflight_video`]: refused only when it is no video at all),
    /// then uploads it to the media endpoint as multipart field `file`, streamed from disk in
    /// constant memory whatever its size. Retried transient failures re-open the file.
    pub async fn upload_video(&self, path: &Path) -> Result<UploadedVideo, TransportError> {
        let info = preflight_off_thread(path, preflight_video, |path, problem| {
            TransportError::Video { path, problem }
        })
        .await?;
        let file = LocalFile {
            path,
            bytes: info.bytes,
            mime: info.format.mime(),
            default_name: format!("video.{}", info.format.extension()),
        };
        let trace_id = Uuid::new_v4();
        let resp: MediaUploadResp = self
            .upload_file(MEDIA_UPLOAD, "file", &file, trace_id)
            .await?;
        Ok(UploadedVideo::from_resp(resp, trace_id, Some(info)))
    }

    /// Asks the vendor to fetch a video from an https URL (media form field `file_url`).
    pub async fn upload_video_url(&self, video_url: &str) -> Result<UploadedVideo, TransportError> {
        let (resp, trace_id): (MediaUploadResp, _) = self
            .upload_url(
                MEDIA_UPLOAD,
                "file_url",
                video_url,
                "video URL",
                |problem| TransportError::Video {
                    path: PathBuf::from(video_url),
                    problem,
                },
            )
            .await?;
        Ok(UploadedVideo::from_resp(resp, trace_id, None))
    }

    /// Asks the vendor to fetch `source` (an https URL, sent as form field `field`); `bad` makes
    /// the error of a string that is no URL. Answers the Resp and the upload's trace id.
    async fn upload_url<T: serde::de::DeserializeOwned>(
        &self,
        endpoint: Endpoint,
        field: &'static str,
        source: &str,
        what: &str,
        bad: impl FnOnce(String) -> TransportError,
    ) -> Result<(T, Uuid), TransportError> {
        let parsed = reqwest::Url::parse(source).map_err(|e| {
            bad(format!(
                "not a URL ({e}); give an https URL or a local file path"
            ))
        })?;
        check_scheme(&parsed, what)?;
        let url = self.url(endpoint.path);
        let trace_id = Uuid::new_v4();
        let timeout = self.inner.config.request_timeout;
        let resp = self
            .call(endpoint, endpoint.path, trace_id, timeout, |http| {
                let form = Form::new().text(field, source.to_owned());
                Ok(http.post(&url).multipart(form))
            })
            .await?;
        Ok((resp, trace_id))
    }

    /// Posts `file` as the one part `field` of a multipart form, streamed from disk (never
    /// whole in memory), with a timeout that allows for a slow link; each attempt re-opens it.
    async fn upload_file<T: serde::de::DeserializeOwned>(
        &self,
        endpoint: Endpoint,
        field: &'static str,
        file: &LocalFile<'_>,
        trace_id: Uuid,
    ) -> Result<T, TransportError> {
        let LocalFile {
            path,
            bytes,
            mime,
            default_name,
        } = file;
        let timeout = self
            .inner
            .config
            .request_timeout
            .max(Duration::from_secs(bytes / MIN_UPLOAD_BYTES_PER_SEC));
        if self.time_left().is_some_and(|left| left.is_zero()) {
            return Err(TransportError::TimedOut {
                what: format!("{endpoint} of {}", path.display()),
                trace_id: None,
                attempts: 0,
                may_have_reached_server: false,
                last: None,
            });
        }
        let url = self.url(endpoint.path);
        let file_name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| default_name.clone());
        self.call(endpoint, endpoint.path, trace_id, timeout, |http| {
            let opened = std::fs::File::open(path).map_err(|source| TransportError::Io {
                action: "cannot open",
                path: path.to_path_buf(),
                source,
            })?;
            let body = reqwest::Body::from(tokio::fs::File::from_std(opened));
            let part = Part::stream_with_length(body, *bytes)
                .file_name(file_name.clone())
                .mime_str(mime)
                .map_err(|e| TransportError::Config(format!("bad mime type: {e}")))?;
            Ok(http.post(&url).multipart(Form::new().part(field, part)))
        })
        .await
    }

    /// Asks the vendor to fetch an image from an https URL (form field `image_url`). The
    /// vendor documents URL uploads as unsupported in places: best effort.
    pub async fn upload_image_url(&self, image_url: &str) -> Result<UploadedImage, TransportError> {
        let (resp, trace_id): (ImageUploadResp, _) = self
            .upload_url(UPLOAD, "image_url", image_url, "image URL", |problem| {
                TransportError::Image {
                    path: PathBuf::from(image_url),
                    problem,
                }
            })
            .await?;
        Ok(UploadedImage {
            img_id: resp.img_id,
            img_url: resp.img_url,
            trace_id,
            image: None,
        })
    }

    /// Submits a fusion job. `body` is the serialized request; `trace_id` identifies this
    /// logical submission and is sent on every attempt, so a retry after a lost answer
    /// returns the same job instead of billing a second one. Record it before calling.
    pub async fn submit(&self, body: Bytes, trace_id: Uuid) -> Result<Submitted, TransportError> {
        let url = self.url(GENERATE.path);
        let timeout = self.inner.config.request_timeout;
        let resp: GenerateResp = self
            .call(GENERATE, GENERATE.path, trace_id, timeout, |http| {
                Ok(http
                    .post(&url)
                    .header(CONTENT_TYPE, "application/json")
                    .body(body.clone()))
            })
            .await?;
        Ok(Submitted {
            video_id: resp.video_id,
            credits: resp.credits.or(resp.credit),
            trace_id,
        })
    }

    /// One status poll (fresh trace id).
    pub async fn status(&self, video_id: u64) -> Result<VideoStatus, TransportError> {
        let path = endpoint::result_path(video_id);
        let url = self.url(&path);
        let timeout = self.inner.config.request_timeout;
        let resp: VideoResultResp = self
            .call(RESULT, &path, Uuid::new_v4(), timeout, |http| {
                Ok(http.get(&url))
            })
            .await?;
        if let Some(other) = resp.id.filter(|id| *id != video_id) {
            tracing::warn!(
                video_id,
                answered_for = other,
                "the status answer names another video id; keeping the one asked about"
            );
        }
        let size_bytes = resp
            .size
            .filter(|s| s.is_finite() && *s >= 1.0 && s.fract() == 0.0 && *s < u64::MAX as f64)
            .map(|s| s as u64);
        Ok(VideoStatus {
            video_id,
            // No status at all is odd; treat it like an unknown one (keep waiting, say so).
            status: JobStatus::from_code(resp.status.unwrap_or(-1)),
            url: resp
                .url
                .as_deref()
                .map(str::trim)
                .filter(|u| !u.is_empty())
                .map(str::to_owned),
            credits: resp.credits,
            size_bytes,
            resp,
        })
    }

    /// The account's credits.
    pub async fn balance(&self) -> Result<Balance, TransportError> {
        let url = self.url(BALANCE.path);
        let timeout = self.inner.config.request_timeout;
        let resp: BalanceResp = self
            .call(BALANCE, BALANCE.path, Uuid::new_v4(), timeout, |http| {
                Ok(http.get(&url))
            })
            .await?;
        Ok(Balance {
            account_id: resp.account_id,
            monthly: resp.credit_monthly.unwrap_or(0),
            package: resp.credit_package.unwrap_or(0),
        })
    }
}

/// Runs a local file's preflight (it reads the file) on the blocking pool; `stopped` makes the
/// error of one that did not finish.
async fn preflight_off_thread<T: Send + 'static>(
    path: &Path,
    check: fn(&Path) -> Result<T, TransportError>,
    stopped: fn(PathBuf, String) -> TransportError,
) -> Result<T, TransportError> {
    let owned = path.to_owned();
    tokio::task::spawn_blocking(move || check(&owned))
        .await
        .map_err(|e| stopped(path.to_owned(), format!("preflight did not finish: {e}")))?
}
