//! The journal in a shared PostgreSQL database, for many pixfuse processes on many machines:
//! the same claim protocol as SQLite, with row locks (`FOR UPDATE`) where SQLite takes its one
//! write lock, so claims of different jobs never wait on each other.
//!
//! Connections come from a small pool, opened on first use (so building a client stays
//! synchronous); the first one migrates the schema. Servers on loopback or a unix socket are
//! reached without TLS unless the URL asks for it (`sslmode=require`); any other server only
//! over TLS (rustls, the system's roots or `sslrootcert=FILE`).

mod schema;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::GenericClient;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use pixfuse_core::lifecycle::{Claim, ClaimStatus, JobState, Owner};
use pixfuse_core::poll::JobStatus;
use tokio_postgres::Row;
use tokio_postgres::config::{Host, SslMode};
use tokio_postgres::types::ToSql;
use uuid::Uuid;

use super::store::{
    ClaimOutcome, ClaimRequest, ForgetRefusal, Fresh, LineClaim, NewBatchLine, NewCallback,
    ReceiverBeat, Recorded, Store, StoreFuture, Transition, Watch,
};
use super::url::JournalUrl;
use super::{
    CallbackRecord, JobRecord, JournalError, MediaType, UploadRecord, liveness, now_ms,
    released_slot_filter, request_hash, slot_owner_gone,
};

pub(crate) use schema::VERSION;

/// Connections per process: a batch's line tasks share them.
const POOL_SIZE: usize = 8;
/// How long to wait for a connection (the server down, the pool exhausted).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// States in which a job may still be (or become) generating on the server.
const MAY_GENERATE: [JobState; 4] = [
    JobState::Claimed,
    JobState::Submitted,
    JobState::Generating,
    JobState::Succeeded,
];

const NO_OWNER: &str = "owner_host = NULL, owner_pid = NULL, owner_start = NULL, \
                        owner_instance = NULL, lease_until_ms = NULL";

/// The PostgreSQL journal.
pub(crate) struct PostgresStore {
    pool: Pool,
    url: JournalUrl,
    /// The schema the tables live in (`None`: the user's default, `public`).
    pub(crate) schema: Option<String>,
    migrated: tokio::sync::OnceCell<()>,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore")
            .field("url", &self.url)
            .field("schema", &self.schema)
            .finish_non_exhaustive()
    }
}

/// Whether every host of `config` is this machine (loopback or a unix socket).
fn is_local(config: &tokio_postgres::Config) -> bool {
    let hosts = config.get_hosts();
    !hosts.is_empty()
        && hosts.iter().all(|h| match h {
            Host::Unix(_) => true,
            Host::Tcp(name) => {
                name == "localhost"
                    || name
                        .trim_matches(['[', ']'])
                        .parse::<std::net::IpAddr>()
                        .is_ok_and(|ip| ip.is_loopback())
            }
        })
}

impl PostgresStore {
    /// A store for `url`; nothing is connected yet.
    pub(crate) fn new(url: &JournalUrl) -> Result<Self, JournalError> {
        Self::in_schema(url, None)
    }

    /// A store whose tables live in `schema` (created if missing): tests isolate themselves so.
    pub(crate) fn in_schema(url: &JournalUrl, schema: Option<&str>) -> Result<Self, JournalError> {
        let mut config = url.config();
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        config.application_name("pixfuse");
        if let Some(schema) = schema {
            config.options(format!("-c search_path={schema}"));
        }
        let local = is_local(&config);
        let tls = !local || config.get_ssl_mode() == SslMode::Require;
        let manager_config = ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        };
        let manager = if tls {
            // A password must never cross a network in the clear: TLS is required, not
            // preferred, and the server's certificate is verified.
            config.ssl_mode(SslMode::Require);
            Manager::from_config(config, rustls_connector(url)?, manager_config)
        } else {
            config.ssl_mode(SslMode::Disable);
            Manager::from_config(config, tokio_postgres::NoTls, manager_config)
        };
        let pool = Pool::builder(manager)
            .max_size(POOL_SIZE)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(CONNECT_TIMEOUT))
            .create_timeout(Some(CONNECT_TIMEOUT))
            .build()
            .map_err(|e| JournalError::BadUrl {
                url: url.redacted().to_owned(),
                why: e.to_string(),
            })?;
        Ok(PostgresStore {
            pool,
            url: url.clone(),
            schema: schema.map(str::to_owned),
            migrated: tokio::sync::OnceCell::new(),
        })
    }

    fn db(&self, e: impl PgError) -> JournalError {
        if e.conflict() {
            return JournalError::Retry;
        }
        // The driver's top message is often generic ("error performing TLS handshake"): the
        // reason is further down its chain.
        // The pool's own wrapper says nothing a reader needs.
        let top = e.to_string();
        let mut message = top
            .strip_prefix("Error occurred while creating a new object: ")
            .unwrap_or(&top)
            .to_owned();
        let mut source = std::error::Error::source(&e);
        while let Some(cause) = source {
            let cause_text = cause.to_string();
            if !message.contains(&cause_text) {
                message = format!("{message}: {cause_text}");
            }
            source = cause.source();
        }
        JournalError::Database {
            location: self.url.redacted().to_owned(),
            message: self.url.scrub(&message),
        }
    }

    /// A pooled connection, the schema migrated first.
    pub(crate) async fn conn(&self) -> Result<deadpool_postgres::Object, JournalError> {
        self.migrated.get_or_try_init(|| self.migrate()).await?;
        self.pool.get().await.map_err(|e| self.db(e))
    }

    async fn migrate(&self) -> Result<(), JournalError> {
        let mut client = self.pool.get().await.map_err(|e| self.db(e))?;
        if let Some(schema) = &self.schema {
            // Two openers may race on a new schema; the second's error is harmless.
            let _ = client
                .batch_execute(&format!("CREATE SCHEMA IF NOT EXISTS {schema}"))
                .await;
        }
        let tx = client.transaction().await.map_err(|e| self.db(e))?;
        tx.execute(
            "SELECT pg_advisory_xact_lock($1)",
            &[&schema::MIGRATION_LOCK],
        )
        .await
        .map_err(|e| self.db(e))?;
        tx.batch_execute(
            "CREATE TABLE IF NOT EXISTS pixfuse_schema (version BIGINT NOT NULL);
             INSERT INTO pixfuse_schema (version)
             SELECT 0 WHERE NOT EXISTS (SELECT 1 FROM pixfuse_schema)",
        )
        .await
        .map_err(|e| self.db(e))?;
        let found: i64 = tx
            .query_one("SELECT max(version) FROM pixfuse_schema", &[])
            .await
            .map_err(|e| self.db(e))?
            .get(0);
        if found > VERSION {
            return Err(JournalError::NewerSchema {
                path: PathBuf::from(self.url.redacted()),
                found,
            });
        }
        for (n, step) in schema::MIGRATIONS
            .iter()
            .enumerate()
            .skip(found.max(0) as usize)
        {
            tx.batch_execute(step).await.map_err(|e| self.db(e))?;
            let version = n as i64 + 1;
            tx.execute("UPDATE pixfuse_schema SET version = $1", &[&version])
                .await
                .map_err(|e| self.db(e))?;
        }
        tx.commit().await.map_err(|e| self.db(e))
    }

    /// The schema version the database has (after migrating).
    #[cfg(test)]
    pub(crate) async fn version(&self) -> Result<i64, JournalError> {
        let c = self.conn().await?;
        let row = c
            .query_one("SELECT max(version) FROM pixfuse_schema", &[])
            .await
            .map_err(|e| self.db(e))?;
        Ok(row.get(0))
    }

    /// Runs `sql` as is (tests: to age a schema, to look at rows).
    #[cfg(test)]
    pub(crate) async fn execute_raw(&self, sql: &str) -> Result<(), JournalError> {
        let c = self.pool.get().await.map_err(|e| self.db(e))?;
        c.batch_execute(sql).await.map_err(|e| self.db(e))
    }
}

/// The line a claim took, and the gone worker it took it from.
fn claimed(row: &Row) -> LineClaim {
    let line = i64::from(row.get::<_, i32>(0));
    let took_over = row.get::<_, Option<String>>(1).map(|host| Owner {
        host,
        pid: u32::try_from(row.get::<_, Option<i64>>(2).unwrap_or_default()).unwrap_or_default(),
        start: String::new(),
        instance: String::new(),
    });
    LineClaim::Claimed { line, took_over }
}

/// A driver or pool error, and whether it is a conflict with another transaction that a
/// retry clears (serialization failure, deadlock, a unique key taken meanwhile).
trait PgError: std::error::Error {
    fn conflict(&self) -> bool;
}

impl PgError for tokio_postgres::Error {
    fn conflict(&self) -> bool {
        use tokio_postgres::error::SqlState;
        self.code().is_some_and(|c| {
            [
                SqlState::T_R_SERIALIZATION_FAILURE,
                SqlState::T_R_DEADLOCK_DETECTED,
                SqlState::UNIQUE_VIOLATION,
            ]
            .contains(c)
        })
    }
}

impl PgError for deadpool_postgres::PoolError {
    fn conflict(&self) -> bool {
        false
    }
}

fn rustls_connector(
    url: &JournalUrl,
) -> Result<tokio_postgres_rustls::MakeRustlsConnect, JournalError> {
    let bad = |why: String| JournalError::BadUrl {
        url: url.redacted().to_owned(),
        why,
    };
    let mut roots = rustls::RootCertStore::empty();
    match url.root_cert() {
        Some(path) => {
            let pem = std::fs::read(path)
                .map_err(|e| bad(format!("cannot read sslrootcert {}: {e}", path.display())))?;
            for cert in <rustls::pki_types::CertificateDer<'_> as rustls::pki_types::pem::PemObject>::pem_slice_iter(&pem) {
                let cert = cert.map_err(|e| bad(format!("sslrootcert {}: {e}", path.display())))?;
                roots
                    .add(cert)
                    .map_err(|e| bad(format!("sslrootcert {}: {e}", path.display())))?;
            }
        }
        None => {
            let found = rustls_native_certs::load_native_certs();
            for cert in found.certs {
                let _ = roots.add(cert);
            }
        }
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| bad(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(tokio_postgres_rustls::MakeRustlsConnect::new(config))
}

// ---- rows ----

const JOB_COLUMNS: &str = "id, trace_id, state, origin, identity, form, request, request_hash, \
    provider, base_url, video_id, vendor_status, url, output_path, credits, seed, created_ms, \
    submitted_ms, finished_ms, downloaded_ms, updated_ms, last_error, owner_host, owner_pid, \
    owner_start, owner_instance, lease_until_ms";

fn read_job(r: &Row) -> Result<JobRecord, JournalError> {
    let id: i64 = r.get("id");
    let corrupt = |what: &str| JournalError::Corrupt {
        id,
        what: what.to_owned(),
    };
    let trace: String = r.get("trace_id");
    let trace_id = Uuid::parse_str(&trace).map_err(|_| corrupt("trace_id is not a UUID"))?;
    let state: String = r.get("state");
    let state = JobState::parse(&state).ok_or_else(|| corrupt("unknown state"))?;
    let video_id = match r.get::<_, Option<String>>("video_id") {
        None => None,
        Some(v) => Some(
            v.parse::<u64>()
                .map_err(|_| corrupt("video_id is not an integer"))?,
        ),
    };
    let claim = match (
        r.get::<_, Option<String>>("owner_host"),
        r.get::<_, Option<i64>>("owner_pid"),
        r.get::<_, Option<String>>("owner_start"),
        r.get::<_, Option<String>>("owner_instance"),
        r.get::<_, Option<i64>>("lease_until_ms"),
    ) {
        (Some(host), Some(pid), Some(start), Some(instance), Some(lease_until_ms)) => Some(Claim {
            owner: Owner {
                host,
                pid: u32::try_from(pid).unwrap_or(0),
                start,
                instance,
            },
            lease_until_ms,
        }),
        _ => None,
    };
    Ok(JobRecord {
        id,
        trace_id,
        state,
        origin: r.get("origin"),
        identity: r.get("identity"),
        form: r.get("form"),
        request: r.get("request"),
        request_hash: r.get("request_hash"),
        provider: r.get("provider"),
        base_url: r.get("base_url"),
        video_id,
        status: r
            .get::<_, Option<i64>>("vendor_status")
            .map(JobStatus::from_code),
        url: r.get("url"),
        output_path: r.get::<_, Option<String>>("output_path").map(PathBuf::from),
        credits: r.get("credits"),
        seed: r.get("seed"),
        created_ms: r.get("created_ms"),
        submitted_ms: r.get("submitted_ms"),
        finished_ms: r.get("finished_ms"),
        downloaded_ms: r.get("downloaded_ms"),
        updated_ms: r.get("updated_ms"),
        last_error: r.get("last_error"),
        claim,
    })
}

fn read_callback(r: &Row) -> Result<CallbackRecord, JournalError> {
    let video: String = r.get("video_id");
    let video_id = video.parse::<u64>().map_err(|_| JournalError::Corrupt {
        id: r.get::<_, Option<i64>>("job_id").unwrap_or_default(),
        what: format!("callback video_id {video:?} is not an integer"),
    })?;
    Ok(CallbackRecord {
        origin: r.get("origin"),
        video_id,
        status: JobStatus::from_code(r.get("vendor_status")),
        url: r.get("url"),
        credits: r.get("credits"),
        job_id: r.get("job_id"),
        deliveries: r.get("deliveries"),
        signed_as: r.get("signed_as"),
        trace_id: r.get("trace_id"),
        body: r.get("body"),
        received_ms: r.get("received_ms"),
    })
}

fn path_text(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

fn lease_until(lease: Duration) -> i64 {
    now_ms().saturating_add(i64::try_from(lease.as_millis()).unwrap_or(i64::MAX))
}

/// What one statement needs: the store (for its error messages) and a connection or
/// transaction.
struct Q<'s, C> {
    store: &'s PostgresStore,
    c: &'s C,
}

impl<C: GenericClient + Sync> Q<'_, C> {
    async fn jobs(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<JobRecord>, JournalError> {
        let rows = self
            .c
            .query(sql, params)
            .await
            .map_err(|e| self.store.db(e))?;
        rows.iter().map(read_job).collect()
    }

    async fn job(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Option<JobRecord>, JournalError> {
        let row = self
            .c
            .query_opt(sql, params)
            .await
            .map_err(|e| self.store.db(e))?;
        row.as_ref().map(read_job).transpose()
    }

    async fn exec(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<u64, JournalError> {
        self.c
            .execute(sql, params)
            .await
            .map_err(|e| self.store.db(e))
    }

    async fn get(&self, id: i64) -> Result<Option<JobRecord>, JournalError> {
        self.job(
            &format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = $1"),
            &[&id],
        )
        .await
    }

    /// Job `id`, its row locked until the transaction ends.
    async fn lock(&self, id: i64) -> Result<Option<JobRecord>, JournalError> {
        self.job(
            &format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = $1 FOR UPDATE"),
            &[&id],
        )
        .await
    }

    /// Makes `owner` the claimant of `job` (locked) unless a live other owner holds it.
    async fn take(
        &self,
        job: JobRecord,
        owner: &Owner,
        lease: Duration,
    ) -> Result<ClaimOutcome, JournalError> {
        let took_over = match &job.claim {
            None => None,
            Some(claim) => match claim.status(owner, now_ms(), liveness) {
                ClaimStatus::Mine => None,
                ClaimStatus::Held => {
                    return Ok(ClaimOutcome::Held {
                        owner: claim.owner.clone(),
                        job,
                    });
                }
                ClaimStatus::Expired => Some(claim.owner.clone()),
            },
        };
        self.exec(
            "UPDATE jobs SET owner_host = $2, owner_pid = $3, owner_start = $4,
                             owner_instance = $5, lease_until_ms = $6
             WHERE id = $1",
            &[
                &job.id,
                &owner.host,
                &i64::from(owner.pid),
                &owner.start,
                &owner.instance,
                &lease_until(lease),
            ],
        )
        .await?;
        let job = self
            .get(job.id)
            .await?
            .ok_or(JournalError::NoSuchJob(job.id))?;
        Ok(ClaimOutcome::Existing { job, took_over })
    }
}

impl PostgresStore {
    fn q<'s, C>(&'s self, c: &'s C) -> Q<'s, C> {
        Q { store: self, c }
    }

    async fn claim_once(&self, req: &ClaimRequest) -> Result<ClaimOutcome, JournalError> {
        let mut c = self.conn().await?;
        let tx = c.transaction().await.map_err(|e| self.db(e))?;
        let q = self.q(&tx);
        let by_identity = format!(
            "SELECT {JOB_COLUMNS} FROM jobs WHERE origin = $1 AND identity = $2 FOR UPDATE"
        );
        let mut superseded = None;
        if let Some(job) = q.job(&by_identity, &[&req.origin, &req.identity]).await? {
            let start_new = match req.fresh {
                Fresh::Continue => false,
                Fresh::New => true,
                Fresh::RetryFailed => job.state.failed_for_good(),
            };
            if !start_new {
                let outcome = q.take(job, &req.owner, req.lease).await?;
                tx.commit().await.map_err(|e| self.db(e))?;
                return Ok(outcome);
            }
            q.exec("UPDATE jobs SET identity = NULL WHERE id = $1", &[&job.id])
                .await?;
            superseded = Some(Box::new(job));
        }
        let mut abandoned = Vec::new();
        if let Some(output) = &req.output {
            let holders: Vec<JobRecord> = q
                .jobs(
                    &format!(
                        "SELECT {JOB_COLUMNS} FROM jobs WHERE output_path = $1 ORDER BY id FOR UPDATE"
                    ),
                    &[&path_text(output)],
                )
                .await?
                .into_iter()
                .filter(|j| j.state.is_unfinished())
                .collect();
            if let Some(holder) = holders.first()
                && !req.force
            {
                // Dropping the transaction rolls the supersession back too.
                return Ok(ClaimOutcome::OutputTaken {
                    holder: holder.clone(),
                });
            }
            for holder in holders {
                q.exec(
                    &format!(
                        "UPDATE jobs SET state = 'abandoned', identity = NULL, {NO_OWNER},
                         updated_ms = $2 WHERE id = $1"
                    ),
                    &[&holder.id, &now_ms()],
                )
                .await?;
                abandoned.extend(q.get(holder.id).await?);
            }
        }
        let now = now_ms();
        let inserted = tx
            .query_opt(
                "INSERT INTO jobs (trace_id, state, origin, identity, form, provider, base_url,
                                   output_path, created_ms, updated_ms, owner_host, owner_pid,
                                   owner_start, owner_instance, lease_until_ms)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, $10, $11, $12, $13, $14)
                 ON CONFLICT (origin, identity) DO NOTHING
                 RETURNING id",
                &[
                    &req.trace_id.to_string(),
                    &JobState::Planned.as_str(),
                    &req.origin,
                    &req.identity,
                    &req.form,
                    &req.provider,
                    &req.base_url,
                    &req.output.as_deref().map(path_text),
                    &now,
                    &req.owner.host,
                    &i64::from(req.owner.pid),
                    &req.owner.start,
                    &req.owner.instance,
                    &lease_until(req.lease),
                ],
            )
            .await
            .map_err(|e| self.db(e))?;
        let Some(row) = inserted else {
            // Another process made the job between our look and our insert: claim it again.
            return Err(JournalError::Retry);
        };
        let id: i64 = row.get(0);
        let job = q.get(id).await?.ok_or(JournalError::NoSuchJob(id))?;
        tx.commit().await.map_err(|e| self.db(e))?;
        Ok(ClaimOutcome::New {
            job,
            superseded,
            abandoned,
        })
    }

    async fn transition_once(
        &self,
        id: i64,
        instance: &str,
        change: &Transition,
    ) -> Result<JobRecord, JournalError> {
        let mut c = self.conn().await?;
        let tx = c.transaction().await.map_err(|e| self.db(e))?;
        let q = self.q(&tx);
        let job = q.lock(id).await?.ok_or(JournalError::NoSuchJob(id))?;
        let holder = job.claim.as_ref().map(|c| &c.owner);
        if holder.is_none_or(|o| o.instance != instance) {
            return Err(JournalError::ClaimLost {
                id,
                by: holder.cloned(),
            });
        }
        if let Some(expected) = change.from
            && job.state != expected
        {
            return Err(JournalError::Conflict {
                id,
                expected,
                found: job.state,
            });
        }
        if change.trace_id.is_some() && job.state != JobState::RefusedBeforeBilling {
            return Err(JournalError::Storage(format!(
                "refusing to give job {id} a new trace id while it is {}",
                job.state
            )));
        }
        let to = change.to.unwrap_or(job.state);
        let now = now_ms();
        let stamp = |when: bool, old: Option<i64>| if when { old.or(Some(now)) } else { old };
        let error = match &change.error {
            Some(error) => error.clone(),
            None => job.last_error.clone(),
        };
        q.exec(
            "UPDATE jobs SET state = $2, trace_id = $3, request = $4, request_hash = $5,
                             video_id = $6, vendor_status = $7, url = $8, credits = $9, seed = $10,
                             output_path = $11, last_error = $12, submitted_ms = $13,
                             finished_ms = $14, downloaded_ms = $15, updated_ms = $16
             WHERE id = $1",
            &[
                &id,
                &to.as_str(),
                &change.trace_id.unwrap_or(job.trace_id).to_string(),
                &change.request.as_ref().or(job.request.as_ref()),
                &change
                    .request
                    .as_deref()
                    .map(request_hash)
                    .or(job.request_hash.clone()),
                &change.video_id.or(job.video_id).map(|v| v.to_string()),
                &change.status.or(job.status).map(JobStatus::code),
                &change.url.as_ref().or(job.url.as_ref()),
                &change.credits.or(job.credits),
                &change.seed.or(job.seed),
                &change
                    .output
                    .as_deref()
                    .or(job.output_path.as_deref())
                    .map(path_text),
                &error,
                &stamp(to == JobState::Submitted, job.submitted_ms),
                &stamp(
                    to == JobState::Succeeded || to.failed_for_good(),
                    job.finished_ms,
                ),
                &if change.to == Some(JobState::Downloaded) {
                    Some(now)
                } else {
                    job.downloaded_ms
                },
                &now,
            ],
        )
        .await?;
        let job = q.get(id).await?.ok_or(JournalError::NoSuchJob(id))?;
        tx.commit().await.map_err(|e| self.db(e))?;
        Ok(job)
    }

    async fn record_callback_once(
        &self,
        callback: &NewCallback,
        receiver: &Owner,
    ) -> Result<Recorded, JournalError> {
        let mut c = self.conn().await?;
        let tx = c.transaction().await.map_err(|e| self.db(e))?;
        let q = self.q(&tx);
        let now = now_ms();
        q.exec("DELETE FROM callback_nonces WHERE expires_ms < $1", &[&now])
            .await?;
        let fresh = q
            .exec(
                "INSERT INTO callback_nonces (nonce, expires_ms) VALUES ($1, $2)
                 ON CONFLICT (nonce) DO NOTHING",
                &[&callback.nonce, &callback.nonce_expires_ms],
            )
            .await?;
        if fresh == 0 {
            return Ok(Recorded::ReplayedNonce);
        }
        let event = &callback.record;
        let video = event.video_id.to_string();
        let job = q
            .job(
                &format!(
                    "SELECT {JOB_COLUMNS} FROM jobs WHERE video_id = $1 AND origin = $2
                     ORDER BY id DESC LIMIT 1 FOR UPDATE"
                ),
                &[&video, &event.origin],
            )
            .await?;
        let inserted = q
            .exec(
                "INSERT INTO callbacks (origin, video_id, vendor_status, url, credits, job_id,
                                        signed_as, trace_id, body, received_ms, last_ms)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10)
                 ON CONFLICT (origin, video_id, vendor_status)
                 DO UPDATE SET deliveries = callbacks.deliveries + 1, last_ms = $10",
                &[
                    &event.origin,
                    &video,
                    &event.status.code(),
                    &event.url,
                    &event.credits,
                    &job.as_ref().map(|j| j.id),
                    &event.signed_as,
                    &event.trace_id,
                    &event.body,
                    &now,
                ],
            )
            .await;
        inserted?;
        let deliveries: i64 = tx
            .query_one(
                "SELECT deliveries FROM callbacks
                 WHERE origin = $1 AND video_id = $2 AND vendor_status = $3",
                &[&event.origin, &video, &event.status.code()],
            )
            .await
            .map_err(|e| self.db(e))?
            .get(0);
        if deliveries > 1 {
            tx.commit().await.map_err(|e| self.db(e))?;
            return Ok(Recorded::Duplicate {
                job: job.map(Box::new),
            });
        }
        let moved = match &job {
            Some(job) => end_job(&q, job, event, receiver, now).await?,
            None => false,
        };
        let job = match job {
            Some(job) => q.get(job.id).await?,
            None => None,
        };
        tx.commit().await.map_err(|e| self.db(e))?;
        Ok(Recorded::New {
            job: job.map(Box::new),
            moved,
        })
    }
}

/// Writes the end `event` reports into `job` if it is still generating and no live process
/// drives it (see the SQLite twin in `callbacks.rs`).
async fn end_job<C: GenericClient + Sync>(
    q: &Q<'_, C>,
    job: &JobRecord,
    event: &CallbackRecord,
    receiver: &Owner,
    now: i64,
) -> Result<bool, JournalError> {
    let Some(to) = JobState::from_status(event.status) else {
        return Ok(false);
    };
    let driven = job
        .claim
        .as_ref()
        .is_some_and(|c| c.status(receiver, now, liveness) == ClaimStatus::Held);
    if !job.state.is_generating() || driven || (to == JobState::Succeeded && event.url.is_none()) {
        return Ok(false);
    }
    let changed = q
        .exec(
            "UPDATE jobs SET state = $3, vendor_status = $4, url = COALESCE($5, url),
                             credits = COALESCE($6, credits),
                             finished_ms = COALESCE(finished_ms, $7), updated_ms = $7
             WHERE id = $1 AND state = $2",
            &[
                &job.id,
                &job.state.as_str(),
                &to.as_str(),
                &event.status.code(),
                &event.url,
                &event.credits,
                &now,
            ],
        )
        .await?;
    Ok(changed > 0)
}

/// Runs `f` again when PostgreSQL aborted it for a conflict with another transaction
/// (serialization failure, deadlock, a unique row made meanwhile): each attempt is whole.
macro_rules! retrying {
    ($body:expr) => {{
        let mut attempt = 0u32;
        loop {
            match $body {
                Err(e) if e.is_retryable_conflict() && attempt < 20 => {
                    attempt += 1;
                    tokio::time::sleep(Duration::from_millis(u64::from(attempt) * 5)).await;
                }
                other => break other,
            }
        }
    }};
}

impl Store for PostgresStore {
    fn location(&self) -> String {
        self.url.redacted().to_owned()
    }

    fn job(&self, id: i64) -> StoreFuture<'_, Option<JobRecord>> {
        Box::pin(async move {
            let c = self.conn().await?;
            self.q(&c).get(id).await
        })
    }

    fn jobs(&self) -> StoreFuture<'_, Vec<JobRecord>> {
        Box::pin(async move {
            let c = self.conn().await?;
            self.q(&c)
                .jobs(
                    &format!("SELECT {JOB_COLUMNS} FROM jobs ORDER BY id DESC"),
                    &[],
                )
                .await
        })
    }

    fn job_by_video<'a>(
        &'a self,
        origin: &'a str,
        video_id: u64,
    ) -> StoreFuture<'a, Option<JobRecord>> {
        Box::pin(async move {
            let c = self.conn().await?;
            self.q(&c)
                .job(
                    &format!(
                        "SELECT {JOB_COLUMNS} FROM jobs WHERE video_id = $1 AND origin = $2
                         ORDER BY id DESC LIMIT 1"
                    ),
                    &[&video_id.to_string(), &origin],
                )
                .await
        })
    }

    fn job_by_identity<'a>(
        &'a self,
        origin: &'a str,
        identity: &'a str,
    ) -> StoreFuture<'a, Option<JobRecord>> {
        Box::pin(async move {
            let c = self.conn().await?;
            self.q(&c)
                .job(
                    &format!("SELECT {JOB_COLUMNS} FROM jobs WHERE origin = $1 AND identity = $2"),
                    &[&origin, &identity],
                )
                .await
        })
    }

    fn newer_writer<'a>(
        &'a self,
        output: &'a Path,
        than: i64,
    ) -> StoreFuture<'a, Option<JobRecord>> {
        Box::pin(async move {
            let c = self.conn().await?;
            self.q(&c)
                .job(
                    &format!(
                        "SELECT {JOB_COLUMNS} FROM jobs
                         WHERE output_path = $1 AND id > $2 AND state != 'abandoned'
                         ORDER BY id DESC LIMIT 1"
                    ),
                    &[&path_text(output), &than],
                )
                .await
        })
    }

    fn claim(&self, request: ClaimRequest) -> StoreFuture<'_, ClaimOutcome> {
        Box::pin(async move { retrying!(self.claim_once(&request).await) })
    }

    fn claim_job<'a>(
        &'a self,
        id: i64,
        owner: &'a Owner,
        lease: Duration,
    ) -> StoreFuture<'a, ClaimOutcome> {
        Box::pin(async move {
            retrying!(
                async {
                    let mut c = self.conn().await?;
                    let tx = c.transaction().await.map_err(|e| self.db(e))?;
                    let q = self.q(&tx);
                    let job = q.lock(id).await?.ok_or(JournalError::NoSuchJob(id))?;
                    let outcome = q.take(job, owner, lease).await?;
                    tx.commit().await.map_err(|e| self.db(e))?;
                    Ok::<_, JournalError>(outcome)
                }
                .await
            )
        })
    }

    fn renew<'a>(
        &'a self,
        instance: &'a str,
        ids: &'a [i64],
        lease: Duration,
    ) -> StoreFuture<'a, usize> {
        Box::pin(async move {
            let c = self.conn().await?;
            let until = lease_until(lease);
            let q = self.q(&c);
            let renewed = q
                .exec(
                    "UPDATE jobs SET lease_until_ms = $3
                     WHERE id = ANY($1) AND owner_instance = $2",
                    &[&ids, &instance, &until],
                )
                .await?;
            // The account slots and batch lines this process holds live as long as its jobs.
            q.exec(
                "UPDATE account_slots SET lease_until_ms = $3
                 WHERE owner_instance = $1 AND job_id = ANY($2)",
                &[&instance, &ids, &until],
            )
            .await?;
            q.exec(
                "UPDATE batch_items SET lease_until_ms = $2
                 WHERE owner_instance = $1 AND state = 'running'",
                &[&instance, &until],
            )
            .await?;
            Ok(usize::try_from(renewed).unwrap_or(usize::MAX))
        })
    }

    fn release<'a>(&'a self, id: i64, instance: &'a str) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let c = self.conn().await?;
            self.q(&c)
                .exec(
                    &format!("UPDATE jobs SET {NO_OWNER} WHERE id = $1 AND owner_instance = $2"),
                    &[&id, &instance],
                )
                .await?;
            Ok(())
        })
    }

    fn release_all<'a>(&'a self, instance: &'a str) -> StoreFuture<'a, usize> {
        Box::pin(async move {
            let c = self.conn().await?;
            let q = self.q(&c);
            let n = q
                .exec(
                    &format!("UPDATE jobs SET {NO_OWNER} WHERE owner_instance = $1"),
                    &[&instance],
                )
                .await?;
            q.exec(
                &format!(
                    "UPDATE account_slots SET job_id = NULL, owner_instance = NULL,
                                          lease_until_ms = NULL
                 WHERE owner_instance = $1 AND {}",
                    released_slot_filter()
                ),
                &[&instance],
            )
            .await?;
            Ok(usize::try_from(n).unwrap_or(usize::MAX))
        })
    }

    fn transition<'a>(
        &'a self,
        id: i64,
        instance: &'a str,
        change: Transition,
    ) -> StoreFuture<'a, JobRecord> {
        Box::pin(async move { retrying!(self.transition_once(id, instance, &change).await) })
    }

    fn note_error<'a>(&'a self, id: i64, error: Option<&'a str>) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let c = self.conn().await?;
            self.q(&c)
                .exec(
                    "UPDATE jobs SET last_error = $2, updated_ms = $3 WHERE id = $1",
                    &[&id, &error, &now_ms()],
                )
                .await?;
            Ok(())
        })
    }

    fn forget<'a>(
        &'a self,
        ids: &'a [i64],
        force: bool,
        me: &'a Owner,
    ) -> StoreFuture<'a, Vec<Result<JobRecord, ForgetRefusal>>> {
        Box::pin(async move {
            let mut c = self.conn().await?;
            let tx = c.transaction().await.map_err(|e| self.db(e))?;
            let q = self.q(&tx);
            let mut answers = Vec::with_capacity(ids.len());
            for &id in ids {
                let Some(job) = q.lock(id).await? else {
                    answers.push(Err(ForgetRefusal::Missing));
                    continue;
                };
                let driven = job
                    .claim
                    .as_ref()
                    .is_some_and(|c| c.status(me, now_ms(), liveness) == ClaimStatus::Held);
                if !force && (MAY_GENERATE.contains(&job.state) || driven) {
                    answers.push(Err(ForgetRefusal::Unfinished(Box::new(job))));
                    continue;
                }
                q.exec("DELETE FROM jobs WHERE id = $1", &[&id]).await?;
                answers.push(Ok(job));
            }
            tx.commit().await.map_err(|e| self.db(e))?;
            Ok(answers)
        })
    }

    fn upload<'a>(
        &'a self,
        origin: &'a str,
        sha256: &'a str,
        media_type: MediaType,
    ) -> StoreFuture<'a, Option<UploadRecord>> {
        Box::pin(async move {
            let c = self.conn().await?;
            let row = c
                .query_opt(
                    "SELECT img_id, img_url FROM uploads
                     WHERE origin = $1 AND sha256 = $2 AND media_type = $3",
                    &[&origin, &sha256, &media_type.as_str()],
                )
                .await
                .map_err(|e| self.db(e))?;
            // A corrupt cache entry is not worth failing a job for: upload again.
            Ok(row.and_then(|r| {
                Some(UploadRecord {
                    img_id: r.get::<_, String>(0).parse().ok()?,
                    sha256: sha256.to_owned(),
                    media_type,
                    img_url: r.get(1),
                })
            }))
        })
    }

    fn record_upload<'a>(
        &'a self,
        origin: &'a str,
        upload: &'a UploadRecord,
        size: u64,
    ) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let c = self.conn().await?;
            self.q(&c)
                .exec(
                    "INSERT INTO uploads
                         (origin, sha256, img_id, img_url, size, created_ms, media_type)
                     VALUES ($1, $2, $3, $4, $5, $6, $7)
                     ON CONFLICT (origin, sha256) DO UPDATE
                     SET img_id = $3, img_url = $4, size = $5, created_ms = $6, media_type = $7",
                    &[
                        &origin,
                        &upload.sha256,
                        &upload.img_id.to_string(),
                        &upload.img_url,
                        &i64::try_from(size).unwrap_or(i64::MAX),
                        &now_ms(),
                        &upload.media_type.as_str(),
                    ],
                )
                .await?;
            Ok(())
        })
    }

    fn forget_uploads<'a>(&'a self, origin: &'a str, img_ids: &'a [u64]) -> StoreFuture<'a, usize> {
        Box::pin(async move {
            let c = self.conn().await?;
            let ids: Vec<String> = img_ids.iter().map(u64::to_string).collect();
            let n = self
                .q(&c)
                .exec(
                    "DELETE FROM uploads
                     WHERE origin = $1 AND img_id = ANY($2) AND media_type = 'image'",
                    &[&origin, &ids],
                )
                .await?;
            Ok(usize::try_from(n).unwrap_or(usize::MAX))
        })
    }

    fn check_batch_lines(&self, lines: Vec<(String, String)>) -> StoreFuture<'_, Vec<bool>> {
        Box::pin(async move {
            retrying!(async {
                let mut c = self.conn().await?;
                let tx = c.transaction().await.map_err(|e| self.db(e))?;
                let q = self.q(&tx);
                let mut verdicts = Vec::with_capacity(lines.len());
                for (key, hash) in &lines {
                    let journaled = tx
                        .query_opt("SELECT 1 FROM jobs WHERE identity = $1 LIMIT 1", &[key])
                        .await
                        .map_err(|e| self.db(e))?
                        .is_some();
                    let recorded: Option<String> = tx
                        .query_opt(
                            "SELECT job_hash FROM batch_line_hashes WHERE batch_key = $1 FOR UPDATE",
                            &[key],
                        )
                        .await
                        .map_err(|e| self.db(e))?
                        .map(|r| r.get(0));
                    let same = !journaled || recorded.as_deref().is_none_or(|h| h == hash);
                    if same {
                        q.exec(
                            "INSERT INTO batch_line_hashes (batch_key, job_hash) VALUES ($1, $2)
                             ON CONFLICT (batch_key) DO UPDATE SET job_hash = $2",
                            &[key, hash],
                        )
                        .await?;
                    }
                    verdicts.push(same);
                }
                tx.commit().await.map_err(|e| self.db(e))?;
                Ok::<_, JournalError>(verdicts)
            }
            .await)
        })
    }

    fn record_callback<'a>(
        &'a self,
        callback: &'a NewCallback,
        receiver: &'a Owner,
    ) -> StoreFuture<'a, Recorded> {
        Box::pin(async move { retrying!(self.record_callback_once(callback, receiver).await) })
    }

    fn watch<'a>(
        &'a self,
        id: Option<i64>,
        origin: &'a str,
        video_id: Option<u64>,
        fresh_since_ms: i64,
    ) -> StoreFuture<'a, Watch> {
        Box::pin(async move {
            let c = self.conn().await?;
            let q = self.q(&c);
            let job = match id {
                Some(id) => q.get(id).await?,
                None => None,
            };
            let video = job.as_ref().and_then(|j| j.video_id).or(video_id);
            let origin = job.as_ref().map_or(origin, |j| j.origin.as_str());
            let callback = match video {
                Some(video) => {
                    let rows = c
                        .query(
                            "SELECT * FROM callbacks WHERE origin = $1 AND video_id = $2
                             ORDER BY received_ms",
                            &[&origin, &video.to_string()],
                        )
                        .await
                        .map_err(|e| self.db(e))?;
                    let mut found = None;
                    for row in &rows {
                        let callback = read_callback(row)?;
                        if callback.status.is_final() {
                            found = Some(callback);
                            break;
                        }
                    }
                    found
                }
                None => None,
            };
            let receiver_live = c
                .query_opt(
                    "SELECT 1 FROM receivers WHERE origin = $1 AND beat_ms >= $2 LIMIT 1",
                    &[&origin, &fresh_since_ms],
                )
                .await
                .map_err(|e| self.db(e))?
                .is_some();
            Ok(Watch {
                job,
                callback,
                receiver_live,
            })
        })
    }

    fn beat<'a>(&'a self, beat: &'a ReceiverBeat) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let c = self.conn().await?;
            self.q(&c)
                .exec(
                    "INSERT INTO receivers (instance, origin, host, pid, listen, started_ms, beat_ms)
                     VALUES ($1, $2, $3, $4, $5, $6, $7)
                     ON CONFLICT (instance) DO UPDATE SET beat_ms = $7, listen = $5",
                    &[
                        &beat.owner.instance,
                        &beat.origin,
                        &beat.owner.host,
                        &i64::from(beat.owner.pid),
                        &beat.listen,
                        &beat.started_ms,
                        &now_ms(),
                    ],
                )
                .await?;
            Ok(())
        })
    }

    fn receiver_stopped<'a>(&'a self, instance: &'a str) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let c = self.conn().await?;
            self.q(&c)
                .exec("DELETE FROM receivers WHERE instance = $1", &[&instance])
                .await?;
            Ok(())
        })
    }

    fn acquire_slot<'a>(
        &'a self,
        account: &'a str,
        limit: u32,
        job_id: i64,
        owner: &'a Owner,
        lease: Duration,
    ) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            let mut limit = i32::try_from(limit.max(1)).unwrap_or(i32::MAX);
            let mut c = self.conn().await?;
            let tx = c.transaction().await.map_err(|e| self.db(e))?;
            let q = self.q(&tx);
            let learned: Option<i32> = tx
                .query_opt(
                    "SELECT slots FROM account_limits WHERE account = $1",
                    &[&account],
                )
                .await
                .map_err(|e| self.db(e))?
                .map(|r| r.get(0));
            if let Some(learned) = learned {
                limit = limit.min(learned.max(1));
            }
            q.exec(
                "INSERT INTO account_slots (account, slot)
                 SELECT $1, n FROM generate_series(0, $2 - 1) AS n
                 ON CONFLICT DO NOTHING",
                &[&account, &limit],
            )
            .await?;
            let held = tx
                .query(
                    "SELECT s.slot, j.owner_host, j.owner_pid, j.owner_start, j.owner_instance,
                            j.state
                     FROM account_slots s JOIN jobs j
                       ON j.id = s.job_id AND j.owner_instance = s.owner_instance
                     WHERE s.account = $1 AND s.lease_until_ms >= $2
                     FOR UPDATE OF s SKIP LOCKED",
                    &[&account, &now_ms()],
                )
                .await
                .map_err(|e| self.db(e))?;
            for r in held {
                let owner = Owner {
                    host: r.get(1),
                    pid: u32::try_from(r.get::<_, i64>(2)).unwrap_or(0),
                    start: r.get(3),
                    instance: r.get(4),
                };
                let state = JobState::parse(r.get::<_, &str>(5));
                if state.is_some_and(|state| slot_owner_gone(&owner, state)) {
                    q.exec(
                        "UPDATE account_slots SET job_id = NULL, owner_instance = NULL,
                                                  lease_until_ms = NULL
                         WHERE account = $1 AND slot = $2",
                        &[&account, &r.get::<_, i32>(0)],
                    )
                    .await?;
                }
            }
            let until = lease_until(lease);
            // Its own slot first (a job taken over keeps the slot it had), else any free one
            // that no other process is taking right now.
            let kept = q
                .exec(
                    "UPDATE account_slots SET owner_instance = $3, lease_until_ms = $4
                     WHERE account = $1 AND job_id = $2",
                    &[&account, &job_id, &owner.instance, &until],
                )
                .await?;
            let granted = kept > 0
                || tx
                    .query_opt(
                        "UPDATE account_slots SET job_id = $3, owner_instance = $4,
                                                  lease_until_ms = $5
                         WHERE (account, slot) = (
                             SELECT account, slot FROM account_slots
                             WHERE account = $1 AND slot < $2
                               AND (job_id IS NULL OR lease_until_ms IS NULL
                                    OR lease_until_ms < $6)
                             ORDER BY slot LIMIT 1 FOR UPDATE SKIP LOCKED)
                         RETURNING slot",
                        &[
                            &account,
                            &limit,
                            &job_id,
                            &owner.instance,
                            &until,
                            &now_ms(),
                        ],
                    )
                    .await
                    .map_err(|e| self.db(e))?
                    .is_some();
            tx.commit().await.map_err(|e| self.db(e))?;
            Ok(granted)
        })
    }

    fn release_slot<'a>(&'a self, account: &'a str, job_id: i64) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let c = self.conn().await?;
            self.q(&c)
                .exec(
                    "UPDATE account_slots SET job_id = NULL, owner_instance = NULL,
                                              lease_until_ms = NULL
                     WHERE account = $1 AND job_id = $2",
                    &[&account, &job_id],
                )
                .await?;
            Ok(())
        })
    }

    fn learn_limit<'a>(&'a self, account: &'a str, job_id: i64) -> StoreFuture<'a, u32> {
        Box::pin(async move {
            let c = self.conn().await?;
            let accepted = [JobState::Submitted.as_str(), JobState::Generating.as_str()];
            let row = c
                .query_one(
                    "WITH seen AS (
                         SELECT GREATEST(count(*), 1)::INTEGER AS n FROM account_slots s
                         JOIN jobs j ON j.id = s.job_id
                         WHERE s.account = $1 AND s.job_id <> $2 AND s.lease_until_ms >= $3
                           AND j.state = ANY($4))
                     INSERT INTO account_limits (account, slots, learned, updated_ms)
                     SELECT $1, n, TRUE, $3 FROM seen
                     ON CONFLICT (account) DO UPDATE
                         SET slots = LEAST(account_limits.slots, EXCLUDED.slots),
                             learned = TRUE, updated_ms = EXCLUDED.updated_ms
                     RETURNING slots",
                    &[&account, &job_id, &now_ms(), &accepted.as_slice()],
                )
                .await
                .map_err(|e| self.db(e))?;
            Ok(u32::try_from(row.get::<_, i32>(0)).unwrap_or(1))
        })
    }

    fn learned_limit<'a>(&'a self, account: &'a str) -> StoreFuture<'a, Option<u32>> {
        Box::pin(async move {
            let c = self.conn().await?;
            let row = c
                .query_opt(
                    "SELECT slots FROM account_limits WHERE account = $1 AND learned",
                    &[&account],
                )
                .await
                .map_err(|e| self.db(e))?;
            Ok(row.and_then(|r| u32::try_from(r.get::<_, i32>(0)).ok()))
        })
    }

    fn load_batch<'a>(
        &'a self,
        batch: &'a str,
        origin: &'a str,
        lines: &'a [NewBatchLine],
    ) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            let mut c = self.conn().await?;
            let tx = c.transaction().await.map_err(|e| self.db(e))?;
            let count = i32::try_from(lines.len()).unwrap_or(i32::MAX);
            let now = now_ms();
            let loaded = tx
                .execute(
                    "INSERT INTO batches (id, origin, lines, created_ms) VALUES ($1, $2, $3, $4)
                     ON CONFLICT DO NOTHING",
                    &[&batch, &origin, &count, &now],
                )
                .await
                .map_err(|e| self.db(e))?
                > 0;
            let numbers: Vec<i32> = lines
                .iter()
                .map(|l| i32::try_from(l.line).unwrap_or(i32::MAX))
                .collect();
            let keys: Vec<&str> = lines.iter().map(|l| l.key.as_str()).collect();
            let names: Vec<&str> = lines.iter().map(|l| l.name.as_str()).collect();
            // Every worker inserts the same rows: whoever comes second adds nothing.
            tx.execute(
                "INSERT INTO batch_items (batch, line, key, name, updated_ms)
                 SELECT $1, * , $5 FROM unnest($2::INTEGER[], $3::TEXT[], $4::TEXT[])
                 ON CONFLICT DO NOTHING",
                &[&batch, &numbers, &keys, &names, &now],
            )
            .await
            .map_err(|e| self.db(e))?;
            tx.commit().await.map_err(|e| self.db(e))?;
            Ok(loaded)
        })
    }

    fn claim_batch_line<'a>(
        &'a self,
        batch: &'a str,
        owner: &'a Owner,
        lease: Duration,
    ) -> StoreFuture<'a, LineClaim> {
        Box::pin(async move {
            let c = self.conn().await?;
            let (now, until) = (now_ms(), lease_until(lease));
            let pid = i64::from(owner.pid);
            let take = "UPDATE batch_items b SET state = 'running', owner_host = $2,
                            owner_pid = $3, owner_start = $4, owner_instance = $5,
                            lease_until_ms = $6, attempts = b.attempts + 1, updated_ms = $7
                        FROM next WHERE b.batch = next.batch AND b.line = next.line
                        RETURNING b.line, next.old_host, next.old_pid";
            // `take`'s parameters: the batch, then the claiming worker and its lease.
            let taker: [&(dyn ToSql + Sync); 7] = [
                &batch,
                &owner.host,
                &pid,
                &owner.start,
                &owner.instance,
                &until,
                &now,
            ];
            // First a line of a worker gone from this host (its paid jobs may be generating),
            // free before its lease runs out.
            let running = c
                .query(
                    "SELECT line, owner_host, owner_pid, owner_start, owner_instance
                     FROM batch_items WHERE batch = $1 AND state = 'running'",
                    &[&batch],
                )
                .await
                .map_err(|e| self.db(e))?;
            for r in &running {
                let holder = Owner {
                    host: r.get::<_, Option<String>>(1).unwrap_or_default(),
                    pid: u32::try_from(r.get::<_, Option<i64>>(2).unwrap_or_default())
                        .unwrap_or_default(),
                    start: r.get::<_, Option<String>>(3).unwrap_or_default(),
                    instance: r.get::<_, Option<String>>(4).unwrap_or_default(),
                };
                if holder.host != owner.host
                    || holder.instance == owner.instance
                    || liveness(&holder) != pixfuse_core::lifecycle::Liveness::Gone
                {
                    continue;
                }
                let line: i32 = r.get(0);
                let row = c
                    .query_opt(
                        &format!(
                            "WITH next AS (
                                 SELECT batch, line, owner_host AS old_host,
                                        owner_pid AS old_pid
                                 FROM batch_items
                                 WHERE batch = $1 AND line = $8 AND owner_instance = $9
                                   AND state = 'running'
                                 FOR UPDATE SKIP LOCKED)
                             {take}"
                        ),
                        &[&taker[..], &[&line, &holder.instance]].concat(),
                    )
                    .await
                    .map_err(|e| self.db(e))?;
                if let Some(row) = row {
                    return Ok(claimed(&row));
                }
            }
            // A pending line, or one whose lease ran out, that no other worker is claiming.
            let row = c
                .query_opt(
                    &format!(
                        "WITH next AS (
                             SELECT batch, line, owner_host AS old_host, owner_pid AS old_pid
                             FROM batch_items
                             WHERE batch = $1 AND (state = 'pending'
                                   OR (state = 'running' AND lease_until_ms < $7))
                             ORDER BY line LIMIT 1 FOR UPDATE SKIP LOCKED)
                         {take}"
                    ),
                    &taker,
                )
                .await
                .map_err(|e| self.db(e))?;
            if let Some(row) = row {
                return Ok(claimed(&row));
            }
            let left: i64 = c
                .query_one(
                    "SELECT count(*) FROM batch_items
                     WHERE batch = $1 AND state IN ('pending', 'running')",
                    &[&batch],
                )
                .await
                .map_err(|e| self.db(e))?
                .get(0);
            Ok(if left == 0 {
                LineClaim::Finished
            } else {
                LineClaim::Busy
            })
        })
    }

    fn finish_batch_line<'a>(
        &'a self,
        batch: &'a str,
        line: i64,
        instance: &'a str,
        state: &'a str,
        outcome: Option<&'a str>,
    ) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let c = self.conn().await?;
            let line = i32::try_from(line).unwrap_or(i32::MAX);
            self.q(&c)
                .exec(
                    "UPDATE batch_items SET state = $4, outcome = $5, owner_host = NULL,
                         owner_pid = NULL, owner_start = NULL, owner_instance = NULL,
                         lease_until_ms = NULL, updated_ms = $6
                     WHERE batch = $1 AND line = $2 AND owner_instance = $3",
                    &[&batch, &line, &instance, &state, &outcome, &now_ms()],
                )
                .await?;
            Ok(())
        })
    }

    fn batch_lines<'a>(
        &'a self,
        batch: &'a str,
    ) -> StoreFuture<'a, Option<Vec<super::SharedLine>>> {
        Box::pin(async move {
            let c = self.conn().await?;
            let known = c
                .query_opt("SELECT origin FROM batches WHERE id = $1", &[&batch])
                .await
                .map_err(|e| self.db(e))?;
            if known.is_none() {
                return Ok(None);
            }
            let rows = c
                .query(
                    "SELECT i.line, i.name, i.state, i.owner_host, i.owner_pid, i.attempts,
                            i.outcome, j.id, j.state, j.trace_id, j.credits
                     FROM batch_items i JOIN batches b ON b.id = i.batch
                     LEFT JOIN jobs j ON j.origin = b.origin AND j.identity = i.key
                     WHERE i.batch = $1 ORDER BY i.line",
                    &[&batch],
                )
                .await
                .map_err(|e| self.db(e))?;
            let lines = rows
                .iter()
                .map(|r| super::SharedLine {
                    line: i64::from(r.get::<_, i32>(0)),
                    name: r.get(1),
                    state: r.get(2),
                    worker: r
                        .get::<_, Option<String>>(3)
                        .map(|host| format!("{host}:{}", r.get::<_, Option<i64>>(4).unwrap_or(0))),
                    attempts: i64::from(r.get::<_, i32>(5)),
                    outcome: r.get(6),
                    job_id: r.get(7),
                    job_state: r
                        .get::<_, Option<String>>(8)
                        .and_then(|s| JobState::parse(&s)),
                    trace_id: r
                        .get::<_, Option<String>>(9)
                        .and_then(|t| Uuid::parse_str(&t).ok()),
                    credits: r.get(10),
                })
                .collect();
            Ok(Some(lines))
        })
    }

    fn callbacks(&self) -> StoreFuture<'_, Vec<CallbackRecord>> {
        Box::pin(async move {
            let c = self.conn().await?;
            let rows = c
                .query("SELECT * FROM callbacks ORDER BY received_ms DESC", &[])
                .await
                .map_err(|e| self.db(e))?;
            rows.iter().map(read_callback).collect()
        })
    }
}
