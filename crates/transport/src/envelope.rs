//! Reading the vendor's `{ErrCode, ErrMsg, Resp}` envelope, in either spelling, leniently.
//!
//! The body is parsed once into a JSON value (integers stay exact: serde_json never routes them
//! through f64). The head first, so an error answer whose `Resp` has some other shape still
//! yields its code; then `Resp` as the endpoint's generated wire type, where only the type's
//! required fields can fail the answer: a decimal string stands for a number (`"video_id":
//! "123"`, `"credits":"45"`), and any other field of an unexpected type is dropped with a debug
//! log, so a field nobody needs never blocks a paid result. Unknown fields are ignored.

use serde::de::DeserializeOwned;
use serde_json::{Map, Number, Value};

/// What a body says.
#[derive(Debug)]
pub(crate) enum Decoded<T> {
    /// `ErrCode == 0` and a readable `Resp`.
    Ok(T),
    /// A non-zero `ErrCode`.
    Err { code: i64, msg: Option<String> },
    /// JSON without an ErrCode (HTTP errors of plain JSON APIs, a relay's `{}`).
    NoEnvelope,
    /// ErrCode 0, but `Resp` is missing or lacks what the endpoint needs (said how).
    BadResp(String),
    /// Not JSON at all (an HTML error page).
    NotJson,
    /// JSON that ends before it is complete: the body was cut on the way.
    Truncated,
}

/// Decodes `body`; `clean` makes server text (field names, problems) safe for the logs.
pub(crate) fn decode<T: DeserializeOwned>(
    body: &[u8],
    clean: &dyn Fn(&str) -> String,
) -> Decoded<T> {
    let value: Value = match serde_json::from_slice(body) {
        Ok(value) => value,
        Err(e) if e.is_eof() && !body.trim_ascii().is_empty() => return Decoded::Truncated,
        Err(_) => return Decoded::NotJson,
    };
    let Value::Object(mut top) = value else {
        return Decoded::NoEnvelope;
    };
    let field = |top: &mut Map<String, Value>, upper: &str, lower: &str| {
        top.remove(upper).or_else(|| top.remove(lower))
    };
    let code = field(&mut top, "ErrCode", "err_code").and_then(|v| match v {
        Value::String(s) => s.trim().parse::<i64>().ok(),
        v => v.as_i64(),
    });
    let msg = field(&mut top, "ErrMsg", "err_msg").and_then(|v| match v {
        Value::String(s) => Some(s),
        Value::Null => None,
        other => Some(other.to_string()),
    });
    match code {
        None => Decoded::NoEnvelope,
        Some(0) => match field(&mut top, "Resp", "resp") {
            Some(Value::Object(resp)) => match lenient(resp, clean) {
                Ok(value) => Decoded::Ok(value),
                Err(problem) => Decoded::BadResp(clean(&problem)),
            },
            Some(_) => Decoded::BadResp("Resp is not an object".to_owned()),
            None => Decoded::BadResp("there is no Resp".to_owned()),
        },
        Some(code) => Decoded::Err { code, msg },
    }
}

/// `resp` as `T`, with numbers written as decimal strings read as numbers and every other
/// field of the wrong type dropped. Fails only when a field `T` requires is missing or
/// unusable.
pub(crate) fn lenient<T: DeserializeOwned>(
    mut resp: Map<String, Value>,
    clean: &dyn Fn(&str) -> String,
) -> Result<T, String> {
    // Each round turns one string into a number or drops one field: at most two per field.
    for _ in 0..=2 * resp.len() {
        let error = match serde_path_to_error::deserialize(Value::Object(resp.clone())) {
            Ok(value) => return Ok(value),
            Err(error) => error,
        };
        let key = match error.path().iter().next() {
            Some(serde_path_to_error::Segment::Map { key }) => key.clone(),
            _ => return Err(error.into_inner().to_string()),
        };
        let Some(value) = resp.get_mut(&key) else {
            return Err(error.into_inner().to_string());
        };
        // The field's name, never its value: the value is the server's and may be anything.
        let field = clean(&key);
        if let Some(number) = value.as_str().and_then(decimal) {
            tracing::debug!(%field, "a number written as a string; read as the number");
            *value = Value::Number(number);
        } else {
            tracing::debug!(%field, "ignoring a field of an unexpected type");
            resp.remove(&key);
        }
    }
    Err("the answer's fields could not be read".to_owned())
}

/// A decimal string as an exact JSON number (integers never through f64).
fn decimal(text: &str) -> Option<Number> {
    let text = text.trim();
    if let Ok(n) = text.parse::<u64>() {
        return Some(n.into());
    }
    if let Ok(n) = text.parse::<i64>() {
        return Some(n.into());
    }
    text.parse::<f64>()
        .ok()
        .filter(|f| {
            f.is_finite()
                && text
                    .bytes()
                    .all(|b| b.is_ascii_digit() || b"+-.eE".contains(&b))
        })
        .and_then(Number::from_f64)
}

/// The start of a body for an error message: valid UTF-8, whitespace collapsed, at most
/// `max` characters.
pub(crate) fn excerpt(body: &[u8], max: usize) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(max * 4)]);
    let mut out = String::new();
    for word in text.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
        if out.chars().count() >= max {
            break;
        }
    }
    if out.chars().count() > max {
        out = out.chars().take(max).collect();
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use pixfuse_core::wire::{GenerateResp, VideoResultResp};

    fn same(text: &str) -> String {
        text.to_owned()
    }

    #[test]
    fn both_spellings_and_big_ids() {
        let ok = br#"{"ErrCode":0,"ErrMsg":"success","Resp":{"video_id":18446744073709551615,"extra":1},"request_id":"x"}"#;
        match decode::<GenerateResp>(ok, &same) {
            Decoded::Ok(r) => assert_eq!(r.video_id, u64::MAX),
            other => panic!("{other:?}"),
        }
        let lower = br#"{"err_code":500052,"err_msg":"moderation","resp":null}"#;
        assert!(matches!(
            decode::<GenerateResp>(lower, &same),
            Decoded::Err { code: 500052, .. }
        ));
        assert!(matches!(
            decode::<GenerateResp>(b"<html>502</html>", &same),
            Decoded::NotJson
        ));
        assert!(matches!(
            decode::<GenerateResp>(b"{}", &same),
            Decoded::NoEnvelope
        ));
        assert!(matches!(
            decode::<GenerateResp>(br#"{"ErrCode":0,"Resp":{}}"#, &same),
            Decoded::BadResp(_)
        ));
    }

    #[test]
    fn only_required_fields_can_fail_an_answer() {
        let odd = br#"{"ErrCode":0,"Resp":{"video_id":"18446744073709551615","credits":"45","credit":[1]}}"#;
        match decode::<GenerateResp>(odd, &same) {
            Decoded::Ok(r) => assert_eq!(
                (r.video_id, r.credits, r.credit),
                (u64::MAX, Some(45), None)
            ),
            other => panic!("{other:?}"),
        }
        let status = br#"{"ErrCode":"0","Resp":{"id":"7","status":1,"url":"https://cdn/v.mp4",
            "seed":"42","size":"1.5MB","credits":"45","has_audio":"yes","outputWidth":{"w":1}}}"#;
        match decode::<VideoResultResp>(status, &same) {
            Decoded::Ok(r) => {
                assert_eq!(
                    (r.id, r.status, r.seed, r.credits),
                    (Some(7), Some(1), Some(42), Some(45))
                );
                assert_eq!((r.size, r.has_audio, r.output_width), (None, None, None));
                assert_eq!(r.url.as_deref(), Some("https://cdn/v.mp4"));
            }
            other => panic!("{other:?}"),
        }
        for bad in [
            &br#"{"ErrCode":0,"Resp":{"video_id":"abc"}}"#[..],
            br#"{"ErrCode":0,"Resp":{"video_id":-1}}"#,
            br#"{"ErrCode":0,"Resp":{"video_id":1.5}}"#,
        ] {
            assert!(matches!(
                decode::<GenerateResp>(bad, &same),
                Decoded::BadResp(_)
            ));
        }
        assert!(matches!(
            decode::<VideoResultResp>(br#"{"ErrCode":0,"Resp":[1]}"#, &same),
            Decoded::BadResp(_)
        ));
        assert!(matches!(
            decode::<GenerateResp>(br#"{"ErrCode":"500044","ErrMsg":7}"#, &same),
            Decoded::Err {
                code: 500044,
                msg: Some(_)
            }
        ));
    }

    #[test]
    fn excerpts_are_short_and_tidy() {
        let e = excerpt(b"<html>\n  <body>  Bad   Gateway </body></html>", 200);
        assert_eq!(e, "<html> <body> Bad Gateway </body></html>");
        let long = "x".repeat(1000);
        assert_eq!(excerpt(long.as_bytes(), 10).chars().count(), 11);
    }
}
