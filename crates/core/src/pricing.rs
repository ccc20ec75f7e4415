//! The price table, for estimates before anything is spent.

use crate::{Model, Quality};

pub use crate::generated::tables::PRICING;

/// How sure a price is.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Confidence {
    /// The vendor publishes it.
    Official,
    /// Derived from official figures.
    Inferred,
    /// A third party's figure.
    Unofficial,
}

impl Confidence {
    /// `"official"`, `"inferred"` or `"unofficial"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Confidence::Official => "official",
            Confidence::Inferred => "inferred",
            Confidence::Unofficial => "unofficial",
        }
    }
}

/// The price of one exact combination.
#[derive(Debug, PartialEq)]
pub struct FixedPrice {
    /// The model priced.
    pub model: Model,
    /// The quality priced.
    pub quality: Quality,
    /// Seconds of video.
    pub duration: u32,
    /// With the soundtrack switched on.
    pub audio: bool,
    /// What one such video costs.
    pub credits: f64,
    /// How sure the figure is.
    pub confidence: Confidence,
    /// Key of [`Pricing::sources`].
    pub source: &'static str,
}

/// A price per second of video.
#[derive(Debug, PartialEq)]
pub struct PerSecondPrice {
    /// The model priced.
    pub model: Model,
    /// The quality priced.
    pub quality: Quality,
    /// With the soundtrack switched on.
    pub audio: bool,
    /// Credits per second of video.
    pub credits_per_second: f64,
    /// How sure the figure is.
    pub confidence: Confidence,
    /// Key of [`Pricing::sources`].
    pub source: &'static str,
}

/// The Omni-mode price of one model: its per-second rate (same quality and audio) times
/// `factor_per_reference_second`, for each second of reference video.
#[derive(Debug, PartialEq)]
pub struct OmniPrice {
    /// The model priced.
    pub model: Model,
    /// Multiple of the per-second rate charged per second of reference video.
    pub factor_per_reference_second: f64,
    /// How sure the figure is.
    pub confidence: Confidence,
    /// Key of [`Pricing::sources`].
    pub source: &'static str,
}

/// The whole table.
#[derive(Debug, PartialEq)]
pub struct Pricing {
    /// Credits one US dollar buys.
    pub credits_per_usd: f64,
    /// Source tag → where the prices came from.
    pub sources: &'static [(&'static str, &'static str)],
    /// Prices of exact combinations, preferred over per-second ones.
    pub fixed: &'static [FixedPrice],
    /// Prices per second of video, for combinations without a fixed price.
    pub per_second: &'static [PerSecondPrice],
    /// Omni-mode prices (per second of reference video).
    pub omni: &'static [OmniPrice],
}
