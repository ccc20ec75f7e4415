//! The capability, error-code and pricing tables as plain Rust `static`s (no JSON at run time).
//!
//! The struct definitions live in pixfuse-core (`caps`, `errcode`, `pricing`); this file only
//! writes their values. Every string that names an enum value is resolved here, so a table that
//! names an unknown model or aspect ratio fails the build with a message naming the row.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use crate::Error;
use crate::enums::EnumDef;
use crate::spec::{self, CAPABILITIES, ERROR_CODES, PRICING, Severity, Spec};

struct Enums<'a>(&'a [EnumDef]);

impl Enums<'_> {
    fn get(&self, name: &str) -> Result<&EnumDef, Error> {
        self.0.iter().find(|e| e.name == name).ok_or_else(|| {
            Error::spec(
                spec::REQUEST_SCHEMA,
                format!("$defs/{name} (a oneOf of consts) is missing"),
            )
        })
    }
}

pub(crate) fn render(spec: &Spec, enums: &[EnumDef]) -> Result<TokenStream, Error> {
    let enums = Enums(enums);
    let caps = capabilities(&spec.capabilities, &enums)?;
    let codes = error_codes(&spec.error_codes)?;
    let pricing = pricing(&spec.pricing, &enums)?;
    Ok(quote! { #caps #codes #pricing })
}

fn severity(s: Severity) -> TokenStream {
    match s {
        Severity::Error => quote!(crate::Severity::Error),
        Severity::Warning => quote!(crate::Severity::Warning),
    }
}

fn check_source(
    sources: &std::collections::BTreeMap<String, String>,
    tag: &str,
    file: &str,
    row: &str,
) -> Result<(), Error> {
    if sources.contains_key(tag) {
        Ok(())
    } else {
        Err(Error::spec(
            file,
            format!("{row}: source {tag:?} is not a key of `sources`"),
        ))
    }
}

fn capabilities(c: &spec::Capabilities, enums: &Enums) -> Result<TokenStream, Error> {
    let src = |tag: &str, row: &str| check_source(&c.sources, tag, CAPABILITIES, row);
    let limit = |l: &spec::Limit, row: &str| -> Result<TokenStream, Error> {
        src(&l.source, row)?;
        let (value, sev, source) = (l.value, severity(l.severity), &l.source);
        Ok(quote!(crate::caps::Limit { value: #value, severity: #sev, source: #source }))
    };
    let policy = |p: &spec::Policy, row: &str| -> Result<TokenStream, Error> {
        src(&p.source, row)?;
        let (sev, source) = (severity(p.severity), &p.source);
        Ok(quote!(crate::caps::Policy { severity: #sev, source: #source }))
    };
    let (model_e, quality_e, aspect_e) = (
        enums.get("Model")?,
        enums.get("Quality")?,
        enums.get("AspectRatio")?,
    );

    let sources = c.sources.iter().map(|(k, v)| quote!((#k, #v)));
    let r = &c.request;
    let request = {
        let ref_name = limit(&r.ref_name_max_bytes, "request.ref_name_max_bytes")?;
        let seed = limit(&r.seed_max, "request.seed_max")?;
        let unknown_model = policy(&r.unknown_model, "request.unknown_model")?;
        let unknown_field = policy(&r.unknown_field, "request.unknown_field")?;
        let unmentioned = policy(&r.unmentioned_ref, "request.unmentioned_ref")?;
        let at_end = policy(&r.mention_at_end, "request.mention_at_end")?;
        quote!(crate::caps::RequestRules {
            ref_name_max_bytes: #ref_name, seed_max: #seed, unknown_model: #unknown_model,
            unknown_field: #unknown_field, unmentioned_ref: #unmentioned, mention_at_end: #at_end,
        })
    };
    let u = &c.upload;
    let upload = {
        let exts = &u.extensions;
        let max_bytes = limit(&u.max_bytes, "upload.max_bytes")?;
        let sides = u
            .max_side_px
            .iter()
            .map(|l| limit(l, "upload.max_side_px"))
            .collect::<Result<Vec<_>, _>>()?;
        quote!(crate::caps::UploadRules { extensions: &[#(#exts),*], max_bytes: #max_bytes, max_side_px: &[#(#sides),*] })
    };
    let omni = {
        let o = &c.omni;
        let row = "omni";
        src(&o.models.source, row)?;
        let models = o
            .models
            .values
            .iter()
            .map(|m| model_e.path_of(m, CAPABILITIES))
            .collect::<Result<Vec<_>, _>>()?;
        let (msev, msrc) = (severity(o.models.severity), &o.models.source);
        let without_videos = policy(&o.without_videos, "omni.without_videos")?;
        let max_images = limit(&o.max_images, "omni.max_images")?;
        let max_videos = limit(&o.max_videos, "omni.max_videos")?;
        let video_max = limit(&o.video_max_seconds, "omni.video_max_seconds")?;
        let total_max = limit(&o.videos_total_max_seconds, "omni.videos_total_max_seconds")?;
        src(&o.durations.source, "omni.durations")?;
        let durations = &o.durations.values;
        let (dsev, dsrc) = (severity(o.durations.severity), &o.durations.source);
        src(&o.extra_aspect_ratios.source, "omni.extra_aspect_ratios")?;
        let extra = o
            .extra_aspect_ratios
            .values
            .iter()
            .map(|a| aspect_e.path_of(a, CAPABILITIES))
            .collect::<Result<Vec<_>, _>>()?;
        let (esev, esrc) = (
            severity(o.extra_aspect_ratios.severity),
            &o.extra_aspect_ratios.source,
        );
        let negative = limit(
            &o.negative_prompt_max_chars,
            "omni.negative_prompt_max_chars",
        )?;
        let looks_like = policy(&o.looks_like_omni, "omni.looks_like_omni")?;
        let u = &o.upload;
        let exts = &u.extensions;
        let extension = policy(&u.extension, "omni.upload.extension")?;
        let max_seconds = limit(&u.max_seconds, "omni.upload.max_seconds")?;
        let max_side = limit(&u.max_side_px, "omni.upload.max_side_px")?;
        let max_bytes = u
            .max_bytes
            .iter()
            .map(|l| limit(l, "omni.upload.max_bytes"))
            .collect::<Result<Vec<_>, _>>()?;
        quote!(crate::caps::OmniRules {
            models: crate::caps::Allowed { values: &[#(#models),*], severity: #msev, source: #msrc },
            without_videos: #without_videos,
            max_images: #max_images,
            max_videos: #max_videos,
            video_max_seconds: #video_max,
            videos_total_max_seconds: #total_max,
            durations: crate::caps::Allowed { values: &[#(#durations),*], severity: #dsev, source: #dsrc },
            extra_aspect_ratios: crate::caps::Allowed { values: &[#(#extra),*], severity: #esev, source: #esrc },
            negative_prompt_max_chars: #negative,
            looks_like_omni: #looks_like,
            upload: crate::caps::VideoUploadRules {
                extensions: &[#(#exts),*], extension: #extension, max_seconds: #max_seconds,
                max_side_px: #max_side, max_bytes: &[#(#max_bytes),*],
            },
        })
    };
    let render = {
        let r = &c.render;
        src(&r.source, "render")?;
        let figures = std::iter::once(r.overhead_seconds)
            .chain(std::iter::once(r.other_quality_seconds_per_video_second))
            .chain(r.seconds_per_video_second.iter().map(|q| q.value));
        for figure in figures {
            if !(figure.is_finite() && figure >= 0.0) {
                return Err(Error::spec(
                    CAPABILITIES,
                    format!("render: {figure} is not a number of seconds (finite, not negative)"),
                ));
            }
        }
        let rates = r
            .seconds_per_video_second
            .iter()
            .map(|q| {
                let (quality, value) = (quality_e.path_of(&q.quality, CAPABILITIES)?, q.value);
                Ok(quote!(crate::caps::QualityRate { quality: #quality, seconds: #value }))
            })
            .collect::<Result<Vec<_>, Error>>()?;
        let (overhead, other, duration, source) = (
            r.overhead_seconds,
            r.other_quality_seconds_per_video_second,
            r.typical_duration,
            &r.source,
        );
        let quality = quality_e.path_of(&r.typical_quality, CAPABILITIES)?;
        quote!(crate::caps::RenderTime {
            overhead_seconds: #overhead, seconds_per_video_second: &[#(#rates),*],
            other_quality_seconds_per_video_second: #other, typical_duration: #duration,
            typical_quality: #quality, source: #source,
        })
    };
    let mut models = Vec::new();
    for m in &c.models {
        let row = format!("models[{}]", m.model);
        let model = model_e.path_of(&m.model, CAPABILITIES)?;
        if !(m.render_factor.is_finite() && m.render_factor > 0.0) {
            return Err(Error::spec(
                CAPABILITIES,
                format!("{row}: render_factor must be a positive number"),
            ));
        }
        let render_factor = m.render_factor;
        let max_images = limit(&m.max_images, &row)?;
        src(&m.durations.source, &row)?;
        let durations = &m.durations.values;
        let (dsev, dsrc) = (severity(m.durations.severity), &m.durations.source);
        src(&m.qualities.source, &row)?;
        let qualities = m
            .qualities
            .values
            .iter()
            .map(|q| quality_e.path_of(q, CAPABILITIES))
            .collect::<Result<Vec<_>, _>>()?;
        let (qsev, qsrc) = (severity(m.qualities.severity), &m.qualities.source);
        src(&m.aspect_ratios.source, &row)?;
        let aspects = m
            .aspect_ratios
            .values
            .iter()
            .map(|a| aspect_e.path_of(a, CAPABILITIES))
            .collect::<Result<Vec<_>, _>>()?;
        let (asev, asrc) = (severity(m.aspect_ratios.severity), &m.aspect_ratios.source);
        let mut forbidden = Vec::new();
        for f in &m.forbidden {
            src(&f.source, &row)?;
            let q = quality_e.path_of(&f.quality, CAPABILITIES)?;
            let (ds, sev, source) = (&f.durations, severity(f.severity), &f.source);
            forbidden.push(quote!(crate::caps::Forbidden { quality: #q, durations: &[#(#ds),*], severity: #sev, source: #source }));
        }
        let a = &m.audio_switch;
        src(&a.source, &row)?;
        let (supported, wt, wf, asource) = (
            a.supported,
            severity(a.when_true),
            severity(a.when_false),
            &a.source,
        );
        let prompt = m
            .prompt_max_chars
            .iter()
            .map(|l| limit(l, &row))
            .collect::<Result<Vec<_>, _>>()?;
        models.push(quote!(crate::caps::ModelCaps {
            model: #model,
            render_factor: #render_factor,
            max_images: #max_images,
            durations: crate::caps::Allowed { values: &[#(#durations),*], severity: #dsev, source: #dsrc },
            qualities: crate::caps::Allowed { values: &[#(#qualities),*], severity: #qsev, source: #qsrc },
            aspect_ratios: crate::caps::Allowed { values: &[#(#aspects),*], severity: #asev, source: #asrc },
            forbidden: &[#(#forbidden),*],
            audio_switch: crate::caps::AudioSwitch { supported: #supported, when_true: #wt, when_false: #wf, source: #asource },
            prompt_max_chars: &[#(#prompt),*],
        }));
    }
    Ok(quote! {
        /// The capability table of spec/capabilities.json.
        pub static CAPABILITIES: crate::caps::Capabilities = crate::caps::Capabilities {
            sources: &[#(#sources),*],
            request: #request,
            upload: #upload,
            omni: #omni,
            render: #render,
            models: &[#(#models),*],
        };
    })
}

fn snake_to_camel(s: &str) -> String {
    s.split('_')
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect()
}

fn error_codes(e: &spec::ErrorCodes) -> Result<TokenStream, Error> {
    let mut rows: Vec<&spec::ErrorCode> = e.codes.iter().collect();
    rows.sort_by_key(|r| r.code);
    if let Some(w) = rows.windows(2).find(|w| w[0].code == w[1].code) {
        return Err(Error::spec(
            ERROR_CODES,
            format!("ErrCode {} is listed twice", w[0].code),
        ));
    }
    let rows = rows.iter().map(|r| {
        let (code, name, meaning, hint, source) = (r.code, &r.name, &r.meaning, &r.hint, &r.source);
        let class = format_ident!("{}", snake_to_camel(&r.class));
        let retry = format_ident!("{}", snake_to_camel(&r.retry));
        quote!(crate::errcode::ErrCodeInfo {
            code: #code, name: #name, meaning: #meaning,
            class: crate::ErrorClass::#class, retry: crate::errcode::RetryRule::#retry,
            hint: #hint, source: #source,
        })
    });
    Ok(quote! {
        /// The ErrCode table of spec/error-codes.json, sorted by code.
        pub static ERROR_CODES: &[crate::errcode::ErrCodeInfo] = &[#(#rows),*];
    })
}

fn pricing(p: &spec::Pricing, enums: &Enums) -> Result<TokenStream, Error> {
    let (model_e, quality_e) = (enums.get("Model")?, enums.get("Quality")?);
    let confidence = |c: &str| -> Result<TokenStream, Error> {
        match c {
            "official" | "inferred" | "unofficial" => {
                let id = format_ident!("{}", snake_to_camel(c));
                Ok(quote!(crate::pricing::Confidence::#id))
            }
            other => Err(Error::spec(
                PRICING,
                format!("unknown confidence {other:?}"),
            )),
        }
    };
    let mut fixed = Vec::new();
    for f in &p.fixed {
        check_source(&p.sources, &f.source, PRICING, "fixed")?;
        let (m, q) = (
            model_e.path_of(&f.model, PRICING)?,
            quality_e.path_of(&f.quality, PRICING)?,
        );
        let (d, a, c, conf, s) = (
            f.duration,
            f.audio,
            f.credits,
            confidence(&f.confidence)?,
            &f.source,
        );
        fixed.push(quote!(crate::pricing::FixedPrice { model: #m, quality: #q, duration: #d, audio: #a, credits: #c, confidence: #conf, source: #s }));
    }
    let mut per = Vec::new();
    for f in &p.per_second {
        check_source(&p.sources, &f.source, PRICING, "per_second")?;
        let (m, q) = (
            model_e.path_of(&f.model, PRICING)?,
            quality_e.path_of(&f.quality, PRICING)?,
        );
        let (a, c, conf, s) = (
            f.audio,
            f.credits_per_second,
            confidence(&f.confidence)?,
            &f.source,
        );
        per.push(quote!(crate::pricing::PerSecondPrice { model: #m, quality: #q, audio: #a, credits_per_second: #c, confidence: #conf, source: #s }));
    }
    let mut omni = Vec::new();
    for o in &p.omni {
        check_source(&p.sources, &o.source, PRICING, "omni")?;
        let m = model_e.path_of(&o.model, PRICING)?;
        let factor = o.factor_per_reference_second;
        if !(factor.is_finite() && factor > 0.0) {
            return Err(Error::spec(
                PRICING,
                format!(
                    "omni[{}]: factor_per_reference_second must be a positive number",
                    o.model
                ),
            ));
        }
        let (conf, s) = (confidence(&o.confidence)?, &o.source);
        omni.push(quote!(crate::pricing::OmniPrice { model: #m, factor_per_reference_second: #factor, confidence: #conf, source: #s }));
    }
    let cpu = p.credits_per_usd;
    let sources = p.sources.iter().map(|(k, v)| quote!((#k, #v)));
    Ok(quote! {
        /// The price table of spec/pricing.json.
        pub static PRICING: crate::pricing::Pricing = crate::pricing::Pricing {
            credits_per_usd: #cpu,
            sources: &[#(#sources),*],
            fixed: &[#(#fixed),*],
            per_second: &[#(#per),*],
            omni: &[#(#omni),*],
        };
    })
}
