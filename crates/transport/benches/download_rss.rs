//! Peak resident memory while downloading a 1 GiB body through `Transport::download`.
//! The in-process server streams one static 64 KiB block over and over (it allocates nothing
//! per byte), so the peak measures the client: reqwest's buffers, our write buffer, the runtime.
//!
//! Run: `cargo bench -p pixfuse-transport --bench download_rss`
//! Target (issue 4): VmHWM < 32 MiB. Linux only (reads /proc/self/status).

use std::time::Instant;

use pixfuse_transport::{Provider, Transport, TransportConfig};
use secrecy::SecretString;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const SIZE: u64 = 1 << 30;
static BLOCK: [u8; 64 * 1024] = [0x5a; 64 * 1024];

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

async fn serve(listener: TcpListener) {
    while let Ok((mut s, _)) = listener.accept().await {
        let mut req = [0u8; 4096];
        let mut seen = Vec::with_capacity(4096);
        while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
            match s.read(&mut req).await {
                Ok(0) | Err(_) => break,
                Ok(n) => seen.extend_from_slice(&req[..n]),
            }
        }
        let head =
            format!("HTTP/1.1 200 OK\r\ncontent-length: {SIZE}\r\ncontent-type: video/mp4\r\n\r\n");
        if s.write_all(head.as_bytes()).await.is_err() {
            continue;
        }
        // An MP4's first box, so the download passes the signature check.
        const FTYP: &[u8] = b"\0\0\0\x10ftypisom\0\0\x02\0";
        if s.write_all(FTYP).await.is_err() {
            continue;
        }
        let mut left = SIZE - FTYP.len() as u64;
        while left > 0 {
            let n = left.min(BLOCK.len() as u64) as usize;
            if s.write_all(&BLOCK[..n]).await.is_err() {
                break;
            }
            left -= n as u64;
        }
    }
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(serve(listener));
        let transport = Transport::new(
            TransportConfig::new(Provider::Pixverse, SecretString::from("k".to_owned()))
                .with_base_url(format!("http://{addr}")),
        )
        .unwrap();
        let dir = tempfile::tempdir_in(
            std::env::var_os("PIXFUSE_BENCH_DIR").unwrap_or_else(|| ".".into()),
        )
        .unwrap();
        let dest = dir.path().join("video.mp4");
        let before = vm("VmHWM:");
        let started = Instant::now();
        let got = transport
            .download(
                &format!("http://{addr}/video.mp4"),
                &dest,
                &Default::default(),
                &mut |_| {},
            )
            .await
            .unwrap();
        let secs = started.elapsed().as_secs_f64();
        assert_eq!(got.bytes, SIZE);
        assert_eq!(std::fs::metadata(&dest).unwrap().len(), SIZE);
        let peak = vm("VmHWM:");
        println!(
            "download of {} MiB in {secs:.1} s ({:.0} MiB/s)",
            SIZE >> 20,
            (SIZE >> 20) as f64 / secs
        );
        println!("  VmHWM before the download {:>6} KiB", before);
        println!(
            "  VmHWM after the download  {:>6} KiB ({:.1} MiB)",
            peak,
            peak as f64 / 1024.0
        );
        println!(
            "  target < 32 MiB: {}",
            if peak < 32 * 1024 { "met" } else { "NOT MET" }
        );
    });
}
