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
    // Prices are small positive numbers (spec-lint keeps them so): the cast cannot truncate.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let credits = credits.ceil().max(0.0) as u64;
    Some(Estimate {
        credits,
        #[allow(clippy::cast_precision_loss)]
        usd: credits as f64 / PRICING.credits_per_usd,
        confidence,
        source,
        basis,
    })
}

/// The cost of a job. Audio counts only when it is switched on for a model that honours it
/// (the vendor documents no default, so an absent switch is priced as off).
pub fn estimate_job(job: &Job) -> Option<Estimate> {
    let audio = job.generate_audio_switch == Some(true)
        && CAPABILITIES
            .model(&job.model)
            .is_some_and(|caps| caps.audio_switch.supported);
    estimate(&job.model, &job.quality, job.duration, audio)
}
