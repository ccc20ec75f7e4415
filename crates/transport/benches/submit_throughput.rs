//! Submit throughput through the whole transport (trace id, auth, tracing span, envelope
//! decoding, retry bookkeeping) against raw reqwest posting the same pre-serialized bytes over
//! the same keep-alive pool, both against a minimal keep-alive HTTP/1.1 server on loopback.
//!
//! Run: `cargo bench -p pixfuse-transport --bench submit_throughput`
//! Target (issue 4): whole stack ≥ 0.9 × raw reqwest.

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use pixfuse_transport::{Provider, Transport, TransportConfig};
use secrecy::SecretString;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use uuid::Uuid;

const BODY: &[u8] = br#"{"image_references":[{"type":"subject","img_id":12345678901234567,"ref_name":"dog"},{"type":"background","img_id":22345678901234567,"ref_name":"park"}],"prompt":"@dog runs through @park at dusk","model":"v5.6","duration":5,"quality":"540p","aspect_ratio":"16:9","seed":42}"#;
const ANSWER: &[u8] =
    br#"{"ErrCode":0,"ErrMsg":"success","Resp":{"video_id":381923847561234567,"credits":45}}"#;
const REQUESTS: usize = 2_000;
const IN_FLIGHT: usize = 8;
const ROUNDS: usize = 41;
const KEY: &str = "bench-key";

/// Answers every request on a connection with the same envelope, keeping it alive.
async fn serve(mut s: TcpStream) {
    let head = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
        ANSWER.len()
    );
    let mut response = head.into_bytes();
    response.extend_from_slice(ANSWER);
    let mut buf = vec![0u8; 64 * 1024];
    let mut filled = 0;
    loop {
        // Parse as many complete requests as the buffer holds.
        while let Some(end) = buf[..filled].windows(4).position(|w| w == b"\r\n\r\n") {
            let head = std::str::from_utf8(&buf[..end]).unwrap_or("");
            let len: usize = head
                .lines()
                .find_map(|l| {
                    let (n, v) = l.split_once(':')?;
                    n.eq_ignore_ascii_case("content-length")
                        .then(|| v.trim().parse().ok())?
                })
                .unwrap_or(0);
            let total = end + 4 + len;
            if filled < total {
                break;
            }
            if s.write_all(&response).await.is_err() {
                return;
            }
            buf.copy_within(total..filled, 0);
            filled -= total;
        }
        match s.read(&mut buf[filled..]).await {
            Ok(0) | Err(_) => return,
            Ok(n) => filled += n,
        }
    }
}

fn start_server() -> String {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(listener.local_addr().unwrap()).unwrap();
            while let Ok((s, _)) = listener.accept().await {
                s.set_nodelay(true).unwrap();
                tokio::spawn(serve(s));
            }
        });
    });
    format!("http://{}", rx.recv().unwrap())
}

async fn raw(client: &reqwest::Client, url: &str, body: &bytes::Bytes) -> Duration {
    let started = Instant::now();
    futures_util::stream::iter(0..REQUESTS)
        .map(|_| async {
            let r = client
                .post(url)
                .header("ai-trace-id", Uuid::new_v4().to_string())
                .header("api-key", KEY)
                .header("content-type", "application/json")
                .body(body.clone())
                .send()
                .await
                .unwrap();
            assert!(r.status().is_success());
            r.bytes().await.unwrap()
        })
        .buffer_unordered(IN_FLIGHT)
        .for_each(|_| async {})
        .await;
    started.elapsed()
}

async fn stack(transport: &Transport, body: &bytes::Bytes) -> Duration {
    let started = Instant::now();
    futures_util::stream::iter(0..REQUESTS)
        .map(|_| async {
            let s = transport
                .submit(body.clone(), Uuid::new_v4())
                .await
                .unwrap();
            assert_eq!(s.video_id, 381923847561234567);
        })
        .buffer_unordered(IN_FLIGHT)
        .for_each(|_| async {})
        .await;
    started.elapsed()
}

fn main() {
    let base = start_server();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let client = reqwest::Client::builder().tcp_nodelay(true).build().unwrap();
        let transport = Transport::new(
            TransportConfig::new(Provider::Pixverse, SecretString::from(KEY.to_owned()))
                .with_base_url(&base)
                .with_http_client(client.clone()),
        )
        .unwrap();
        let url = format!("{base}{}", pixfuse_core::endpoint::GENERATE.path);
        let body = bytes::Bytes::from_static(BODY);
        // Warm the pool and both code paths.
        raw(&client, &url, &body).await;
        stack(&transport, &body).await;
        let (mut raws, mut stacks) = (Vec::new(), Vec::new());
        for _ in 0..ROUNDS {
            raws.push(raw(&client, &url, &body).await);
            stacks.push(stack(&transport, &body).await);
        }
        let rate = |d: &Duration| REQUESTS as f64 / d.as_secs_f64();
        // Rounds alternate, so both sides see the same background load; the machine is
        // shared, so report the best round (intrinsic cost) and the median of the per-round
        // ratios (typical cost under load).
        let mut ratios: Vec<f64> = raws
            .iter()
            .zip(&stacks)
            .map(|(r, s)| rate(s) / rate(r))
            .collect();
        ratios.sort_by(f64::total_cmp);
        raws.sort();
        stacks.sort();
        let total = |v: &[Duration]| v.iter().sum::<Duration>();
        let total_ratio = total(&raws).as_secs_f64() / total(&stacks).as_secs_f64();
        let (raw_best, stack_best) = (rate(&raws[0]), rate(&stacks[0]));
        let best_ratio = stack_best / raw_best;
        let median_ratio = ratios[ROUNDS / 2];
        println!("submit throughput: {REQUESTS} requests per round, {ROUNDS} alternating rounds, {IN_FLIGHT} in flight");
        println!("  raw reqwest   best {raw_best:>7.0} req/s   median {:>7.0} req/s", rate(&raws[ROUNDS / 2]));
        println!("  pixfuse stack best {stack_best:>7.0} req/s   median {:>7.0} req/s", rate(&stacks[ROUNDS / 2]));
        println!(
            "  stack/raw: best rounds {best_ratio:.3}, median per-round {median_ratio:.3}, all rounds together {total_ratio:.3}"
        );
        println!(
            "  target ≥ 0.9: {}",
            if best_ratio.min(median_ratio).min(total_ratio) >= 0.9 { "met" } else { "NOT MET" }
        );
    });
}
