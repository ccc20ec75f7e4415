//! The client: configuration, and each step of a job callable alone.
//!
//! The end-to-end flow lives in [`crate::run`] and [`crate::drive`]; this module holds the
//! builder, the read-only view of the journal, the claims' heartbeat and the single steps
//! (upload, status, download, balance).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use pixfuse_core::ValidateOptions;
use pixfuse_core::lifecycle::Owner;
use pixfuse_core::poll::JobStatus;
use pixfuse_core::retry::RetryPolicy;
use pixfuse_transport::{DownloadOptions, Provider, Transport, TransportConfig};
use secrecy::SecretString;
use sha2::{Digest, Sha256};
use tokio::task::JoinHandle;

use crate::error::Error;
use crate::event::Event;
use crate::journal::{JobRecord, Journal, MediaType, Store, UploadRecord};

/// How long a claim on a job lasts without renewal (the owner renews it three times as often).
pub const DEFAULT_LEASE: Duration = Duration::from_secs(30);

/// Environment variable naming the provider (`pixverse` or `quickrouter`).
pub const PROVIDER_ENV: &str = "PIXFUSE_PROVIDER";
/// Environment variable overriding the base URL.
pub const BASE_URL_ENV: &str = "PIXFUSE_BASE_URL";
/// Environment variable holding the key for any provider.
pub const KEY_ENV: &str = "PIXFUSE_API_KEY";

/// The key for `provider` from the environment, and the variable it came from: [`KEY_ENV`],
/// else the provider's own variable ([`Provider::key_env`]). A variable that is unset or blank
/// does not count; the key is trimmed. `var` reads a variable (`std::env::var` in a program,
/// a table in a test). Every way of configuring pixfuse from the environment goes through here,
/// the CLI included, so the precedence is defined once.
pub fn key_from_env(
    provider: Provider,
    var: impl Fn(&str) -> Option<String>,
) -> Option<(SecretString, &'static str)> {
    [KEY_ENV, provider.key_env()].into_iter().find_map(|name| {
        let value = var(name)?;
        let key = value.trim();
        (!key.is_empty()).then(|| (SecretString::from(key.to_owned()), name))
    })
}

/// What to say when no key was found for `provider`.
fn missing_key(provider: Provider) -> Error {
    Error::Config(format!(
        "no API key: set {KEY_ENV} (or {}) or pass a TransportConfig to ClientBuilder::transport",
        provider.key_env()
    ))
}

/// Builds a [`Client`]. Only the transport (provider, key, base URL, timeouts, retries,
/// polling, HTTP client: [`TransportConfig`]) is required.
#[derive(Debug)]
#[must_use]
pub struct ClientBuilder {
    transport: Option<TransportConfig>,
    wait_timeout: Option<Duration>,
    state_dir: Option<PathBuf>,
    journal: Option<crate::journal::JournalUrl>,
    origin: Option<String>,
    lease: Duration,
    validate: ValidateOptions,
    account_slots: Option<u32>,
}

impl Default for ClientBuilder {
    fn default() -> Self {
        ClientBuilder {
            transport: None,
            wait_timeout: None,
            state_dir: None,
            journal: None,
            origin: None,
            lease: DEFAULT_LEASE,
            validate: ValidateOptions::default(),
            account_slots: None,
        }
    }
}

impl ClientBuilder {
    /// How to reach the API: provider, key, base URL (a relay, the sandbox, a test server; a
    /// trailing slash is dropped), auth style, timeouts, retries, polling and HTTP client, each
    /// with the transport's default unless set on `config`.
    pub fn transport(mut self, config: TransportConfig) -> Self {
        self.transport = Some(config);
        self
    }

    /// How long [`Client::wait`] and [`Client::run`] wait for a video before returning
    /// [`Error::StillRunning`] (default: no limit).
    pub fn wait_timeout(mut self, timeout: Duration) -> Self {
        self.wait_timeout = Some(timeout);
        self
    }

    /// Where the journal lives (default: env `PIXFUSE_STATE_DIR`, else the platform data dir).
    pub fn state_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.state_dir = Some(dir.into());
        self
    }

    /// Keep the journal in a shared PostgreSQL database instead of SQLite in the state
    /// directory, so processes on many machines share jobs, claims and uploads (see
    /// [`crate::journal::JournalUrl`]; the password never shows in a message).
    pub fn journal(mut self, url: crate::journal::JournalUrl) -> Self {
        self.journal = Some(url);
        self
    }

    /// The name the journal files this client's jobs and cached uploads under (default: the
    /// base URL). A trace id deduplicates only at the server that saw it, so a job is only ever
    /// continued by a client with the same origin; give a server whose URL changes (a local
    /// emulator on a random port) a stable one.
    pub fn origin(mut self, origin: impl Into<String>) -> Self {
        self.origin = Some(origin.into());
        self
    }

    /// How long this client's claims on jobs last without renewal (default
    /// [`DEFAULT_LEASE`]; at least one second). While the client lives it renews them; once its
    /// process is gone, another process on the same host takes its jobs over at once, one on
    /// another host when the lease has run out.
    pub fn lease(mut self, lease: Duration) -> Self {
        self.lease = lease.max(Duration::from_secs(1));
        self
    }

    /// How many jobs the account may have generating at once (its concurrency limit), shared
    /// by every process on this client's journal: each submit ([`Client::run`],
    /// [`Client::submit`], resumes, batches) first takes one of the account's `slots` in the
    /// journal and waits while all are held (saying so with [`crate::Event::WaitingForSlot`];
    /// the wait ends by the client's deadline). The slot is held while the job generates and
    /// given back when it ends. A [`Client::submit`] that returns while the video generates
    /// leaves its slot held under its lease, which nobody renews once the call returned: a
    /// later [`Client::wait`] or resume of the job takes the slot on and gives it back at the
    /// end; without one, the slot comes back when the lease runs out. A slot whose process
    /// is gone from this host comes back at once unless its job may still be generating. A
    /// lower limit learned from the server's refusals (`--concurrency auto`) wins. Default: no
    /// gate (the server's refusals decide).
    pub fn account_slots(mut self, slots: u32) -> Self {
        self.account_slots = Some(slots.max(1));
        self
    }

    /// What validation lets through (e.g. a model this build does not know yet).
    pub fn validate_options(mut self, opts: ValidateOptions) -> Self {
        self.validate = opts;
        self
    }

    /// Opens (and if needed migrates) the journal and builds the client.
    pub fn build(self) -> Result<Client, Error> {
        let config = self
            .transport
            .ok_or_else(|| missing_key(Provider::default()))?;
        let base_url = origin_of(config.base_url());
        let provider = config.provider();
        let account = account_of(&base_url, config.api_key());
        let transport = Transport::new(config.with_base_url(base_url.clone()))?;
        let journal = match &self.journal {
            Some(url) => Journal::connect(url)?,
            None => {
                let state_dir = self
                    .state_dir
                    .or_else(crate::state::state_dir_from_env)
                    .ok_or_else(|| {
                        Error::Config(
                            "no state directory: set PIXFUSE_STATE_DIR or pass --state-dir"
                                .to_owned(),
                        )
                    })?;
                Journal::open_in(&state_dir)?
            }
        };
        Ok(Client {
            inner: Arc::new(Inner {
                transport,
                journal,
                owner: crate::journal::this_process(uuid::Uuid::new_v4()),
                lease: self.lease,
                heartbeat: Mutex::new(None),
                driving: Mutex::new(BTreeSet::new()),
                releasing: Mutex::new(Vec::new()),
                uploads: tokio::sync::Mutex::new(()),
                provider,
                origin: self.origin.unwrap_or_else(|| base_url.clone()),
                base_url,
                wait_timeout: self.wait_timeout,
                validate: self.validate,
                account,
                slot_limit: self.account_slots,
            }),
            deadline: None,
        })
    }
}

/// The transport `PIXFUSE_PROVIDER`, `PIXFUSE_BASE_URL` and the key variables describe (see
/// [`key_from_env`]); `var` reads a variable.
fn transport_from_env(var: impl Fn(&str) -> Option<String>) -> Result<TransportConfig, Error> {
    let set = |name: &str| var(name).filter(|v| !v.trim().is_empty());
    let provider = match set(PROVIDER_ENV) {
        Some(name) => Provider::parse(&name).ok_or_else(|| {
            Error::Config(format!(
                "{PROVIDER_ENV}={name} is not a provider; use {}",
                Provider::names()
            ))
        })?,
        None => Provider::default(),
    };
    let (key, _) = key_from_env(provider, &var).ok_or_else(|| missing_key(provider))?;
    let mut config = TransportConfig::new(provider, key);
    if let Some(url) = set(BASE_URL_ENV) {
        config = config.with_base_url(url);
    }
    Ok(config)
}

/// The account's name in the journal: the origin and a digest of the key (so two keys at one
/// server are two accounts, and the journal never holds a key).
fn account_of(origin: &str, key: &secrecy::SecretString) -> String {
    use secrecy::ExposeSecret;
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(format!("{origin}\n{}", key.expose_secret()).as_bytes());
    format!("{origin}#{}", &hex::encode(digest)[..16])
}

/// The name the journal gives the server at `base_url` unless [`ClientBuilder::origin`] names
/// another: the URL without a trailing slash.
pub fn origin_of(base_url: &str) -> String {
    base_url.trim_end_matches('/').to_owned()
}

/// The PixVerse Fusion client. Cheap to clone; clones share the connection pool and journal.
#[derive(Clone, Debug)]
pub struct Client {
    pub(crate) inner: Arc<Inner>,
    /// Every call made through this client ends by then ([`Client::with_deadline`]).
    deadline: Option<Instant>,
}

#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) transport: Transport,
    pub(crate) journal: Journal,
    /// This client as the owner of claims.
    pub(crate) owner: Owner,
    pub(crate) lease: Duration,
    heartbeat: Mutex<Option<JoinHandle<()>>>,
    /// The jobs this client is driving now: the heartbeat renews only their claims, so the
    /// claim of a drive that was cancelled runs out instead of living as long as the client.
    driving: Mutex<BTreeSet<i64>>,
    /// Claims given up by cancelled drives, still being written: a new claim waits for them,
    /// so a late release never undoes it.
    releasing: Mutex<Vec<JoinHandle<()>>>,
    /// Held while uploading, so concurrent jobs sharing an image upload it once.
    pub(crate) uploads: tokio::sync::Mutex<()>,
    pub(crate) provider: Provider,
    pub(crate) origin: String,
    pub(crate) base_url: String,
    pub(crate) wait_timeout: Option<Duration>,
    pub(crate) validate: ValidateOptions,
    /// Who the account is in the journal's slot tables: a digest of the origin and the key,
    /// never the key.
    pub(crate) account: String,
    /// Submits take one of the account's slots first (see [`Client::with_policies`]).
    pub(crate) slot_limit: Option<u32>,
}

/// A status answer, with the fields a caller usually wants.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct VideoStatus {
    /// The video asked about (an answer naming another id is a warning, not a new id).
    pub video_id: u64,
    /// Where the job stands.
    pub status: JobStatus,
    /// The download URL, once the video is ready.
    pub url: Option<String>,
    /// Credits charged, when reported.
    pub credits: Option<i64>,
    /// The seed the server used, when reported.
    pub seed: Option<i64>,
    /// The file size in bytes, when the answer reports a whole number.
    #[serde(skip)]
    pub size_bytes: Option<u64>,
    /// The id the answer named, when it is not `video_id`.
    #[serde(skip)]
    pub answered_for: Option<u64>,
}

impl VideoStatus {
    /// Whether the video is ready to download.
    pub fn is_ready(&self) -> bool {
        self.status == JobStatus::Succeeded && self.url.is_some()
    }

    /// The status the journal has for a job.
    pub(crate) fn of_record(record: &JobRecord, video_id: u64) -> Self {
        VideoStatus {
            video_id,
            status: record.status.unwrap_or(JobStatus::Succeeded),
            url: record.url.clone(),
            credits: record.credits,
            seed: record.seed,
            size_bytes: None,
            answered_for: None,
        }
    }
}

/// An uploaded image.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct UploadedImage {
    /// Use as `image_references[].img_id`.
    pub img_id: u64,
    /// Where the vendor keeps the image, when the upload said.
    pub img_url: Option<String>,
    /// True when the journal already knew this content and nothing was sent.
    pub reused: bool,
}

impl Client {
    /// A builder with the defaults.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// A client configured from the environment: `PIXFUSE_PROVIDER`, `PIXFUSE_BASE_URL`,
    /// `PIXFUSE_API_KEY` (or `PIXVERSE_API_KEY` / `QUICKROUTER_API_KEY`), `PIXFUSE_STATE_DIR`.
    pub fn from_env() -> Result<Client, Error> {
        Self::builder_from_env()?.build()
    }

    /// [`Client::from_env`] as a builder, to adjust before building.
    pub fn builder_from_env() -> Result<ClientBuilder, Error> {
        let config = transport_from_env(|name| std::env::var(name).ok())?;
        Ok(Client::builder().transport(config))
    }

    /// A client like this one (same server, key, journal and claims) whose transport retries
    /// with `retry` instead (the batch runner sees a concurrency refusal, 500044, at once), and
    /// whose submits take one of the account's slots in the journal first (`slot_limit`: how
    /// many the account has, fewer once a limit was learned), so every process on the journal
    /// together keeps under the account's limit.
    pub(crate) fn with_policies(
        &self,
        retry: RetryPolicy,
        slot_limit: Option<u32>,
    ) -> Result<Client, Error> {
        let config = self.inner.transport.config().clone().with_retry(retry);
        Ok(Client {
            inner: Arc::new(Inner {
                transport: Transport::new(config)?,
                journal: self.inner.journal.clone(),
                owner: self.inner.owner.clone(),
                lease: self.inner.lease,
                heartbeat: Mutex::new(None),
                driving: Mutex::new(BTreeSet::new()),
                releasing: Mutex::new(Vec::new()),
                uploads: tokio::sync::Mutex::new(()),
                provider: self.inner.provider,
                origin: self.inner.origin.clone(),
                base_url: self.inner.base_url.clone(),
                wait_timeout: self.inner.wait_timeout,
                validate: self.inner.validate.clone(),
                account: self.inner.account.clone(),
                slot_limit,
            }),
            deadline: self.deadline,
        })
    }

    /// This client (same connections, same journal, same claims) with a deadline for
    /// everything done through it: uploads, submits (waits for a concurrency slot included),
    /// polls and downloads all stop by `deadline` (`None`: no deadline). A job cut short this
    /// way is journaled and resumable: the error is [`Error::TimedOut`] (or
    /// [`Error::StillRunning`] while waiting), with the job's id once it has one.
    pub fn with_deadline(&self, deadline: Option<Instant>) -> Client {
        Client {
            inner: self.inner.clone(),
            deadline,
        }
    }

    /// The deadline of this client, if any.
    pub fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// When a wait begun now gives up: at the wait timeout or the client's deadline, whichever
    /// comes first.
    pub(crate) fn wait_until(&self) -> Option<Instant> {
        let timeout = self.inner.wait_timeout.map(|t| Instant::now() + t);
        [timeout, self.deadline].into_iter().flatten().min()
    }

    /// The transport, bounded by this client's deadline.
    /// The server's clock as the `Date` header of its last API answer stated it (`None` before
    /// any answer, or without the header).
    pub fn server_clock(&self) -> Option<pixfuse_transport::ServerClock> {
        self.inner.transport.server_clock()
    }

    pub(crate) fn transport(&self) -> Transport {
        self.inner.transport.with_deadline(self.deadline)
    }

    /// The retry policy requests are sent with.
    pub fn retry_policy(&self) -> RetryPolicy {
        *self.inner.transport.config().retry()
    }

    /// Who serves the API.
    pub fn provider(&self) -> Provider {
        self.inner.provider
    }

    /// The base URL requests go to.
    pub fn base_url(&self) -> &str {
        &self.inner.base_url
    }

    /// The name this client's jobs are journaled under (see [`ClientBuilder::origin`]).
    pub fn origin(&self) -> &str {
        &self.inner.origin
    }

    /// The journal, read-only: only the client's own flows write it.
    pub fn journal(&self) -> &Journal {
        &self.inner.journal
    }

    /// Every journaled job, newest first.
    pub async fn jobs(&self) -> Result<Vec<JobRecord>, Error> {
        Ok(self.inner.journal.jobs().await?)
    }

    /// One journaled job.
    pub async fn job(&self, id: i64) -> Result<JobRecord, Error> {
        Ok(self.inner.journal.job(id).await?)
    }

    /// Gives up every claim this client holds, so another process may continue its jobs at
    /// once. Call it after stopping this client's work (an interrupt); a client that keeps
    /// working claims its jobs again as it goes.
    pub async fn release_claims(&self) -> Result<usize, Error> {
        Ok(self.store().release_all(&self.inner.owner.instance).await?)
    }

    pub(crate) fn store(&self) -> &Arc<dyn Store> {
        self.inner.journal.store()
    }

    /// Keeps the claim on job `id` alive while the returned guard lives (while the job is
    /// driven): a task renews the leases of the jobs being driven, started with the first one
    /// (and again if its runtime went away). Dropping the guard — the drive ended or was
    /// cancelled — gives the claim up.
    pub(crate) fn keep_claim_alive(&self, id: i64) -> ClaimGuard {
        lock(&self.inner.driving).insert(id);
        self.start_heartbeat();
        ClaimGuard {
            client: self.clone(),
            id,
            armed: true,
        }
    }

    /// Waits until the claims cancelled drives gave up are written (call before claiming).
    pub(crate) async fn settle_releases(&self) {
        let pending: Vec<JoinHandle<()>> = std::mem::take(&mut *lock(&self.inner.releasing));
        for release in pending {
            let _ = release.await;
        }
    }

    fn start_heartbeat(&self) {
        let mut heartbeat = self
            .inner
            .heartbeat
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if heartbeat.as_ref().is_some_and(|task| !task.is_finished()) {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let inner: Weak<Inner> = Arc::downgrade(&self.inner);
        let every = self.inner.lease / 3;
        *heartbeat = Some(runtime.spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                let Some(inner) = inner.upgrade() else {
                    return;
                };
                let ids: Vec<i64> = lock(&inner.driving).iter().copied().collect();
                if ids.is_empty() {
                    continue;
                }
                let renewed = inner
                    .journal
                    .store()
                    .renew(&inner.owner.instance, &ids, inner.lease)
                    .await;
                if let Err(e) = renewed {
                    tracing::warn!(error = %e, "cannot renew the claims on this process's jobs");
                }
            }
        }));
    }

    /// Uploads a local image once: the same content at the same provider reuses its img_id.
    pub async fn upload(&self, path: &Path) -> Result<UploadedImage, Error> {
        self.upload_with(path, &mut |_| {}).await
    }

    pub(crate) async fn upload_with(
        &self,
        path: &Path,
        on_event: &mut (dyn FnMut(Event) + Send),
    ) -> Result<UploadedImage, Error> {
        let (sha256, size) = hash_file(path).await?;
        let cached = self
            .store()
            .upload(&self.inner.origin, &sha256, MediaType::Image)
            .await?;
        if let Some(hit) = cached {
            on_event(Event::UploadReused {
                path: path.to_owned(),
                img_id: hit.img_id,
            });
            return Ok(UploadedImage {
                img_id: hit.img_id,
                img_url: hit.img_url,
                reused: true,
            });
        }
        on_event(Event::Uploading {
            path: path.to_owned(),
            bytes: size,
        });
        let uploaded = self.transport().upload_image(path).await?;
        let record = UploadRecord {
            sha256,
            media_type: MediaType::Image,
            img_id: uploaded.img_id,
            img_url: uploaded.img_url.clone(),
        };
        self.store()
            .record_upload(&self.inner.origin, &record, size)
            .await?;
        on_event(Event::Uploaded {
            path: path.to_owned(),
            img_id: uploaded.img_id,
        });
        Ok(UploadedImage {
            img_id: uploaded.img_id,
            img_url: uploaded.img_url,
            reused: false,
        })
    }

    /// Asks the server to fetch an image from an https URL (best effort at the vendor).
    pub async fn upload_url(&self, url: &str) -> Result<UploadedImage, Error> {
        let uploaded = self.transport().upload_image_url(url).await?;
        Ok(UploadedImage {
            img_id: uploaded.img_id,
            img_url: uploaded.img_url,
            reused: false,
        })
    }

    /// One status poll.
    pub async fn status(&self, video_id: u64) -> Result<VideoStatus, Error> {
        let status = self.transport().status(video_id).await?;
        Ok(video_status(&status))
    }

    /// Credits left: monthly plus package.
    pub async fn balance(&self) -> Result<Balance, Error> {
        let resp = self.transport().balance().await?;
        Ok(Balance::from_wire(&resp))
    }

    /// Downloads a finished video's file to `dest` (atomic: never a partial file at `dest`;
    /// a failed download leaves nothing behind).
    pub async fn download_url(&self, url: &str, dest: &Path) -> Result<u64, Error> {
        self.download_url_with(url, dest, &DownloadOptions::default(), &mut |_| {})
            .await
    }

    pub(crate) async fn download_url_with(
        &self,
        url: &str,
        dest: &Path,
        options: &DownloadOptions,
        on_event: &mut (dyn FnMut(Event) + Send),
    ) -> Result<u64, Error> {
        let mut forward = |p: pixfuse_transport::DownloadProgress| {
            on_event(Event::Downloading {
                received: p.received,
                total: p.total,
            })
        };
        let done = self
            .transport()
            .download(url, dest, options, &mut forward)
            .await?;
        if done.continued_from > 0 {
            tracing::info!(
                from_byte = done.continued_from,
                "continued the partial download"
            );
        }
        Ok(done.bytes)
    }
}

/// A claim being kept alive (see [`Client::keep_claim_alive`]).
pub(crate) struct ClaimGuard {
    client: Client,
    id: i64,
    /// Whether dropping it still has to give the claim up.
    armed: bool,
}

impl ClaimGuard {
    /// The drive ended: gives the claim up now.
    pub(crate) async fn release(mut self) {
        self.armed = false;
        lock(&self.client.inner.driving).remove(&self.id);
        let inner = &self.client.inner;
        if let Err(e) = inner
            .journal
            .store()
            .release(self.id, &inner.owner.instance)
            .await
        {
            tracing::warn!(job_id = self.id, error = %e, "cannot give up the claim on the job");
        }
    }
}

impl Drop for ClaimGuard {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        lock(&self.client.inner.driving).remove(&self.id);
        // Give the claim up now, so another process need not wait for the lease; without a
        // runtime left, the lease runs out by itself.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let (client, id) = (self.client.clone(), self.id);
            let release = runtime.spawn(async move {
                let _ = client
                    .store()
                    .release(id, &client.inner.owner.instance)
                    .await;
            });
            lock(&self.client.inner.releasing).push(release);
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding the lock cannot leave a set of ids inconsistent: go on.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The account's credits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Balance {
    /// The account, when the answer names it.
    pub account_id: Option<u64>,
    /// Credits of the monthly allowance.
    pub credit_monthly: i64,
    /// Credits bought in packages.
    pub credit_package: i64,
    /// Spendable credits: monthly plus package.
    pub total: i64,
}

impl Balance {
    fn from_wire(b: &pixfuse_transport::Balance) -> Self {
        Balance {
            account_id: b.account_id,
            credit_monthly: b.monthly,
            credit_package: b.package,
            total: b.total(),
        }
    }
}

pub(crate) fn video_status(s: &pixfuse_transport::VideoStatus) -> VideoStatus {
    VideoStatus {
        video_id: s.video_id,
        status: s.status,
        url: s.url.clone().filter(|u| !u.is_empty()),
        credits: s.credits,
        seed: s.resp.seed,
        size_bytes: s.size_bytes,
        answered_for: s.answered_for_other_id(),
    }
}

/// sha256 (hex) and size of a file, read off the async runtime.
pub(crate) async fn hash_file(path: &Path) -> Result<(String, u64), Error> {
    let owned = path.to_owned();
    let result = tokio::task::spawn_blocking(move || -> std::io::Result<(String, u64)> {
        use std::io::Read;
        let mut file = std::fs::File::open(&owned)?;
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; 64 * 1024];
        let mut size = 0u64;
        loop {
            let n = file.read(&mut buf)?;
            if n == 0 {
                break;
            }
            size += n as u64;
            hasher.update(&buf[..n]);
        }
        Ok((hex::encode(hasher.finalize()), size))
    })
    .await;
    match result {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(Error::io("cannot read image", path, e)),
        Err(join) => Err(Error::io(
            "cannot read image",
            path,
            std::io::Error::other(join.to_string()),
        )),
    }
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;

    use super::*;

    fn env(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| {
            pairs
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    #[test]
    fn the_generic_key_beats_the_provider_s_own_and_blank_ones_do_not_count() {
        let found = |pairs, provider| {
            key_from_env(provider, env(pairs)).map(|(k, var)| (k.expose_secret().to_owned(), var))
        };
        let both = &[(KEY_ENV, " generic\n"), ("PIXVERSE_API_KEY", "own")];
        assert_eq!(
            found(both, Provider::Pixverse),
            Some(("generic".to_owned(), KEY_ENV))
        );
        let blank = &[(KEY_ENV, "  "), ("QUICKROUTER_API_KEY", "qr")];
        assert_eq!(
            found(blank, Provider::QuickRouter),
            Some(("qr".to_owned(), "QUICKROUTER_API_KEY"))
        );
        assert_eq!(found(blank, Provider::Pixverse), None);
    }

    #[test]
    fn the_environment_names_provider_url_and_key() {
        let config = transport_from_env(env(&[
            (PROVIDER_ENV, "QuickRouter"),
            (BASE_URL_ENV, "http://127.0.0.1:9"),
            ("QUICKROUTER_API_KEY", "qr"),
        ]))
        .unwrap();
        assert_eq!(config.provider(), Provider::QuickRouter);
        assert_eq!(config.auth_style(), Provider::QuickRouter.auth_style());
        assert_eq!(config.base_url(), "http://127.0.0.1:9");

        let unknown = transport_from_env(env(&[(PROVIDER_ENV, "acme"), (KEY_ENV, "k")]));
        let message = unknown.unwrap_err().to_string();
        assert!(
            message.contains("use pixverse, pixverse-cn or quickrouter"),
            "{message}"
        );
        let keyless = transport_from_env(env(&[(PROVIDER_ENV, "quickrouter")]));
        let message = keyless.unwrap_err().to_string();
        assert!(message.contains("QUICKROUTER_API_KEY"), "{message}");
    }
}
