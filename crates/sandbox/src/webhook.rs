//! The account's webhook: when a job ends, a signed POST to the configured URL, retried on the
//! vendor's schedule until the answer is HTTP 200 with body `ok` (fusion-api.md §9).
//!
//! Callbacks are rows of the store ([`crate::callback`]), booked with the job, so they survive
//! a restart and several servers on one state directory deliver each once. A deliverer task per
//! server sleeps until the next one falls due.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use tokio::sync::{Notify, watch};
use tokio::task::JoinSet;

use crate::app::{App, Shared};
use crate::callback::{self, CallbackFault, Claim};
use crate::config::{WebhookConfig, WebhookFaults};
use crate::sign::{self, Event};
use crate::stats::counter;
use crate::{account, clock};

/// The vendor's retries after a failed delivery (before the time scale).
const RETRY_DELAYS: [Duration; 8] = [
    Duration::from_secs(2),
    Duration::from_secs(10),
    Duration::from_secs(30),
    Duration::from_secs(60),
    Duration::from_secs(5 * 60),
    Duration::from_secs(15 * 60),
    Duration::from_secs(60 * 60),
    Duration::from_secs(4 * 60 * 60),
];
/// How long one delivery may take (real time: it is a real request).
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);
/// A claimed delivery falls due again after this long, should its server die mid-request.
const LEASE: Duration = Duration::from_secs(15);
const CLAIMS_PER_ROUND: u32 = 16;
/// How often a deliverer looks for callbacks that other servers on the state booked.
const IDLE_CHECK: Duration = Duration::from_secs(1);
/// The stale-timestamp fault signs with a time this far in the past (twice the usual window).
const STALE_BY_SECS: u64 = 600;

pub(crate) struct Webhook {
    config: WebhookConfig,
    /// Keyless: the vendor's callbacks carry no API key, and follow no redirects.
    http: reqwest::Client,
    dice: Mutex<SmallRng>,
    /// Wakes the deliverer when this server books a callback.
    booked: Notify,
    retry_delays_ms: Vec<i64>,
    hold_ms: i64,
}

impl Webhook {
    pub(crate) fn new(config: WebhookConfig, time_scale: f64) -> Self {
        let retry_delays_ms: Vec<i64> = RETRY_DELAYS
            .iter()
            .map(|d| clock::ms(d.mul_f64(time_scale)))
            .collect();
        let http = reqwest::Client::builder()
            .timeout(ATTEMPT_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_default();
        Self {
            dice: Mutex::new(SmallRng::seed_from_u64(config.faults.seed)),
            hold_ms: retry_delays_ms.first().copied().unwrap_or_default(),
            retry_delays_ms,
            booked: Notify::new(),
            http,
            config,
        }
    }

    /// Books the callback of job `job_id`, which ends at `ready_ms`, inside its submit's
    /// transaction; its fault is drawn now, so a seed and a request sequence fix them all.
    pub(crate) fn book(
        &self,
        tx: &rusqlite::Connection,
        job_id: u64,
        ready_ms: i64,
    ) -> rusqlite::Result<()> {
        let fault = {
            // A poisoned lock only means another request panicked mid-draw.
            let mut rng = self.dice.lock().unwrap_or_else(|e| e.into_inner());
            draw(&self.config.faults, rng.random::<f64>())
        };
        let due = if fault == Some(CallbackFault::OutOfOrder) {
            crate::store::bump(tx, counter::CALLBACKS_HELD_BACK, 1)?;
            ready_ms.saturating_add(self.hold_ms)
        } else {
            ready_ms
        };
        callback::schedule(tx, job_id, due, fault)
    }

    /// Tells the deliverer that a callback was booked.
    pub(crate) fn wake(&self) {
        self.booked.notify_one();
    }
}

/// The fault `draw` (in `0..1`) picks: one band per fault, in a fixed order.
fn draw(faults: &WebhookFaults, draw: f64) -> Option<CallbackFault> {
    let bands = [
        (faults.duplicate, CallbackFault::Duplicate),
        (faults.replay, CallbackFault::Replay),
        (faults.out_of_order, CallbackFault::OutOfOrder),
        (faults.bad_signature, CallbackFault::BadSignature),
        (faults.stale_timestamp, CallbackFault::StaleTimestamp),
    ];
    let mut upper = 0.0;
    bands.into_iter().find_map(|(p, fault)| {
        upper += p;
        (draw < upper).then_some(fault)
    })
}

/// Delivers due callbacks until `stop` changes (or its sender is dropped). Deliveries run
/// concurrently: a slow receiver holds up no other event.
pub(crate) async fn deliver(app: Shared, mut stop: watch::Receiver<()>) {
    let Some(webhook) = app.webhook.as_ref() else {
        return;
    };
    let mut in_flight = JoinSet::new();
    loop {
        let now = clock::now_ms();
        let lease = clock::ms(LEASE);
        match app
            .store
            .write(|tx| callback::claim_due(tx, now, lease, CLAIMS_PER_ROUND))
        {
            Ok(claims) => {
                for claim in claims {
                    in_flight.spawn(attempt(Arc::clone(&app), claim));
                }
            }
            Err(error) => tracing::warn!(%error, "sandbox callbacks unreadable"),
        }
        let next = app.store.read(|tx| callback::next_due(tx)).ok().flatten();
        let idle = clock::ms(IDLE_CHECK);
        let wait_ms = next.map_or(idle, |due| {
            due.saturating_sub(clock::now_ms()).clamp(0, idle)
        });
        let wait = Duration::from_millis(u64::try_from(wait_ms).unwrap_or(0));
        tokio::select! {
            _ = stop.changed() => break,
            () = webhook.booked.notified() => {}
            () = tokio::time::sleep(wait) => {}
            Some(_) = in_flight.join_next(), if !in_flight.is_empty() => {}
        }
    }
    // Deliveries cut short here are leased: they fall due again on the next start.
    in_flight.abort_all();
}

/// One delivery of one event, and its booking; after a success, the extra copy a fault asks for.
async fn attempt(app: Shared, claim: Claim) {
    let Some(webhook) = app.webhook.as_ref() else {
        return;
    };
    let first = claim.attempts == 0;
    let fault = |f| claim.fault == Some(f);
    let delivered = match app.store.read(|tx| account::job(tx, claim.job_id)) {
        Ok(Some(job)) => {
            let event = sign::event(&app.base_url, claim.job_id, &job);
            let mut signed = Signed::new(
                &app,
                webhook,
                event,
                first && fault(CallbackFault::StaleTimestamp),
            );
            if first && fault(CallbackFault::BadSignature) {
                signed.sign(webhook, true);
                app.count(counter::CALLBACK_BAD_SIGNATURES);
            }
            if first && fault(CallbackFault::StaleTimestamp) {
                app.count(counter::CALLBACK_STALE_TIMESTAMPS);
            }
            let delivered = post(webhook, &signed).await;
            if delivered && fault(CallbackFault::Replay) {
                post(webhook, &signed).await;
                app.count(counter::CALLBACK_REPLAYS);
            }
            if delivered && fault(CallbackFault::Duplicate) {
                let again = Signed::new(&app, webhook, signed.event, false);
                post(webhook, &again).await;
                app.count(counter::CALLBACK_DUPLICATES);
            }
            delivered
        }
        Ok(None) => false,
        Err(error) => {
            tracing::warn!(%error, job_id = claim.job_id, "sandbox job unreadable for its callback");
            false
        }
    };
    let now = clock::now_ms();
    let booked = app
        .store
        .write(|tx| callback::finish(tx, claim.job_id, delivered, now, &webhook.retry_delays_ms));
    if let Err(error) = booked {
        tracing::warn!(%error, job_id = claim.job_id, "sandbox callback not booked");
    }
    // The next retry may be due before the deliverer's current sleep ends.
    webhook.wake();
}

/// One request's worth of a callback.
struct Signed {
    event: Event,
    timestamp: String,
    nonce: String,
    signature: String,
}

impl Signed {
    fn new(app: &App, webhook: &Webhook, event: Event, stale: bool) -> Self {
        let now = u64::try_from(clock::now_ms() / 1000).unwrap_or(0);
        let timestamp = if stale {
            now.saturating_sub(STALE_BY_SECS)
        } else {
            now
        };
        let mut signed = Signed {
            event,
            timestamp: timestamp.to_string(),
            nonce: nonce(app),
            signature: String::new(),
        };
        signed.sign(webhook, false);
        signed
    }

    fn sign(&mut self, webhook: &Webhook, wrong: bool) {
        self.signature = sign::signature(
            webhook.config.signing,
            &webhook.config.secret,
            &self.timestamp,
            &self.nonce,
            &self.event,
            wrong,
        );
    }
}

/// 32 random letters and digits, as the vendor's nonces are.
fn nonce(app: &App) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    (0..32)
        .map(|_| {
            let i = usize::try_from(app.random(0..=61)).unwrap_or(0);
            char::from(ALPHABET[i % ALPHABET.len()])
        })
        .collect()
}

/// Sends one request; delivered only on HTTP 200 with body exactly `ok`.
async fn post(webhook: &Webhook, signed: &Signed) -> bool {
    let sent = webhook
        .http
        .post(&webhook.config.url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header("Webhook-Timestamp", &signed.timestamp)
        .header("Webhook-Nonce", &signed.nonce)
        .header("Webhook-Signature", &signed.signature)
        .header("Ai-Trace-Id", uuid::Uuid::new_v4().to_string())
        .body(signed.event.body.clone())
        .send()
        .await;
    match sent {
        Ok(response) if response.status() == reqwest::StatusCode::OK => response
            .bytes()
            .await
            .is_ok_and(|body| body.as_ref() == b"ok"),
        Ok(response) => {
            tracing::debug!(status = %response.status(), "sandbox callback refused");
            false
        }
        Err(error) => {
            tracing::debug!(%error, "sandbox callback not delivered");
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_fall_in_bands_in_order() {
        let faults = WebhookFaults {
            duplicate: 0.1,
            replay: 0.1,
            out_of_order: 0.1,
            bad_signature: 0.1,
            stale_timestamp: 0.1,
            ..WebhookFaults::default()
        };
        let picks: Vec<_> = [0.05, 0.15, 0.25, 0.35, 0.45, 0.55]
            .iter()
            .map(|d| draw(&faults, *d))
            .collect();
        assert_eq!(
            picks,
            [
                Some(CallbackFault::Duplicate),
                Some(CallbackFault::Replay),
                Some(CallbackFault::OutOfOrder),
                Some(CallbackFault::BadSignature),
                Some(CallbackFault::StaleTimestamp),
                None
            ]
        );
        assert_eq!(draw(&WebhookFaults::default(), 0.0), None);
    }

    #[test]
    fn the_schedule_is_scaled_and_the_hold_is_a_first_retry() {
        let config = WebhookConfig::new("http://127.0.0.1:1/", secrecy::SecretString::from("s"));
        let webhook = Webhook::new(config, 0.01);
        assert_eq!(
            webhook.retry_delays_ms,
            [20, 100, 300, 600, 3_000, 9_000, 36_000, 144_000]
        );
        assert_eq!(webhook.hold_ms, 20);
    }
}
