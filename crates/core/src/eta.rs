//! How long a job should take to generate, and how much of that is left, for progress
//! displays. The first guess is the capability table's render figures (our defaults, tagged
//! `render-guess` in `spec/capabilities.json`: the vendor publishes none) through
//! [`JobShape::expected_render`]; once this machine has finished jobs of the same model,
//! quality and duration, their median replaces it.

use std::time::Duration;

use crate::poll::JobShape;

/// The expected generation time of a job and what it rests on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Expected {
    /// From the submit to the video being ready.
    pub total: Duration,
    /// Finished jobs of the same shape it was taken from (0: the table's guess).
    pub from_jobs: usize,
}

/// The expected generation time of `shape`: the median of `history` (generation times of
/// finished jobs of the same shape) when there is any, else the table's guess.
pub fn expected(shape: &JobShape, history: &[Duration]) -> Expected {
    match median(history) {
        Some(total) => Expected {
            total,
            from_jobs: history.len(),
        },
        None => Expected {
            total: shape.expected_render(),
            from_jobs: 0,
        },
    }
}

/// The median (the mean of the middle two for an even count); `None` for no values.
pub fn median(values: &[Duration]) -> Option<Duration> {
    let mut sorted = values.to_vec();
    sorted.sort_unstable();
    let mid = sorted.len() / 2;
    match sorted.len() {
        0 => None,
        n if n % 2 == 1 => Some(sorted[mid]),
        _ => Some((sorted[mid - 1] + sorted[mid]) / 2),
    }
}

/// Where a job stands against its expected time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Remaining {
    /// About this much is left.
    Left(Duration),
    /// It is taking this much longer than expected.
    Over(Duration),
}

/// What is left of `expected` after `elapsed`.
pub fn remaining(expected: Duration, elapsed: Duration) -> Remaining {
    match expected.checked_sub(elapsed) {
        Some(left) if !left.is_zero() => Remaining::Left(left),
        _ => Remaining::Over(elapsed.saturating_sub(expected)),
    }
}

impl std::fmt::Display for Remaining {
    /// `about 40 s left`, `about 3 min left`, `12 s longer than usual`: rounded, since the
    /// figure is a guess.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Remaining::Left(left) => write!(f, "about {} left", rough(*left)),
            Remaining::Over(over) if over.as_secs() < 5 => f.write_str("almost done"),
            Remaining::Over(over) => write!(f, "{} longer than usual", rough(*over)),
        }
    }
}

/// A duration as a person would guess it: `5 s` steps under a minute (at least 5 s), whole
/// minutes above.
pub fn rough(d: Duration) -> String {
    let secs = d.as_secs_f64();
    if secs < 57.5 {
        let fives = ((secs / 5.0).round() as u64).max(1);
        format!("{} s", fives * 5)
    } else {
        format!("{} min", ((secs / 60.0).round() as u64).max(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Model, Quality};

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn the_median_of_the_history_replaces_the_table() {
        let shape = JobShape {
            model: Some(Model::V5),
            duration: Some(5),
            quality: Some(Quality::Q540p),
        };
        let guess = expected(&shape, &[]);
        assert_eq!(guess.from_jobs, 0);
        assert_eq!(guess.total, shape.expected_render());
        assert_eq!(
            expected(&shape, &[secs(50), secs(10), secs(30)]),
            Expected {
                total: secs(30),
                from_jobs: 3
            }
        );
        assert_eq!(median(&[secs(10), secs(20)]), Some(secs(15)));
        assert_eq!(median(&[]), None);
    }

    #[test]
    fn longer_and_better_videos_are_expected_to_take_longer() {
        let at = |quality: Quality, duration| {
            expected(
                &JobShape {
                    model: Some(Model::V5),
                    duration: Some(duration),
                    quality: Some(quality),
                },
                &[],
            )
            .total
        };
        assert!(at(Quality::Q540p, 10) > at(Quality::Q540p, 5));
        assert!(at(Quality::Q1080p, 5) > at(Quality::Q540p, 5));
    }

    #[test]
    fn what_is_left_reads_as_a_rough_guess() {
        assert_eq!(remaining(secs(45), secs(3)).to_string(), "about 40 s left");
        assert_eq!(remaining(secs(45), secs(44)).to_string(), "about 5 s left");
        assert_eq!(
            remaining(secs(300), secs(100)).to_string(),
            "about 3 min left"
        );
        assert_eq!(remaining(secs(45), secs(47)).to_string(), "almost done");
        assert_eq!(
            remaining(secs(45), secs(60)).to_string(),
            "15 s longer than usual"
        );
    }
}
