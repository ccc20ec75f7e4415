//! The batch scheduler: which line starts when. Inputs and the current time in, actions out,
//! the instant of the next timeout; the facade's runner executes each line's job and reports
//! back.
//!
//! Slots: a line holds one of the account's slots from the moment it is started for a submit
//! until its video is ready (the download no longer occupies the account's slot), or until it
//! turns out another process runs it. Lines already generating on the server (from an earlier
//! run) start first, so they are counted against the limit before anything new is sent. A
//! submit refused with 500044 gives its slot back and its line is queued again — the same
//! journaled job, so its resend carries the same trace id.

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

use super::budget::{Budget, BudgetRefusal};
use super::concurrency::ConcurrencyController;
use super::tally::{LineEnd, LineKind};

/// What a line needs before it may start, as the journal has it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Need {
    /// A slot and a budget reservation: it will be (re)submitted.
    Submit,
    /// Already generating on the server: it occupies a slot but costs nothing more.
    Generating,
    /// Finished on the server (or failed): no slot.
    Nothing,
}

/// The scheduler's knobs.
#[derive(Clone, Debug)]
pub struct SchedulerOptions {
    /// How many lines may generate at once.
    pub controller: ConcurrencyController,
    /// The credits this run may commit.
    pub budget: Budget,
    /// Pause before submitting again after the server refused a slot (500044).
    pub slot_retry_delay: Duration,
    /// Refusals of one line's submit (500044) before it fails with the concurrency error.
    pub max_slot_refusals: u32,
    /// Times one line is continued again within the run after it stopped on a failure that
    /// leaves it resumable, before it is reported.
    pub max_job_restarts: u32,
}

/// What happened to a line.
#[derive(Clone, Debug, PartialEq)]
pub enum Input {
    /// Its submit was accepted: it holds a slot until its video is ready.
    Accepted {
        /// The line (its index in the list the scheduler was made with).
        line: usize,
        /// What the server said it charged: it replaces the estimate in the budget at once, so
        /// a server that charges more than estimated stops the budget before the next submit.
        charged: Option<i64>,
    },
    /// Its video is ready: the slot is free.
    SlotFree {
        /// The line.
        line: usize,
    },
    /// Another process runs its job; this run only waits for it (no slot, no budget).
    Watching {
        /// The line.
        line: usize,
    },
    /// Its submit was refused for lack of a concurrency slot (500044).
    SlotRefused {
        /// The line.
        line: usize,
    },
    /// Its job stopped.
    Ended {
        /// The line.
        line: usize,
        /// How it ended.
        end: LineEnd,
        /// Set when it stopped on a failure that leaves it resumable: what continuing it
        /// needs.
        restart: Option<Need>,
    },
    /// Submit nothing more (interrupted, or nobody listens any more).
    Stop,
    /// Time passed.
    Timeout,
}

/// What to do.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    /// Start the line's job.
    Start {
        /// The line.
        line: usize,
        /// What it needs (a submit, or only waiting).
        need: Need,
    },
    /// The number of lines allowed in flight changed (auto concurrency).
    ConcurrencyChanged {
        /// The new limit.
        limit: u32,
    },
    /// The line does not fit the budget: nothing more is submitted.
    BudgetStop {
        /// The first line that did not fit.
        line: usize,
        /// Why.
        refusal: BudgetRefusal,
    },
    /// Its submit met 500044; it is queued again with the same trace id.
    SlotRefused {
        /// The line.
        line: usize,
    },
    /// It stopped on a resumable failure and is queued again.
    Restarted {
        /// The line.
        line: usize,
    },
    /// The line ended.
    Finished {
        /// The line.
        line: usize,
        /// How, as the tally counts it.
        end: LineEnd,
    },
}

/// Many lines at the account's concurrency limit, within a credit budget.
#[derive(Clone, Debug)]
pub struct Scheduler {
    opts: SchedulerOptions,
    estimates: Vec<Option<f64>>,
    queue: VecDeque<(usize, Need)>,
    /// Lines holding a slot → whether their submit was accepted.
    holding: BTreeMap<usize, bool>,
    reserved: BTreeMap<usize, f64>,
    refusals: BTreeMap<usize, u32>,
    restarts: BTreeMap<usize, u32>,
    running: usize,
    retry_at: Option<Instant>,
    budget_stopped: bool,
    stopped: bool,
    actions: VecDeque<Action>,
}

impl Scheduler {
    /// One entry per line: its estimated credits and what the journal says it needs.
    pub fn new(opts: SchedulerOptions, lines: &[(Option<f64>, Need)], now: Instant) -> Self {
        let mut queue: VecDeque<(usize, Need)> = lines
            .iter()
            .enumerate()
            .filter(|(_, (_, need))| *need != Need::Submit)
            .map(|(line, (_, need))| (line, *need))
            .collect();
        queue.extend(
            lines
                .iter()
                .enumerate()
                .filter(|(_, (_, need))| *need == Need::Submit)
                .map(|(line, _)| (line, Need::Submit)),
        );
        let mut scheduler = Scheduler {
            opts,
            estimates: lines.iter().map(|(estimate, _)| *estimate).collect(),
            queue,
            holding: BTreeMap::new(),
            reserved: BTreeMap::new(),
            refusals: BTreeMap::new(),
            restarts: BTreeMap::new(),
            running: 0,
            retry_at: None,
            budget_stopped: false,
            stopped: false,
            actions: VecDeque::new(),
        };
        scheduler.start_what_fits(now);
        scheduler
    }

    /// The next action.
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    /// When to feed [`Input::Timeout`].
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.retry_at
            .filter(|_| !self.queue.is_empty() && !self.stopped)
    }

    /// Whether every line has ended (or, once stopped, every started one).
    pub fn is_done(&self) -> bool {
        self.running == 0 && (self.queue.is_empty() || self.stopped)
    }

    /// Lines holding a slot now.
    pub fn in_flight(&self) -> u32 {
        u32::try_from(self.holding.len()).unwrap_or(u32::MAX)
    }

    /// The current concurrency limit.
    pub fn limit(&self) -> u32 {
        self.opts.controller.limit()
    }

    /// The budget as it stands.
    pub fn budget(&self) -> &Budget {
        &self.opts.budget
    }

    /// Feeds one input.
    pub fn handle(&mut self, input: Input, now: Instant) {
        match input {
            Input::Accepted { line, charged } => {
                // Only a line started for a submit holds a slot to be accepted in.
                let Some(accepted) = self.holding.get_mut(&line) else {
                    return;
                };
                *accepted = true;
                if let (Some(credits), Some(charged)) = (self.reserved.get_mut(&line), charged) {
                    *credits = self.opts.budget.rereserve(*credits, charged as f64);
                }
                let before = self.opts.controller.limit();
                self.opts.controller.on_accepted(self.in_flight());
                self.announce_limit(before);
            }
            Input::SlotFree { line } => {
                self.holding.remove(&line);
            }
            Input::Watching { line } => {
                self.holding.remove(&line);
                self.release(line);
            }
            Input::SlotRefused { line } => self.slot_refused(line, now),
            Input::Ended { line, end, restart } => self.ended(line, end, restart),
            Input::Stop => self.stopped = true,
            Input::Timeout => {
                if self.retry_at.is_some_and(|at| now >= at) {
                    self.retry_at = None;
                }
            }
        }
        self.start_what_fits(now);
    }

    fn slot_refused(&mut self, line: usize, now: Instant) {
        self.running = self.running.saturating_sub(1);
        self.holding.remove(&line);
        self.release(line);
        let refusals = self.refusals.entry(line).or_default();
        *refusals += 1;
        if *refusals >= self.opts.max_slot_refusals {
            let end = LineEnd::unbilled(LineKind::Failed {
                class: "concurrency",
            });
            self.actions.push_back(Action::Finished { line, end });
            return;
        }
        let generating = self.holding.values().filter(|accepted| **accepted).count();
        let before = self.opts.controller.limit();
        self.opts
            .controller
            .on_slot_refused(u32::try_from(generating).unwrap_or(u32::MAX));
        self.announce_limit(before);
        self.retry_at = Some(now + self.opts.slot_retry_delay);
        self.actions.push_back(Action::SlotRefused { line });
        self.queue.push_front((line, Need::Submit));
    }

    fn ended(&mut self, line: usize, end: LineEnd, restart: Option<Need>) {
        self.running = self.running.saturating_sub(1);
        self.holding.remove(&line);
        if let Some(need) = restart {
            let restarts = self.restarts.entry(line).or_default();
            *restarts += 1;
            if *restarts <= self.opts.max_job_restarts && !self.stopped {
                self.release(line);
                self.actions.push_back(Action::Restarted { line });
                self.queue.push_back((line, need));
                return;
            }
        }
        if let Some(credits) = self.reserved.remove(&line) {
            match end.charge {
                // Billed (or maybe billed) by a submit of this run: it counts against the budget.
                Some(charge) if charge.this_run => self
                    .opts
                    .budget
                    .settle(credits, charge.credits.map(|c| c as f64)),
                // Refunded, refused before billing, or billed by someone else.
                _ => self.opts.budget.release(credits),
            }
        }
        self.actions.push_back(Action::Finished { line, end });
    }

    fn release(&mut self, line: usize) {
        if let Some(credits) = self.reserved.remove(&line) {
            self.opts.budget.release(credits);
        }
    }

    fn start_what_fits(&mut self, now: Instant) {
        while let Some(&(line, need)) = self.queue.front() {
            if self.stopped {
                return;
            }
            if need == Need::Submit {
                if self.budget_stopped {
                    let refusal = BudgetRefusal::Exceeded {
                        needed: self.estimate(line).unwrap_or(0.0),
                        remaining: self.opts.budget.remaining().unwrap_or(0.0),
                    };
                    self.queue.pop_front();
                    self.skip(line, refusal);
                    continue;
                }
                if !self.opts.controller.may_submit(self.in_flight())
                    || self.retry_at.is_some_and(|at| at > now)
                {
                    return;
                }
                match self.opts.budget.reserve(self.estimate(line)) {
                    Ok(credits) => {
                        self.reserved.insert(line, credits);
                    }
                    Err(refusal) => {
                        self.budget_stopped = true;
                        self.actions.push_back(Action::BudgetStop {
                            line,
                            refusal: refusal.clone(),
                        });
                        self.queue.pop_front();
                        self.skip(line, refusal);
                        continue;
                    }
                }
            }
            self.queue.pop_front();
            if need != Need::Nothing {
                self.holding.insert(line, need == Need::Generating);
            }
            self.running += 1;
            self.actions.push_back(Action::Start { line, need });
        }
    }

    fn skip(&mut self, line: usize, refusal: BudgetRefusal) {
        let end = LineEnd::unbilled(LineKind::SkippedBudget(refusal));
        self.actions.push_back(Action::Finished { line, end });
    }

    fn estimate(&self, line: usize) -> Option<f64> {
        self.estimates.get(line).copied().flatten()
    }

    fn announce_limit(&mut self, before: u32) {
        let limit = self.opts.controller.limit();
        if limit != before {
            self.actions.push_back(Action::ConcurrencyChanged { limit });
        }
    }
}
