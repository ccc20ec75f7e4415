//! The budget guard: `--budget CREDITS` caps what one server process may spend. A `generate`
//! reserves its estimate before anything is sent and is refused, with the estimate, when it
//! does not fit. Repeating a call this process already made continues the same job (nothing
//! is billed again), so it passes the guard whatever is left.

use std::collections::HashSet;
use std::sync::Mutex;

use pixfuse::core::batch::{Budget, BudgetRefusal};

/// Credits this server may still spend, and the calls it has already made.
#[derive(Debug)]
pub struct Spending {
    budget: Mutex<Budget>,
    made: Mutex<HashSet<String>>,
}

/// Credits set aside for one `generate` until it is known whether it billed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Reservation(f64);

impl Spending {
    pub fn new(limit: Option<f64>) -> Self {
        Spending {
            budget: Mutex::new(limit.map_or_else(Budget::unlimited, Budget::limited)),
            made: Mutex::new(HashSet::new()),
        }
    }

    /// Sets `estimate` aside for the call named `call` (its arguments, or its idempotency
    /// key). A call made before needs nothing: it continues its job.
    pub fn reserve(
        &self,
        call: &str,
        estimate: Option<f64>,
        new: bool,
    ) -> Result<Reservation, BudgetRefusal> {
        if !new && lock(&self.made).contains(call) {
            return Ok(Reservation(0.0));
        }
        lock(&self.budget).reserve(estimate).map(Reservation)
    }

    /// The call submitted a new job, charged `actual` credits when the server said.
    pub fn billed(&self, call: &str, reserved: Reservation, actual: Option<i64>) {
        lock(&self.budget).settle(reserved.0, actual.map(|c| c as f64));
        lock(&self.made).insert(call.to_owned());
    }

    /// The call billed nothing new (it continued an earlier job, or was refused before billing).
    pub fn unbilled(&self, call: &str, reserved: Reservation, known: bool) {
        lock(&self.budget).release(reserved.0);
        if known {
            lock(&self.made).insert(call.to_owned());
        }
    }

    /// (limit, spent, remaining) for answers.
    pub fn summary(&self) -> (Option<f64>, f64, Option<f64>) {
        let b = lock(&self.budget);
        (b.limit(), b.spent(), b.remaining())
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding the lock cannot leave a sum or a set half-written: go on.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_call_must_fit_and_a_repeat_passes() {
        let s = Spending::new(Some(50.0));
        let r = s.reserve("a", Some(45.0), false).unwrap();
        s.billed("a", r, Some(45));
        assert_eq!(
            s.reserve("b", Some(45.0), false),
            Err(BudgetRefusal::Exceeded {
                needed: 45.0,
                remaining: 5.0
            })
        );
        // The same call continues its job: nothing more to spend.
        assert_eq!(s.reserve("a", Some(45.0), false), Ok(Reservation(0.0)));
        // ...unless it asks for a new video.
        assert!(s.reserve("a", Some(45.0), true).is_err());
        assert_eq!(s.reserve("c", None, false), Err(BudgetRefusal::NoEstimate));
        let r = s.reserve("d", Some(5.0), false).unwrap();
        s.unbilled("d", r, false);
        assert_eq!(s.summary(), (Some(50.0), 45.0, Some(5.0)));
    }
}
