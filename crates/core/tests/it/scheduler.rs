//! The batch scheduler's decisions, without tokio: slots, order, requeues, budget, restarts,
//! and a property over any sequence of job events.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use pixfuse_core::batch::*;
use proptest::prelude::*;

fn opts(controller: ConcurrencyController, budget: Budget) -> SchedulerOptions {
    SchedulerOptions {
        controller,
        budget,
        slot_retry_delay: Duration::from_secs(2),
        max_slot_refusals: 3,
        max_job_restarts: 2,
    }
}

fn drain(s: &mut Scheduler) -> Vec<Action> {
    std::iter::from_fn(|| s.poll_action()).collect()
}

fn started(actions: &[Action]) -> Vec<usize> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Start { line, .. } => Some(*line),
            _ => None,
        })
        .collect()
}

fn done(this_run: bool) -> LineEnd {
    LineEnd {
        kind: LineKind::Done { earlier: !this_run },
        charge: Some(Charge {
            credits: Some(40),
            this_run,
        }),
    }
}

fn submits(n: usize, estimate: f64) -> Vec<(Option<f64>, Need)> {
    vec![(Some(estimate), Need::Submit); n]
}

#[test]
fn a_fixed_limit_starts_that_many_and_the_next_when_a_slot_frees() {
    let now = Instant::now();
    let mut s = Scheduler::new(
        opts(ConcurrencyController::fixed(2), Budget::unlimited()),
        &submits(4, 10.0),
        now,
    );
    assert_eq!(started(&drain(&mut s)), [0, 1]);
    s.handle(
        Input::Accepted {
            line: 0,
            charged: None,
        },
        now,
    );
    assert!(drain(&mut s).is_empty());
    // Ready: the download does not hold the account's slot.
    s.handle(Input::SlotFree { line: 0 }, now);
    assert_eq!(started(&drain(&mut s)), [2]);
    s.handle(
        Input::Ended {
            line: 0,
            end: done(true),
            restart: None,
        },
        now,
    );
    assert_eq!(
        drain(&mut s),
        [Action::Finished {
            line: 0,
            end: done(true)
        }]
    );
    assert!(!s.is_done());
}

#[test]
fn lines_already_generating_start_first_and_hold_their_slot() {
    let now = Instant::now();
    let lines = [
        (Some(10.0), Need::Submit),
        (None, Need::Nothing),
        (Some(10.0), Need::Generating),
        (Some(10.0), Need::Submit),
    ];
    let mut s = Scheduler::new(
        opts(ConcurrencyController::fixed(1), Budget::limited(10.0)),
        &lines,
        now,
    );
    let actions = drain(&mut s);
    assert_eq!(
        started(&actions),
        [1, 2],
        "no submit while line 2 generates"
    );
    assert_eq!(s.in_flight(), 1);
    assert_eq!(
        s.budget().reserved(),
        0.0,
        "a generating line costs nothing more"
    );
}

#[test]
fn a_slot_refusal_requeues_the_line_first_after_a_pause_and_shrinks_auto() {
    let now = Instant::now();
    let mut s = Scheduler::new(
        opts(ConcurrencyController::auto(10), Budget::limited(100.0)),
        &submits(3, 10.0),
        now,
    );
    assert_eq!(started(&drain(&mut s)), [0]);
    s.handle(
        Input::Accepted {
            line: 0,
            charged: None,
        },
        now,
    );
    assert_eq!(
        drain(&mut s),
        [
            Action::ConcurrencyChanged { limit: 2 },
            Action::Start {
                line: 1,
                need: Need::Submit
            }
        ]
    );
    s.handle(Input::SlotRefused { line: 1 }, now);
    let actions = drain(&mut s);
    assert_eq!(
        actions,
        [
            Action::ConcurrencyChanged { limit: 1 },
            Action::SlotRefused { line: 1 }
        ]
    );
    assert_eq!(
        s.budget().reserved(),
        10.0,
        "the refused line's reservation is back"
    );
    s.handle(Input::SlotFree { line: 0 }, now);
    assert!(drain(&mut s).is_empty(), "paused after the refusal");
    assert_eq!(s.poll_timeout(), Some(now + Duration::from_secs(2)));
    s.handle(Input::Timeout, now + Duration::from_secs(2));
    assert_eq!(
        started(&drain(&mut s)),
        [1],
        "the refused line goes before line 2"
    );
}

#[test]
fn a_charge_above_the_estimate_replaces_it_at_once() {
    let now = Instant::now();
    let mut s = Scheduler::new(
        opts(ConcurrencyController::fixed(1), Budget::limited(100.0)),
        &submits(3, 30.0),
        now,
    );
    assert_eq!(started(&drain(&mut s)), [0]);
    // Charged 60, not 30: the budget sees the real figure before the next submit.
    s.handle(
        Input::Accepted {
            line: 0,
            charged: Some(60),
        },
        now,
    );
    s.handle(Input::SlotFree { line: 0 }, now);
    assert_eq!(started(&drain(&mut s)), [1]);
    s.handle(
        Input::Accepted {
            line: 1,
            charged: Some(60),
        },
        now,
    );
    s.handle(Input::SlotFree { line: 1 }, now);
    let actions = drain(&mut s);
    assert!(
        actions
            .iter()
            .any(|a| matches!(a, Action::BudgetStop { line: 2, .. })),
        "{actions:?}"
    );
}

#[test]
fn too_many_slot_refusals_fail_the_line() {
    let now = Instant::now();
    let mut s = Scheduler::new(
        opts(ConcurrencyController::fixed(1), Budget::unlimited()),
        &submits(1, 10.0),
        now,
    );
    let mut t = now;
    for _ in 0..2 {
        drain(&mut s);
        s.handle(Input::SlotRefused { line: 0 }, t);
        t += Duration::from_secs(2);
        s.handle(Input::Timeout, t);
    }
    drain(&mut s);
    s.handle(Input::SlotRefused { line: 0 }, t);
    assert_eq!(
        drain(&mut s),
        [Action::Finished {
            line: 0,
            end: LineEnd::unbilled(LineKind::Failed {
                class: "concurrency"
            })
        }]
    );
    assert!(s.is_done());
}

#[test]
fn the_budget_stops_new_submits_but_not_lines_already_paid_for() {
    let now = Instant::now();
    let lines = [
        (Some(40.0), Need::Submit),
        (Some(40.0), Need::Submit),
        (Some(40.0), Need::Submit),
        (Some(40.0), Need::Generating),
    ];
    let mut s = Scheduler::new(
        opts(ConcurrencyController::fixed(5), Budget::limited(100.0)),
        &lines,
        now,
    );
    let actions = drain(&mut s);
    assert_eq!(started(&actions), [3, 0, 1]);
    let refusal = BudgetRefusal::Exceeded {
        needed: 40.0,
        remaining: 20.0,
    };
    assert!(actions.contains(&Action::BudgetStop {
        line: 2,
        refusal: refusal.clone()
    }));
    assert!(actions.contains(&Action::Finished {
        line: 2,
        end: LineEnd::unbilled(LineKind::SkippedBudget(refusal))
    }));
}

#[test]
fn a_charge_settles_the_reservation_and_an_unbilled_end_releases_it() {
    let now = Instant::now();
    let mut s = Scheduler::new(
        opts(ConcurrencyController::fixed(2), Budget::limited(100.0)),
        &submits(2, 45.0),
        now,
    );
    drain(&mut s);
    s.handle(
        Input::Ended {
            line: 0,
            end: done(true),
            restart: None,
        },
        now,
    );
    s.handle(
        Input::Ended {
            line: 1,
            end: LineEnd::unbilled(LineKind::Failed {
                class: "moderation",
            }),
            restart: None,
        },
        now,
    );
    assert_eq!(
        s.budget().spent(),
        40.0,
        "the server's figure, not the estimate"
    );
    assert_eq!(s.budget().reserved(), 0.0);
    assert!(s.is_done());
}

#[test]
fn a_line_run_by_another_process_gives_back_its_slot_and_reservation() {
    let now = Instant::now();
    let mut s = Scheduler::new(
        opts(ConcurrencyController::fixed(1), Budget::limited(50.0)),
        &submits(2, 45.0),
        now,
    );
    assert_eq!(started(&drain(&mut s)), [0]);
    s.handle(Input::Watching { line: 0 }, now);
    assert_eq!(started(&drain(&mut s)), [1]);
    s.handle(
        Input::Ended {
            line: 0,
            end: done(false),
            restart: None,
        },
        now,
    );
    assert_eq!(s.budget().spent(), 0.0, "billed by the other process");
}

#[test]
fn a_resumable_failure_is_continued_a_few_times_then_reported() {
    let now = Instant::now();
    let mut s = Scheduler::new(
        opts(ConcurrencyController::fixed(1), Budget::unlimited()),
        &submits(1, 10.0),
        now,
    );
    drain(&mut s);
    let network = LineEnd {
        kind: LineKind::Failed { class: "network" },
        charge: Some(Charge {
            credits: None,
            this_run: true,
        }),
    };
    for _ in 0..2 {
        s.handle(
            Input::Ended {
                line: 0,
                end: network.clone(),
                restart: Some(Need::Generating),
            },
            now,
        );
        assert_eq!(
            drain(&mut s),
            [
                Action::Restarted { line: 0 },
                Action::Start {
                    line: 0,
                    need: Need::Generating
                }
            ]
        );
    }
    s.handle(
        Input::Ended {
            line: 0,
            end: network.clone(),
            restart: Some(Need::Generating),
        },
        now,
    );
    assert_eq!(
        drain(&mut s),
        [Action::Finished {
            line: 0,
            end: network
        }]
    );
}

#[test]
fn stop_starts_nothing_more() {
    let now = Instant::now();
    let mut s = Scheduler::new(
        opts(ConcurrencyController::fixed(1), Budget::unlimited()),
        &submits(3, 10.0),
        now,
    );
    drain(&mut s);
    s.handle(Input::Stop, now);
    assert!(!s.is_done(), "line 0 is still running");
    s.handle(
        Input::Ended {
            line: 0,
            end: done(true),
            restart: None,
        },
        now,
    );
    assert!(started(&drain(&mut s)).is_empty());
    assert!(s.is_done());
}

// ---- properties -------------------------------------------------------------------------

/// What the simulated job of a started line does next.
#[derive(Clone, Copy, Debug)]
enum Step {
    Accept,
    Ready,
    SlotRefused,
    Watching,
    EndDone,
    EndFailed,
    EndRestartable,
}

fn any_step() -> impl Strategy<Value = Step> {
    prop_oneof![
        Just(Step::Accept),
        Just(Step::Ready),
        Just(Step::SlotRefused),
        Just(Step::Watching),
        Just(Step::EndDone),
        Just(Step::EndFailed),
        Just(Step::EndRestartable),
    ]
}

fn any_need() -> impl Strategy<Value = Need> {
    prop_oneof![
        Just(Need::Submit),
        Just(Need::Generating),
        Just(Need::Nothing)
    ]
}

proptest! {
    /// Driven by any sequence of job events, every line ends exactly once, the lines holding
    /// a slot never exceed the controller's maximum (or the lines already generating), and the
    /// budget is never overcommitted.
    #[test]
    fn every_line_ends_once_within_the_limit_and_the_budget(
        needs in proptest::collection::vec((proptest::option::of(1.0f64..50.0), any_need()), 1..15),
        auto in any::<bool>(),
        max in 1u32..5,
        budget in proptest::option::of(0.0f64..300.0),
        steps in proptest::collection::vec((any::<usize>(), any_step()), 0..300),
    ) {
        let controller = if auto { ConcurrencyController::auto(max) } else { ConcurrencyController::fixed(max) };
        let budget_limit = budget;
        let budget = budget.map_or_else(Budget::unlimited, Budget::limited);
        let mut now = Instant::now();
        let mut s = Scheduler::new(opts(controller, budget), &needs, now);
        let mut running: BTreeSet<usize> = BTreeSet::new();
        let mut finished: Vec<usize> = Vec::new();
        let mut generating: BTreeSet<usize> = BTreeSet::new();
        let mut steps = steps.into_iter();
        for _ in 0..2000 {
            for action in drain(&mut s) {
                match action {
                    Action::Start { line, need } => {
                        prop_assert!(running.insert(line), "started twice");
                        if need == Need::Generating { generating.insert(line); }
                    }
                    Action::Finished { line, .. } => { running.remove(&line); finished.push(line); }
                    Action::SlotRefused { line } | Action::Restarted { line } => { running.remove(&line); }
                    _ => {}
                }
            }
            // Lines already generating on the server occupy slots whatever the limit; new
            // submits only fill what is left.
            prop_assert!(s.in_flight() <= max + generating.len() as u32);
            if let Some(limit) = budget_limit {
                let b = s.budget();
                // Reservations never overcommit (a charge above its estimate may, later).
                prop_assert!(b.reserved() <= limit + 1e-6);
            }
            if s.is_done() { break; }
            // Once the scripted steps run out, every running job simply finishes.
            let (pick, step) = steps.next().unwrap_or((0, Step::EndDone));
            let Some(&line) = running.iter().nth(pick % running.len().max(1)) else {
                now = s.poll_timeout().unwrap_or(now + Duration::from_secs(1));
                s.handle(Input::Timeout, now);
                continue;
            };
            let input = match step {
                Step::Accept => Input::Accepted { line, charged: None },
                Step::Ready => Input::SlotFree { line },
                Step::Watching => Input::Watching { line },
                Step::SlotRefused => Input::SlotRefused { line },
                Step::EndDone => Input::Ended { line, end: done(true), restart: None },
                Step::EndFailed => Input::Ended { line, end: LineEnd::unbilled(LineKind::Failed { class: "x" }), restart: None },
                Step::EndRestartable => Input::Ended { line, end: LineEnd::unbilled(LineKind::StillRunning), restart: Some(Need::Generating) },
            };
            s.handle(input, now);
        }
        prop_assert!(s.is_done(), "the batch never ended");
        finished.sort_unstable();
        prop_assert_eq!(finished, (0..needs.len()).collect::<Vec<_>>());
    }
}
