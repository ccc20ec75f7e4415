//! The shared state of one sandbox and its routes.

use std::sync::{Arc, Mutex, MutexGuard};

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tokio::time::Instant;

use crate::account::Account;
use crate::auth::Keys;
use crate::config::SandboxConfig;
use crate::faults::{Endpoint, Fault, FaultDice};
use crate::reply::{self, Reply};
use crate::{media, result, submit, upload};

pub(crate) struct App {
    pub(crate) config: SandboxConfig,
    pub(crate) keys: Keys,
    pub(crate) dice: FaultDice,
    pub(crate) base_url: String,
    account: Mutex<Account>,
}

pub(crate) type Shared = Arc<App>;

impl App {
    pub(crate) fn new(config: SandboxConfig, keys: Keys, base_url: String) -> Self {
        Self {
            dice: FaultDice::new(config.faults.clone()),
            account: Mutex::new(Account::new(config.starting_credits)),
            keys,
            base_url,
            config,
        }
    }

    /// The account, with refunds booked up to now.
    pub(crate) fn account(&self) -> MutexGuard<'_, Account> {
        // Every update completes before the guard drops, so a poisoned lock still holds
        // consistent books.
        let mut account = self.account.lock().unwrap_or_else(|e| e.into_inner());
        account.settle(Instant::now());
        account
    }

    /// Checks the key and draws this request's fault. `Err` is the answer to send at once:
    /// a refused key, or a fault that strikes before the request is handled.
    pub(crate) fn admit(
        &self,
        headers: &HeaderMap,
        endpoint: Endpoint,
    ) -> Result<(usize, Option<Fault>), Box<Response>> {
        let key = self
            .keys
            .check(headers)
            .map_err(IntoResponse::into_response)?;
        if endpoint == Endpoint::Generate {
            self.account().stats.submits_received += 1;
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
        let mut account = self.account();
        let faults = &mut account.stats.faults;
        match fault {
            Fault::RateLimit => faults.rate_limited += 1,
            Fault::ServerError { .. } => faults.server_errors += 1,
            Fault::DropAfterSubmit => faults.dropped_submits += 1,
            Fault::TruncatedJson => faults.truncated_bodies += 1,
            Fault::CutDownload => faults.cut_downloads += 1,
        }
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
            "/openapi/v2/image/upload",
            post(upload::handle).layer(DefaultBodyLimit::max(upload_limit)),
        )
        .route("/openapi/v2/video/fusion/generate", post(submit::handle))
        .route("/openapi/v2/video/result/{video_id}", get(result::handle))
        .route("/openapi/v2/account/balance", get(balance))
        .route("/media/video/{file}", get(media::video))
        .route("/media/image/{file}", get(media::image))
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
    let account = app.account();
    let (monthly, package) = account.balance();
    Reply::ok(serde_json::json!({
        "account_id": account.account_id,
        "credit_monthly": monthly,
        "credit_package": package,
    }))
    .into_response_with(fault)
}

async fn not_found() -> impl IntoResponse {
    (StatusCode::NOT_FOUND, "404 page not found")
}
