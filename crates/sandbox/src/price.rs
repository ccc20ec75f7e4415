//! What the sandbox charges for a job: read from the price table (`spec/pricing.json`, via
//! [`pixfuse_core::PRICING`]) by the sandbox's own lookup, then adjusted by
//! [`Prices`]. The vendor charges whole credits, so fractions round up.

use pixfuse_core::{CAPABILITIES, Model, PRICING, Quality};

use crate::config::Prices;

/// The credits a job of `model`, `quality`, `duration` seconds (with audio if switched on and
/// the model honours it) costs.
pub(crate) fn credits(
    prices: Prices,
    model: &Model,
    quality: &Quality,
    duration: u32,
    audio: bool,
) -> u64 {
    let audio = audio
        && CAPABILITIES
            .model(model)
            .is_some_and(|caps| caps.audio_switch.supported);
    let listed = || table_price(model, quality, duration, audio).unwrap_or(0.0);
    let credits = match prices {
        Prices::Spec => listed(),
        Prices::Scaled(factor) => listed() * factor,
        Prices::Flat(credits) => return credits,
    };
    // Whole credits; the configuration check keeps the factor finite and non-negative.
    credits.ceil().max(0.0) as u64
}

/// The credits an Omni job costs: the model's per-second rate times the Omni factor of the
/// price table, for each of `reference_secs` seconds of reference video (a model the Omni
/// table lacks is priced as a plain job of that length).
pub(crate) fn omni_credits(
    prices: Prices,
    model: &Model,
    quality: &Quality,
    audio: bool,
    reference_secs: f64,
) -> u64 {
    let audio_on = audio
        && CAPABILITIES
            .model(model)
            .is_some_and(|caps| caps.audio_switch.supported);
    let rule = PRICING.omni.iter().find(|o| &o.model == model);
    let rate = PRICING
        .per_second
        .iter()
        .find(|p| &p.model == model && &p.quality == quality && p.audio == audio_on);
    let (Some(rule), Some(rate)) = (rule, rate) else {
        // Whole seconds of a short clip: the cast cannot truncate.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let seconds = reference_secs.ceil().clamp(0.0, f64::from(u32::MAX)) as u32;
        return credits(prices, model, quality, seconds, audio);
    };
    let listed =
        rate.credits_per_second * rule.factor_per_reference_second * reference_secs.max(0.0);
    let credits = match prices {
        Prices::Spec => listed,
        Prices::Scaled(factor) => listed * factor,
        Prices::Flat(credits) => return credits,
    };
    credits.ceil().max(0.0) as u64
}

/// The table's price: a listed combination, else a per-second rate, else the listed prices of
/// the same model and quality scaled to this duration (a combination the table lacks still
/// costs something at the vendor).
fn table_price(model: &Model, quality: &Quality, duration: u32, audio: bool) -> Option<f64> {
    let same = |m: &Model, q: &Quality, a: bool| m == model && q == quality && a == audio;
    let seconds = f64::from(duration);
    if let Some(p) = PRICING
        .fixed
        .iter()
        .find(|p| same(&p.model, &p.quality, p.audio) && p.duration == duration)
    {
        return Some(p.credits);
    }
    if let Some(p) = PRICING
        .per_second
        .iter()
        .find(|p| same(&p.model, &p.quality, p.audio))
    {
        return Some(p.credits_per_second * seconds);
    }
    PRICING
        .fixed
        .iter()
        .filter(|p| same(&p.model, &p.quality, p.audio) && p.duration > 0)
        .min_by_key(|p| p.duration.abs_diff(duration))
        .map(|p| p.credits / f64::from(p.duration) * seconds)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn price(prices: Prices, model: &str, quality: &str, duration: u32, audio: bool) -> u64 {
        credits(
            prices,
            &Model::from(model),
            &Quality::from(quality),
            duration,
            audio,
        )
    }

    #[test]
    fn listed_and_per_second_prices_from_the_table() {
        assert_eq!(price(Prices::Spec, "v5", "540p", 5, false), 45);
        assert_eq!(price(Prices::Spec, "v5.6", "540p", 5, true), 55);
        assert_eq!(price(Prices::Spec, "v6", "720p", 5, true), 60);
        // Audio on a model without it is not charged (the judge refuses `true` there anyway).
        assert_eq!(price(Prices::Spec, "v5", "540p", 5, true), 45);
        // c1 720p with audio: 6.5 credits a second, rounded up.
        assert_eq!(price(Prices::Spec, "c1", "720p", 5, true), 33);
    }

    #[test]
    fn an_unlisted_combination_is_scaled_from_its_neighbours() {
        // v4.5 lists 1080p only at 5 s (120).
        assert_eq!(price(Prices::Spec, "v4.5", "1080p", 8, false), 192);
    }

    #[test]
    fn the_configuration_can_charge_differently() {
        assert_eq!(price(Prices::Scaled(1.5), "v5", "540p", 5, false), 68);
        assert_eq!(price(Prices::Flat(7), "v6", "1080p", 15, true), 7);
        assert_eq!(price(Prices::Scaled(0.0), "v5", "540p", 5, false), 0);
    }
}
