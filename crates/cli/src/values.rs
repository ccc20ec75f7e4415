//! Value parsers whose errors say what the argument takes, in its own terms (clap prefixes them
//! with the value and the argument: `invalid value 'abc' for '[JOB_ID]...': …`).

/// A journal id (`pixfuse jobs` lists them).
pub fn job_id(text: &str) -> Result<i64, String> {
    text.trim()
        .parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| "a job id is the number `pixfuse jobs` shows, e.g. 3".to_owned())
}

/// `--budget`: credits, a number at least 0.
pub fn budget(text: &str) -> Result<f64, String> {
    text.trim()
        .parse::<f64>()
        .ok()
        .filter(|c| c.is_finite() && *c >= 0.0)
        .ok_or_else(|| "--budget takes credits, e.g. 2000".to_owned())
}

/// `--seed`: a whole number (whether the vendor takes it is offline validation's to say, as for
/// a job file's seed).
pub fn seed(text: &str) -> Result<u32, String> {
    text.trim()
        .parse::<u32>()
        .map_err(|_| "--seed takes a whole number from 0 to 2147483647".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_says_what_it_takes() {
        assert_eq!(job_id("3"), Ok(3));
        assert!(job_id("abc").unwrap_err().contains("pixfuse jobs"));
        assert!(job_id("0").is_err());
        assert_eq!(budget("2000"), Ok(2000.0));
        assert_eq!(
            budget("abc"),
            Err("--budget takes credits, e.g. 2000".to_owned())
        );
        assert!(budget("-1").is_err() && budget("NaN").is_err());
        assert_eq!(seed("42"), Ok(42));
        assert_eq!(
            seed("2147483648"),
            Ok(2_147_483_648),
            "validation reports the range"
        );
        assert!(seed("x").unwrap_err().starts_with("--seed takes"));
    }
}

/// `--ref` / `--video-ref`: `NAME=PATH`, whose path goes into the request's JSON, which holds
/// text only: a file name that is not UTF-8 is refused saying so (clap's own error names
/// neither the argument nor the way out).
#[derive(Clone, Copy, Debug)]
pub struct Utf8Ref;

impl clap::builder::TypedValueParser for Utf8Ref {
    type Value = String;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<String, clap::Error> {
        value.to_str().map(str::to_owned).ok_or_else(|| {
            let flag = arg.and_then(clap::Arg::get_long).unwrap_or("ref");
            clap::Error::raw(
                clap::error::ErrorKind::InvalidUtf8,
                format!(
                    "--{flag} {}: the file name is not UTF-8, and a request's JSON holds only \
                     text; rename the file or link it under a UTF-8 name\n",
                    value.to_string_lossy()
                ),
            )
            .with_cmd(cmd)
        })
    }
}
