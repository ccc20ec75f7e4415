//! The journal's tests. `conformance` holds what every [`Store`] must do (claims, leases,
//! takeover, states, the upload cache), written against `&dyn Store` so another storage runs
//! the same suite; the rest is about the SQLite file itself (modes, WAL, migrations).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use pixfuse_core::lifecycle::{JobState, Owner};
use pixfuse_core::poll::JobStatus;
use rusqlite::Connection;
use uuid::Uuid;

use super::*;

pub(crate) const REQ: &str = r#"{"image_references":[{"type":"subject","img_id":1,"ref_name":"dog"}],"prompt":"@dog runs","model":"v5","duration":5,"quality":"540p","aspect_ratio":"16:9","seed":3}"#;
const ORIGIN: &str = "http://127.0.0.1:1";

pub(crate) fn open(dir: &Path) -> Arc<dyn Store> {
    Arc::new(SqliteStore::open_in(dir).unwrap())
}

pub(crate) fn me() -> Owner {
    this_process(Uuid::new_v4())
}

pub(crate) fn claim_request(identity: &str, owner: &Owner, output: Option<&Path>) -> ClaimRequest {
    ClaimRequest {
        identity: identity.to_owned(),
        origin: ORIGIN.to_owned(),
        provider: "pixverse".to_owned(),
        base_url: ORIGIN.to_owned(),
        form: Some(REQ.to_owned()),
        output: output.map(Path::to_owned),
        trace_id: Uuid::new_v4(),
        owner: owner.clone(),
        lease: Duration::from_secs(30),
        fresh: Fresh::Continue,
        force: false,
    }
}

fn step(from: JobState, to: JobState) -> Transition {
    Transition {
        from: Some(from),
        to: Some(to),
        ..Transition::default()
    }
}

/// A job taken along the happy path to `target` (or to a bad end from `generating`).
pub(crate) async fn fixture_job(
    store: &Arc<dyn Store>,
    target: JobState,
    video_id: Option<u64>,
    output: Option<&Path>,
) -> JobRecord {
    let owner = me();
    let mut job = fixture_job_of(store, &owner, target, video_id, output).await;
    store.release(job.id, &owner.instance).await.unwrap();
    job.claim = None;
    job
}

/// [`fixture_job`], still claimed by `owner`.
pub(crate) async fn fixture_job_of(
    store: &Arc<dyn Store>,
    owner: &Owner,
    target: JobState,
    video_id: Option<u64>,
    output: Option<&Path>,
) -> JobRecord {
    let ClaimOutcome::New { mut job, .. } = store
        .claim(claim_request(&Uuid::new_v4().to_string(), owner, output))
        .await
        .unwrap()
    else {
        panic!("a fresh identity makes a new job")
    };
    let path = [
        JobState::Uploading,
        JobState::Claimed,
        JobState::Submitted,
        JobState::Generating,
    ];
    let end = match target {
        JobState::Downloaded => vec![JobState::Succeeded, JobState::Downloaded],
        t if path.contains(&t) || t == JobState::Planned => vec![],
        t => vec![t],
    };
    for to in path.into_iter().chain(end) {
        if job.state == target {
            break;
        }
        let mut change = step(job.state, to);
        match to {
            JobState::Claimed => change.request = Some(REQ.to_owned()),
            JobState::Submitted => {
                change.video_id = video_id.or(Some(1));
                change.credits = Some(45);
            }
            JobState::Succeeded => {
                change.status = Some(JobStatus::Succeeded);
                change.url = Some("https://cdn/v.mp4".to_owned());
                change.credits = Some(60);
            }
            JobState::Downloaded => change.output = output.map(Path::to_owned),
            bad => change.status = bad.status(),
        }
        job = store
            .transition(job.id, &owner.instance, change)
            .await
            .unwrap();
    }
    job
}

/// What every storage must do: one suite, run over each store (`$open` makes a fresh, empty
/// one; `$off` says the store is switched off here, and its tests then say so and pass).
macro_rules! conformance_suite {
    ($name:ident, $open:path, $off:path) => {
        mod $name {
            use super::*;

            fn open(dir: &Path) -> Arc<dyn Store> {
                $open(dir)
            }

            fn scratch() -> Option<tempfile::TempDir> {
                if $off() {
                    return None;
                }
                Some(tempfile::tempdir().unwrap())
            }


        #[tokio::test]
        async fn a_claim_makes_a_planned_job_and_a_second_claim_finds_it() {
            let Some(dir) = scratch() else { return };
            let store = open(dir.path());
            let owner = me();
            let first = claim_request("k", &owner, None);
            let trace = first.trace_id;
            let ClaimOutcome::New { job, .. } = store.claim(first).await.unwrap() else {
                panic!()
            };
            assert_eq!((job.state, job.trace_id), (JobState::Planned, trace));
            assert_eq!(job.form.as_deref(), Some(REQ));
            assert_eq!(job.claim.as_ref().unwrap().owner, owner);
            // The same owner again (a retry in the same process): its own job, same trace id.
            let ClaimOutcome::Existing {
                job: again,
                took_over,
            } = store.claim(claim_request("k", &owner, None)).await.unwrap()
            else {
                panic!()
            };
            assert_eq!((again.id, again.trace_id, took_over), (job.id, trace, None));
        }

        #[tokio::test]
        async fn a_live_owner_holds_its_job_and_a_gone_one_is_taken_over_with_the_same_trace_id() {
            let Some(dir) = scratch() else { return };
            let store = open(dir.path());
            let (a, b) = (me(), me());
            let ClaimOutcome::New { job, .. } =
                store.claim(claim_request("k", &a, None)).await.unwrap()
            else {
                panic!()
            };
            // `a` is this very process: alive.
            let ClaimOutcome::Held { owner, .. } =
                store.claim(claim_request("k", &b, None)).await.unwrap()
            else {
                panic!("a live owner must hold its job")
            };
            assert_eq!(owner, a);
            // The claim as a process that is gone left it (its pid now has another start time).
            let gone = Owner {
                start: "another-boot:1".into(),
                ..a.clone()
            };
            store.release(job.id, &a.instance).await.unwrap();
            let ClaimOutcome::Existing { .. } = store
                .claim_job(job.id, &gone, Duration::from_secs(30))
                .await
                .unwrap()
            else {
                panic!()
            };
            let ClaimOutcome::Existing {
                job: mine,
                took_over,
            } = store.claim(claim_request("k", &b, None)).await.unwrap()
            else {
                panic!("a gone owner's claim expires at once")
            };
            assert_eq!(took_over, Some(gone));
            assert_eq!((mine.id, mine.trace_id), (job.id, job.trace_id));
        }

        #[tokio::test]
        async fn another_hosts_claim_holds_until_its_lease_runs_out() {
            let Some(dir) = scratch() else { return };
            let store = open(dir.path());
            let remote = Owner {
                host: "elsewhere".into(),
                ..me()
            };
            let mut req = claim_request("k", &remote, None);
            req.lease = Duration::from_millis(300);
            store.claim(req).await.unwrap();
            let b = me();
            assert!(matches!(
                store.claim(claim_request("k", &b, None)).await.unwrap(),
                ClaimOutcome::Held { .. }
            ));
            tokio::time::sleep(Duration::from_millis(350)).await;
            assert!(matches!(
                store.claim(claim_request("k", &b, None)).await.unwrap(),
                ClaimOutcome::Existing {
                    took_over: Some(_),
                    ..
                }
            ));
        }

        #[tokio::test]
        async fn a_renewed_lease_keeps_holding_and_a_released_claim_is_free() {
            let Some(dir) = scratch() else { return };
            let store = open(dir.path());
            let remote = Owner {
                host: "elsewhere".into(),
                ..me()
            };
            let mut req = claim_request("k", &remote, None);
            req.lease = Duration::from_millis(200);
            let ClaimOutcome::New { job, .. } = store.claim(req).await.unwrap() else {
                panic!()
            };
            tokio::time::sleep(Duration::from_millis(120)).await;
            assert_eq!(
                store
                    .renew(&remote.instance, &[job.id, 999], Duration::from_millis(300))
                    .await
                    .unwrap(),
                1
            );
            tokio::time::sleep(Duration::from_millis(120)).await;
            let b = me();
            assert!(matches!(
                store.claim(claim_request("k", &b, None)).await.unwrap(),
                ClaimOutcome::Held { .. }
            ));
            assert_eq!(store.release_all(&remote.instance).await.unwrap(), 1);
            assert!(store.job(job.id).await.unwrap().unwrap().claim.is_none());
            assert!(matches!(
                store.claim(claim_request("k", &b, None)).await.unwrap(),
                ClaimOutcome::Existing {
                    took_over: None,
                    ..
                }
            ));
        }

        #[tokio::test]
        async fn only_the_owner_moves_a_job_and_only_from_the_state_it_expects() {
            let Some(dir) = scratch() else { return };
            let store = open(dir.path());
            let (a, b) = (me(), me());
            let ClaimOutcome::New { job, .. } =
                store.claim(claim_request("k", &a, None)).await.unwrap()
            else {
                panic!()
            };
            let err = store
                .transition(
                    job.id,
                    &b.instance,
                    step(JobState::Planned, JobState::Uploading),
                )
                .await
                .unwrap_err();
            assert!(matches!(err, JournalError::ClaimLost { .. }), "{err}");
            let err = store
                .transition(
                    job.id,
                    &a.instance,
                    step(JobState::Claimed, JobState::Submitted),
                )
                .await
                .unwrap_err();
            assert!(
                matches!(
                    err,
                    JournalError::Conflict {
                        expected: JobState::Claimed,
                        found: JobState::Planned,
                        ..
                    }
                ),
                "{err}"
            );
            let moved = store
                .transition(
                    job.id,
                    &a.instance,
                    step(JobState::Planned, JobState::Uploading),
                )
                .await
                .unwrap();
            assert_eq!(moved.state, JobState::Uploading);
        }

        #[tokio::test]
        async fn a_trace_id_changes_only_after_a_refusal_before_billing() {
            let Some(dir) = scratch() else { return };
            let store = open(dir.path());
            let a = me();
            let job = fixture_job(&store, JobState::Claimed, None, None).await;
            let ClaimOutcome::Existing { job, .. } = store
                .claim_job(job.id, &a, Duration::from_secs(30))
                .await
                .unwrap()
            else {
                panic!()
            };
            let mut change = step(JobState::Claimed, JobState::Uploading);
            change.trace_id = Some(Uuid::new_v4());
            assert!(store.transition(job.id, &a.instance, change).await.is_err());
            let mut refused = step(JobState::Claimed, JobState::RefusedBeforeBilling);
            refused.error = Some(Some("invalid image id (ErrCode 400032)".into()));
            store
                .transition(job.id, &a.instance, refused)
                .await
                .unwrap();
            let fresh = Uuid::new_v4();
            let mut change = step(JobState::RefusedBeforeBilling, JobState::Uploading);
            change.trace_id = Some(fresh);
            let again = store.transition(job.id, &a.instance, change).await.unwrap();
            assert_eq!((again.trace_id, again.state), (fresh, JobState::Uploading));
            assert!(again.last_error.is_some());
        }

        #[tokio::test]
        async fn the_happy_path_records_every_fact_and_big_ids_exactly() {
            let Some(dir) = scratch() else { return };
            let store = open(dir.path());
            let out = dir.path().join("v.mp4");
            let job = fixture_job(&store, JobState::Downloaded, Some(u64::MAX - 1), Some(&out)).await;
            assert_eq!(job.state, JobState::Downloaded);
            assert_eq!(job.video_id, Some(u64::MAX - 1));
            assert_eq!(job.request.as_deref(), Some(REQ));
            assert_eq!(
                job.request_hash.as_deref(),
                Some(request_hash(REQ).as_str())
            );
            assert_eq!(
                (job.credits, job.status),
                (Some(60), Some(JobStatus::Succeeded))
            );
            assert_eq!(job.output_path.as_deref(), Some(out.as_path()));
            assert!(job.submitted_ms.is_some() && job.finished_ms.is_some());
            assert!(job.downloaded_ms.is_some());
            assert_eq!(job.sent_job().unwrap().seed, Some(3));
            let found = store
                .job_by_video(ORIGIN, u64::MAX - 1)
                .await
                .unwrap()
                .unwrap();
            assert_eq!(found.id, job.id);
            assert!(
                store
                    .job_by_video("https://other", u64::MAX - 1)
                    .await
                    .unwrap()
                    .is_none()
            );
            // The file is gone: it needs a resume (a download only); so does a missing sidecar.
            assert!(job.needs_resume());
            std::fs::write(&out, b"v").unwrap();
            assert!(job.needs_resume());
            std::fs::write(crate::sidecar::sidecar_path(&out), b"{}").unwrap();
            assert!(!job.needs_resume());
        }

        #[tokio::test]
        async fn new_and_retry_failed_make_a_new_job_and_keep_the_old_one() {
            let Some(dir) = scratch() else { return };
            let store = open(dir.path());
            let a = me();
            let failed = fixture_job(&store, JobState::Moderated, None, None).await;
            let identity = failed.identity.clone().unwrap();
            // Continue: the failed job itself.
            let ClaimOutcome::Existing { job, .. } = store
                .claim(claim_request(&identity, &a, None))
                .await
                .unwrap()
            else {
                panic!()
            };
            assert_eq!(job.id, failed.id);
            store.release(job.id, &a.instance).await.unwrap();
            let mut retry = claim_request(&identity, &a, None);
            retry.fresh = Fresh::RetryFailed;
            let ClaimOutcome::New {
                job, superseded, ..
            } = store.claim(retry).await.unwrap()
            else {
                panic!()
            };
            assert_ne!(job.trace_id, failed.trace_id);
            assert_eq!(superseded.map(|s| s.id), Some(failed.id));
            let old = store.job(failed.id).await.unwrap().unwrap();
            assert_eq!((old.state, old.identity), (JobState::Moderated, None));
            // RetryFailed continues a job that did not fail.
            let mut retry = claim_request(&identity, &a, None);
            retry.fresh = Fresh::RetryFailed;
            assert!(matches!(
                store.claim(retry).await.unwrap(),
                ClaimOutcome::Existing { .. }
            ));
            let mut new = claim_request(&identity, &a, None);
            new.fresh = Fresh::New;
            let ClaimOutcome::New { job: newest, .. } = store.claim(new).await.unwrap() else {
                panic!()
            };
            assert!(newest.id > job.id);
        }

        #[tokio::test]
        async fn an_output_of_an_unfinished_job_is_refused_unless_forced() {
            let Some(dir) = scratch() else { return };
            let store = open(dir.path());
            let out = dir.path().join("clip.mp4");
            let busy = fixture_job(&store, JobState::Generating, Some(9), Some(&out)).await;
            let a = me();
            let ClaimOutcome::OutputTaken { holder } = store
                .claim(claim_request("other", &a, Some(&out)))
                .await
                .unwrap()
            else {
                panic!("two unfinished jobs must not share a file")
            };
            assert_eq!(holder.id, busy.id);
            let mut forced = claim_request("other", &a, Some(&out));
            forced.force = true;
            let ClaimOutcome::New { job, abandoned, .. } = store.claim(forced).await.unwrap() else {
                panic!()
            };
            assert_eq!(
                abandoned.iter().map(|j| j.id).collect::<Vec<_>>(),
                [busy.id]
            );
            let old = store.job(busy.id).await.unwrap().unwrap();
            assert_eq!(old.state, JobState::Abandoned);
            // A finished older job does not block; a newer writer is found for the old one.
            let done = fixture_job(
                &store,
                JobState::Downloaded,
                Some(3),
                Some(&dir.path().join("x.mp4")),
            )
            .await;
            assert!(matches!(
                store
                    .claim(claim_request("third", &a, Some(&dir.path().join("x.mp4"))))
                    .await
                    .unwrap(),
                ClaimOutcome::New { .. }
            ));
            assert!(
                store
                    .newer_writer(&dir.path().join("x.mp4"), done.id)
                    .await
                    .unwrap()
                    .is_some()
            );
            assert!(store.newer_writer(&out, job.id).await.unwrap().is_none());
        }

        #[tokio::test]
        async fn forgetting_refuses_a_job_that_may_still_generate_unless_forced() {
            let Some(dir) = scratch() else { return };
            let store = open(dir.path());
            let me = me();
            let busy = fixture_job(&store, JobState::Generating, Some(9), None).await;
            let done = fixture_job(&store, JobState::Failed, Some(8), None).await;
            let answers = store
                .forget(&[busy.id, done.id, 999], false, &me)
                .await
                .unwrap();
            assert!(matches!(&answers[0], Err(ForgetRefusal::Unfinished(j)) if j.id == busy.id));
            assert!(answers[1].is_ok());
            assert_eq!(answers[2], Err(ForgetRefusal::Missing));
            assert!(store.job(done.id).await.unwrap().is_none());
            let answers = store.forget(&[busy.id], true, &me).await.unwrap();
            assert!(answers[0].is_ok());
            assert!(store.jobs().await.unwrap().is_empty());
        }

        #[tokio::test]
        async fn uploads_are_cached_per_origin_and_can_be_forgotten() {
            let Some(dir) = scratch() else { return };
            let store = open(dir.path());
            let up = |n: u8, img_id| UploadRecord {
                sha256: format!("{n:02x}").repeat(32),
                media_type: MediaType::Image,
                img_id,
                img_url: Some("https://cdn/i.png".into()),
            };
            let image = MediaType::Image;
            assert_eq!(store.upload("a", &up(1, 1).sha256, image).await.unwrap(), None);
            store
                .record_upload("a", &up(1, u64::MAX), 10)
                .await
                .unwrap();
            store
                .record_upload("a", &up(1, u64::MAX), 10)
                .await
                .unwrap();
            store.record_upload("a", &up(2, 20), 10).await.unwrap();
            store
                .record_upload("b", &up(1, u64::MAX), 10)
                .await
                .unwrap();
            assert_eq!(
                store.upload("a", &up(1, 1).sha256, image).await.unwrap(),
                Some(up(1, u64::MAX))
            );
            assert_eq!(store.forget_uploads("a", &[u64::MAX, 7]).await.unwrap(), 1);
            assert_eq!(store.upload("a", &up(1, 1).sha256, image).await.unwrap(), None);
            assert!(store.upload("a", &up(2, 1).sha256, image).await.unwrap().is_some());
            assert!(store.upload("b", &up(1, 1).sha256, image).await.unwrap().is_some());
        }

        #[tokio::test]
        async fn a_video_s_media_id_is_never_taken_for_an_img_id() {
            let Some(dir) = scratch() else { return };
            let store = open(dir.path());
            let video = UploadRecord {
                sha256: "ab".repeat(32),
                media_type: MediaType::Video,
                img_id: u64::MAX - 1,
                img_url: Some("https://cdn/v.mp4".into()),
            };
            store.record_upload("a", &video, 100 << 20).await.unwrap();
            let found = store.upload("a", &video.sha256, MediaType::Video).await;
            assert_eq!(found.unwrap(), Some(video.clone()));
            let as_image = store.upload("a", &video.sha256, MediaType::Image).await;
            assert_eq!(as_image.unwrap(), None);
            // An invalid img_id (400032) forgets images only.
            assert_eq!(store.forget_uploads("a", &[video.img_id]).await.unwrap(), 0);
            let kept = store.upload("a", &video.sha256, MediaType::Video).await;
            assert!(kept.unwrap().is_some());
        }

        #[tokio::test]
        async fn a_changed_batch_line_is_told_apart() {
            let Some(dir) = scratch() else { return };
            let store = open(dir.path());
            let a = me();
            store.claim(claim_request("line", &a, None)).await.unwrap();
            let lines = |hash: &str| {
                vec![
                    ("line".to_owned(), hash.to_owned()),
                    ("new".to_owned(), "x".to_owned()),
                ]
            };
            assert_eq!(
                store.check_batch_lines(lines("h1")).await.unwrap(),
                [true, true]
            );
            assert_eq!(
                store.check_batch_lines(lines("h1")).await.unwrap(),
                [true, true]
            );
            assert_eq!(
                store.check_batch_lines(lines("h2")).await.unwrap(),
                [false, true]
            );
        }

        #[tokio::test]
        async fn jobs_are_listed_newest_first_and_unknown_ones_are_a_clear_error() {
            let Some(dir) = scratch() else { return };
            let store = open(dir.path());
            let a = fixture_job(&store, JobState::Claimed, None, None).await;
            let b = fixture_job(&store, JobState::Planned, None, None).await;
            let ids: Vec<i64> = store.jobs().await.unwrap().iter().map(|j| j.id).collect();
            assert_eq!(ids, [b.id, a.id]);
            let journal = Journal { store };
            let ids: Vec<i64> = journal
                .unfinished()
                .await
                .unwrap()
                .iter()
                .map(|j| j.id)
                .collect();
            assert_eq!(ids, [a.id, b.id]);
            let err = journal.job(99).await.unwrap_err();
            assert!(err.to_string().contains("pixfuse jobs"), "{err}");
        }

        fn callback(video_id: u64, status: JobStatus, nonce: &str) -> NewCallback {
            NewCallback {
                record: CallbackRecord {
                    origin: ORIGIN.to_owned(),
                    video_id,
                    status,
                    url: (status == JobStatus::Succeeded).then(|| "https://cdn/cb.mp4".to_owned()),
                    credits: Some(45),
                    job_id: None,
                    deliveries: 1,
                    signed_as: "form_encoded".to_owned(),
                    trace_id: Some("t".to_owned()),
                    body: format!(r#"{{"id":"{video_id}","status":{}}}"#, status.code()),
                    received_ms: now_ms(),
                },
                nonce: nonce.to_owned(),
                nonce_expires_ms: now_ms() + 300_000,
            }
        }

        #[tokio::test]
        async fn a_callback_is_recorded_once_deduplicated_and_its_nonce_never_replays() {
            let Some(dir) = scratch() else { return };
            let store = open(dir.path());
            let receiver = me();
            // An unknown video: recorded, not refused.
            let first = store
                .record_callback(&callback(77, JobStatus::Succeeded, "n1"), &receiver)
                .await
                .unwrap();
            assert_eq!(
                first,
                Recorded::New {
                    job: None,
                    moved: false
                }
            );
            // The same event in a fresh delivery: a duplicate, counted.
            let again = store
                .record_callback(&callback(77, JobStatus::Succeeded, "n2"), &receiver)
                .await
                .unwrap();
            assert_eq!(again, Recorded::Duplicate { job: None });
            // Either delivery replayed: refused, nothing written.
            for nonce in ["n1", "n2"] {
                let replay = store
                    .record_callback(&callback(78, JobStatus::Failed, nonce), &receiver)
                    .await
                    .unwrap();
                assert_eq!(replay, Recorded::ReplayedNonce);
            }
            let all = store.callbacks().await.unwrap();
            assert_eq!(all.len(), 1);
            assert_eq!((all[0].video_id, all[0].deliveries), (77, 2));
            // An expired nonce is forgotten (its timestamp is refused by the window by then).
            let mut old = callback(79, JobStatus::Failed, "n3");
            old.nonce_expires_ms = now_ms() - 1;
            store.record_callback(&old, &receiver).await.unwrap();
            let reused = store
                .record_callback(&callback(80, JobStatus::Failed, "n3"), &receiver)
                .await
                .unwrap();
            assert!(matches!(reused, Recorded::New { .. }), "{reused:?}");
        }

        #[tokio::test]
        async fn a_callback_ends_a_job_nobody_drives_and_leaves_a_driven_one_to_its_owner() {
            let Some(dir) = scratch() else { return };
            let store = open(dir.path());
            let receiver = me();
            let idle = fixture_job(&store, JobState::Generating, Some(11), None).await;
            let Recorded::New { job, moved } = store
                .record_callback(&callback(11, JobStatus::Succeeded, "a"), &receiver)
                .await
                .unwrap()
            else {
                panic!()
            };
            let job = job.unwrap();
            assert!(moved);
            assert_eq!((job.id, job.state), (idle.id, JobState::Succeeded));
            assert_eq!(job.url.as_deref(), Some("https://cdn/cb.mp4"));
            assert_eq!(job.status, Some(JobStatus::Succeeded));
            assert!(job.finished_ms.is_some());

            // A job a live process is driving: the event is recorded, the job is its owner's.
            let driven = fixture_job(&store, JobState::Generating, Some(12), None).await;
            let owner = me();
            let ClaimOutcome::Existing { .. } = store
                .claim_job(driven.id, &owner, Duration::from_secs(30))
                .await
                .unwrap()
            else {
                panic!()
            };
            let Recorded::New { job, moved } = store
                .record_callback(&callback(12, JobStatus::Failed, "b"), &receiver)
                .await
                .unwrap()
            else {
                panic!()
            };
            assert!(!moved);
            assert_eq!(job.unwrap().state, JobState::Generating);
            let watch = store.watch(Some(driven.id), ORIGIN, None, 0).await.unwrap();
            let seen = watch.callback.unwrap();
            assert_eq!(
                (seen.status, seen.job_id),
                (JobStatus::Failed, Some(driven.id))
            );
            assert_eq!(watch.job.unwrap().id, driven.id);

            // A job that ended already keeps its end; a "succeeded" without a URL moves nothing.
            let done = fixture_job(&store, JobState::Failed, Some(13), None).await;
            let Recorded::New { moved, .. } = store
                .record_callback(&callback(13, JobStatus::Succeeded, "c"), &receiver)
                .await
                .unwrap()
            else {
                panic!()
            };
            assert!(!moved);
            assert_eq!(
                store.job(done.id).await.unwrap().unwrap().state,
                JobState::Failed
            );
            fixture_job(&store, JobState::Generating, Some(14), None).await;
            let mut no_url = callback(14, JobStatus::Succeeded, "d");
            no_url.record.url = None;
            let Recorded::New { moved, .. } = store.record_callback(&no_url, &receiver).await.unwrap()
            else {
                panic!()
            };
            assert!(!moved);
        }

        #[tokio::test]
        async fn a_callback_before_its_video_id_is_journaled_is_found_by_the_video_id_later() {
            let Some(dir) = scratch() else { return };
            let store = open(dir.path());
            store
                .record_callback(&callback(21, JobStatus::Succeeded, "e"), &me())
                .await
                .unwrap();
            let job = fixture_job(&store, JobState::Generating, Some(21), None).await;
            let watch = store.watch(Some(job.id), ORIGIN, None, 0).await.unwrap();
            assert_eq!(watch.callback.unwrap().job_id, None);
            // A video the journal never knows (`pixfuse wait ID`) is watched by its id.
            let watch = store.watch(None, ORIGIN, Some(21), 0).await.unwrap();
            assert!(watch.job.is_none() && watch.callback.is_some());
            // Another origin's callbacks are not this job's.
            let watch = store
                .watch(None, "http://elsewhere", Some(21), 0)
                .await
                .unwrap();
            assert!(watch.callback.is_none());
        }

        #[tokio::test]
        async fn a_receiver_is_live_while_its_heartbeat_is_fresh_and_until_it_stops() {
            let Some(dir) = scratch() else { return };
            let store = open(dir.path());
            let owner = me();
            let live = |since| {
                let store = Arc::clone(&store);
                async move {
                    store
                        .watch(None, ORIGIN, None, since)
                        .await
                        .unwrap()
                        .receiver_live
                }
            };
            assert!(!live(0).await);
            let beat = ReceiverBeat {
                owner: owner.clone(),
                origin: ORIGIN.to_owned(),
                listen: "127.0.0.1:8788".to_owned(),
                started_ms: now_ms(),
            };
            store.beat(&beat).await.unwrap();
            store.beat(&beat).await.unwrap();
            assert!(live(now_ms() - 3_000).await);
            assert!(
                !live(now_ms() + 1_000).await,
                "a beat older than the window is stale"
            );
            let other = store
                .watch(None, "http://elsewhere", None, 0)
                .await
                .unwrap();
            assert!(!other.receiver_live, "a receiver serves its origin only");
            store.receiver_stopped(&owner.instance).await.unwrap();
            assert!(!live(0).await);
        }

        /// N workers together never hold more than the account's limit; a dead worker's slot
        /// comes back when its lease runs out, a held one is kept on takeover.
        #[tokio::test]
        async fn account_slots_cap_every_worker_together_and_expire_with_their_lease() {
            let Some(dir) = scratch() else { return };
            let store = open(dir.path());
            let workers: Vec<Owner> = (0..4)
                .map(|i| Owner {
                    host: format!("worker-{i}"),
                    ..me()
                })
                .collect();
            let mut tasks = Vec::new();
            for job in 0..12i64 {
                let (store, owner) = (Arc::clone(&store), workers[job as usize % 4].clone());
                tasks.push(tokio::spawn(async move {
                    let got = store
                        .acquire_slot("acct", 3, job, &owner, Duration::from_secs(30))
                        .await
                        .unwrap();
                    got.then_some(job)
                }));
            }
            let mut holders = Vec::new();
            for task in tasks {
                holders.extend(task.await.unwrap());
            }
            assert_eq!(holders.len(), 3, "the limit holds across workers: {holders:?}");
            // A job that holds a slot keeps it when asked again (a takeover).
            let (holder, taker) = (holders[0], me());
            assert!(
                store
                    .acquire_slot("acct", 3, holder, &taker, Duration::from_secs(30))
                    .await
                    .unwrap()
            );
            assert!(
                !store
                    .acquire_slot("acct", 3, 100, &taker, Duration::from_secs(30))
                    .await
                    .unwrap()
            );
            // Another account is counted apart.
            assert!(
                store
                    .acquire_slot("other", 3, 100, &taker, Duration::from_secs(30))
                    .await
                    .unwrap()
            );
            store.release_slot("acct", holder).await.unwrap();
            assert!(
                store
                    .acquire_slot("acct", 3, 100, &taker, Duration::from_secs(30))
                    .await
                    .unwrap(),
                "a released slot is free at once"
            );
            // Slots leased for 400 ms that nobody renews expire. (Taken only now, uncontended:
            // a short lease in the race above could lapse on a loaded machine before the last
            // task asks, and let a fourth in.)
            for (job, holder) in [(150, holders[1]), (151, holders[2])] {
                store.release_slot("acct", holder).await.unwrap();
                assert!(
                    store
                        .acquire_slot("acct", 3, job, &workers[1], Duration::from_millis(400))
                        .await
                        .unwrap()
                );
            }
            tokio::time::sleep(Duration::from_millis(450)).await;
            let mut later = 0;
            for job in 200..205 {
                later += usize::from(
                    store
                        .acquire_slot("acct", 3, job, &taker, Duration::from_secs(30))
                        .await
                        .unwrap(),
                );
            }
            assert_eq!(later, 2, "the two expired slots come back, the taker's does not");
            // Renewal keeps a driven job's slot; giving every claim up frees them all.
            assert_eq!(store.renew(&taker.instance, &[100], Duration::from_secs(30)).await.unwrap(), 0);
            store.release_all(&taker.instance).await.unwrap();
            assert!(
                store
                    .acquire_slot("acct", 3, 300, &me(), Duration::from_secs(30))
                    .await
                    .unwrap()
            );
        }

        /// A slot whose holder is gone from this host is free at once, as its claims are —
        /// unless its job may be generating on the server, or the holder ran elsewhere: those
        /// wait for their lease.
        #[tokio::test]
        async fn giving_every_claim_up_keeps_the_slots_of_jobs_that_may_generate() {
            let Some(dir) = scratch() else { return };
            let store = open(dir.path());
            let owner = me();
            let ended = fixture_job_of(&store, &owner, JobState::Succeeded, Some(1), None).await;
            let generating =
                fixture_job_of(&store, &owner, JobState::Generating, Some(2), None).await;
            let claimed = fixture_job_of(&store, &owner, JobState::Claimed, None, None).await;
            for job in [&ended, &generating, &claimed] {
                assert!(
                    store
                        .acquire_slot("acct", 3, job.id, &owner, Duration::from_secs(30))
                        .await
                        .unwrap()
                );
            }
            store.release_all(&owner.instance).await.unwrap();
            let taker = me();
            assert!(
                store
                    .acquire_slot("acct", 3, 100, &taker, Duration::from_secs(30))
                    .await
                    .unwrap(),
                "the ended job's slot is given back with the claims"
            );
            assert!(
                !store
                    .acquire_slot("acct", 3, 101, &taker, Duration::from_secs(30))
                    .await
                    .unwrap(),
                "a generating or claimed job keeps its slot (the server may be generating it)"
            );
        }

        #[tokio::test]
        async fn a_gone_process_s_slot_is_free_at_once_unless_its_job_may_generate() {
            let Some(dir) = scratch() else { return };
            let store = open(dir.path());
            let gone = Owner {
                pid: 2_147_483_000,
                ..me()
            };
            let elsewhere = Owner {
                host: "another-machine".into(),
                ..me()
            };
            let ended = fixture_job_of(&store, &gone, JobState::Succeeded, Some(1), None).await;
            let generating =
                fixture_job_of(&store, &gone, JobState::Generating, Some(2), None).await;
            let remote = fixture_job_of(&store, &elsewhere, JobState::Planned, None, None).await;
            for (job, owner) in [(&ended, &gone), (&generating, &gone), (&remote, &elsewhere)] {
                assert!(
                    store
                        .acquire_slot("acct", 3, job.id, owner, Duration::from_secs(30))
                        .await
                        .unwrap()
                );
            }
            let taker = me();
            assert!(
                store
                    .acquire_slot("acct", 3, 100, &taker, Duration::from_secs(30))
                    .await
                    .unwrap(),
                "the ended job's slot of a gone process is free before its lease"
            );
            assert!(
                !store
                    .acquire_slot("acct", 3, 101, &taker, Duration::from_secs(30))
                    .await
                    .unwrap(),
                "a generating job's slot and another host's are kept"
            );
            // A live holder keeps its slot whatever its job's state.
            let live_owner = me();
            let alive =
                fixture_job_of(&store, &live_owner, JobState::Succeeded, Some(3), None).await;
            store.release_slot("acct", 100).await.unwrap();
            assert!(
                store
                    .acquire_slot("acct", 3, alive.id, &live_owner, Duration::from_secs(30))
                    .await
                    .unwrap()
            );
            assert!(
                !store
                    .acquire_slot("acct", 3, 102, &taker, Duration::from_secs(30))
                    .await
                    .unwrap()
            );
        }

        /// A 500044 teaches the account's limit once, for every worker: what the other
        /// accepted jobs hold; never raised by a later, looser reading.
        #[tokio::test]
        async fn a_refused_slot_teaches_every_worker_the_account_s_limit() {
            let Some(dir) = scratch() else { return };
            let store = open(dir.path());
            assert_eq!(store.learned_limit("acct").await.unwrap(), None);
            let (a, b) = (me(), me());
            let mut generating = Vec::new();
            for _ in 0..2 {
                generating.push(fixture_job(&store, JobState::Generating, Some(7), None).await);
            }
            let waiting = fixture_job(&store, JobState::Claimed, None, None).await;
            for (job, owner) in generating.iter().zip([&a, &b]) {
                assert!(
                    store
                        .acquire_slot("acct", 20, job.id, owner, Duration::from_secs(30))
                        .await
                        .unwrap()
                );
            }
            assert!(
                store
                    .acquire_slot("acct", 20, waiting.id, &a, Duration::from_secs(30))
                    .await
                    .unwrap()
            );
            // The server refused `waiting`: two accepted jobs fill the account.
            assert_eq!(store.learn_limit("acct", waiting.id).await.unwrap(), 2);
            store.release_slot("acct", waiting.id).await.unwrap();
            assert_eq!(store.learned_limit("acct").await.unwrap(), Some(2));
            // Another worker, with its own cap of 20, now gets no third slot.
            assert!(
                !store
                    .acquire_slot("acct", 20, 999, &b, Duration::from_secs(30))
                    .await
                    .unwrap()
            );
            store.release_slot("acct", generating[0].id).await.unwrap();
            assert_eq!(
                store.learn_limit("acct", generating[1].id).await.unwrap(),
                1,
                "a lower reading wins"
            );
            store.release_slot("acct", generating[1].id).await.unwrap();
            assert_eq!(store.learn_limit("acct", 999).await.unwrap(), 1, "never raised");
        }
        }
    };
}

fn never_off() -> bool {
    false
}

conformance_suite!(sqlite_conformance, super::open, super::never_off);
conformance_suite!(
    postgres_conformance,
    super::open_postgres,
    super::postgres_off
);

/// Whether the PostgreSQL tests are switched off (`PIXFUSE_TEST_POSTGRES=off`); says so.
pub(crate) fn postgres_off() -> bool {
    let off = std::env::var("PIXFUSE_TEST_POSTGRES").is_ok_and(|v| v == "off");
    if off {
        eprintln!("skipped: PIXFUSE_TEST_POSTGRES=off (the PostgreSQL journal is not tested)");
    }
    off
}

/// The test server's URL: `PIXFUSE_TEST_POSTGRES_URL` (`.ci/run` starts a throw-away cluster
/// and sets it).
pub(crate) fn postgres_url() -> JournalUrl {
    let url = std::env::var("PIXFUSE_TEST_POSTGRES_URL").unwrap_or_else(|_| {
        panic!(
            "PIXFUSE_TEST_POSTGRES_URL is not set: run the tests through .ci/run (which starts a \
             throw-away PostgreSQL), point it at a server of yours, or set \
             PIXFUSE_TEST_POSTGRES=off to skip the PostgreSQL tests"
        )
    });
    JournalUrl::parse(&url).unwrap()
}

/// A fresh PostgreSQL journal: its own schema on the test server.
pub(crate) fn open_postgres(_dir: &Path) -> Arc<dyn Store> {
    Arc::new(fresh_postgres())
}

pub(crate) fn fresh_postgres() -> PostgresStore {
    let schema = format!("t_{}", Uuid::new_v4().simple());
    PostgresStore::in_schema(&postgres_url(), Some(&schema)).unwrap()
}

#[tokio::test]
async fn postgres_migrates_once_and_refuses_a_newer_schema() {
    if postgres_off() {
        return;
    }
    let store = fresh_postgres();
    assert_eq!(store.version().await.unwrap(), postgres::VERSION);
    store
        .execute_raw("UPDATE pixfuse_schema SET version = version + 1")
        .await
        .unwrap();
    // A second process (a newer pixfuse wrote the database meanwhile) refuses it.
    let schema = store.schema.clone().unwrap();
    let again = PostgresStore::in_schema(&postgres_url(), Some(&schema)).unwrap();
    let err = again.jobs().await.unwrap_err();
    assert!(matches!(err, JournalError::NewerSchema { .. }), "{err}");
    assert!(err.to_string().contains("newer than this pixfuse"), "{err}");
}

#[tokio::test]
async fn many_workers_claiming_one_identity_make_one_job() {
    if postgres_off() {
        return;
    }
    let store = Arc::new(fresh_postgres());
    store.jobs().await.unwrap();
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let store = Arc::clone(&store);
        tasks.push(tokio::spawn(async move {
            let owner = me();
            store
                .claim(claim_request("same", &owner, None))
                .await
                .unwrap()
        }));
    }
    let mut new = 0;
    for task in tasks {
        if matches!(task.await.unwrap(), ClaimOutcome::New { .. }) {
            new += 1;
        }
    }
    assert_eq!(new, 1, "exactly one claim makes the job");
    assert_eq!(store.jobs().await.unwrap().len(), 1);
}

#[tokio::test]
async fn an_unreachable_server_is_a_clear_error_without_the_password() {
    let url = JournalUrl::parse("postgres://u:sekrit@127.0.0.1:9/db?connect_timeout=2").unwrap();
    let store = PostgresStore::new(&url).unwrap();
    let err = store.jobs().await.unwrap_err().to_string();
    assert!(err.contains("postgres://u:***@127.0.0.1:9/db"), "{err}");
    assert!(!err.contains("sekrit"), "{err}");
}

#[tokio::test]
async fn the_write_ahead_record_survives_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let job = {
        let store = open(dir.path());
        let job = fixture_job(&store, JobState::Claimed, None, None).await;
        // Drop the connection without closing it cleanly, like a process killed mid-way.
        std::mem::forget(store);
        job
    };
    let store = open(dir.path());
    let got = store.job(job.id).await.unwrap().unwrap();
    assert_eq!((got.state, got.trace_id), (JobState::Claimed, job.trace_id));
    assert_eq!(got.request.as_deref(), Some(REQ));
    assert!(got.needs_resume());
}

#[tokio::test]
async fn two_processes_claiming_one_identity_make_one_job() {
    let dir = tempfile::tempdir().unwrap();
    let _ = open(dir.path());
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let store = open(dir.path());
        tasks.push(tokio::spawn(async move {
            store
                .claim(claim_request("same", &me(), None))
                .await
                .unwrap()
        }));
    }
    let mut new = 0;
    for task in tasks {
        match task.await.unwrap() {
            ClaimOutcome::New { .. } => new += 1,
            ClaimOutcome::Held { .. } => {}
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(new, 1);
    assert_eq!(open(dir.path()).jobs().await.unwrap().len(), 1);
}

/// Builds a journal as the first release wrote it.
fn v1_journal(dir: &Path) -> PathBuf {
    let path = dir.join(JOURNAL_FILE);
    let conn = Connection::open(&path).unwrap();
    conn.execute_batch(schema::V1_SCHEMA).unwrap();
    conn.pragma_update(None, "user_version", 1).unwrap();
    let row = |id: i64, state: &str, video: Option<&str>, status: Option<i64>| {
        conn.execute(
            "INSERT INTO jobs (id, trace_id, request, request_hash, provider, base_url, state,
                               video_id, vendor_status, output_path, created_ms, updated_ms)
             VALUES (?1, ?2, ?3, ?4, 'pixverse', ?5, ?6, ?7, ?8, '/tmp/o.mp4', 1, 1)",
            rusqlite::params![
                id,
                Uuid::from_u128(id as u128).to_string(),
                REQ,
                request_hash(REQ),
                ORIGIN,
                state,
                video,
                status
            ],
        )
        .unwrap();
    };
    row(1, "prepared", None, None);
    row(2, "submitted", Some("18446744073709551614"), Some(5));
    row(3, "submitted", Some("7"), None);
    row(4, "succeeded", Some("8"), Some(1));
    row(5, "downloaded", Some("9"), Some(1));
    row(6, "failed", Some("10"), Some(7));
    row(7, "failed", Some("11"), Some(8));
    row(8, "failed", Some("12"), Some(6));
    row(9, "failed", None, None);
    conn.execute(
        "INSERT INTO batch_lines (batch_key, job_id) VALUES ('line-key', 2)",
        [],
    )
    .unwrap();
    conn.execute(
        "INSERT INTO uploads (base_url, sha256, img_id, img_url, size, created_ms)
         VALUES (?1, 'ab', '5', NULL, 1, 1)",
        [ORIGIN],
    )
    .unwrap();
    path
}

#[tokio::test]
async fn a_version_1_journal_is_migrated_and_keeps_working() {
    let dir = tempfile::tempdir().unwrap();
    v1_journal(dir.path());
    let store = open(dir.path());
    let state = |id| {
        let store = Arc::clone(&store);
        async move { store.job(id).await.unwrap().unwrap() }
    };
    let expected = [
        (1, JobState::Claimed),
        (2, JobState::Generating),
        (3, JobState::Submitted),
        (4, JobState::Succeeded),
        (5, JobState::Downloaded),
        (6, JobState::Moderated),
        (7, JobState::Failed),
        (8, JobState::Deleted),
        (9, JobState::RefusedBeforeBilling),
    ];
    for (id, want) in expected {
        let job = state(id).await;
        assert_eq!(job.state, want, "job {id}");
        assert_eq!(job.origin, ORIGIN);
        assert_eq!(job.trace_id, Uuid::from_u128(id as u128));
    }
    let batch = state(2).await;
    assert_eq!(batch.identity.as_deref(), Some("line-key"));
    assert_eq!(batch.video_id, Some(u64::MAX - 1));
    assert_eq!(batch.status, Some(JobStatus::Generating));
    assert_eq!(
        store
            .job_by_identity(ORIGIN, "line-key")
            .await
            .unwrap()
            .map(|j| j.id),
        Some(2)
    );
    assert_eq!(
        store
            .upload(ORIGIN, "ab", MediaType::Image)
            .await
            .unwrap()
            .map(|u| u.img_id),
        Some(5)
    );
    // A migrated job is claimed and continued like any other.
    let a = me();
    let ClaimOutcome::Existing { job, .. } = store
        .claim_job(1, &a, Duration::from_secs(30))
        .await
        .unwrap()
    else {
        panic!()
    };
    let mut accepted = step(JobState::Claimed, JobState::Submitted);
    accepted.video_id = Some(42);
    let job = store
        .transition(job.id, &a.instance, accepted)
        .await
        .unwrap();
    assert_eq!(job.video_id, Some(42));
    // New jobs get ids after the old ones; a reopen does not migrate again.
    let fresh = fixture_job(&store, JobState::Planned, None, None).await;
    assert!(fresh.id > 9);
    drop(store);
    let conn = Connection::open(dir.path().join(JOURNAL_FILE)).unwrap();
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(version, schema::VERSION);
    assert_eq!(open(dir.path()).jobs().await.unwrap().len(), 10);
}

#[test]
fn a_newer_journal_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    drop(open(dir.path()));
    let conn = Connection::open(dir.path().join(JOURNAL_FILE)).unwrap();
    conn.pragma_update(None, "user_version", 99).unwrap();
    drop(conn);
    assert!(matches!(
        SqliteStore::open_in(dir.path()),
        Err(JournalError::NewerSchema { found: 99, .. })
    ));
}

#[cfg(unix)]
#[tokio::test]
async fn files_are_private_and_in_wal_mode() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("nested/state");
    let store = open(&state);
    fixture_job(&store, JobState::Planned, None, None).await;
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&state), 0o700);
    assert_eq!(mode(&state.join(JOURNAL_FILE)), 0o600);
    let wal = state.join(format!("{JOURNAL_FILE}-wal"));
    assert!(wal.exists(), "WAL mode creates a -wal file");
    assert_eq!(mode(&wal), 0o600);
}

#[cfg(unix)]
#[test]
fn a_lax_existing_file_is_tightened() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(JOURNAL_FILE);
    std::fs::write(&path, b"").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    SqliteStore::open(&path).unwrap();
    assert_eq!(
        std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o600
    );
}

#[test]
fn a_state_dir_that_is_a_file_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("f");
    std::fs::write(&file, b"x").unwrap();
    let err = SqliteStore::open_in(&file.join("sub")).unwrap_err();
    assert!(err.to_string().contains("--state-dir"), "{err}");
}

#[test]
fn many_openers_of_a_new_journal_all_succeed() {
    // Two processes starting on a fresh state dir race to switch the file to WAL; SQLite
    // answers the loser "database is locked" without waiting. Connections behave alike.
    for _ in 0..20 {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(JOURNAL_FILE);
        let barrier = std::sync::Arc::new(std::sync::Barrier::new(6));
        let openers: Vec<_> = (0..6)
            .map(|_| {
                let (path, barrier) = (path.clone(), barrier.clone());
                std::thread::spawn(move || {
                    barrier.wait();
                    SqliteStore::open(&path).map(drop)
                })
            })
            .collect();
        for opener in openers {
            if let Err(e) = opener.join().unwrap() {
                panic!("{e}");
            }
        }
    }
}

/// A receiver on one machine and a waiting worker on another share one PostgreSQL: each has
/// its own store (its own pool of connections), as two processes would.
#[tokio::test]
async fn a_callback_one_instance_records_is_what_a_waiter_on_another_sees() {
    if postgres_off() {
        return;
    }
    let receiver_side = fresh_postgres();
    let schema = receiver_side.schema.clone().unwrap();
    let receiver_side: Arc<dyn Store> = Arc::new(receiver_side);
    let worker_side: Arc<dyn Store> =
        Arc::new(PostgresStore::in_schema(&postgres_url(), Some(&schema)).unwrap());
    // The worker submitted the job and waits for it; its process is gone from the claim.
    let job = fixture_job(&worker_side, JobState::Generating, Some(77), None).await;
    let receiver = Owner {
        host: "receiver-host".into(),
        ..me()
    };
    let beat = ReceiverBeat {
        owner: receiver.clone(),
        origin: ORIGIN.to_owned(),
        listen: "10.0.0.2:8788".to_owned(),
        started_ms: now_ms(),
    };
    receiver_side.beat(&beat).await.unwrap();
    let before = worker_side
        .watch(Some(job.id), ORIGIN, None, now_ms() - 3_000)
        .await
        .unwrap();
    assert!(before.receiver_live && before.callback.is_none());
    let event = NewCallback {
        record: CallbackRecord {
            origin: ORIGIN.to_owned(),
            video_id: 77,
            status: JobStatus::Succeeded,
            url: Some("https://cdn/77.mp4".to_owned()),
            credits: Some(45),
            job_id: None,
            deliveries: 1,
            signed_as: "form_encoded".to_owned(),
            trace_id: None,
            body: r#"{"id":"77","status":1}"#.to_owned(),
            received_ms: now_ms(),
        },
        nonce: "n-77".to_owned(),
        nonce_expires_ms: now_ms() + 300_000,
    };
    let Recorded::New { moved, .. } = receiver_side
        .record_callback(&event, &receiver)
        .await
        .unwrap()
    else {
        panic!("a new event")
    };
    assert!(moved, "nobody drives the job: the receiver ends it");
    let seen = worker_side
        .watch(Some(job.id), ORIGIN, None, now_ms() - 3_000)
        .await
        .unwrap();
    assert_eq!(seen.callback.map(|c| c.video_id), Some(77));
    let ended = seen.job.unwrap();
    assert_eq!(ended.state, JobState::Succeeded);
    assert_eq!(ended.url.as_deref(), Some("https://cdn/77.mp4"));
    // The nonce is shared too: the same delivery replayed at the worker's side is refused.
    assert_eq!(
        worker_side
            .record_callback(&event, &receiver)
            .await
            .unwrap(),
        Recorded::ReplayedNonce
    );
}

/// The TLS path (rustls): `sslmode=require` reaches the test server over TLS when its
/// certificate verifies against `sslrootcert`, and is refused against the system's roots.
/// Needs the certificate `.ci/postgres.sh` makes (`PIXFUSE_TEST_POSTGRES_CA`).
#[tokio::test]
async fn tls_verifies_the_server_s_certificate() {
    if postgres_off() {
        return;
    }
    let Ok(ca) = std::env::var("PIXFUSE_TEST_POSTGRES_CA") else {
        eprintln!("skipped: PIXFUSE_TEST_POSTGRES_CA is not set (the test server has no TLS)");
        return;
    };
    let base = std::env::var("PIXFUSE_TEST_POSTGRES_URL").unwrap();
    // The certificate names localhost: connect by that name, as a remote client would by its.
    let base = base.replace("127.0.0.1", "localhost");
    let sep = if base.contains('?') { '&' } else { '?' };
    let schema = format!("t_{}", Uuid::new_v4().simple());
    let trusted =
        JournalUrl::parse(&format!("{base}{sep}sslmode=require&sslrootcert={ca}")).unwrap();
    let store = PostgresStore::in_schema(&trusted, Some(&schema)).unwrap();
    assert!(store.jobs().await.unwrap().is_empty());
    let c = store.conn().await.unwrap();
    let ssl: bool = c
        .query_one(
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(ssl, "the connection is encrypted");
    let untrusted = JournalUrl::parse(&format!("{base}{sep}sslmode=require")).unwrap();
    let err = PostgresStore::in_schema(&untrusted, Some(&schema))
        .unwrap()
        .jobs()
        .await
        .unwrap_err()
        .to_string();
    assert!(err.to_lowercase().contains("certificate"), "{err}");
}

/// A shared batch loads once however many workers load it; concurrent workers claim each line
/// exactly once; a gone worker's line is taken over first; the batch ends when every line is
/// finished, and SQLite says what to use instead.
#[tokio::test]
async fn workers_claim_each_line_of_a_shared_batch_once() {
    let dir = tempfile::tempdir().unwrap();
    let sqlite = open(dir.path());
    let err = sqlite
        .load_batch("b", ORIGIN, &[])
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("--journal postgres://"), "{err}");
    if postgres_off() {
        return;
    }
    let store = Arc::new(fresh_postgres());
    let lines: Vec<NewBatchLine> = (1..=40)
        .map(|n| NewBatchLine {
            line: n,
            key: format!("key-{n}"),
            name: format!("line {n}"),
        })
        .collect();
    assert!(store.load_batch("b", ORIGIN, &lines).await.unwrap());
    assert!(
        !store.load_batch("b", ORIGIN, &lines).await.unwrap(),
        "loaded once"
    );
    assert_eq!(store.batch_lines("nope").await.unwrap(), None);
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let store = Arc::clone(&store);
        tasks.push(tokio::spawn(async move {
            let owner = me();
            let mut mine = Vec::new();
            loop {
                match store
                    .claim_batch_line("b", &owner, Duration::from_secs(30))
                    .await
                    .unwrap()
                {
                    LineClaim::Claimed { line, took_over } => {
                        assert_eq!(took_over, None);
                        mine.push(line);
                        // The last line stays running: its worker "dies" holding it.
                        if line != 40 {
                            store
                                .finish_batch_line("b", line, &owner.instance, "done", None)
                                .await
                                .unwrap();
                        }
                    }
                    LineClaim::Busy | LineClaim::Finished => return (owner, mine),
                }
            }
        }));
    }
    let mut all = Vec::new();
    let mut holder = None;
    for task in tasks {
        let (owner, mine) = task.await.unwrap();
        if mine.contains(&40) {
            holder = Some(owner);
        }
        all.extend(mine);
    }
    all.sort_unstable();
    assert_eq!(
        all,
        (1..=40).collect::<Vec<_>>(),
        "each line claimed exactly once"
    );
    let holder = holder.unwrap();
    let status = store.batch_lines("b").await.unwrap().unwrap();
    assert_eq!(status.iter().filter(|l| l.state == "done").count(), 39);
    assert_eq!(status[39].state, "running");
    // Its worker is alive (this process): nobody may take it.
    let other = me();
    assert_eq!(
        store
            .claim_batch_line("b", &other, Duration::from_secs(30))
            .await
            .unwrap(),
        LineClaim::Busy
    );
    // Gone (a pid that no longer runs on this host): taken over at once, before its lease.
    store
        .execute_raw("UPDATE batch_items SET owner_pid = 2147483000 WHERE line = 40")
        .await
        .unwrap();
    let LineClaim::Claimed { line, took_over } = store
        .claim_batch_line("b", &other, Duration::from_secs(30))
        .await
        .unwrap()
    else {
        panic!("the gone worker's line is free")
    };
    assert_eq!((line, took_over.map(|o| o.pid)), (40, Some(2_147_483_000)));
    assert_ne!(holder.instance, other.instance);
    store
        .finish_batch_line("b", 40, &other.instance, "failed", Some("moderation"))
        .await
        .unwrap();
    assert_eq!(
        store
            .claim_batch_line("b", &other, Duration::from_secs(30))
            .await
            .unwrap(),
        LineClaim::Finished
    );
    let last = &store.batch_lines("b").await.unwrap().unwrap()[39];
    assert_eq!((last.state.as_str(), last.attempts), ("failed", 2));
    assert_eq!(last.outcome.as_deref(), Some("moderation"));
}
