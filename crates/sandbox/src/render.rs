//! What a generation looks like from outside: how long it takes and how large its frames are.
//! Both are read from the request's own values (a quality names its short side, an aspect ratio
//! its proportions), so the sandbox knows no model or resolution of its own.

use pixfuse_core::{CAPABILITIES, Model, Quality};

/// The short side that renders in the base generation time; larger ones take longer.
const BASE_SHORT_SIDE: f64 = 540.0;

/// How much longer than the base time a 5 s video of `model` at `quality` takes: in proportion
/// to its short side, never faster than the base, times the model's `render_factor` from the
/// capability table (1 for a model the table does not know).
pub(crate) fn render_factor(model: &Model, quality: &Quality) -> f64 {
    let frames =
        short_side(quality).map_or(1.0, |side| (f64::from(side) / BASE_SHORT_SIDE).max(1.0));
    let model = CAPABILITIES.model(model).map_or(1.0, |m| m.render_factor);
    frames * model
}

/// The short side a quality names: `"720p"` → 720.
pub(crate) fn short_side(quality: &Quality) -> Option<u32> {
    quality.as_str().strip_suffix('p')?.parse().ok()
}

/// Output width and height for `quality` at `aspect_ratio` (`"16:9"`): the short side from the
/// quality, the long side in proportion, rounded to an even number as video encoders need.
pub(crate) fn dimensions(quality: &Quality, aspect_ratio: &str) -> Option<(u32, u32)> {
    let short = u64::from(short_side(quality)?);
    let (w, h) = aspect_ratio.split_once(':')?;
    let (w, h): (u64, u64) = (w.trim().parse().ok()?, h.trim().parse().ok()?);
    if w == 0 || h == 0 {
        return None;
    }
    let long = |num: u64, den: u64| {
        let exact = short * num;
        // Nearest even integer to exact / den.
        u32::try_from((exact + den) / (2 * den) * 2).ok()
    };
    let short = u32::try_from(short).ok()?;
    if w >= h {
        Some((long(w, h)?, short))
    } else {
        Some((short, long(h, w)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(s: &str) -> Quality {
        Quality::from(s)
    }

    #[test]
    fn dimensions_follow_quality_and_aspect_ratio() {
        assert_eq!(dimensions(&q("720p"), "16:9"), Some((1280, 720)));
        assert_eq!(dimensions(&q("1080p"), "16:9"), Some((1920, 1080)));
        assert_eq!(dimensions(&q("540p"), "16:9"), Some((960, 540)));
        assert_eq!(dimensions(&q("360p"), "9:16"), Some((360, 640)));
        assert_eq!(dimensions(&q("720p"), "1:1"), Some((720, 720)));
        assert_eq!(dimensions(&q("720p"), "4:3"), Some((960, 720)));
        assert_eq!(dimensions(&q("720p"), "21:9"), Some((1680, 720)));
        assert_eq!(dimensions(&q("1080p"), "2:3"), Some((1080, 1620)));
        assert_eq!(dimensions(&q("4k"), "16:9"), None);
        assert_eq!(dimensions(&q("720p"), "auto"), None);
    }

    #[test]
    fn larger_frames_take_longer_and_small_ones_no_less_than_the_base() {
        let v5 = Model::from("v5");
        assert_eq!(render_factor(&v5, &q("360p")), 1.0);
        assert_eq!(render_factor(&v5, &q("540p")), 1.0);
        assert_eq!(render_factor(&v5, &q("1080p")), 2.0);
        assert!(render_factor(&v5, &q("720p")) > 1.0);
    }

    #[test]
    fn a_model_renders_as_much_longer_as_the_table_says() {
        let v6 = CAPABILITIES.model(&Model::V6).unwrap().render_factor;
        assert!(v6 > 1.0);
        assert_eq!(render_factor(&Model::V6, &q("540p")), v6);
        assert_eq!(render_factor(&Model::from("v99"), &q("540p")), 1.0);
    }
}
