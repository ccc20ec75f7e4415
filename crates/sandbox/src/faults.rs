//! Which fault, if any, strikes a request: one seeded draw per request, so a fixed seed and a
//! fixed sequence of requests always give the same faults.

use std::sync::Mutex;

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use crate::config::FaultConfig;

/// The endpoints, as far as faults are concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Endpoint {
    Upload,
    Generate,
    Result,
    Balance,
    Media,
}

/// A fault to inject.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Fault {
    RateLimit,
    /// `proxy_html` picks between a proxy's HTML 502 and the vendor's JSON 500.
    ServerError {
        proxy_html: bool,
    },
    DropAfterSubmit,
    TruncatedJson,
    CutDownload,
}

pub(crate) struct FaultDice {
    config: FaultConfig,
    rng: Mutex<SmallRng>,
}

impl FaultDice {
    pub(crate) fn new(config: FaultConfig) -> Self {
        let rng = Mutex::new(SmallRng::seed_from_u64(config.seed));
        Self { config, rng }
    }

    pub(crate) fn retry_after_secs(&self) -> u32 {
        self.config.retry_after_secs
    }

    /// Draws the fault for one request to `endpoint`.
    pub(crate) fn roll(&self, endpoint: Endpoint) -> Option<Fault> {
        if !self.config.is_active() {
            return None;
        }
        let (draw, coin) = {
            // A poisoned lock only means another request panicked mid-draw; the generator
            // itself is still usable.
            let mut rng = self.rng.lock().unwrap_or_else(|e| e.into_inner());
            (rng.random::<f64>(), rng.random::<bool>())
        };
        decide(&self.config, endpoint, draw, coin)
    }
}

/// The pure decision: `draw` in `0..1` falls into one band per fault that applies here.
fn decide(config: &FaultConfig, endpoint: Endpoint, draw: f64, coin: bool) -> Option<Fault> {
    let bands: &[(f64, Fault)] = match endpoint {
        Endpoint::Media => &[(config.cut_download, Fault::CutDownload)],
        Endpoint::Generate => &[
            (config.rate_limit, Fault::RateLimit),
            (config.server_error, Fault::ServerError { proxy_html: coin }),
            (config.drop_after_submit, Fault::DropAfterSubmit),
            (config.truncated_json, Fault::TruncatedJson),
        ],
        Endpoint::Upload | Endpoint::Result | Endpoint::Balance => &[
            (config.rate_limit, Fault::RateLimit),
            (config.server_error, Fault::ServerError { proxy_html: coin }),
            (config.truncated_json, Fault::TruncatedJson),
        ],
    };
    let mut upper = 0.0;
    for (p, fault) in bands {
        upper += p;
        if draw < upper {
            return Some(*fault);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> FaultConfig {
        FaultConfig {
            rate_limit: 0.1,
            server_error: 0.1,
            drop_after_submit: 0.1,
            truncated_json: 0.1,
            cut_download: 0.5,
            ..FaultConfig::default()
        }
    }

    #[test]
    fn bands_follow_the_probabilities_in_order() {
        let c = config();
        assert_eq!(
            decide(&c, Endpoint::Generate, 0.05, false),
            Some(Fault::RateLimit)
        );
        assert_eq!(
            decide(&c, Endpoint::Generate, 0.15, true),
            Some(Fault::ServerError { proxy_html: true })
        );
        assert_eq!(
            decide(&c, Endpoint::Generate, 0.25, false),
            Some(Fault::DropAfterSubmit)
        );
        assert_eq!(
            decide(&c, Endpoint::Generate, 0.35, false),
            Some(Fault::TruncatedJson)
        );
        assert_eq!(decide(&c, Endpoint::Generate, 0.45, false), None);
    }

    #[test]
    fn drops_only_hit_submits_and_cuts_only_hit_downloads() {
        let c = config();
        assert_eq!(
            decide(&c, Endpoint::Result, 0.25, false),
            Some(Fault::TruncatedJson)
        );
        assert_eq!(decide(&c, Endpoint::Result, 0.35, false), None);
        assert_eq!(
            decide(&c, Endpoint::Media, 0.05, false),
            Some(Fault::CutDownload)
        );
        assert_eq!(decide(&c, Endpoint::Media, 0.55, false), None);
    }

    #[test]
    fn the_same_seed_gives_the_same_faults() {
        let sequence = |seed| {
            let dice = FaultDice::new(FaultConfig { seed, ..config() });
            (0..64)
                .map(|_| dice.roll(Endpoint::Generate))
                .collect::<Vec<_>>()
        };
        assert_eq!(sequence(7), sequence(7));
        assert_ne!(sequence(7), sequence(8));
    }

    #[test]
    fn no_faults_configured_means_none() {
        let dice = FaultDice::new(FaultConfig::none());
        assert!((0..100).all(|_| dice.roll(Endpoint::Generate).is_none()));
    }
}
