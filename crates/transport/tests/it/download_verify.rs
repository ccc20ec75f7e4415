//! A download is recorded only when it is verifiably the whole video: a body without an
//! announced length is confirmed by a range probe (or retried), a page or an API answer is
//! refused with an excerpt, and a partial file is continued by a later transport with `Range`
//! and `If-Range`. Raw servers, because wiremock cannot cut a body or omit its length.

use crate::common;

use std::sync::{Arc, Mutex};

use common::*;
use pixfuse_transport::{DownloadOptions, Provider, RetryPolicy, Transport, TransportError};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};

type Seen = Arc<Mutex<Vec<RawRequest>>>;

/// A raw server answering each connection with `respond(n, request)` (n counts from 0).
async fn raw_server<F, Fut>(respond: F) -> (String, Seen)
where
    F: Fn(usize, RawRequest, TcpStream) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/v.mp4", listener.local_addr().unwrap());
    let seen: Seen = Arc::default();
    let log = seen.clone();
    tokio::spawn(async move {
        let mut n = 0;
        while let Ok((mut s, _)) = listener.accept().await {
            let req = read_request(&mut s).await;
            log.lock().unwrap().push(RawRequest {
                head: req.head.clone(),
                body: Vec::new(),
            });
            respond(n, req, s).await;
            n += 1;
        }
    });
    (url, seen)
}

fn range_start(req: &RawRequest) -> Option<usize> {
    req.header("range")?
        .strip_prefix("bytes=")?
        .strip_suffix('-')?
        .parse()
        .ok()
}

/// The rest of `served` from `start`, as a 206 with its total.
async fn rest_from(s: TcpStream, served: &[u8], start: usize, extra_header: &str) {
    let len = served.len();
    let head = format!(
        "HTTP/1.1 206 Partial Content\r\ncontent-length: {}\r\ncontent-range: bytes {start}-{}/{len}\r\n{extra_header}\r\n",
        len - start,
        len - 1
    );
    send(s, &head, &served[start..]).await
}

async fn send(mut s: TcpStream, head: &str, body: &[u8]) {
    let _ = s.write_all(head.as_bytes()).await;
    let _ = s.write_all(body).await;
    let _ = s.shutdown().await;
}

fn t() -> Transport {
    // Downloads only: the API base is never contacted.
    let cfg = pixfuse_transport::TransportConfig::new(
        Provider::Pixverse,
        secrecy::SecretString::from(KEY.to_owned()),
    )
    .with_base_url("http://127.0.0.1:9")
    .with_retry(fast_retry());
    Transport::new(cfg).unwrap()
}

#[tokio::test]
async fn an_unannounced_length_cut_is_probed_resumed_and_byte_identical() {
    const LEN: usize = 40_000;
    let data = mp4(LEN);
    let served = data.clone();
    let (url, seen) = raw_server(move |n, req, s| {
        let served = served.clone();
        async move {
            match (n, range_start(&req)) {
                // No Content-Length, Connection: close, cut at half.
                (0, None) => {
                    send(
                        s,
                        "HTTP/1.1 200 OK\r\nconnection: close\r\n\r\n",
                        &served[..LEN / 2],
                    )
                    .await
                }
                (_, Some(start)) => rest_from(s, &served, start, "").await,
                _ => send(s, "HTTP/1.1 500 Oops\r\ncontent-length: 0\r\n\r\n", b"").await,
            }
        }
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("v.mp4");
    let got = t()
        .download(&url, &dest, &DownloadOptions::default(), &mut |_| {})
        .await
        .unwrap();
    assert_eq!(got.bytes, LEN as u64);
    assert!(std::fs::read(&dest).unwrap() == data, "content differs");
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 2);
    assert_eq!(
        range_start(&seen[1]),
        Some(LEN / 2),
        "the probe asks for what follows"
    );
}

#[tokio::test]
async fn a_whole_unannounced_body_is_confirmed_by_a_416() {
    let data = mp4(5_000);
    let served = data.clone();
    let (url, seen) = raw_server(move |_, req, s| {
        let served = served.clone();
        async move {
            match range_start(&req) {
                None => send(s, "HTTP/1.1 200 OK\r\nconnection: close\r\n\r\n", &served).await,
                Some(_) => {
                    let head = format!(
                        "HTTP/1.1 416 Range Not Satisfiable\r\ncontent-range: bytes */{}\r\ncontent-length: 0\r\n\r\n",
                        served.len()
                    );
                    send(s, &head, b"").await
                }
            }
        }
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("v.mp4");
    t().download(&url, &dest, &DownloadOptions::default(), &mut |_| {})
        .await
        .unwrap();
    assert!(std::fs::read(&dest).unwrap() == data);
    assert_eq!(seen.lock().unwrap().len(), 2);
}

#[tokio::test]
async fn an_end_nothing_confirms_is_never_recorded_as_downloaded() {
    let data = mp4(5_000);
    let (url, _) = raw_server(move |_, _, s| {
        let half = data[..2_500].to_vec();
        // Every answer: a 200 without length, cut at half, ranges ignored.
        async move { send(s, "HTTP/1.1 200 OK\r\nconnection: close\r\n\r\n", &half).await }
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("v.mp4");
    let e = t()
        .download(&url, &dest, &DownloadOptions::default(), &mut |_| {})
        .await
        .unwrap_err();
    assert!(e.to_string().contains("cannot be confirmed"), "{e}");
    assert!(!dest.exists());
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "no temp file left"
    );
}

#[tokio::test]
async fn the_status_answers_size_makes_a_short_unannounced_body_a_cut() {
    const LEN: usize = 8_000;
    let data = mp4(LEN);
    let served = data.clone();
    let (url, seen) = raw_server(move |_, req, s| {
        let served = served.clone();
        async move {
            match range_start(&req) {
                None => {
                    send(s, "HTTP/1.1 200 OK\r\nconnection: close\r\n\r\n", &served[..3_000])
                        .await
                }
                Some(start) => {
                    let head = format!(
                        "HTTP/1.1 206 Partial Content\r\ncontent-range: bytes {start}-{}/*\r\nconnection: close\r\n\r\n",
                        LEN - 1
                    );
                    send(s, &head, &served[start..]).await
                }
            }
        }
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("v.mp4");
    let options = DownloadOptions {
        partial: None,
        expected_len: Some(LEN as u64),
    };
    t().download(&url, &dest, &options, &mut |_| {})
        .await
        .unwrap();
    assert!(std::fs::read(&dest).unwrap() == data);
    assert_eq!(
        seen.lock().unwrap().len(),
        2,
        "resumed once, no probe needed"
    );
}

async fn refused(content_type: &'static str, body: &'static [u8]) -> TransportError {
    let (url, _) = raw_server(move |_, _, s| async move {
        let head = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\n\r\n",
            body.len()
        );
        send(s, &head, body).await
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("v.mp4");
    let e = t()
        .download(
            &format!("{url}?sig=s3cr3t"),
            &dest,
            &DownloadOptions::default(),
            &mut |_| {},
        )
        .await
        .unwrap_err();
    assert!(!dest.exists());
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "no temp file left"
    );
    assert!(!e.to_string().contains("s3cr3t"), "{e}");
    e
}

#[tokio::test]
async fn pages_api_answers_and_other_bytes_are_not_saved_as_the_video() {
    let html = refused(
        "text/html; charset=utf-8",
        b"<html><body>Please log in \x1b[31mnow</body></html>",
    )
    .await;
    let text = html.to_string();
    assert!(
        text.contains("not a video (Content-Type text/html)"),
        "{text}"
    );
    assert!(
        text.contains("Please log in now"),
        "excerpt, sanitised: {text}"
    );
    let json = refused(
        "application/json",
        br#"{"ErrCode":500008,"ErrMsg":"not found"}"#,
    )
    .await;
    assert!(json.to_string().contains(r#"ErrCode\":500008"#), "{json}");
    let octets = refused(
        "application/octet-stream",
        b"GIF89a........................!!",
    )
    .await;
    assert!(
        octets
            .to_string()
            .contains("not a video; it starts with \"GIF89a"),
        "{octets}"
    );
}

#[tokio::test]
async fn a_partial_file_is_continued_by_a_later_transport_with_if_range() {
    const LEN: usize = 60_000;
    const CUT: usize = 21_000;
    let data = mp4(LEN);
    let served = data.clone();
    let (url, seen) = raw_server(move |n, req, s| {
        let served = served.clone();
        async move {
            let etag = "etag: \"v1\"\r\n";
            match (n, range_start(&req)) {
                (0, None) => {
                    let head = format!("HTTP/1.1 200 OK\r\ncontent-length: {LEN}\r\n{etag}\r\n");
                    send(s, &head, &served[..CUT]).await
                }
                (_, Some(start)) => rest_from(s, &served, start, etag).await,
                _ => send(s, "HTTP/1.1 500 Oops\r\ncontent-length: 0\r\n\r\n", b"").await,
            }
        }
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("v.mp4");
    let partial = pixfuse_transport::partial_path(&dest, "7");
    let options = DownloadOptions {
        partial: Some(partial.clone()),
        expected_len: None,
    };
    // The first process gives up after one connection (as a crash would leave it).
    let once = pixfuse_transport::TransportConfig::new(
        Provider::Pixverse,
        secrecy::SecretString::from(KEY.to_owned()),
    )
    .with_base_url("http://127.0.0.1:9")
    .with_retry(RetryPolicy::never());
    let e = Transport::new(once)
        .unwrap()
        .download(&url, &dest, &options, &mut |_| {})
        .await
        .unwrap_err();
    assert!(e.to_string().contains("(21000 bytes received)"), "{e}");
    assert_eq!(std::fs::metadata(&partial).unwrap().len(), CUT as u64);
    // A new transport continues from the partial file.
    let got = t()
        .download(&url, &dest, &options, &mut |_| {})
        .await
        .unwrap();
    assert_eq!((got.bytes, got.continued_from), (LEN as u64, CUT as u64));
    assert!(std::fs::read(&dest).unwrap() == data, "content differs");
    let seen = seen.lock().unwrap();
    assert_eq!(range_start(&seen[1]), Some(CUT));
    assert_eq!(seen[1].header("if-range").as_deref(), Some("\"v1\""));
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        left,
        vec![std::ffi::OsString::from("v.mp4")],
        "partial and validator gone"
    );
}

#[tokio::test]
async fn a_changed_file_starts_over() {
    let old = mp4(9_000);
    let new: Vec<u8> = mp4(12_000).iter().map(|b| b ^ 1).collect::<Vec<_>>();
    let mut new = new;
    new[..8].copy_from_slice(b"\0\0\0\x18ftyp");
    let served = new.clone();
    let (url, seen) = raw_server(move |_, _, s| {
        let served = served.clone();
        // If-Range does not match: the whole new file.
        async move {
            let head = format!(
                "HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n",
                served.len()
            );
            send(s, &head, &served).await
        }
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("v.mp4");
    let partial = pixfuse_transport::partial_path(&dest, "8");
    std::fs::write(&partial, &old[..4_000]).unwrap();
    let options = DownloadOptions {
        partial: Some(partial),
        expected_len: None,
    };
    t().download(&url, &dest, &options, &mut |_| {})
        .await
        .unwrap();
    assert!(std::fs::read(&dest).unwrap() == new);
    assert_eq!(range_start(&seen.lock().unwrap()[0]), Some(4_000));
}

#[tokio::test]
async fn a_probe_that_brings_more_bytes_of_unknown_total_is_followed_by_another() {
    const LEN: usize = 9_000;
    let data = mp4(LEN);
    let served = data.clone();
    let (url, seen) = raw_server(move |_, req, s| {
        let served = served.clone();
        async move {
            match range_start(&req) {
                None => {
                    send(s, "HTTP/1.1 200 OK\r\nconnection: close\r\n\r\n", &served[..2_000])
                        .await
                }
                // More bytes, total unknown, the end never announced.
                Some(start) if start < LEN => {
                    let end = (start + 4_000).min(LEN);
                    let head = format!(
                        "HTTP/1.1 206 Partial Content\r\ncontent-range: bytes {start}-{}/*\r\nconnection: close\r\n\r\n",
                        end - 1
                    );
                    send(s, &head, &served[start..end]).await
                }
                Some(_) => {
                    send(s, "HTTP/1.1 416 Range Not Satisfiable\r\ncontent-length: 0\r\n\r\n", b"")
                        .await
                }
            }
        }
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("v.mp4");
    t().download(&url, &dest, &DownloadOptions::default(), &mut |_| {})
        .await
        .unwrap();
    assert!(std::fs::read(&dest).unwrap() == data);
    let starts: Vec<_> = seen.lock().unwrap().iter().map(range_start).collect();
    assert_eq!(starts, [None, Some(2_000), Some(6_000), Some(LEN)]);
}

#[tokio::test]
async fn a_failed_connection_never_shows_the_signed_query() {
    // Bind and drop: nothing listens on this port any more.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = tempfile::tempdir().unwrap();
    let e = t()
        .download(
            &format!("http://127.0.0.1:{port}/v.mp4?X-Amz-Signature=s3cr3t"),
            &dir.path().join("v.mp4"),
            &DownloadOptions::default(),
            &mut |_| {},
        )
        .await
        .unwrap_err();
    let text = format!("{e} {e:?}");
    assert!(!text.contains("s3cr3t"), "{text}");
    assert!(text.contains("127.0.0.1"), "{text}");
}
