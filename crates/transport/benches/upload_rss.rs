//! Peak resident memory while uploading a 100 MiB reference video through
//! `Transport::upload_video` (preflight of its header, then the multipart body streamed from
//! disk). The video is a real MP4 (the tiny ffmpeg fixture: ftyp, moov, mdat) grown to 100 MiB
//! with a top-level `free` box, written to disk in 64 KiB blocks; the in-process server reads
//! the body into one reused buffer and drops it, so the peak measures the client.
//!
//! Run: `PIXFUSE_BENCH_DIR=/tmp cargo bench -p pixfuse-transport --bench upload_rss`
//! Target (issue 13): VmHWM < 32 MiB. Linux only (reads /proc/self/status).

use std::io::Write;
use std::time::Instant;

use pixfuse_transport::{Provider, Transport, TransportConfig};
use secrecy::SecretString;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const SIZE: u64 = 100 << 20;
static FIXTURE: &[u8] = include_bytes!("../../../tests/fixtures/video/clip-2s.mp4");

fn vm(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| {
            l.strip_prefix(field)?
                .trim()
                .strip_suffix("kB")?
                .trim()
                .parse()
                .ok()
        })
        .unwrap_or(0)
}

/// The fixture, then one `free` box up to `SIZE` bytes in all.
fn write_video(path: &std::path::Path) {
    let mut file = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    file.write_all(FIXTURE).unwrap();
    let free = SIZE - FIXTURE.len() as u64;
    file.write_all(&u32::try_from(free).unwrap().to_be_bytes())
        .unwrap();
    file.write_all(b"free").unwrap();
    let block = [0u8; 64 * 1024];
    let mut left = free - 8;
    while left > 0 {
        let n = left.min(block.len() as u64) as usize;
        file.write_all(&block[..n]).unwrap();
        left -= n as u64;
    }
    file.flush().unwrap();
}

/// Reads one request (its `Content-Length` body into a reused buffer, discarded) and answers it.
/// A multipart form of known-length parts is sent with a `Content-Length`.
async fn answer(mut s: TcpStream) {
    let mut buf = vec![0u8; 64 * 1024];
    let mut head = Vec::new();
    let end = loop {
        let Ok(n) = s.read(&mut buf).await else {
            return;
        };
        if n == 0 {
            return;
        }
        head.extend_from_slice(&buf[..n]);
        if let Some(at) = head.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
    };
    let text = String::from_utf8_lossy(&head[..end]).to_ascii_lowercase();
    let length: u64 = text
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .expect("the upload announces its length");
    let mut seen = (head.len() - end) as u64;
    drop(head);
    while seen < length {
        match s.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => seen += n as u64,
        }
    }
    let body = br#"{"ErrCode":0,"ErrMsg":"success","Resp":{"media_id":42,"media_type":"video"}}"#;
    let reply = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    let _ = s.write_all(reply.as_bytes()).await;
    let _ = s.write_all(body).await;
    eprintln!("  server read {seen} body bytes");
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dir =
        tempfile::tempdir_in(std::env::var_os("PIXFUSE_BENCH_DIR").unwrap_or_else(|| ".".into()))
            .unwrap();
    let video = dir.path().join("big.mp4");
    write_video(&video);
    rt.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((s, _)) = listener.accept().await {
                tokio::spawn(answer(s));
            }
        });
        let transport = Transport::new(
            TransportConfig::new(Provider::Pixverse, SecretString::from("k".to_owned()))
                .with_base_url(format!("http://{addr}")),
        )
        .unwrap();
        let before = vm("VmHWM:");
        let started = Instant::now();
        let up = transport.upload_video(&video).await.unwrap();
        let secs = started.elapsed().as_secs_f64();
        assert_eq!(up.media_id, 42);
        let info = up.video.unwrap();
        assert_eq!(info.bytes, SIZE);
        assert_eq!(info.duration_ms, Some(2000));
        let peak = vm("VmHWM:");
        println!(
            "upload of a {} MiB video in {secs:.2} s ({:.0} MiB/s)",
            SIZE >> 20,
            (SIZE >> 20) as f64 / secs
        );
        println!("  VmHWM before the upload {:>6} KiB", before);
        println!(
            "  VmHWM after the upload  {:>6} KiB ({:.1} MiB)",
            peak,
            peak as f64 / 1024.0
        );
        println!(
            "  target < 32 MiB: {}",
            if peak < 32 * 1024 { "met" } else { "NOT MET" }
        );
    });
}
