//! Remembering nonces long enough that a replay within the timestamp window is caught.

use std::collections::{BTreeSet, HashMap};

use crate::TIMESTAMP_WINDOW_SECS;
use crate::error::WebhookError;

/// Until when (Unix seconds) a nonce delivered with `timestamp` at `now` must be remembered: a
/// replay is refused by the window once `timestamp` is more than the window old, and a nonce is
/// kept at least the window after it was seen.
pub fn nonce_expiry(timestamp: u64, now: u64) -> u64 {
    timestamp.max(now).saturating_add(TIMESTAMP_WINDOW_SECS)
}

/// An in-memory replay guard for one receiver: time is passed in, nothing else is read.
/// Nonces are forgotten once expired ([`nonce_expiry`]); a store full of live nonces refuses new
/// ones rather than forget one early.
#[derive(Clone, Debug)]
pub struct NonceStore {
    expiry: HashMap<String, u64>,
    by_expiry: BTreeSet<(u64, String)>,
    capacity: usize,
}

impl NonceStore {
    /// A store that holds up to `capacity` live nonces (at least one).
    pub fn new(capacity: usize) -> Self {
        Self {
            expiry: HashMap::new(),
            by_expiry: BTreeSet::new(),
            capacity: capacity.max(1),
        }
    }

    /// Records `nonce` (delivered with `timestamp`) at `now`, or refuses it as a replay.
    pub fn check(&mut self, nonce: &str, timestamp: u64, now: u64) -> Result<(), WebhookError> {
        self.forget_expired(now);
        if self.expiry.contains_key(nonce) {
            return Err(WebhookError::ReplayedNonce {
                nonce: nonce.to_owned(),
            });
        }
        if self.expiry.len() >= self.capacity {
            return Err(WebhookError::NonceStoreFull {
                capacity: self.capacity,
            });
        }
        let until = nonce_expiry(timestamp, now);
        self.expiry.insert(nonce.to_owned(), until);
        self.by_expiry.insert((until, nonce.to_owned()));
        Ok(())
    }

    /// Live nonces.
    pub fn len(&self) -> usize {
        self.expiry.len()
    }

    /// Whether no nonce is live.
    pub fn is_empty(&self) -> bool {
        self.expiry.is_empty()
    }

    fn forget_expired(&mut self, now: u64) {
        while let Some(first) = self.by_expiry.first() {
            if first.0 >= now {
                break;
            }
            if let Some((_, nonce)) = self.by_expiry.pop_first() {
                self.expiry.remove(&nonce);
            }
        }
    }
}

impl Default for NonceStore {
    /// Room for 100 000 live nonces: over 300 callbacks a second for the whole window.
    fn default() -> Self {
        Self::new(100_000)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_replay_within_the_window_is_refused_and_forgotten_after_it() {
        let mut store = NonceStore::default();
        let t = 1_764_547_200;
        store.check("a", t, t + 10).unwrap();
        assert_eq!(
            store.check("a", t, t + 200),
            Err(WebhookError::ReplayedNonce { nonce: "a".into() })
        );
        // Still remembered at the last second the window would accept it...
        assert!(store.check("a", t, t + 10 + TIMESTAMP_WINDOW_SECS).is_err());
        // ...and forgotten after.
        store.check("b", t + 400, t + 400).unwrap();
        assert_eq!(store.len(), 1);
        store.check("a", t + 400, t + 400).unwrap();
    }

    #[test]
    fn a_future_timestamp_keeps_its_nonce_until_the_window_has_passed_it() {
        let mut store = NonceStore::default();
        let now = 1_000_000;
        store.check("f", now + 250, now).unwrap();
        assert!(store.check("f", now + 250, now + 540).is_err());
        assert!(store.check("f", now + 250, now + 551).is_ok());
    }

    #[test]
    fn a_full_store_refuses_rather_than_forgets() {
        let mut store = NonceStore::new(2);
        store.check("a", 100, 100).unwrap();
        store.check("b", 100, 100).unwrap();
        assert_eq!(
            store.check("c", 100, 100),
            Err(WebhookError::NonceStoreFull { capacity: 2 })
        );
        store
            .check("c", 100, 100 + TIMESTAMP_WINDOW_SECS + 1)
            .unwrap();
        assert_eq!(store.len(), 1);
    }
}
