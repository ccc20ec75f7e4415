//! A download cut midway resumes with `Range` and ends byte-identical; the final path never
//! holds a partial file. A raw server, because wiremock cannot cut a body.

use crate::common;

use common::*;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;

fn content(len: usize) -> Vec<u8> {
    mp4(len)
}

#[tokio::test]
async fn cut_midway_then_resumed_byte_identical() {
    const LEN: usize = 300_000;
    const CUT: usize = 123_457;
    let data = content(LEN);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let served = data.clone();
    let server = tokio::spawn(async move {
        let mut seen = Vec::new();
        let (mut s, _) = listener.accept().await.unwrap();
        seen.push(read_request(&mut s).await);
        let head = format!("HTTP/1.1 200 OK\r\ncontent-length: {LEN}\r\n\r\n");
        s.write_all(head.as_bytes()).await.unwrap();
        s.write_all(&served[..CUT]).await.unwrap();
        s.flush().await.unwrap();
        drop(s); // cut
        let (mut s, _) = listener.accept().await.unwrap();
        seen.push(read_request(&mut s).await);
        let start: usize = seen[1]
            .header("range")
            .and_then(|r| r.strip_prefix("bytes=")?.strip_suffix('-')?.parse().ok())
            .expect("a Range request");
        let head = format!(
            "HTTP/1.1 206 Partial Content\r\ncontent-length: {}\r\ncontent-range: bytes {start}-{}/{LEN}\r\nconnection: close\r\n\r\n",
            LEN - start,
            LEN - 1
        );
        s.write_all(head.as_bytes()).await.unwrap();
        s.write_all(&served[start..]).await.unwrap();
        s.shutdown().await.unwrap();
        seen
    });
    let server_for_config = wiremock::MockServer::start().await;
    let t = transport(&server_for_config);
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("video.mp4");
    let mut max_seen = 0;
    let got = t
        .download(
            &format!("http://{addr}/video.mp4"),
            &dest,
            &Default::default(),
            &mut |p: pixfuse_transport::DownloadProgress| {
                assert!(
                    !dest.exists(),
                    "final path must not exist before completion"
                );
                max_seen = max_seen.max(p.received);
            },
        )
        .await
        .unwrap();
    assert_eq!((got.bytes, got.resumes), (LEN as u64, 1));
    assert_eq!(max_seen, LEN as u64);
    assert!(std::fs::read(&dest).unwrap() == data, "content differs");
    let seen = server.await.unwrap();
    assert_eq!(
        seen[1].header("range").as_deref(),
        Some(format!("bytes={CUT}-").as_str())
    );
    assert!(seen[0].header("api-key").is_none() && seen[1].header("api-key").is_none());
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(leftovers, vec![std::ffi::OsString::from("video.mp4")]);
}

#[tokio::test]
async fn a_short_body_that_never_completes_leaves_nothing_behind() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        // Every connection promises 1000 bytes and delivers none.
        while let Ok((mut s, _)) = listener.accept().await {
            let _ = read_request(&mut s).await;
            let _ = s
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\n")
                .await;
        }
    });
    let server_for_config = wiremock::MockServer::start().await;
    let t = transport(&server_for_config);
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("v.mp4");
    let e = t
        .download(
            &format!("http://{addr}/v.mp4?sig=abc"),
            &dest,
            &Default::default(),
            &mut |_| {},
        )
        .await
        .unwrap_err();
    assert!(e.to_string().contains("after 4 connections"), "{e}");
    assert!(!e.to_string().contains("sig=abc"), "{e}");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}
