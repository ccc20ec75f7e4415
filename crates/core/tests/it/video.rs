//! The video preflight's judgments over real (tiny) files made by ffmpeg: see
//! tests/fixtures/video/README.md for how each was made.

use std::io::Cursor;

use pixfuse_core::Severity;
use pixfuse_core::video::{self, Inspection, VideoFormat, judge_size};

fn fixture(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/../../tests/fixtures/video/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn inspect(bytes: &[u8], ext: Option<&str>) -> Inspection {
    video::inspect(Cursor::new(bytes), bytes.len() as u64, ext, &video::rules()).unwrap()
}

fn codes(i: &Inspection) -> Vec<(&'static str, Severity)> {
    i.problems.iter().map(|p| (p.code, p.severity)).collect()
}

#[test]
fn reads_length_and_size_of_each_container() {
    for (name, format, ms, w, h) in [
        ("clip-2s.mp4", VideoFormat::Mp4, 2000, 64, 36),
        ("clip-9s.mp4", VideoFormat::Mp4, 9000, 64, 36),
        ("clip-3s.mov", VideoFormat::QuickTime, 3000, 48, 32),
        ("clip-2s.webm", VideoFormat::Webm, 2000, 64, 36),
    ] {
        let i = inspect(&fixture(name), name.rsplit('.').next());
        let header = i.header.unwrap_or_else(|| panic!("{name}: {i:?}"));
        assert_eq!(header.format, format, "{name}");
        assert_eq!(header.duration_ms, Some(ms), "{name}");
        assert_eq!((header.width, header.height), (Some(w), Some(h)), "{name}");
        assert!(i.problems.is_empty(), "{name}: {:?}", i.problems);
    }
}

#[test]
fn a_webm_without_a_stated_duration_is_timed_by_its_last_frame() {
    let i = inspect(&fixture("no-duration.webm"), Some("webm"));
    let header = i.header.unwrap();
    let ms = header.duration_ms.expect("measured from the frames");
    assert!((1800..=2100).contains(&ms), "{ms} ms");
    assert!(i.problems.is_empty(), "{:?}", i.problems);
}

#[test]
fn a_text_file_named_mp4_is_the_one_error() {
    let i = inspect(&fixture("not-a-video.mp4"), Some("mp4"));
    assert_eq!(i.header, None);
    assert_eq!(codes(&i), [("video_not_a_video", Severity::Error)]);
    let message = &i.error().unwrap().message;
    assert!(
        message.contains("not a video") && message.contains("mp4, mov, webm"),
        "{message}"
    );
    let empty = inspect(b"", Some("mp4"));
    assert!(empty.error().unwrap().message.starts_with("an empty file"));
}

#[test]
fn the_table_s_limits_are_warnings() {
    let rules = video::rules();
    let long = inspect(&fixture("long-31s.mp4"), Some("mp4"));
    assert_eq!(codes(&long), [("video_too_long", Severity::Warning)]);
    assert!(
        long.problems[0].message.contains("31 s"),
        "{:?}",
        long.problems
    );
    let wide = inspect(&fixture("wide-2000px.mp4"), Some("mp4"));
    assert_eq!(codes(&wide), [("video_too_big", Severity::Warning)]);
    assert!(wide.problems[0].message.contains("2000×16"));
    // The sources disagree on the size: the larger bound exceeded decides, the other is named.
    let smallest = rules.max_bytes.iter().map(|l| l.value).min().unwrap();
    let largest = rules.max_bytes.iter().map(|l| l.value).max().unwrap();
    assert_eq!(judge_size(smallest, &rules), None);
    let between = judge_size(smallest + 1, &rules).unwrap();
    assert_eq!(
        (between.code, between.severity),
        ("video_too_large", Severity::Warning)
    );
    assert!(
        between.message.contains("sources disagree"),
        "{}",
        between.message
    );
    let over = judge_size(largest + 1, &rules).unwrap();
    assert!(
        over.message.contains(&format!("{} MB", largest >> 20)),
        "{}",
        over.message
    );
}

#[test]
fn a_damaged_or_misnamed_video_is_still_sent_with_a_warning() {
    let clip = fixture("clip-2s.mp4");
    let cut = inspect(&clip[..200], Some("mp4"));
    assert_eq!(cut.header.map(|h| h.format), Some(VideoFormat::Mp4));
    assert_eq!(
        codes(&cut),
        [("video_header_unreadable", Severity::Warning)]
    );
    let webm = inspect(&fixture("clip-2s.webm"), Some("MP4"));
    assert_eq!(
        codes(&webm),
        [("video_extension_mismatch", Severity::Warning)]
    );
    // A mov named .mp4 is the same family: nothing to say.
    assert!(
        inspect(&fixture("clip-3s.mov"), Some("mp4"))
            .problems
            .is_empty()
    );
}

#[test]
fn garbage_behind_a_valid_magic_never_takes_the_process_down() {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    for len in [16usize, 40, 64, 300, 4096] {
        for magic in [&b"\0\0\0\x18ftypisom"[..], &[0x1A, 0x45, 0xDF, 0xA3][..]] {
            let mut bytes = magic.to_vec();
            while bytes.len() < len {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                bytes.push(state as u8);
            }
            let i = inspect(&bytes, None);
            assert!(i.error().is_none(), "{len}: {:?}", i.problems);
        }
    }
}
