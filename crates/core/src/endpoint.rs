//! The vendor's HTTP endpoints: each method and path written once, for the transport that calls
//! them, the sandbox that serves them and the tests that mock them.
//!
//! Paths are relative to the provider's base URL. A `{name}` segment is a parameter, in the
//! syntax axum's router uses, so the sandbox can route on these strings as they are.

use std::fmt;

/// One endpoint: its HTTP method and path.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Endpoint {
    /// `GET` or `POST`.
    pub method: &'static str,
    /// The path, `{name}` marking a parameter.
    pub path: &'static str,
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.method, self.path)
    }
}

/// The API's common prefix, joined to each path at compile time.
macro_rules! api {
    ($path:literal) => {
        concat!("/openapi/v2", $path)
    };
}

/// The status endpoint's path up to its one parameter, kept a literal so both the prefix and
/// the full path are constants.
macro_rules! result_prefix {
    () => {
        api!("/video/result/")
    };
}

/// `POST …/image/upload`: a multipart file or an `image_url`.
pub const UPLOAD: Endpoint = Endpoint {
    method: "POST",
    path: api!("/image/upload"),
};

/// `POST …/media/upload`: a reference video for v6 Omni mode, as multipart field `file` (the
/// bytes) or `file_url`. Third-party evidence only (fusion-api.md §10).
pub const MEDIA_UPLOAD: Endpoint = Endpoint {
    method: "POST",
    path: api!("/media/upload"),
};

/// `POST …/video/fusion/generate`: submit a job.
pub const GENERATE: Endpoint = Endpoint {
    method: "POST",
    path: api!("/video/fusion/generate"),
};

/// `GET …/video/result/{video_id}`: one status poll.
pub const RESULT: Endpoint = Endpoint {
    method: "GET",
    path: concat!(result_prefix!(), "{video_id}"),
};

/// [`RESULT`]'s path without its `{video_id}`: a video's status is at this and the id.
pub const RESULT_PREFIX: &str = result_prefix!();

/// `GET …/account/balance`: the account's credits.
pub const BALANCE: Endpoint = Endpoint {
    method: "GET",
    path: api!("/account/balance"),
};

/// Every endpoint, in the order of a job's life.
pub const ALL: [Endpoint; 5] = [UPLOAD, MEDIA_UPLOAD, GENERATE, RESULT, BALANCE];

/// The path of video `video_id`'s status.
pub fn result_path(video_id: u64) -> String {
    format!("{RESULT_PREFIX}{video_id}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_status_path_is_its_prefix_and_the_id() {
        assert_eq!(RESULT.path, "/openapi/v2/video/result/{video_id}");
        assert_eq!(result_path(42), "/openapi/v2/video/result/42");
        assert_eq!(
            GENERATE.to_string(),
            "POST /openapi/v2/video/fusion/generate"
        );
        assert_eq!(MEDIA_UPLOAD.to_string(), "POST /openapi/v2/media/upload");
        for e in ALL {
            assert!(e.path.starts_with("/openapi/v2/"), "{e}");
        }
    }
}
