//! What a request will cost, from the price table ([`PRICING`]), with how sure that is.

use crate::pricing::{Confidence, PRICING};
use crate::{CAPABILITIES, Job, Model, Quality};

/// How the price was found.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Basis {
    /// A listed price for exactly this model, quality, duration and audio setting.
    Fixed,
    /// A per-second price times the duration.
    PerSecond,
    /// Omni mode: the per-second price times the Omni factor, for each second of reference
    /// video ([`Estimate::reference_video`] says how many seconds, and whether assumed).
    PerReferenceSecond,
}

/// The reference video an Omni estimate priced.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct ReferenceVideo {
    /// Seconds of reference video priced (all videos together).
    pub seconds: f64,
    /// Whether some length was unknown and assumed (each unknown video at Omni's per-video
    /// maximum, all of them together at most Omni's total maximum).
    pub assumed: bool,
}

/// An estimated cost.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct Estimate {
    /// What the video costs, in whole credits (the vendor bills whole credits; a per-second
    /// price that comes to a fraction is rounded up, so a budget is never under-counted).
    pub credits: u64,
    /// At [`crate::pricing::Pricing::credits_per_usd`].
    pub usd: f64,
    /// How sure the price is.
    pub confidence: Confidence,
    /// Key of the price table's sources.
    pub source: &'static str,
    /// Whether the price was listed or computed per second.
    pub basis: Basis,
    /// Omni mode only: the reference video priced.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reference_video: Option<ReferenceVideo>,
}

impl Estimate {
    /// What the source tag stands for.
    pub fn source_description(&self) -> Option<&'static str> {
        PRICING
            .sources
            .iter()
            .find(|(k, _)| *k == self.source)
            .map(|(_, v)| *v)
    }
}

/// The cost of one video; `None` when the table has no price for the combination.
pub fn estimate(model: &Model, quality: &Quality, duration: u32, audio: bool) -> Option<Estimate> {
    let fixed = PRICING.fixed.iter().find(|p| {
        &p.model == model && &p.quality == quality && p.duration == duration && p.audio == audio
    });
    let (credits, confidence, source, basis) = match fixed {
        Some(p) => (p.credits, p.confidence, p.source, Basis::Fixed),
        None => {
            let p = PRICING
                .per_second
                .iter()
                .find(|p| &p.model == model && &p.quality == quality && p.audio == audio)?;
            (
                p.credits_per_second * f64::from(duration),
                p.confidence,
                p.source,
                Basis::PerSecond,
            )
        }
    };
    Some(whole(credits, confidence, source, basis, None))
}

/// Rounds up to whole credits (the vendor bills whole credits; a budget is never under-counted).
fn whole(
    credits: f64,
    confidence: Confidence,
    source: &'static str,
    basis: Basis,
    reference_video: Option<ReferenceVideo>,
) -> Estimate {
    // Prices are small positive numbers (spec-lint keeps them so): the cast cannot truncate.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let credits = credits.ceil().max(0.0) as u64;
    Estimate {
        credits,
        #[allow(clippy::cast_precision_loss)]
        usd: credits as f64 / PRICING.credits_per_usd,
        confidence,
        source,
        basis,
        reference_video,
    }
}

/// The cost of an Omni request: the model's per-second rate (same quality and audio) times the
/// Omni factor of spec/pricing.json, for each second of reference video. `None` when either
/// table has no row. The confidence is the Omni rule's (the factor is a third party's).
pub fn estimate_omni(
    model: &Model,
    quality: &Quality,
    audio: bool,
    reference: ReferenceVideo,
) -> Option<Estimate> {
    let rule = PRICING.omni.iter().find(|o| &o.model == model)?;
    let rate = PRICING
        .per_second
        .iter()
        .find(|p| &p.model == model && &p.quality == quality && p.audio == audio)?;
    let seconds = if reference.seconds.is_finite() {
        reference.seconds.max(0.0)
    } else {
        0.0
    };
    Some(whole(
        rate.credits_per_second * rule.factor_per_reference_second * seconds,
        rule.confidence,
        rule.source,
        Basis::PerReferenceSecond,
        Some(ReferenceVideo {
            seconds,
            ..reference
        }),
    ))
}

/// The reference video of `count` videos whose lengths are `seconds[i]` (`None` or missing:
/// unknown). Unknown ones are assumed at Omni's per-video maximum, the total capped at Omni's
/// total maximum (but never below the known lengths): offline, two unknown videos are 15 s.
pub fn reference_video(count: usize, seconds: &[Option<f64>]) -> ReferenceVideo {
    let omni = &CAPABILITIES.omni;
    #[allow(clippy::cast_precision_loss)]
    let (each, total_max) = (
        omni.video_max_seconds.value as f64,
        omni.videos_total_max_seconds.value as f64,
    );
    let known: Vec<f64> = (0..count)
        .filter_map(|i| seconds.get(i).copied().flatten())
        .filter(|s| s.is_finite() && *s >= 0.0)
        .collect();
    let known_sum: f64 = known.iter().sum();
    let unknown = count - known.len();
    if unknown == 0 {
        return ReferenceVideo {
            seconds: known_sum,
            assumed: false,
        };
    }
    #[allow(clippy::cast_precision_loss)]
    let guess = known_sum + each * unknown as f64;
    ReferenceVideo {
        seconds: guess.min(total_max).max(known_sum),
        assumed: true,
    }
}

/// Whether a job is priced as Omni: the mode, and at least one video to follow.
fn priced_as_omni(job: &Job) -> bool {
    job.is_omni() && !job.video_references.is_empty()
}

/// The cost of a job whose reference videos last `seconds[i]` (the facade passes what it
/// probed, or an earlier generation's known length; `None`: unknown, assumed as
/// [`reference_video`] says). A job that is not Omni ignores `seconds`.
pub fn estimate_job_with_videos(job: &Job, seconds: &[Option<f64>]) -> Option<Estimate> {
    let audio = job.generate_audio_switch == Some(true)
        && CAPABILITIES
            .model(&job.model)
            .is_some_and(|caps| caps.audio_switch.supported);
    if priced_as_omni(job) {
        let reference = reference_video(job.video_references.len(), seconds);
        return estimate_omni(&job.model, &job.quality, audio, reference);
    }
    estimate(&job.model, &job.quality, job.duration, audio)
}

/// The cost of a job. Audio counts only when it is switched on for a model that honours it
/// (the vendor documents no default, so an absent switch is priced as off). An Omni job's
/// reference videos are of unknown length here, so they are assumed at the maximum
/// ([`Estimate::reference_video`] says so); [`estimate_job_with_videos`] takes known lengths.
pub fn estimate_job(job: &Job) -> Option<Estimate> {
    estimate_job_with_videos(job, &[])
}
