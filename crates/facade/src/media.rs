//! Reference videos (v6 Omni mode): checked locally, then uploaded once per content. The cache
//! is the images' (the journal's `uploads`, sha256 → id per origin), marked as a video so a
//! `media_id` is never taken for an `img_id`.

use std::path::{Path, PathBuf};

use pixfuse_transport::{VideoInfo, VideoProblem, preflight_video};

use crate::client::{Client, hash_file};
use crate::error::Error;
use crate::event::Event;
use crate::journal::{MediaType, UploadRecord};

/// An uploaded reference video.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct UploadedVideo {
    /// Use as `video_references[].video_media_id`.
    pub media_id: u64,
    /// Where the vendor keeps the video, when the upload said.
    pub url: Option<String>,
    /// True when the journal already knew this content and nothing was sent.
    pub reused: bool,
    /// What the local preflight read from the container (`None` for a URL upload).
    pub video: Option<VideoInfo>,
}

impl Client {
    /// Uploads a local video once (the same content at the same server reuses its media_id),
    /// after checking it locally: a file that is no video at all is refused before anything is
    /// sent; anything else the sources disagree about is a warning ([`VideoInfo::warnings`]).
    /// The file is streamed from disk, in constant memory whatever its size.
    pub async fn upload_video(&self, path: &Path) -> Result<UploadedVideo, Error> {
        self.upload_video_with(path, "", &mut |_| {}).await
    }

    /// [`Client::upload_video`], telling `on_event` about the upload and each warning (at the
    /// JSON pointer `pointer` of the job it serves).
    pub(crate) async fn upload_video_with(
        &self,
        path: &Path,
        pointer: &str,
        on_event: &mut (dyn FnMut(Event) + Send),
    ) -> Result<UploadedVideo, Error> {
        let owned: PathBuf = path.to_owned();
        let info = tokio::task::spawn_blocking(move || preflight_video(&owned))
            .await
            .map_err(|e| Error::io("cannot read video", path, std::io::Error::other(e)))??;
        for warning in &info.warnings {
            on_event(warning_event(warning, pointer, path));
        }
        let (sha256, size) = hash_file(path).await?;
        let origin = &self.inner.origin;
        if let Some(hit) = self
            .store()
            .upload(origin, &sha256, MediaType::Video)
            .await?
        {
            on_event(Event::VideoUploadReused {
                path: path.to_owned(),
                media_id: hit.img_id,
            });
            return Ok(UploadedVideo {
                media_id: hit.img_id,
                url: hit.img_url,
                reused: true,
                video: Some(info),
            });
        }
        on_event(Event::Uploading {
            path: path.to_owned(),
            bytes: size,
        });
        let uploaded = self.transport().upload_video(path).await?;
        let record = UploadRecord {
            sha256,
            media_type: MediaType::Video,
            img_id: uploaded.media_id,
            img_url: uploaded.url.clone(),
        };
        self.store().record_upload(origin, &record, size).await?;
        on_event(Event::VideoUploaded {
            path: path.to_owned(),
            media_id: uploaded.media_id,
        });
        Ok(UploadedVideo {
            media_id: uploaded.media_id,
            url: uploaded.url,
            reused: false,
            video: uploaded.video.or(Some(info)),
        })
    }

    /// Asks the server to fetch a video from an https URL (media form field `file_url`). Nothing
    /// is checked locally (the file is not here) and nothing is cached (the content is unknown).
    pub async fn upload_video_url(&self, url: &str) -> Result<UploadedVideo, Error> {
        let uploaded = self.transport().upload_video_url(url).await?;
        Ok(UploadedVideo {
            media_id: uploaded.media_id,
            url: uploaded.url,
            reused: false,
            video: None,
        })
    }
}

fn warning_event(problem: &VideoProblem, pointer: &str, path: &Path) -> Event {
    Event::Warning {
        code: problem.code.to_owned(),
        path: pointer.to_owned(),
        message: format!("video \"{}\": {}", path.display(), problem.message),
    }
}
