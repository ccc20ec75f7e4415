//! The job lifecycle: every transition, and properties over any sequence of inputs (the trace-id
//! rule, write-ahead, no second download).

use std::time::{Duration, Instant};

use pixfuse_core::lifecycle::*;
use pixfuse_core::poll::{JobStatus, PollPolicy};
use proptest::prelude::*;
use uuid::Uuid;

const T1: Uuid = Uuid::from_u128(0x1111);
const T2: Uuid = Uuid::from_u128(0x2222);

fn params(goal: Goal) -> Params {
    Params {
        goal,
        poll: PollPolicy::Fixed(Duration::from_secs(2)),
        journal_every: Duration::from_millis(500),
        ..Params::default()
    }
}

fn machine(state: JobState, video_id: Option<u64>) -> Lifecycle {
    Lifecycle::new(state, T1, video_id, params(Goal::Downloaded))
}

fn drain(m: &mut Lifecycle) -> Vec<Action> {
    std::iter::from_fn(|| m.poll_action()).collect()
}

fn start(m: &mut Lifecycle, now: Instant) -> Vec<Action> {
    m.handle(
        Input::Start {
            file_present: false,
            running_for: Duration::ZERO,
        },
        now,
    );
    drain(m)
}

fn persist(from: JobState, to: JobState) -> Action {
    Action::Persist {
        from,
        to,
        trace_id: None,
    }
}

fn observed(status: JobStatus, has_url: bool) -> Input {
    Input::Observed {
        status,
        has_url,
        source: Source::Poll,
    }
}

#[test]
fn a_fresh_job_uploads_then_persists_before_it_submits() {
    let now = Instant::now();
    let mut m = machine(JobState::Planned, None);
    assert_eq!(
        start(&mut m, now),
        [
            persist(JobState::Planned, JobState::Uploading),
            Action::Upload
        ]
    );
    m.handle(Input::Uploaded, now);
    assert_eq!(
        drain(&mut m),
        [
            persist(JobState::Uploading, JobState::Claimed),
            Action::Submit { trace_id: T1 }
        ]
    );
    m.handle(Input::SubmitAccepted { video_id: 9 }, now);
    assert_eq!(
        drain(&mut m),
        [persist(JobState::Claimed, JobState::Submitted)]
    );
    assert_eq!(m.video_id(), Some(9));
    // The first poll waits for the schedule; the journal is checked meanwhile.
    assert_eq!(m.poll_timeout(), Some(now + Duration::from_millis(500)));
}

#[test]
fn polls_follow_the_schedule_and_the_first_generating_answer_is_persisted() {
    let now = Instant::now();
    let mut m = machine(JobState::Submitted, Some(9));
    assert!(start(&mut m, now).is_empty());
    let later = now + Duration::from_secs(2);
    m.handle(Input::Timeout, later);
    assert_eq!(
        drain(&mut m),
        [Action::CheckJournal, Action::Poll { video_id: 9 }]
    );
    m.handle(Input::Timeout, later);
    assert!(drain(&mut m).is_empty(), "no second poll while one is out");
    m.handle(observed(JobStatus::Generating, false), later);
    assert_eq!(
        drain(&mut m),
        [persist(JobState::Submitted, JobState::Generating)]
    );
    m.handle(Input::Timeout, later + Duration::from_secs(2));
    let actions = drain(&mut m);
    assert!(actions.contains(&Action::Poll { video_id: 9 }));
    m.handle(
        observed(JobStatus::Generating, false),
        later + Duration::from_secs(2),
    );
    assert!(
        drain(&mut m).is_empty(),
        "generating again persists nothing"
    );
    assert_eq!(m.polls(), 2);
}

#[test]
fn a_ready_video_is_persisted_then_downloaded() {
    let now = Instant::now();
    let mut m = machine(JobState::Generating, Some(9));
    start(&mut m, now);
    m.handle(observed(JobStatus::Succeeded, true), now);
    assert_eq!(
        drain(&mut m),
        [
            persist(JobState::Generating, JobState::Succeeded),
            Action::Download
        ]
    );
    assert_eq!(m.poll_timeout(), None, "no polling while downloading");
    m.handle(Input::Downloaded, now);
    assert_eq!(
        drain(&mut m),
        [
            persist(JobState::Succeeded, JobState::Downloaded),
            Action::Finish(End::Done)
        ]
    );
}

#[test]
fn succeeded_without_a_url_keeps_waiting() {
    let now = Instant::now();
    let mut m = machine(JobState::Generating, Some(9));
    start(&mut m, now);
    m.handle(observed(JobStatus::Succeeded, false), now);
    assert!(drain(&mut m).is_empty());
    assert!(m.poll_timeout().is_some());
}

#[test]
fn bad_ends_are_persisted_and_finish_for_good() {
    for (status, state) in [
        (JobStatus::Moderated, JobState::Moderated),
        (JobStatus::Failed, JobState::Failed),
        (JobStatus::Deleted, JobState::Deleted),
    ] {
        let now = Instant::now();
        let mut m = machine(JobState::Submitted, Some(9));
        start(&mut m, now);
        m.handle(observed(status, false), now);
        assert_eq!(
            drain(&mut m),
            [
                persist(JobState::Submitted, state),
                Action::Finish(End::FailedForGood(state))
            ]
        );
    }
}

#[test]
fn an_unknown_status_keeps_waiting() {
    let now = Instant::now();
    let mut m = machine(JobState::Generating, Some(9));
    start(&mut m, now);
    m.handle(observed(JobStatus::Unknown(3), false), now);
    assert!(drain(&mut m).is_empty());
    assert!(m.poll_timeout().is_some());
}

#[test]
fn a_status_seen_in_the_journal_ends_the_wait_without_persisting_it_again() {
    let now = Instant::now();
    let mut m = machine(JobState::Generating, Some(9));
    start(&mut m, now);
    m.handle(Input::Timeout, now + Duration::from_millis(500));
    assert_eq!(drain(&mut m), [Action::CheckJournal]);
    m.handle(
        Input::Observed {
            status: JobStatus::Succeeded,
            has_url: true,
            source: Source::Journal,
        },
        now + Duration::from_millis(500),
    );
    assert_eq!(drain(&mut m), [Action::Download]);
    assert_eq!(m.state(), JobState::Succeeded);
    // A journaled bad end is adopted the same way.
    let mut m = machine(JobState::Generating, Some(9));
    start(&mut m, now);
    m.handle(
        Input::Observed {
            status: JobStatus::Moderated,
            has_url: false,
            source: Source::Journal,
        },
        now,
    );
    assert_eq!(
        drain(&mut m),
        [Action::Finish(End::FailedForGood(JobState::Moderated))]
    );
}

/// A fresh submit with a webhook receiver live (or not) from the start.
fn submitted(live: bool, now: Instant) -> Lifecycle {
    let mut p = params(Goal::Downloaded);
    p.receiver.live = live;
    let mut m = Lifecycle::new(JobState::Claimed, T1, None, p);
    start(&mut m, now);
    m.handle(Input::SubmitAccepted { video_id: 9 }, now);
    drain(&mut m);
    m
}

/// The actions due at `at`, after a timeout.
fn at(m: &mut Lifecycle, at: Instant) -> Vec<Action> {
    m.handle(Input::Timeout, at);
    drain(m)
}

#[test]
fn with_a_live_receiver_the_journal_is_read_often_and_the_api_polled_slowly() {
    let now = Instant::now();
    let ms = Duration::from_millis;
    let mut m = submitted(true, now);
    assert_eq!(m.poll_timeout(), Some(now + ms(100)));
    assert_eq!(at(&mut m, now + ms(100)), [Action::CheckJournal]);
    // No poll before the fallback: 59.9 s of journal reads only.
    assert_eq!(at(&mut m, now + ms(59_900)), [Action::CheckJournal]);
    assert_eq!(
        at(&mut m, now + ms(60_000)),
        [Action::CheckJournal, Action::Poll { video_id: 9 }]
    );
    // Without one, the schedule of the policy (every 2 s, journal every 500 ms).
    let mut m = submitted(false, now);
    assert_eq!(at(&mut m, now + ms(500)), [Action::CheckJournal]);
    assert!(at(&mut m, now + ms(2_000)).contains(&Action::Poll { video_id: 9 }));
}

#[test]
fn a_receiver_that_comes_stretches_the_next_poll_and_one_that_goes_restores_it() {
    let now = Instant::now();
    let ms = Duration::from_millis;
    let mut m = submitted(false, now);
    m.handle(Input::Receiver { live: true }, now + ms(10));
    assert!(drain(&mut m).is_empty());
    assert_eq!(at(&mut m, now + ms(2_000)), [Action::CheckJournal]);
    assert_eq!(
        m.poll_timeout(),
        Some(now + ms(2_100)),
        "journal every 100 ms"
    );
    m.handle(Input::Receiver { live: false }, now + ms(3_000));
    assert_eq!(
        m.poll_timeout(),
        Some(now + ms(3_500)),
        "journal every 500 ms again"
    );
    assert_eq!(
        at(&mut m, now + ms(5_000)),
        [Action::CheckJournal, Action::Poll { video_id: 9 }],
        "the next poll on the 2 s schedule"
    );
    // The same news twice changes nothing.
    m.handle(Input::Receiver { live: false }, now + ms(5_001));
    assert!(drain(&mut m).is_empty());
}

#[test]
fn a_callback_in_the_journal_is_persisted_like_a_poll_and_downloads() {
    let now = Instant::now();
    let mut m = submitted(true, now);
    m.handle(
        Input::Observed {
            status: JobStatus::Succeeded,
            has_url: true,
            source: Source::Callback,
        },
        now + Duration::from_millis(100),
    );
    assert_eq!(
        drain(&mut m),
        [
            persist(JobState::Submitted, JobState::Succeeded),
            Action::Download
        ]
    );
    assert_eq!(m.polls(), 0, "no status request was needed");
    let mut m = submitted(true, now);
    m.handle(
        Input::Observed {
            status: JobStatus::Failed,
            has_url: false,
            source: Source::Callback,
        },
        now,
    );
    assert_eq!(
        drain(&mut m),
        [
            persist(JobState::Submitted, JobState::Failed),
            Action::Finish(End::FailedForGood(JobState::Failed))
        ]
    );
}

#[test]
fn a_journaled_generating_does_not_add_a_poll() {
    let now = Instant::now();
    let mut m = machine(JobState::Generating, Some(9));
    start(&mut m, now);
    let before = m.poll_timeout();
    m.handle(
        Input::Observed {
            status: JobStatus::Generating,
            has_url: false,
            source: Source::Journal,
        },
        now,
    );
    assert!(drain(&mut m).is_empty());
    assert_eq!(m.poll_timeout(), before);
}

#[test]
fn the_wait_deadline_ends_with_still_running() {
    let now = Instant::now();
    let mut p = params(Goal::Downloaded);
    p.wait_until = Some(now + Duration::from_secs(1));
    let mut m = Lifecycle::new(JobState::Submitted, T1, Some(9), p);
    start(&mut m, now);
    m.handle(Input::Timeout, now + Duration::from_secs(1));
    assert_eq!(drain(&mut m), [Action::Finish(End::StillRunning)]);
    assert_eq!(m.end(), Some(End::StillRunning));
    assert_eq!(m.poll_timeout(), None);
}

#[test]
fn a_retryable_poll_failure_polls_again_and_another_stops_waiting() {
    let now = Instant::now();
    let mut m = machine(JobState::Submitted, Some(9));
    start(&mut m, now);
    m.handle(Input::Timeout, now + Duration::from_secs(2));
    drain(&mut m);
    m.handle(
        Input::PollFailed { retryable: true },
        now + Duration::from_secs(2),
    );
    assert!(m.poll_timeout().is_some());
    m.handle(Input::Timeout, now + Duration::from_secs(4));
    assert!(drain(&mut m).contains(&Action::Poll { video_id: 9 }));
    m.handle(
        Input::PollFailed { retryable: false },
        now + Duration::from_secs(4),
    );
    assert_eq!(m.poll_timeout(), None);
}

#[test]
fn a_definite_refusal_is_refused_before_billing() {
    let now = Instant::now();
    let mut m = machine(JobState::Claimed, None);
    assert_eq!(start(&mut m, now), [Action::Submit { trace_id: T1 }]);
    m.handle(
        Input::SubmitFailed(SubmitFailure::Refused {
            invalid_image: false,
        }),
        now,
    );
    assert_eq!(
        drain(&mut m),
        [
            persist(JobState::Claimed, JobState::RefusedBeforeBilling),
            Action::Finish(End::Refused)
        ]
    );
    assert_eq!(m.trace_id(), T1);
}

#[test]
fn an_image_the_server_forgot_is_uploaded_again_once_with_a_new_trace_id() {
    let now = Instant::now();
    let mut m = machine(JobState::Claimed, None);
    start(&mut m, now);
    let forgot = Input::SubmitFailed(SubmitFailure::Refused {
        invalid_image: true,
    });
    m.handle(forgot.clone(), now);
    assert_eq!(
        drain(&mut m),
        [
            persist(JobState::Claimed, JobState::RefusedBeforeBilling),
            Action::ForgetUploads,
            Action::NewTraceId
        ]
    );
    m.handle(Input::Restart { trace_id: T2 }, now);
    assert_eq!(
        drain(&mut m),
        [
            Action::Persist {
                from: JobState::RefusedBeforeBilling,
                to: JobState::Uploading,
                trace_id: Some(T2)
            },
            Action::Upload
        ]
    );
    m.handle(Input::Uploaded, now);
    assert_eq!(
        drain(&mut m),
        [
            persist(JobState::Uploading, JobState::Claimed),
            Action::Submit { trace_id: T2 }
        ]
    );
    // Forgotten again: no second automatic attempt.
    m.handle(forgot, now);
    assert_eq!(
        drain(&mut m),
        [
            persist(JobState::Claimed, JobState::RefusedBeforeBilling),
            Action::Finish(End::Refused)
        ]
    );
}

#[test]
fn slot_refusals_and_lost_answers_keep_the_trace_id_for_a_resend() {
    for (failure, end) in [
        (SubmitFailure::SlotRefused, End::SlotRefused),
        (SubmitFailure::Ambiguous, End::Ambiguous),
    ] {
        let now = Instant::now();
        let mut m = machine(JobState::Claimed, None);
        start(&mut m, now);
        m.handle(Input::SubmitFailed(failure), now);
        assert_eq!(drain(&mut m), [Action::Finish(end)]);
        assert_eq!((m.state(), m.trace_id()), (JobState::Claimed, T1));
    }
}

#[test]
fn restart_is_ignored_unless_refused_before_billing() {
    for state in JobState::ALL {
        if state == JobState::RefusedBeforeBilling {
            continue;
        }
        let now = Instant::now();
        let mut m = machine(state, Some(9));
        start(&mut m, now);
        m.handle(Input::Restart { trace_id: T2 }, now);
        assert_eq!(m.trace_id(), T1, "{state:?}");
    }
}

#[test]
fn continuing_a_job_starts_where_the_journal_left_it() {
    let now = Instant::now();
    let cases: [(JobState, Vec<Action>); 4] = [
        (JobState::Uploading, vec![Action::Upload]),
        (
            JobState::RefusedBeforeBilling,
            vec![Action::NewTraceId], // a rerun tries again, with a new trace id
        ),
        (
            JobState::Moderated,
            vec![Action::Finish(End::FailedForGood(JobState::Moderated))],
        ),
        (JobState::Abandoned, vec![Action::Finish(End::Abandoned)]),
    ];
    for (state, expected) in cases {
        let mut m = machine(state, Some(9));
        assert_eq!(start(&mut m, now), expected, "{state:?}");
    }
    // A job on the server for a while is polled at once.
    let mut m = machine(JobState::Generating, Some(9));
    m.handle(
        Input::Start {
            file_present: false,
            running_for: Duration::from_secs(60),
        },
        now,
    );
    assert_eq!(drain(&mut m), [Action::Poll { video_id: 9 }]);
    // `resume` of every job leaves refused ones alone.
    let mut p = params(Goal::Downloaded);
    p.retry_refused = false;
    let mut m = Lifecycle::new(JobState::RefusedBeforeBilling, T1, None, p);
    assert_eq!(start(&mut m, now), [Action::Finish(End::Refused)]);
}

#[test]
fn a_finished_job_is_downloaded_again_only_when_its_file_is_gone() {
    let now = Instant::now();
    let mut m = machine(JobState::Downloaded, Some(9));
    m.handle(
        Input::Start {
            file_present: true,
            running_for: Duration::from_secs(60),
        },
        now,
    );
    assert_eq!(drain(&mut m), [Action::Finish(End::Done)]);

    let mut m = machine(JobState::Downloaded, Some(9));
    assert_eq!(start(&mut m, now), [Action::Poll { video_id: 9 }]);
    m.handle(observed(JobStatus::Succeeded, true), now);
    assert_eq!(drain(&mut m), [Action::Download]);
    m.handle(Input::Downloaded, now);
    assert_eq!(
        drain(&mut m),
        [
            persist(JobState::Downloaded, JobState::Downloaded),
            Action::Finish(End::Done)
        ]
    );
}

#[test]
fn a_succeeded_job_gets_a_fresh_url_before_downloading() {
    let now = Instant::now();
    let mut m = machine(JobState::Succeeded, Some(9));
    assert_eq!(start(&mut m, now), [Action::Poll { video_id: 9 }]);
    m.handle(observed(JobStatus::Succeeded, true), now);
    assert_eq!(drain(&mut m), [Action::Download]);
}

#[test]
fn goals_stop_early() {
    let now = Instant::now();
    let mut m = Lifecycle::new(JobState::Claimed, T1, None, params(Goal::Submitted));
    start(&mut m, now);
    m.handle(Input::SubmitAccepted { video_id: 9 }, now);
    assert_eq!(
        drain(&mut m),
        [
            persist(JobState::Claimed, JobState::Submitted),
            Action::Finish(End::Done)
        ]
    );
    let mut m = Lifecycle::new(JobState::Generating, T1, Some(9), params(Goal::Ready));
    start(&mut m, now);
    m.handle(observed(JobStatus::Succeeded, true), now);
    assert_eq!(
        drain(&mut m),
        [
            persist(JobState::Generating, JobState::Succeeded),
            Action::Finish(End::Done)
        ]
    );
}

#[test]
fn nothing_happens_after_the_end() {
    let now = Instant::now();
    let mut m = machine(JobState::Failed, Some(9));
    start(&mut m, now);
    m.handle(observed(JobStatus::Succeeded, true), now);
    m.handle(Input::Timeout, now);
    assert!(drain(&mut m).is_empty());
}

// ---- properties -------------------------------------------------------------------------

fn any_state() -> impl Strategy<Value = JobState> {
    proptest::sample::select(JobState::ALL.to_vec())
}

fn any_status() -> impl Strategy<Value = JobStatus> {
    prop_oneof![
        Just(JobStatus::Succeeded),
        Just(JobStatus::Generating),
        Just(JobStatus::Deleted),
        Just(JobStatus::Moderated),
        Just(JobStatus::Failed),
        (-2i64..12).prop_map(JobStatus::from_code),
    ]
}

fn any_failure() -> impl Strategy<Value = SubmitFailure> {
    prop_oneof![
        any::<bool>().prop_map(|invalid_image| SubmitFailure::Refused { invalid_image }),
        Just(SubmitFailure::SlotRefused),
        Just(SubmitFailure::Ambiguous),
    ]
}

fn any_input() -> impl Strategy<Value = Input> {
    prop_oneof![
        (any::<bool>(), 0u64..120).prop_map(|(file_present, s)| Input::Start {
            file_present,
            running_for: Duration::from_secs(s)
        }),
        Just(Input::Uploaded),
        (1u64..5).prop_map(|video_id| Input::SubmitAccepted { video_id }),
        any_failure().prop_map(Input::SubmitFailed),
        any::<u128>().prop_map(|t| Input::Restart {
            trace_id: Uuid::from_u128(t)
        }),
        (
            any_status(),
            any::<bool>(),
            proptest::sample::select(vec![Source::Poll, Source::Journal, Source::Callback])
        )
            .prop_map(|(status, has_url, source)| Input::Observed {
                status,
                has_url,
                source
            }),
        any::<bool>().prop_map(|retryable| Input::PollFailed { retryable }),
        any::<bool>().prop_map(|live| Input::Receiver { live }),
        Just(Input::Downloaded),
        Just(Input::Timeout),
    ]
}

/// Feeds `inputs` (with time advancing `step_ms` each) and returns, per input, the state and
/// trace id before it, the actions it produced, and the trace id after it.
fn run(
    mut m: Lifecycle,
    inputs: Vec<Input>,
    step_ms: u64,
) -> Vec<(JobState, Uuid, Vec<Action>, Uuid)> {
    let mut now = Instant::now();
    let mut log = Vec::new();
    for input in inputs {
        let (state, trace) = (m.state(), m.trace_id());
        m.handle(input, now);
        log.push((state, trace, drain(&mut m), m.trace_id()));
        now += Duration::from_millis(step_ms);
    }
    log
}

proptest! {
    /// A trace id that may have reached the server is never replaced: the only change of trace
    /// id happens in `refused_before_billing` (a definite refusal that billed nothing), and it
    /// is persisted together with the state change before anything is sent with it.
    #[test]
    fn a_trace_id_changes_only_after_a_definite_refusal(
        state in any_state(),
        video in proptest::option::of(1u64..5),
        inputs in proptest::collection::vec(any_input(), 0..60),
        step in 0u64..3000,
    ) {
        let m = Lifecycle::new(state, T1, video, params(Goal::Downloaded));
        for (before, trace_before, actions, trace_after) in run(m, inputs, step) {
            if trace_after != trace_before {
                prop_assert_eq!(before, JobState::RefusedBeforeBilling);
                prop_assert_eq!(
                    actions.first(),
                    Some(&Action::Persist {
                        from: JobState::RefusedBeforeBilling,
                        to: JobState::Uploading,
                        trace_id: Some(trace_after),
                    })
                );
            }
        }
    }

    /// Write-ahead: every submit carries the current trace id and is sent while the journal
    /// holds the job as claimed with it.
    #[test]
    fn every_submit_follows_a_durable_claim(
        state in any_state(),
        inputs in proptest::collection::vec(any_input(), 0..60),
    ) {
        let m = Lifecycle::new(state, T1, None, params(Goal::Downloaded));
        let mut durable = (state, T1);
        for (_, _, actions, _) in run(m, inputs, 700) {
            for action in actions {
                match action {
                    Action::Persist { to, trace_id, .. } => {
                        durable = (to, trace_id.unwrap_or(durable.1));
                    }
                    Action::Submit { trace_id } => {
                        prop_assert_eq!(durable, (JobState::Claimed, trace_id));
                    }
                    _ => {}
                }
            }
        }
    }

    /// A downloaded job is never downloaded again unless its file is gone.
    #[test]
    fn a_downloaded_job_is_downloaded_again_only_when_its_file_is_gone(
        state in any_state(),
        video in proptest::option::of(1u64..5),
        inputs in proptest::collection::vec(any_input(), 0..60),
    ) {
        let m = Lifecycle::new(state, T1, video, params(Goal::Downloaded));
        for (actions, downloaded_with_file) in run_tracking(m, inputs) {
            prop_assert!(
                !(actions.contains(&Action::Download) && downloaded_with_file),
                "downloaded again although the file is there: {:?}", actions
            );
        }
    }

    /// Whatever happens, the machine ends at most once and is silent afterwards.
    #[test]
    fn the_end_is_final(
        state in any_state(),
        inputs in proptest::collection::vec(any_input(), 0..60),
    ) {
        let m = Lifecycle::new(state, T1, Some(1), params(Goal::Downloaded));
        let mut ended = false;
        for (_, _, actions, _) in run(m, inputs, 500) {
            prop_assert!(!ended || actions.is_empty(), "acted after the end: {:?}", actions);
            let finishes = actions.iter().filter(|a| matches!(a, Action::Finish(_))).count();
            prop_assert!(finishes <= 1);
            ended |= finishes == 1;
        }
    }
}

/// Like [`run`], pairing each input's actions with whether the job was, before that input,
/// downloaded with its file present: at the start (a `Downloaded` state started with its file)
/// or after a download the machine recorded.
fn run_tracking(mut m: Lifecycle, inputs: Vec<Input>) -> Vec<(Vec<Action>, bool)> {
    let mut now = Instant::now();
    let mut downloaded_with_file = false;
    let mut started = false;
    let mut log = Vec::new();
    for input in inputs {
        if let Input::Start { file_present, .. } = &input
            && !started
        {
            started = true;
            downloaded_with_file = m.state() == JobState::Downloaded && *file_present;
        }
        m.handle(input, now);
        let actions = drain(&mut m);
        let recorded = actions.iter().any(|a| {
            matches!(
                a,
                Action::Persist {
                    to: JobState::Downloaded,
                    ..
                }
            )
        });
        log.push((actions, downloaded_with_file));
        downloaded_with_file |= recorded;
        now += Duration::from_millis(400);
    }
    log
}
