//! Keeping a batch within a credit budget.
//!
//! Each job's estimated credits are reserved before its submit; the batch stops submitting
//! before a reservation would exceed the budget. When the server reports what a job really
//! cost, the reservation is settled to that figure; a job refunded by the vendor (moderation or
//! generation failure) or never submitted releases its reservation.

/// Why a job was not given credits.
#[derive(Clone, Debug, PartialEq)]
pub enum BudgetRefusal {
    /// The job's estimate does not fit what is left.
    Exceeded {
        /// The job's estimated credits.
        needed: f64,
        /// Credits left in the budget.
        remaining: f64,
    },
    /// A budget is set but the job has no price estimate, so it cannot be kept within it.
    NoEstimate,
}

impl std::fmt::Display for BudgetRefusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BudgetRefusal::Exceeded { needed, remaining } => {
                write!(
                    f,
                    "needs about {needed} credits but only {remaining} of the budget remain"
                )
            }
            BudgetRefusal::NoEstimate => {
                f.write_str("has no price estimate, so it cannot be kept within the budget")
            }
        }
    }
}

/// Credits reserved and spent against an optional limit.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Budget {
    limit: Option<f64>,
    reserved: f64,
    spent: f64,
}

impl Budget {
    /// No limit: every reservation succeeds (credits are still counted).
    pub fn unlimited() -> Self {
        Budget::default()
    }

    /// At most `credits` in total.
    pub fn limited(credits: f64) -> Self {
        Budget {
            limit: Some(credits.max(0.0)),
            ..Budget::default()
        }
    }

    /// The limit, if any.
    pub fn limit(&self) -> Option<f64> {
        self.limit
    }

    /// Reserved for jobs not yet settled.
    pub fn reserved(&self) -> f64 {
        self.reserved
    }

    /// Settled (charged) so far.
    pub fn spent(&self) -> f64 {
        self.spent
    }

    /// What is left for new reservations (`None` without a limit).
    pub fn remaining(&self) -> Option<f64> {
        self.limit
            .map(|l| (l - self.reserved - self.spent).max(0.0))
    }

    /// Reserves `estimate` credits for a job about to be submitted.
    pub fn reserve(&mut self, estimate: Option<f64>) -> Result<f64, BudgetRefusal> {
        let Some(remaining) = self.remaining() else {
            let credits = estimate.unwrap_or(0.0);
            self.reserved += credits;
            return Ok(credits);
        };
        let needed = estimate.ok_or(BudgetRefusal::NoEstimate)?;
        // A tiny tolerance keeps float sums (e.g. 32.5 + 67.5) from refusing an exact fit.
        if needed > remaining + 1e-9 {
            return Err(BudgetRefusal::Exceeded { needed, remaining });
        }
        self.reserved += needed;
        Ok(needed)
    }

    /// The server accepted a job and said what it charges: the reservation becomes `actual`,
    /// even past the limit (those credits are spent already), so the next reservation sees the
    /// real figure instead of the estimate. Returns the new reservation.
    pub fn rereserve(&mut self, reserved: f64, actual: f64) -> f64 {
        self.reserved = (self.reserved - reserved).max(0.0) + actual;
        actual
    }

    /// A job finished and was charged: `actual` credits when the server said, else the
    /// reservation stands as the charge.
    pub fn settle(&mut self, reserved: f64, actual: Option<f64>) {
        self.reserved = (self.reserved - reserved).max(0.0);
        self.spent += actual.unwrap_or(reserved);
    }

    /// A job was refunded or never submitted.
    pub fn release(&mut self, reserved: f64) {
        self.reserved = (self.reserved - reserved).max(0.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stops_before_exceeding() {
        let mut b = Budget::limited(100.0);
        let a = b.reserve(Some(45.0)).unwrap();
        let c = b.reserve(Some(45.0)).unwrap();
        assert_eq!(
            b.reserve(Some(45.0)),
            Err(BudgetRefusal::Exceeded {
                needed: 45.0,
                remaining: 10.0
            })
        );
        b.release(c);
        b.settle(a, Some(40.0));
        assert_eq!(b.spent(), 40.0);
        assert_eq!(b.remaining(), Some(60.0));
        assert!(b.reserve(Some(60.0)).is_ok());
        assert_eq!(b.remaining(), Some(0.0));
    }

    #[test]
    fn a_charge_above_the_estimate_counts_at_once() {
        let mut b = Budget::limited(100.0);
        let first = b.reserve(Some(30.0)).unwrap();
        // The server charges 60, not 30: only 40 remain, so a second 30 still fits, a third not.
        let first = b.rereserve(first, 60.0);
        assert_eq!(b.remaining(), Some(40.0));
        let second = b.reserve(Some(30.0)).unwrap();
        assert!(b.rereserve(second, 60.0) > 0.0);
        assert_eq!(b.remaining(), Some(0.0));
        assert!(b.reserve(Some(30.0)).is_err());
        b.settle(first, Some(60.0));
        assert_eq!((b.spent(), b.reserved()), (60.0, 60.0));
    }

    #[test]
    fn exact_fit_with_fractional_prices() {
        let mut b = Budget::limited(100.0);
        assert!(b.reserve(Some(32.5)).is_ok());
        assert!(b.reserve(Some(67.5)).is_ok());
    }

    #[test]
    fn no_estimate_is_refused_only_under_a_limit() {
        assert_eq!(
            Budget::limited(10.0).reserve(None),
            Err(BudgetRefusal::NoEstimate)
        );
        let mut free = Budget::unlimited();
        assert_eq!(free.reserve(None), Ok(0.0));
        assert_eq!(free.reserve(Some(12.0)), Ok(12.0));
        assert_eq!(free.remaining(), None);
    }
}
