//! `GET /openapi/v2/video/result/{video_id}`: status 5 while generating, then 1, 7 or 8.

use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde_json::json;
use tokio::time::Instant;

use crate::app::Shared;
use crate::faults::Endpoint;
use crate::media::{VIDEO, VIDEO_HEIGHT, VIDEO_WIDTH};
use crate::reply::Reply;

pub(crate) async fn handle(
    State(app): State<Shared>,
    Path(video_id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let fault = match app.admit(&headers, Endpoint::Result) {
        Ok((_, fault)) => fault,
        Err(answer) => return *answer,
    };
    let Ok(video_id) = video_id.parse::<u64>() else {
        return Reply::err(
            400013,
            format!("video_id must be an integer, got {video_id:?}"),
        )
        .into_response_with(fault);
    };
    let account = app.account();
    let Some(job) = account.job(video_id) else {
        return Reply::err(500008, format!("video {video_id} not found")).into_response_with(fault);
    };
    let status = job.status(Instant::now());
    let url = if status == 1 {
        format!("{}/media/video/{video_id}.mp4", app.base_url)
    } else {
        String::new()
    };
    let modified = if status == 5 {
        job.created
    } else {
        job.created + job.generation_time
    };
    Reply::ok(json!({
        "id": video_id,
        "status": status,
        "url": url,
        "prompt": job.prompt,
        "seed": job.seed.unwrap_or(0),
        "outputWidth": VIDEO_WIDTH,
        "outputHeight": VIDEO_HEIGHT,
        "size": if status == 1 { VIDEO.len() } else { 0 },
        "has_audio": job.has_audio,
        "credits": job.credits,
        "create_time": timestamp(job.created),
        "modify_time": timestamp(modified),
    }))
    .into_response_with(fault)
}

/// `YYYY-MM-DD HH:MM:SS` in UTC.
fn timestamp(at: SystemTime) -> String {
    let secs = at
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (days, rest) = (secs / 86_400, secs % 86_400);
    let (year, month, day) = civil_from_days(days as i64);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

/// Days since 1970-01-01 → (year, month, day), after Howard Hinnant's `civil_from_days`.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn formats_utc_timestamps() {
        assert_eq!(timestamp(UNIX_EPOCH), "1970-01-01 00:00:00");
        let leap_day = UNIX_EPOCH + Duration::from_secs(1_709_210_096);
        assert_eq!(timestamp(leap_day), "2024-02-29 12:34:56");
    }
}
