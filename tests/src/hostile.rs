//! A hostile vendor on loopback, over raw TCP (wiremock can neither stay silent after reading a
//! request, trickle a body, nor cut one): upload, submit, status and the video, each of which
//! can be told to misbehave.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A phase of a job, as the server sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    Upload,
    Submit,
    Status,
    Video,
}

/// How the video is served.
#[derive(Clone, Debug)]
pub enum Video {
    /// With its length, at once (206 for a `Range` request).
    Whole,
    /// With its length, one byte per second after the first `head` bytes.
    Trickle { head: usize },
    /// The first connection sends `cut` bytes and then holds the connection open, silent;
    /// later connections answer `Range` requests with the rest.
    StallAt { cut: usize },
}

/// What the hostile vendor does.
#[derive(Clone, Debug)]
pub struct Script {
    /// This phase reads the request and never answers.
    pub silent: Option<Phase>,
    pub video: Video,
    /// The status answer's `Resp` (the `url` is added when absent).
    pub status_resp: Value,
    /// The video's bytes.
    pub bytes: Vec<u8>,
}

impl Default for Script {
    fn default() -> Self {
        Script {
            silent: None,
            video: Video::Whole,
            status_resp: json!({"id": 77, "status": 1}),
            bytes: crate::video_bytes(),
        }
    }
}

/// One request the vendor received.
#[derive(Clone, Debug)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub head: String,
}

impl Seen {
    pub fn header(&self, name: &str) -> Option<String> {
        self.head.lines().find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_owned())
        })
    }
}

/// The running vendor (it stops with the test's runtime).
pub struct Hostile {
    pub uri: String,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Hostile {
    pub async fn start(script: Script) -> Hostile {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let uri = format!("http://{}", listener.local_addr().unwrap());
        let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
        let log = seen.clone();
        let script = Arc::new(script);
        let video_url = format!("{uri}/v.mp4");
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (script, log, url) = (script.clone(), log.clone(), video_url.clone());
                tokio::spawn(serve(stream, script, log, url));
            }
        });
        Hostile { uri, seen }
    }

    /// Every request so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    /// Requests for the video so far.
    pub fn video_requests(&self) -> Vec<Seen> {
        self.seen()
            .into_iter()
            .filter(|s| s.path.starts_with("/v.mp4"))
            .collect()
    }
}

async fn serve(mut s: TcpStream, script: Arc<Script>, log: Arc<Mutex<Vec<Seen>>>, url: String) {
    loop {
        let Some((head, _body)) = read_request(&mut s).await else {
            return;
        };
        let first = head.lines().next().unwrap_or_default().to_owned();
        let mut parts = first.split_whitespace();
        let method = parts.next().unwrap_or_default().to_owned();
        let path = parts.next().unwrap_or_default().to_owned();
        let seen = Seen {
            method,
            path: path.clone(),
            head,
        };
        let range = seen.header("range").and_then(|r| {
            r.strip_prefix("bytes=")?
                .strip_suffix('-')?
                .parse::<usize>()
                .ok()
        });
        let video_connections = {
            let mut log = log.lock().unwrap();
            log.push(seen);
            log.iter().filter(|s| s.path.starts_with("/v.mp4")).count()
        };
        let phase = match path.as_str() {
            p if p == crate::UPLOAD => Phase::Upload,
            p if p == crate::GENERATE => Phase::Submit,
            p if p.starts_with(crate::RESULT_PREFIX) => Phase::Status,
            _ => Phase::Video,
        };
        if script.silent == Some(phase) {
            // Read, then nothing: hold the connection until the client gives up.
            tokio::time::sleep(Duration::from_secs(600)).await;
            return;
        }
        let envelope = |resp: Value| json!({"ErrCode": 0, "ErrMsg": "success", "Resp": resp});
        let answer = match phase {
            Phase::Upload => envelope(json!({"img_id": 1001})),
            Phase::Submit => envelope(json!({"video_id": 77})),
            Phase::Status => {
                let mut resp = script.status_resp.clone();
                if resp.get("url").is_none() {
                    resp["url"] = json!(url);
                }
                envelope(resp)
            }
            Phase::Video => {
                if send_video(&mut s, &script, range, video_connections).await {
                    continue;
                }
                return;
            }
        };
        let body = answer.to_string();
        let head = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
            body.len()
        );
        if s.write_all(head.as_bytes()).await.is_err()
            || s.write_all(body.as_bytes()).await.is_err()
        {
            return;
        }
    }
}

/// Serves the video per the script; `true` when the connection may serve another request.
async fn send_video(s: &mut TcpStream, script: &Script, range: Option<usize>, nth: usize) -> bool {
    let bytes = &script.bytes;
    let start = range.unwrap_or(0).min(bytes.len());
    let head = if range.is_some() {
        format!(
            "HTTP/1.1 206 Partial Content\r\ncontent-type: video/mp4\r\netag: \"v77\"\r\ncontent-length: {}\r\ncontent-range: bytes {start}-{}/{}\r\n\r\n",
            bytes.len() - start,
            bytes.len() - 1,
            bytes.len()
        )
    } else {
        format!(
            "HTTP/1.1 200 OK\r\ncontent-type: video/mp4\r\netag: \"v77\"\r\ncontent-length: {}\r\n\r\n",
            bytes.len()
        )
    };
    if s.write_all(head.as_bytes()).await.is_err() {
        return false;
    }
    let rest = &bytes[start..];
    match script.video {
        Video::Whole => s.write_all(rest).await.is_ok(),
        Video::Trickle { head } => {
            let head = head.min(rest.len());
            if s.write_all(&rest[..head]).await.is_err() {
                return false;
            }
            for b in &rest[head..] {
                tokio::time::sleep(Duration::from_secs(1)).await;
                if s.write_all(&[*b]).await.is_err() {
                    return false;
                }
            }
            true
        }
        Video::StallAt { cut } if nth == 1 && range.is_none() => {
            let _ = s.write_all(&rest[..cut.min(rest.len())]).await;
            let _ = s.flush().await;
            tokio::time::sleep(Duration::from_secs(600)).await;
            false
        }
        Video::StallAt { .. } => s.write_all(rest).await.is_ok(),
    }
}

/// One request: its head, and its body by Content-Length. `None` once the client is gone.
async fn read_request(s: &mut TcpStream) -> Option<(String, Vec<u8>)> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        match s.read(&mut chunk).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let len: usize = head
        .lines()
        .find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.trim()
                .eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().ok())?
        })
        .unwrap_or(0);
    let mut body = buf[head_end..].to_vec();
    while body.len() < len {
        match s.read(&mut chunk).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => body.extend_from_slice(&chunk[..n]),
        }
    }
    Some((head, body))
}
