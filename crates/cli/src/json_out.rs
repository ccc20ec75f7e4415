//! The `--json` output contract: every object a command prints on stdout goes through here, so
//! each carries the `schema` version of docs/json.md.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

use serde_json::Value;

/// The version of the objects documented in docs/json.md. Raised when a key is renamed,
/// removed or changes type (adding a key does not raise it: readers ignore keys they do not
/// know).
pub const SCHEMA: u32 = 1;

/// `value` with its `schema` key (a value that is not an object is left alone).
pub fn stamped(mut value: Value) -> Value {
    if let Value::Object(map) = &mut value {
        map.insert("schema".to_owned(), Value::from(SCHEMA));
    }
    value
}

/// Whether a result object went to stdout in this process (a failure then owes none).
static PRINTED: AtomicBool = AtomicBool::new(false);

/// Writes `value`, stamped, as one line.
pub fn write_line(out: &mut dyn Write, value: &Value) -> std::io::Result<()> {
    PRINTED.store(true, Ordering::Relaxed);
    writeln!(out, "{}", stamped(value.clone()))
}

/// Whether [`write_line`] wrote anything yet.
pub fn printed() -> bool {
    PRINTED.load(Ordering::Relaxed)
}

/// Writes a serializable report, stamped, as one line.
pub fn write_serialized(out: &mut dyn Write, value: &impl serde::Serialize) -> std::io::Result<()> {
    let value = serde_json::to_value(value).map_err(std::io::Error::from)?;
    write_line(out, &value)
}

#[cfg(test)]
mod tests {
    #[test]
    fn objects_carry_the_schema_and_keep_their_keys() {
        let v = super::stamped(serde_json::json!({"a": 1}));
        assert_eq!(v["schema"], super::SCHEMA);
        assert_eq!(v["a"], 1);
        assert_eq!(
            super::stamped(serde_json::json!([1])),
            serde_json::json!([1])
        );
    }
}
