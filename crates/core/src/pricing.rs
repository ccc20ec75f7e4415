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
    pub model: Model,
    pub quality: Quality,
    pub duration: u32,
    pub audio: bool,
    pub credits: f64,
    pub confidence: Confidence,
    pub source: &'static str,
}

/// A price per second of video.
#[derive(Debug, PartialEq)]
pub struct PerSecondPrice {
    pub model: Model,
    pub quality: Quality,
    pub audio: bool,
    pub credits_per_second: f64,
    pub confidence: Confidence,
    pub source: &'static str,
}

/// The whole table.
#[derive(Debug, PartialEq)]
pub struct Pricing {
    pub credits_per_usd: f64,
    pub sources: &'static [(&'static str, &'static str)],
    pub fixed: &'static [FixedPrice],
    pub per_second: &'static [PerSecondPrice],
}
