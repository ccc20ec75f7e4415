//! Reading the vendor's `{ErrCode, ErrMsg, Resp}` envelope, in either spelling.
//!
//! Two passes over the (small) body: the head first, so an error answer whose `Resp` has some
//! other shape still yields its code; then `Resp` as the endpoint's type. Unknown fields are
//! ignored; ids stay u64 because serde_json never routes integers through f64.

use serde::Deserialize;
use serde::de::DeserializeOwned;

#[derive(Deserialize)]
struct Head {
    #[serde(rename = "ErrCode", alias = "err_code")]
    err_code: Option<i64>,
    #[serde(rename = "ErrMsg", alias = "err_msg")]
    err_msg: Option<String>,
}

#[derive(Deserialize)]
struct Body<T> {
    #[serde(rename = "Resp", alias = "resp")]
    resp: Option<T>,
}

/// What a body says.
#[derive(Debug)]
pub(crate) enum Decoded<T> {
    /// `ErrCode == 0` and a readable `Resp`.
    Ok(T),
    /// A non-zero `ErrCode`.
    Err { code: i64, msg: Option<String> },
    /// JSON without an ErrCode (HTTP errors of plain JSON APIs, a relay's `{}`).
    NoEnvelope,
    /// ErrCode 0, but `Resp` is missing or not the expected shape.
    BadResp,
    /// Not JSON at all (an HTML error page).
    NotJson,
}

pub(crate) fn decode<T: DeserializeOwned>(body: &[u8]) -> Decoded<T> {
    let head: Head = match serde_json::from_slice(body) {
        Ok(head) => head,
        Err(_) => return Decoded::NotJson,
    };
    match head.err_code {
        None => Decoded::NoEnvelope,
        Some(0) => match serde_json::from_slice::<Body<T>>(body) {
            Ok(Body { resp: Some(resp) }) => Decoded::Ok(resp),
            _ => Decoded::BadResp,
        },
        Some(code) => Decoded::Err {
            code,
            msg: head.err_msg,
        },
    }
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
    use pixfuse_core::wire::GenerateResp;

    #[test]
    fn both_spellings_and_big_ids() {
        let ok = br#"{"ErrCode":0,"ErrMsg":"success","Resp":{"video_id":18446744073709551615,"extra":1},"request_id":"x"}"#;
        match decode::<GenerateResp>(ok) {
            Decoded::Ok(r) => assert_eq!(r.video_id, u64::MAX),
            other => panic!("{other:?}"),
        }
        let lower = br#"{"err_code":500052,"err_msg":"moderation","resp":null}"#;
        assert!(matches!(
            decode::<GenerateResp>(lower),
            Decoded::Err { code: 500052, .. }
        ));
        assert!(matches!(
            decode::<GenerateResp>(b"<html>502</html>"),
            Decoded::NotJson
        ));
        assert!(matches!(decode::<GenerateResp>(b"{}"), Decoded::NoEnvelope));
        assert!(matches!(
            decode::<GenerateResp>(br#"{"ErrCode":0,"Resp":{}}"#),
            Decoded::BadResp
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
