//! What a tool call answers: a JSON object, and whether it is an error. Errors carry the
//! project's stable class (the names of the exit-code table), the vendor's words, the trace id
//! and what an agent should do next, so it can tell "fix the request" from "try later" from
//! "out of credits".

use pixfuse::Error;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};

use crate::failure::exit_for;

/// A tool's answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub value: Value,
    pub is_error: bool,
}

impl Answer {
    pub fn ok(value: Value) -> Self {
        Answer {
            value,
            is_error: false,
        }
    }

    /// An error of `class` with `message` and what to do about it.
    pub fn refusal(class: &str, message: impl Into<String>, next: impl Into<String>) -> Self {
        Answer {
            value: json!({
                "status": "error",
                "class": class,
                "error": message.into(),
                "next": next.into(),
            }),
            is_error: true,
        }
    }

    /// A mistake in the tool's arguments (a missing field, a bad id, an unreadable file).
    pub fn usage(message: impl Into<String>) -> Self {
        Self::refusal(
            "usage",
            message,
            "fix the tool arguments as the message says and call the tool again",
        )
    }

    /// Removes every occurrence of `key` from the answer's strings (the transport already
    /// redacts it; this is the last line, for a key that reached a message some other way).
    pub fn scrubbed(mut self, key: Option<&SecretString>) -> Self {
        // A key of a few characters would shred ordinary words; real keys are long.
        if let Some(key) = key
            .map(ExposeSecret::expose_secret)
            .filter(|k| k.len() >= 8)
        {
            scrub(&mut self.value, key);
        }
        self
    }
}

fn scrub(value: &mut Value, key: &str) {
    match value {
        Value::String(s) if s.contains(key) => *s = s.replace(key, "[redacted]"),
        Value::Array(items) => items.iter_mut().for_each(|v| scrub(v, key)),
        Value::Object(map) => map.values_mut().for_each(|v| scrub(v, key)),
        _ => {}
    }
}

pub use crate::error_json::class_of;

/// What an agent should do after an error of `class`.
fn next_for(class: &str) -> &'static str {
    match class {
        "invalid" => {
            "fix the request as the diagnostics say (call validate to check it), then call generate again"
        }
        "auth" => {
            "the API key is missing, wrong or not allowed: ask the user to set PIXFUSE_API_KEY (or the provider's key variable, or api_key in the config file) and restart the MCP server"
        }
        "credits" => "the account has too few credits: tell the user; retrying will not help",
        "moderation" => {
            "content moderation refused the images or the prompt: change them, then call generate with new: true"
        }
        "generation_failed" => {
            "the video failed on the server (its credits are refunded): call generate again with new: true, perhaps with another seed"
        }
        "still_running" => {
            "the job is journaled and still going: call wait (or resume) with its job_id later; do not call generate with new: true, that bills a second video"
        }
        "concurrency" => {
            "the account is at its concurrency or rate limit: wait a minute, then repeat the same call (a journaled job is continued, not billed twice)"
        }
        "network" => {
            "the server or the network failed: repeat the same call later (a journaled job is continued with its trace id, not billed twice)"
        }
        "usage" => "fix the tool arguments or the local file as the message says, then call again",
        _ => "this looks like a bug in pixfuse: report the message",
    }
}

/// A facade error as a tool error.
pub fn from_error(error: &Error) -> Answer {
    let mut value = crate::error_json::render(error, &str::to_owned);
    value["next"] = json!(next_for(class_of(exit_for(error))));
    Answer {
        value,
        is_error: true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_carry_their_class_and_what_to_do() {
        let invalid = from_error(&Error::Invalid {
            diagnostics: vec![pixfuse::Diagnostic::error("missing_field", "/prompt", "no")],
        });
        assert!(invalid.is_error);
        assert_eq!(invalid.value["class"], "invalid");
        assert_eq!(invalid.value["errors"][0]["path"], "/prompt");
        let running = from_error(&Error::StillRunning {
            job_id: Some(3),
            video_id: u64::MAX,
            resume_command: "pixfuse resume 3".into(),
        });
        assert_eq!(running.value["class"], "still_running");
        assert_eq!(running.value["video_id"], u64::MAX.to_string());
        assert!(running.value["next"].as_str().unwrap().contains("wait"));
    }

    #[test]
    fn the_key_is_scrubbed_from_every_string() {
        let key = SecretString::from("sk-live-123");
        let answer = Answer::ok(json!({"a": ["x sk-live-123 y"], "b": {"c": "sk-live-123"}}))
            .scrubbed(Some(&key));
        assert_eq!(
            answer.value,
            json!({"a": ["x [redacted] y"], "b": {"c": "[redacted]"}})
        );
    }
}
