//! Answers in the vendor's shapes, and the faults that mangle them.

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::faults::Fault;

/// ErrCodes the sandbox answers outside the judge's refusals.
const SERVER_ERROR: i64 = 500100;
const MODERATION: i64 = 500052;

/// Why a request is refused: a vendor ErrCode and the parameter it is about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Refusal {
    pub(crate) code: i64,
    pub(crate) param: String,
}

impl Refusal {
    pub(crate) fn new(code: i64, param: impl Into<String>) -> Self {
        Self {
            code,
            param: param.into(),
        }
    }
}

/// The vendor's short message for `code`: the error table's meaning, then the parameter at
/// fault, if one is.
pub(crate) fn message(code: i64, param: Option<&str>) -> String {
    let meaning = pixfuse_core::errcode::lookup(code).map_or("error", |row| row.meaning);
    match param {
        Some(param) if !param.is_empty() => format!("{meaning}: {param}"),
        _ => meaning.to_owned(),
    }
}

/// A JSON answer before faults are applied.
pub(crate) struct Reply {
    status: StatusCode,
    body: Value,
}

impl Reply {
    /// `{"ErrCode": 0, "ErrMsg": "success", "Resp": resp}` with HTTP 200.
    pub(crate) fn ok(resp: Value) -> Self {
        Self {
            status: StatusCode::OK,
            body: json!({ "ErrCode": 0, "ErrMsg": "success", "Resp": resp }),
        }
    }

    /// A vendor error on HTTP 200 (as the vendor sends them), its message from the error table.
    pub(crate) fn err(code: i64) -> Self {
        Self::err_with_status(StatusCode::OK, code, message(code, None))
    }

    /// [`Reply::err`] naming the parameter at fault (`image_references[1].ref_name`).
    pub(crate) fn refuse(refusal: &Refusal) -> Self {
        Self::err_with_status(
            StatusCode::OK,
            refusal.code,
            message(refusal.code, Some(&refusal.param)),
        )
    }

    /// An error envelope; `Resp` is null, as the vendor's errors carry no answer.
    pub(crate) fn err_with_status(
        status: StatusCode,
        code: i64,
        message: impl Into<String>,
    ) -> Self {
        Self {
            status,
            body: json!({ "ErrCode": code, "ErrMsg": message.into(), "Resp": null }),
        }
    }

    /// The store failed: the vendor's "server error", which clients retry.
    pub(crate) fn server_error(error: &rusqlite::Error) -> Self {
        tracing::error!(%error, "sandbox store failed");
        Self::err_with_status(
            StatusCode::INTERNAL_SERVER_ERROR,
            SERVER_ERROR,
            message(SERVER_ERROR, None),
        )
    }

    /// The lower-case body the vendor sends when moderation refuses an upload (HTTP 500).
    pub(crate) fn moderation_upload() -> Self {
        Self {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            body: json!({
                "err_code": MODERATION,
                "err_msg": message(MODERATION, None),
                "resp": null,
            }),
        }
    }

    /// The envelope as it will be sent (before faults).
    #[cfg(test)]
    pub(crate) fn body(&self) -> &Value {
        &self.body
    }

    /// The reply as sent, or mangled by `fault` if that fault mangles replies.
    pub(crate) fn into_response_with(self, fault: Option<Fault>) -> Response {
        let text = self.body.to_string();
        match fault {
            Some(Fault::TruncatedJson) => {
                // Cut at a char boundary so the body stays UTF-8 (and still fails to parse).
                let mut cut = text.len() / 2;
                while !text.is_char_boundary(cut) {
                    cut -= 1;
                }
                json_response(self.status, text[..cut].to_owned())
            }
            Some(Fault::DropAfterSubmit) => dropped_connection(),
            _ => json_response(self.status, text),
        }
    }
}

impl IntoResponse for Reply {
    fn into_response(self) -> Response {
        self.into_response_with(None)
    }
}

fn json_response(status: StatusCode, text: String) -> Response {
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        text,
    )
        .into_response()
}

/// The answer of a fault that strikes before the request is handled, if `fault` is one.
pub(crate) fn early_fault(fault: Option<Fault>, retry_after_secs: u32) -> Option<Response> {
    match fault? {
        Fault::RateLimit => Some(
            (
                StatusCode::TOO_MANY_REQUESTS,
                [
                    (header::RETRY_AFTER, retry_after_secs.to_string()),
                    (header::CONTENT_TYPE, "text/plain; charset=utf-8".to_owned()),
                ],
                "Too Many Requests",
            )
                .into_response(),
        ),
        Fault::ServerError { proxy_html: true } => Some(
            (
                StatusCode::BAD_GATEWAY,
                [(header::CONTENT_TYPE, "text/html")],
                "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n\
                 <center><h1>502 Bad Gateway</h1></center>\r\n</body>\r\n</html>\r\n",
            )
                .into_response(),
        ),
        Fault::ServerError { proxy_html: false } => Some(
            Reply::err_with_status(
                StatusCode::INTERNAL_SERVER_ERROR,
                SERVER_ERROR,
                message(SERVER_ERROR, None),
            )
            .into_response(),
        ),
        Fault::DropAfterSubmit | Fault::TruncatedJson | Fault::CutDownload => None,
    }
}

/// A response hyper cannot send: its body fails before the first byte, so hyper closes the
/// connection and the client sees it end without an answer.
fn dropped_connection() -> Response {
    let failing = futures_util::stream::once(async {
        Err::<bytes::Bytes, _>(std::io::Error::new(
            std::io::ErrorKind::ConnectionAborted,
            "sandbox fault: connection dropped after the submit was recorded",
        ))
    });
    Response::new(Body::from_stream(failing))
}
