//! How many jobs may be in flight (submitted, not yet finished) at once.
//!
//! The account's concurrency limit (5 on the entry plan) is the real bottleneck, and the API
//! does not say what it is: a submit beyond it is refused with ErrCode 500044 and bills
//! nothing. In `auto` mode the controller discovers it — it starts at one, grows while submits
//! succeed with every slot busy, and on 500044 drops to the number of jobs that were actually
//! generating, which is the limit the server just revealed. It probes above a revealed limit
//! again only after a run of successes (a plan upgrade mid-batch, or a slot that was held by a
//! job outside this batch). It never exceeds the caller's maximum.

/// Successful submits at a revealed limit before probing one slot above it.
const PROBE_AFTER_SUCCESSES: u32 = 8;

/// Decides how many jobs may be in flight.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConcurrencyController {
    limit: u32,
    max: u32,
    auto: bool,
    /// The limit the server last revealed with 500044, if any.
    revealed: Option<u32>,
    successes_at_revealed: u32,
}

impl ConcurrencyController {
    /// Exactly `n` in flight (at least one).
    pub fn fixed(n: u32) -> Self {
        let n = n.max(1);
        ConcurrencyController {
            limit: n,
            max: n,
            auto: false,
            revealed: None,
            successes_at_revealed: 0,
        }
    }

    /// Discover the account's limit, never exceeding `max` (at least one).
    pub fn auto(max: u32) -> Self {
        ConcurrencyController {
            limit: 1,
            max: max.max(1),
            auto: true,
            revealed: None,
            successes_at_revealed: 0,
        }
    }

    /// Whether this controller discovers the limit.
    pub fn is_auto(&self) -> bool {
        self.auto
    }

    /// The current limit.
    pub fn limit(&self) -> u32 {
        self.limit
    }

    /// The caller's maximum.
    pub fn max(&self) -> u32 {
        self.max
    }

    /// Whether another job may be submitted while `in_flight` are running.
    pub fn may_submit(&self, in_flight: u32) -> bool {
        in_flight < self.limit
    }

    /// A submit was accepted; `in_flight` counts it.
    pub fn on_accepted(&mut self, in_flight: u32) {
        if !self.auto || in_flight < self.limit || self.limit >= self.max {
            return;
        }
        match self.revealed {
            Some(revealed) if self.limit >= revealed => {
                self.successes_at_revealed += 1;
                if self.successes_at_revealed >= PROBE_AFTER_SUCCESSES {
                    self.successes_at_revealed = 0;
                    self.limit += 1;
                }
            }
            _ => self.limit += 1,
        }
    }

    /// A submit was refused with 500044 while `generating` other jobs of this batch were
    /// still running.
    pub fn on_slot_refused(&mut self, generating: u32) {
        if !self.auto {
            return;
        }
        let revealed = generating.clamp(1, self.max);
        self.revealed = Some(revealed);
        self.successes_at_revealed = 0;
        self.limit = revealed;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn fixed_never_changes() {
        let mut c = ConcurrencyController::fixed(4);
        c.on_accepted(4);
        c.on_slot_refused(1);
        assert_eq!(c.limit(), 4);
        assert!(c.may_submit(3));
        assert!(!c.may_submit(4));
        assert_eq!(ConcurrencyController::fixed(0).limit(), 1);
    }

    #[test]
    fn auto_grows_while_slots_are_full_and_settles_on_the_revealed_limit() {
        let mut c = ConcurrencyController::auto(10);
        // The account allows 3. Fill slots one by one.
        let mut in_flight = 0;
        while in_flight < 3 {
            assert!(c.may_submit(in_flight));
            in_flight += 1;
            c.on_accepted(in_flight);
        }
        assert_eq!(c.limit(), 4);
        // The 4th submit is refused while 3 generate.
        c.on_slot_refused(3);
        assert_eq!(c.limit(), 3);
        assert!(!c.may_submit(3));
        // Successes at the revealed limit do not grow it at once...
        for _ in 0..PROBE_AFTER_SUCCESSES - 1 {
            c.on_accepted(3);
        }
        assert_eq!(c.limit(), 3);
        // ...but a long run probes one above.
        c.on_accepted(3);
        assert_eq!(c.limit(), 4);
    }

    #[test]
    fn auto_does_not_grow_with_idle_slots() {
        let mut c = ConcurrencyController::auto(10);
        c.on_accepted(1);
        assert_eq!(c.limit(), 2);
        c.on_accepted(1); // one finished meanwhile: no evidence that more fit
        assert_eq!(c.limit(), 2);
    }

    proptest! {
        #[test]
        fn limit_stays_within_one_and_max(max in 1u32..20, events in proptest::collection::vec((any::<bool>(), 0u32..25), 0..200)) {
            let mut c = ConcurrencyController::auto(max);
            for (accepted, n) in events {
                if accepted { c.on_accepted(n) } else { c.on_slot_refused(n) }
                prop_assert!(c.limit() >= 1 && c.limit() <= max);
            }
        }
    }
}
