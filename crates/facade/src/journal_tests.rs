use super::*;

const REQ: &str = r#"{"image_references":[{"type":"subject","img_id":1,"ref_name":"dog"}],"prompt":"@dog runs","model":"v5","duration":5,"quality":"540p","aspect_ratio":"16:9"}"#;

fn new_job(trace_id: Uuid) -> NewJob<'static> {
    NewJob {
        trace_id,
        request: REQ,
        provider: "pixverse",
        base_url: "http://127.0.0.1:1",
        output_path: Some(Path::new("/tmp/out.mp4")),
    }
}

/// Drops the connection without closing it cleanly, like a process killed mid-way.
fn crash(journal: Journal) {
    std::mem::forget(journal);
}

#[test]
fn write_ahead_record_survives_a_crash_before_submit() {
    let dir = tempfile::tempdir().unwrap();
    let trace = Uuid::new_v4();
    let j = Journal::open_in(dir.path()).unwrap();
    let job = j.begin_job(&new_job(trace)).unwrap();
    crash(j);

    let j = Journal::open_in(dir.path()).unwrap();
    let got = j.get(job.id).unwrap();
    assert_eq!(got.trace_id, trace);
    assert_eq!(got.request, REQ);
    assert_eq!(got.request_hash, request_hash(REQ));
    assert_eq!(got.state, JobState::Prepared);
    assert_eq!(got.video_id, None);
    assert!(got.needs_resume());
    assert_eq!(j.unfinished().unwrap(), vec![got]);
}

#[test]
fn video_id_survives_a_crash_after_submit_and_stays_exact_beyond_2_pow_63() {
    let dir = tempfile::tempdir().unwrap();
    let j = Journal::open_in(dir.path()).unwrap();
    let job = j.begin_job(&new_job(Uuid::new_v4())).unwrap();
    let big = u64::MAX - 1;
    j.record_submitted(job.id, big, Some(45)).unwrap();
    crash(j);

    let j = Journal::open_in(dir.path()).unwrap();
    let got = j.get(job.id).unwrap();
    assert_eq!(got.state, JobState::Submitted);
    assert_eq!(got.video_id, Some(big));
    assert_eq!(got.credits, Some(45));
    assert!(got.submitted_ms.is_some());
    assert_eq!(
        j.find_by_video_id("http://127.0.0.1:1", big)
            .unwrap()
            .unwrap()
            .id,
        job.id
    );
    assert!(
        j.find_by_video_id("http://127.0.0.1:1", 7)
            .unwrap()
            .is_none()
    );
    // The same video id at another server is another video.
    assert!(
        j.find_by_video_id("http://127.0.0.1:2", big)
            .unwrap()
            .is_none()
    );
}

#[test]
fn status_progression_to_downloaded() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("v.mp4");
    let j = Journal::open_in(dir.path()).unwrap();
    let job = j.begin_job(&new_job(Uuid::new_v4())).unwrap();
    j.record_submitted(job.id, 42, None).unwrap();

    j.record_status(
        job.id,
        &StatusUpdate {
            vendor_status: 5,
            ..Default::default()
        },
    )
    .unwrap();
    let got = j.get(job.id).unwrap();
    assert_eq!(
        (got.state, got.vendor_status),
        (JobState::Submitted, Some(5))
    );
    assert!(got.finished_ms.is_none());

    j.record_status(
        job.id,
        &StatusUpdate {
            vendor_status: 1,
            url: Some("https://cdn/v.mp4".into()),
            credits: Some(60),
            seed: Some(7),
        },
    )
    .unwrap();
    let got = j.get(job.id).unwrap();
    assert_eq!(got.state, JobState::Succeeded);
    assert_eq!(got.url.as_deref(), Some("https://cdn/v.mp4"));
    assert_eq!((got.credits, got.seed), (Some(60), Some(7)));
    assert!(got.needs_resume());

    std::fs::write(&out, b"video").unwrap();
    j.record_downloaded(job.id, &out).unwrap();
    let got = j.get(job.id).unwrap();
    assert_eq!(got.state, JobState::Downloaded);
    assert_eq!(got.output_path.as_deref(), Some(out.as_path()));
    assert!(
        got.needs_resume(),
        "its sidecar is missing: resume writes it"
    );
    std::fs::write(crate::sidecar::sidecar_path(&out), b"{}").unwrap();
    assert!(!j.get(job.id).unwrap().needs_resume());
    assert!(j.unfinished().unwrap().is_empty());

    // A later poll does not demote a downloaded job.
    j.record_status(
        job.id,
        &StatusUpdate {
            vendor_status: 1,
            url: Some("https://cdn/v.mp4".into()),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(j.get(job.id).unwrap().state, JobState::Downloaded);

    // The file went missing: the job is resumable again (download only).
    std::fs::remove_file(&out).unwrap();
    assert!(j.get(job.id).unwrap().needs_resume());
}

#[test]
fn status_one_without_url_is_not_success_yet() {
    let dir = tempfile::tempdir().unwrap();
    let j = Journal::open_in(dir.path()).unwrap();
    let job = j.begin_job(&new_job(Uuid::new_v4())).unwrap();
    j.record_submitted(job.id, 1, None).unwrap();
    j.record_status(
        job.id,
        &StatusUpdate {
            vendor_status: 1,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(j.get(job.id).unwrap().state, JobState::Submitted);
}

#[test]
fn terminal_failures_are_not_resumed() {
    let dir = tempfile::tempdir().unwrap();
    let j = Journal::open_in(dir.path()).unwrap();
    for status in [6, 7, 8] {
        let job = j.begin_job(&new_job(Uuid::new_v4())).unwrap();
        j.record_submitted(job.id, status as u64, None).unwrap();
        j.record_status(
            job.id,
            &StatusUpdate {
                vendor_status: status,
                ..Default::default()
            },
        )
        .unwrap();
        let got = j.get(job.id).unwrap();
        assert_eq!(got.state, JobState::Failed, "status {status}");
        assert!(!got.needs_resume());
    }
    let refused = j.begin_job(&new_job(Uuid::new_v4())).unwrap();
    j.record_failed(refused.id, "out of credits (ErrCode 500090)")
        .unwrap();
    let got = j.get(refused.id).unwrap();
    assert_eq!(got.state, JobState::Failed);
    assert_eq!(
        got.last_error.as_deref(),
        Some("out of credits (ErrCode 500090)")
    );
    assert!(j.unfinished().unwrap().is_empty());
}

#[test]
fn transient_error_keeps_the_job_resumable() {
    let dir = tempfile::tempdir().unwrap();
    let j = Journal::open_in(dir.path()).unwrap();
    let job = j.begin_job(&new_job(Uuid::new_v4())).unwrap();
    j.record_error(job.id, "connection reset").unwrap();
    let got = j.get(job.id).unwrap();
    assert_eq!(got.state, JobState::Prepared);
    assert_eq!(got.last_error.as_deref(), Some("connection reset"));
    j.record_submitted(job.id, 3, None).unwrap();
    assert_eq!(j.get(job.id).unwrap().last_error, None);
}

#[test]
fn trace_ids_are_unique_per_job() {
    let dir = tempfile::tempdir().unwrap();
    let j = Journal::open_in(dir.path()).unwrap();
    let trace = Uuid::new_v4();
    j.begin_job(&new_job(trace)).unwrap();
    assert!(matches!(
        j.begin_job(&new_job(trace)),
        Err(JournalError::Sql(_))
    ));
}

#[test]
fn unfinished_is_oldest_first_and_list_newest_first() {
    let dir = tempfile::tempdir().unwrap();
    let j = Journal::open_in(dir.path()).unwrap();
    let a = j.begin_job(&new_job(Uuid::new_v4())).unwrap();
    let b = j.begin_job(&new_job(Uuid::new_v4())).unwrap();
    let ids: Vec<i64> = j.unfinished().unwrap().iter().map(|r| r.id).collect();
    assert_eq!(ids, vec![a.id, b.id]);
    let ids: Vec<i64> = j.list().unwrap().iter().map(|r| r.id).collect();
    assert_eq!(ids, vec![b.id, a.id]);
}

#[test]
fn unknown_job_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let j = Journal::open_in(dir.path()).unwrap();
    let err = j.get(99).unwrap_err();
    assert!(err.to_string().contains("pixfuse jobs"), "{err}");
    assert!(matches!(
        j.record_submitted(99, 1, None),
        Err(JournalError::NoSuchJob(99))
    ));
}

#[test]
fn uploads_are_content_addressed_per_base_url_and_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let j = Journal::open_in(dir.path()).unwrap();
    let up = UploadRecord {
        sha256: "ab".repeat(32),
        img_id: u64::MAX,
        img_url: Some("https://cdn/i.png".into()),
    };
    assert_eq!(j.find_upload("https://a", &up.sha256).unwrap(), None);
    j.record_upload("https://a", &up, 10).unwrap();
    j.record_upload("https://a", &up, 10).unwrap();
    crash(j);
    let j = Journal::open_in(dir.path()).unwrap();
    assert_eq!(
        j.find_upload("https://a", &up.sha256).unwrap(),
        Some(up.clone())
    );
    // img_ids belong to an account at one provider: another base URL uploads again.
    assert_eq!(j.find_upload("https://b", &up.sha256).unwrap(), None);
}

#[test]
fn stale_uploads_can_be_forgotten() {
    let dir = tempfile::tempdir().unwrap();
    let j = Journal::open_in(dir.path()).unwrap();
    let up = |n: u8, img_id| UploadRecord {
        sha256: format!("{n:02x}").repeat(32),
        img_id,
        img_url: None,
    };
    j.record_upload("https://a", &up(1, 10), 1).unwrap();
    j.record_upload("https://a", &up(2, 20), 1).unwrap();
    j.record_upload("https://b", &up(1, 10), 1).unwrap();
    assert_eq!(j.forget_uploads("https://a", &[10, 99]).unwrap(), 1);
    assert_eq!(j.find_upload("https://a", &up(1, 10).sha256).unwrap(), None);
    assert!(
        j.find_upload("https://a", &up(2, 20).sha256)
            .unwrap()
            .is_some()
    );
    assert!(
        j.find_upload("https://b", &up(1, 10).sha256)
            .unwrap()
            .is_some()
    );
}

#[cfg(unix)]
#[test]
fn files_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("nested/state");
    let j = Journal::open_in(&state).unwrap();
    j.begin_job(&new_job(Uuid::new_v4())).unwrap();
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&state), 0o700);
    assert_eq!(mode(j.path()), 0o600);
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
    let j = Journal::open(&path).unwrap();
    assert_eq!(
        std::fs::metadata(j.path()).unwrap().permissions().mode() & 0o777,
        0o600
    );
}

#[test]
fn wal_mode_and_schema_version_are_set() {
    let dir = tempfile::tempdir().unwrap();
    let j = Journal::open_in(dir.path()).unwrap();
    let mode: String = j
        .conn
        .pragma_query_value(None, "journal_mode", |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    drop(j);
    let conn = Connection::open(dir.path().join(JOURNAL_FILE)).unwrap();
    conn.pragma_update(None, "user_version", 99).unwrap();
    drop(conn);
    assert!(matches!(
        Journal::open_in(dir.path()),
        Err(JournalError::NewerSchema { found: 99, .. })
    ));
}

#[test]
fn two_handles_see_each_others_commits() {
    let dir = tempfile::tempdir().unwrap();
    let a = Journal::open_in(dir.path()).unwrap();
    let b = Journal::open_in(dir.path()).unwrap();
    let job = a.begin_job(&new_job(Uuid::new_v4())).unwrap();
    b.record_submitted(job.id, 5, None).unwrap();
    assert_eq!(a.get(job.id).unwrap().video_id, Some(5));
}

#[test]
fn a_state_dir_that_is_a_file_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("f");
    std::fs::write(&file, b"x").unwrap();
    let err = Journal::open_in(&file.join("sub")).unwrap_err();
    assert!(err.to_string().contains("--state-dir"), "{err}");
}

#[test]
fn an_unfinished_identical_request_is_found() {
    let dir = tempfile::tempdir().unwrap();
    let j = Journal::open_in(dir.path()).unwrap();
    let base = "http://127.0.0.1:1";
    assert!(j.find_unfinished_duplicate(base, REQ).unwrap().is_none());
    let job = j.begin_job(&new_job(Uuid::new_v4())).unwrap();
    assert_eq!(
        j.find_unfinished_duplicate(base, REQ).unwrap().unwrap().id,
        job.id
    );
    assert!(
        j.find_unfinished_duplicate("https://other", REQ)
            .unwrap()
            .is_none()
    );
    assert!(j.find_unfinished_duplicate(base, "{}").unwrap().is_none());
    j.record_failed(job.id, "refused").unwrap();
    assert!(j.find_unfinished_duplicate(base, REQ).unwrap().is_none());
}
