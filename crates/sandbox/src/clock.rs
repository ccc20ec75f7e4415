//! Wall-clock time: the store is shared by processes, so a job's progress is measured against
//! the clock every one of them reads, in milliseconds since the Unix epoch.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

pub(crate) fn ms(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

/// The calendar month (UTC) as `year × 12 + month − 1`: a new one grants the monthly credits
/// again.
pub(crate) fn month_index(at_ms: i64) -> i64 {
    let (year, month, _) = civil_from_days(at_ms.div_euclid(86_400_000));
    year * 12 + i64::from(month) - 1
}

/// `YYYY-MM-DD HH:MM:SS` in UTC, the way the vendor's result endpoint writes its times.
pub(crate) fn vendor_time(at_ms: i64) -> String {
    let secs = at_ms.div_euclid(1000);
    let (days, rest) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (year, month, day) = civil_from_days(days);
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
    use super::*;

    #[test]
    fn formats_utc_times_as_the_vendor_does() {
        assert_eq!(vendor_time(0), "1970-01-01 00:00:00");
        assert_eq!(vendor_time(1_709_210_096_789), "2024-02-29 12:34:56");
    }

    #[test]
    fn months_count_from_the_epoch() {
        assert_eq!(month_index(0), 1970 * 12);
        // 2024-02-29 and 2024-03-01 are in consecutive months.
        let leap_day = 1_709_210_096_000;
        assert_eq!(
            month_index(leap_day + 86_400_000) - month_index(leap_day),
            1
        );
    }
}
