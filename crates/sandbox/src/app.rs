//! The shared state of one sandbox server and its routes.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use pixfuse_core::endpoint;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use crate::auth::Keys;
use crate::config::SandboxConfig;
use crate::faults::{Endpoint, Fault, FaultDice};
use crate::reply::{self, Reply};
use crate::stats::counter;
use crate::store::{self, Store};
use crate::webhook::Webhook;
use crate::{account, clock, media, media_upload, result, submit, upload};

pub(crate) struct App {
    pub(crate) config: SandboxConfig,
    pub(crate) keys: Keys,
    /// Faults only: its sequence must depend on nothing but the seed and the requests.
    pub(crate) dice: FaultDice,
    pub(crate) store: Store,
    pub(crate) base_url: String,
    /// Everything random that is not a fault (ids, seeds): seeded afresh for each server.
    rng: Mutex<SmallRng>,
    /// Fetches `image_url` uploads.
    pub(crate) http: reqwest::Client,
    /// The account's webhook, when one is set.
    pub(crate) webhook: Option<Webhook>,
}

pub(crate) type Shared = Arc<App>;

impl App {
    pub(crate) fn new(config: SandboxConfig, keys: Keys, store: Store, base_url: String) -> Self {
        let seed = uuid::Uuid::new_v4().as_u64_pair().0;
        Self {
            dice: FaultDice::new(config.faults.clone()),
            rng: Mutex::new(SmallRng::seed_from_u64(seed)),
            http: upload::url_client(config.url_uploads),
            webhook: config
                .webhook
                .clone()
                .map(|webhook| Webhook::new(webhook, config.time_scale)),
            keys,
            store,
            base_url,
            config,
        }
    }

    /// A random number in `range`.
    pub(crate) fn random(&self, range: std::ops::RangeInclusive<u64>) -> u64 {
        // A poisoned lock only means another request panicked mid-draw.
        self.rng
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .random_range(range)
    }

    /// A new id (upload or video) from the store's sequence, in the configured id space.
    pub(crate) fn new_id(&self, tx: &rusqlite::Connection) -> rusqlite::Result<u64> {
        store::allocate_id(tx, self.config.big_ids, self.random(1..=97))
    }

    /// Runs `f` in a write transaction after booking what happened by now (monthly grants,
    /// refunds); a store failure becomes the vendor's server error.
    pub(crate) fn write(
        &self,
        f: impl FnOnce(&rusqlite::Connection, i64) -> rusqlite::Result<Reply>,
    ) -> Reply {
        let now = clock::now_ms();
        self.store
            .write(|tx| {
                account::settle(tx, now)?;
                f(tx, now)
            })
            .unwrap_or_else(|e| Reply::server_error(&e))
    }

    /// Adds one to counter `name` (a lost count is logged, never an answer).
    pub(crate) fn count(&self, name: &str) {
        if let Err(error) = self.store.write(|tx| store::bump(tx, name, 1)) {
            tracing::warn!(%error, name, "sandbox counter not updated");
        }
    }

    /// Checks the key and draws this request's fault. `Err` is the answer to send at once:
    /// a refused key, or a fault that strikes before the request is handled.
    pub(crate) fn admit(
        &self,
        headers: &HeaderMap,
        endpoint: Endpoint,
    ) -> Result<(String, Option<Fault>), Box<Response>> {
        let key = self
            .keys
            .check(headers, self.store.id())
            .map_err(|refused| Box::new(refused.into_response()))?;
        match endpoint {
            Endpoint::Generate => self.count(counter::SUBMITS_RECEIVED),
            Endpoint::Result => self.count(counter::STATUS_REQUESTS),
            _ => {}
        }
        let fault = self.dice.roll(endpoint);
        self.count_fault(fault);
        match reply::early_fault(fault, self.dice.retry_after_secs()) {
            Some(answer) => Err(Box::new(answer)),
            None => Ok((key, fault)),
        }
    }

    pub(crate) fn count_fault(&self, fault: Option<Fault>) {
        let Some(fault) = fault else { return };
        self.count(match fault {
            Fault::RateLimit => counter::RATE_LIMITED,
            Fault::ServerError { .. } => counter::SERVER_ERRORS,
            Fault::DropAfterSubmit => counter::DROPPED_SUBMITS,
            Fault::TruncatedJson => counter::TRUNCATED_BODIES,
            Fault::CutDownload => counter::CUT_DOWNLOADS,
        });
    }
}

pub(crate) fn router(app: Shared) -> Router {
    // Room for a multipart envelope around the largest image the vendor accepts, so an
    // oversized image gets the vendor's ErrCode rather than a bare 413.
    let upload_limit = usize::try_from(pixfuse_core::CAPABILITIES.upload.max_bytes.value)
        .unwrap_or(usize::MAX)
        .saturating_add(1 << 20);
    Router::new()
        .route(
            endpoint::UPLOAD.path,
            post(upload::handle).layer(DefaultBodyLimit::max(upload_limit)),
        )
        .route(
            endpoint::MEDIA_UPLOAD.path,
            post(media_upload::handle).layer(DefaultBodyLimit::max(media_upload::body_limit())),
        )
        .route(endpoint::GENERATE.path, post(submit::handle))
        .route(endpoint::RESULT.path, get(result::handle))
        .route(endpoint::BALANCE.path, get(balance))
        .route("/media/video/{file}", get(media::video))
        .route("/media/cover/{file}", get(media::cover))
        .route("/media/image/{file}", get(media::image))
        .route("/media/upload/{file}", get(media::uploaded_video))
        .fallback(not_found)
        .with_state(app)
}

async fn balance(
    axum::extract::State(app): axum::extract::State<Shared>,
    headers: HeaderMap,
) -> Response {
    let fault = match app.admit(&headers, Endpoint::Balance) {
        Ok((_, fault)) => fault,
        Err(answer) => return *answer,
    };
    let account_id = app
        .store
        .id()
        .bytes()
        .fold(0u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b)))
        % 9_000_000_000
        + 1_000_000_000;
    app.write(|tx, _| {
        let (monthly, package) = account::balance(tx)?;
        Ok(Reply::ok(serde_json::json!({
            "account_id": account_id,
            "credit_monthly": monthly,
            "credit_package": package,
        })))
    })
    .into_response_with(fault)
}

async fn not_found() -> impl IntoResponse {
    (StatusCode::NOT_FOUND, "404 page not found")
}
