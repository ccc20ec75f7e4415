//! pixfuse-sandbox: a local emulator of the PixVerse Fusion API on 127.0.0.1.
//!
//! It answers the endpoints pixfuse uses the way the vendor documents them (fusion-api.md), so
//! clients written by others run against it unchanged: image upload (a file or an `image_url`),
//! fusion generate (judged from spec data alone, deduplicated by `Ai-trace-id`), video result
//! (status 5, then 1, 7 or 8), balance, and a media server with `Range`. Its state can live in a
//! directory ([`SandboxConfig::state_dir`]), so jobs outlive the process and several processes
//! share one emulator. Faults (429, 5xx, dropped connections, truncated JSON, cut downloads) can
//! be injected deterministically from a seed, so tests and benchmarks can rely on it.
//!
//! ```no_run
//! # async fn demo() -> Result<(), pixfuse_sandbox::SandboxError> {
//! use pixfuse_sandbox::{Sandbox, SandboxConfig};
//! let sandbox = Sandbox::start(SandboxConfig::for_tests()).await?;
//! println!("{} with key {}", sandbox.base_url(), sandbox.demo_key_str());
//! sandbox.shutdown().await?;
//! # Ok(()) }
//! ```

#![forbid(unsafe_code)]

mod account;
mod app;
mod auth;
mod callback;
mod clock;
mod config;
mod faults;
mod judge;
mod media;
mod media_upload;
mod offer;
mod price;
mod range;
mod render;
mod reply;
mod result;
mod schema;
mod sign;
mod stats;
mod store;
mod submit;
mod upload;
mod webhook;

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;

use secrecy::{ExposeSecret, SecretString};
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

pub use config::{
    AuthStyle, DEMO_KEY, FaultConfig, Prices, SandboxConfig, UrlUploads, WebhookConfig,
    WebhookFaults, WebhookSigning,
};
pub use stats::{CallbackStats, FaultStats, SandboxStats};
pub use store::STORE_FILE;

/// What can go wrong starting or running a sandbox.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SandboxError {
    /// A knob has a value the sandbox cannot honour.
    #[error("invalid sandbox configuration: {0}")]
    InvalidConfig(String),
    /// The port could not be bound.
    #[error(
        "cannot listen on 127.0.0.1:{port}: {source} (pick another port, or omit it to use a free one)"
    )]
    Bind {
        port: u16,
        #[source]
        source: std::io::Error,
    },
    /// The server stopped with an I/O error.
    #[error("the sandbox server failed: {0}")]
    Serve(#[source] std::io::Error),
    /// The state directory or its database could not be opened.
    #[error(
        "cannot open the sandbox state{}: {source}",
        .path.as_ref().map(|p| format!(" in {}", p.display())).unwrap_or_default()
    )]
    State {
        path: Option<PathBuf>,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// Entry point: [`Sandbox::start`].
#[derive(Debug)]
#[non_exhaustive]
pub struct Sandbox;

impl Sandbox {
    /// Opens the state (in `config.state_dir`, or in memory), binds 127.0.0.1 (on
    /// `config.port`, or a free port) and serves in a task of the current tokio runtime until
    /// [`RunningSandbox::shutdown`] or drop.
    pub async fn start(config: SandboxConfig) -> Result<RunningSandbox, SandboxError> {
        config.check()?;
        let state_dir = config.state_dir.clone();
        let credits = config.starting_credits;
        let store = tokio::task::spawn_blocking(move || {
            store::Store::open(state_dir.as_deref(), credits, store::random_first_id())
        })
        .await
        .map_err(|e| SandboxError::State {
            path: config.state_dir.clone(),
            source: Box::new(e),
        })??;
        let port = config.port.unwrap_or(0);
        let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, port))
            .await
            .map_err(|source| SandboxError::Bind { port, source })?;
        let addr = listener
            .local_addr()
            .map_err(|source| SandboxError::Bind { port, source })?;
        let base_url = format!("http://{addr}");
        let keys = if config.keys.is_empty() {
            vec![SecretString::from(DEMO_KEY)]
        } else {
            config.keys.clone()
        };
        let keys = auth::Keys::new(keys, config.auth_style);
        let app = Arc::new(app::App::new(config, keys, store, base_url.clone()));
        let router = app::router(Arc::clone(&app));
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            axum::serve(listener, router)
                .with_graceful_shutdown(async {
                    // A dropped sender stops the server too.
                    let _ = stopped.await;
                })
                .await
        });
        let deliverer = app.webhook.is_some().then(|| {
            let (stop, stopped) = watch::channel(());
            (
                stop,
                tokio::spawn(webhook::deliver(Arc::clone(&app), stopped)),
            )
        });
        tracing::debug!(%base_url, "sandbox listening");
        Ok(RunningSandbox {
            addr,
            base_url,
            app,
            stop: Some(stop),
            task: Some(task),
            deliverer,
        })
    }
}

/// A sandbox serving in the background. Dropping it stops the server (without waiting).
pub struct RunningSandbox {
    addr: SocketAddr,
    base_url: String,
    app: Arc<app::App>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
    /// Delivers callbacks when a webhook is set; dropping the sender stops it.
    deliverer: Option<(watch::Sender<()>, JoinHandle<()>)>,
}

impl RunningSandbox {
    /// `http://127.0.0.1:PORT`, without a trailing slash; the API is under `/openapi/v2/`.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The first accepted key ([`DEMO_KEY`] unless keys were configured).
    pub fn demo_key(&self) -> SecretString {
        self.app
            .keys
            .first()
            .cloned()
            .unwrap_or_else(|| SecretString::from(DEMO_KEY))
    }

    /// [`RunningSandbox::demo_key`] in the clear, for printing the built-in demo key.
    pub fn demo_key_str(&self) -> String {
        self.demo_key().expose_secret().to_owned()
    }

    /// A stable name for this emulator's state, `sandbox:<uuid>`: the same for every server on
    /// one state directory, whatever its port, and different for every other store. A client
    /// journals jobs under it (`pixfuse::ClientBuilder::origin`), so a job sent to one process
    /// can be resumed through another.
    pub fn origin(&self) -> String {
        format!("sandbox:{}", self.app.store.id())
    }

    /// Where callbacks go, when the account has a webhook.
    pub fn webhook_url(&self) -> Option<&str> {
        self.app.config.webhook.as_ref().map(|w| w.url.as_str())
    }

    /// The database file, when the state is persistent.
    pub fn state_file(&self) -> Option<&std::path::Path> {
        self.app.store.path()
    }

    /// What the emulator has seen so far (see [`SandboxStats`]). Zeroes if the store cannot be
    /// read (the error is logged).
    pub fn stats(&self) -> SandboxStats {
        self.app
            .store
            .read(|tx| store::counters(tx))
            .map(|c| SandboxStats::from_counters(&c))
            .unwrap_or_else(|error| {
                tracing::error!(%error, "sandbox stats unreadable");
                SandboxStats::default()
            })
    }

    /// Credits left on the account, with refunds booked up to now.
    pub fn credits_left(&self) -> u64 {
        let now = clock::now_ms();
        self.app
            .store
            .write(|tx| {
                account::settle(tx, now)?;
                account::credits_left(tx)
            })
            .unwrap_or_else(|error| {
                tracing::error!(%error, "sandbox balance unreadable");
                0
            })
    }

    /// Stops accepting connections, lets requests in flight finish, and waits for the server.
    pub async fn shutdown(mut self) -> Result<(), SandboxError> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some((stop, task)) = self.deliverer.take() {
            drop(stop);
            // A deliverer that panicked has nothing left to stop either.
            let _ = task.await;
        }
        match self.task.take() {
            Some(task) => match task.await {
                Ok(served) => served.map_err(SandboxError::Serve),
                // The server task panicked or was cancelled: nothing is left to stop.
                Err(_) => Ok(()),
            },
            None => Ok(()),
        }
    }
}

impl std::fmt::Debug for RunningSandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunningSandbox")
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

impl Drop for RunningSandbox {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        // Dropping the deliverer's sender stops it.
        self.deliverer.take();
    }
}
