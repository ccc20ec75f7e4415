//! How each line of a batch ended, and the tally of a whole batch: every line in exactly one
//! category, credits of this run apart from credits charged before.

use std::collections::BTreeMap;

use super::budget::BudgetRefusal;

/// Credits a line's job was charged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Charge {
    /// What the server said it charged (`None`: billed, amount not reported).
    pub credits: Option<i64>,
    /// The submit was accepted during this run (otherwise by an earlier run or another
    /// process).
    pub this_run: bool,
}

/// The category a line ends in.
#[derive(Clone, Debug, PartialEq)]
pub enum LineKind {
    /// The video is on disk.
    Done {
        /// An earlier run or another process made it.
        earlier: bool,
    },
    /// It did not finish and a rerun will not finish it by itself.
    Failed {
        /// Why, as a stable snake_case name (`moderation`, `generation_failed`, `network`, …).
        class: &'static str,
    },
    /// Still generating when the batch stopped waiting; a rerun (or `resume`) finishes it.
    StillRunning,
    /// The server definitely refused the submit and billed nothing; a rerun tries again.
    RefusedBeforeBilling {
        /// Why (`credits`, `invalid_request`, …).
        class: &'static str,
    },
    /// Not submitted: it did not fit the budget.
    SkippedBudget(BudgetRefusal),
}

/// How one line ended.
#[derive(Clone, Debug, PartialEq)]
pub struct LineEnd {
    /// Its category.
    pub kind: LineKind,
    /// What its job was charged, if it may have been billed at all.
    pub charge: Option<Charge>,
}

impl LineEnd {
    /// An end with nothing billed.
    pub fn unbilled(kind: LineKind) -> LineEnd {
        LineEnd { kind, charge: None }
    }
}

/// The tally of a batch.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct Tally {
    /// Lines whose video is on disk.
    pub done: usize,
    /// Of `done`, made by an earlier run or another process.
    pub done_earlier: usize,
    /// Lines that failed, by class.
    pub failed: BTreeMap<&'static str, usize>,
    /// Lines still generating.
    pub still_running: usize,
    /// Lines not submitted for the budget.
    pub skipped_budget: usize,
    /// Lines the server refused before billing, by class.
    pub refused_before_billing: BTreeMap<&'static str, usize>,
    /// Credits charged for submits this run made.
    pub credits_this_run: i64,
    /// Credits charged earlier (earlier runs, other processes) for this batch's lines.
    pub credits_earlier: i64,
    /// Lines billed whose charge the server did not report (their credits are missing above).
    pub unreported_charges: usize,
}

impl Tally {
    /// Counts one line.
    pub fn add(&mut self, end: &LineEnd) {
        match &end.kind {
            LineKind::Done { earlier } => {
                self.done += 1;
                self.done_earlier += usize::from(*earlier);
            }
            LineKind::Failed { class } => *self.failed.entry(class).or_default() += 1,
            LineKind::StillRunning => self.still_running += 1,
            LineKind::RefusedBeforeBilling { class } => {
                *self.refused_before_billing.entry(class).or_default() += 1;
            }
            LineKind::SkippedBudget(_) => self.skipped_budget += 1,
        }
        if let Some(charge) = end.charge {
            let credits = charge.credits.unwrap_or(0);
            self.unreported_charges += usize::from(charge.credits.is_none());
            if charge.this_run {
                self.credits_this_run += credits;
            } else {
                self.credits_earlier += credits;
            }
        }
    }

    /// Lines counted.
    pub fn lines(&self) -> usize {
        self.done
            + self.failed_total()
            + self.still_running
            + self.skipped_budget
            + self.refused_total()
    }

    /// Failed lines, all classes.
    pub fn failed_total(&self) -> usize {
        self.failed.values().sum()
    }

    /// Refused lines, all classes.
    pub fn refused_total(&self) -> usize {
        self.refused_before_billing.values().sum()
    }

    /// Whether every line is done.
    pub fn all_done(&self) -> bool {
        self.lines() == self.done
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_line_counts_once_and_credits_split_by_run() {
        let mut t = Tally::default();
        let charge = |credits, this_run| Some(Charge { credits, this_run });
        t.add(&LineEnd {
            kind: LineKind::Done { earlier: false },
            charge: charge(Some(45), true),
        });
        t.add(&LineEnd {
            kind: LineKind::Done { earlier: true },
            charge: charge(Some(45), false),
        });
        t.add(&LineEnd {
            kind: LineKind::StillRunning,
            charge: charge(Some(45), true),
        });
        t.add(&LineEnd {
            kind: LineKind::StillRunning,
            charge: charge(None, true),
        });
        t.add(&LineEnd::unbilled(LineKind::Failed {
            class: "moderation",
        }));
        t.add(&LineEnd::unbilled(LineKind::RefusedBeforeBilling {
            class: "credits",
        }));
        t.add(&LineEnd::unbilled(LineKind::SkippedBudget(
            BudgetRefusal::NoEstimate,
        )));
        assert_eq!(t.lines(), 7);
        assert_eq!((t.done, t.done_earlier, t.still_running), (2, 1, 2));
        assert_eq!(
            (t.failed_total(), t.refused_total(), t.skipped_budget),
            (1, 1, 1)
        );
        assert_eq!((t.credits_this_run, t.credits_earlier), (90, 45));
        assert_eq!(t.unreported_charges, 1);
        assert!(!t.all_done());
    }
}
