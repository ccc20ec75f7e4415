//! The request schema (`spec/fusion-generate.request.schema.json`), applied the way the vendor
//! answers it: the first thing wrong becomes one refusal. A missing or empty required field is
//! 400011, a value of the wrong JSON type 400013, a value outside what the schema allows 400017
//! (or the error table's `<field>_too_long` code for a string over its `maxLength`).
//!
//! Only the keywords the spec uses are read (`type`, `required`, `properties`, `items`, `$ref`,
//! `oneOf`/`enum`/`const`, `minimum`/`maximum`, `minItems`/`maxItems`, `maxLength`); unknown
//! fields in a request are ignored, as the vendor ignores them.

use std::sync::LazyLock;

use serde_json::Value;

use crate::reply::Refusal;

pub(crate) const EMPTY: i64 = 400011;
pub(crate) const WRONG_TYPE: i64 = 400013;
pub(crate) const INVALID: i64 = 400017;

static REQUEST_SCHEMA: LazyLock<Value> = LazyLock::new(|| {
    // Copied from spec/ by build.rs; the build fails if it is missing, and codegen has already
    // proven it is valid JSON.
    serde_json::from_str(include_str!(concat!(
        env!("OUT_DIR"),
        "/fusion-generate.request.schema.json"
    )))
    .unwrap_or(Value::Null)
});

/// Checks a fusion request against the request schema.
pub(crate) fn check_request(request: &Value) -> Result<(), Refusal> {
    let schema = &*REQUEST_SCHEMA;
    Walker { root: schema }.walk(schema, request, "")
}

struct Walker<'s> {
    root: &'s Value,
}

impl<'s> Walker<'s> {
    fn resolve(&self, schema: &'s Value) -> &'s Value {
        let Some(pointer) = schema
            .get("$ref")
            .and_then(Value::as_str)
            .and_then(|r| r.strip_prefix('#'))
        else {
            return schema;
        };
        self.root.pointer(pointer).unwrap_or(&Value::Null)
    }

    fn walk(&self, schema: &'s Value, value: &Value, path: &str) -> Result<(), Refusal> {
        let schema = self.resolve(schema);
        if !type_matches(schema.get("type"), value) {
            return Err(Refusal::new(WRONG_TYPE, path));
        }
        if !allowed(schema, value) {
            return Err(Refusal::new(INVALID, path));
        }
        if let Some(n) = value.as_f64() {
            let below = schema["minimum"].as_f64().is_some_and(|min| n < min);
            let above = schema["maximum"].as_f64().is_some_and(|max| n > max);
            // Compare integers exactly: above 2^53 an f64 comparison could let one through.
            let above = above
                || (value.as_u64().zip(schema["maximum"].as_u64())).is_some_and(|(v, m)| v > m);
            if below || above {
                return Err(Refusal::new(INVALID, path));
            }
        }
        match value {
            Value::String(s)
                if schema["maxLength"]
                    .as_u64()
                    .is_some_and(|max| s.chars().count() as u64 > max) =>
            {
                return Err(Refusal::new(too_long_code(path), path));
            }
            Value::Array(items) => {
                let min = schema["minItems"].as_u64().unwrap_or(0);
                if items.is_empty() && min > 0 {
                    return Err(Refusal::new(EMPTY, path));
                }
                let len = items.len() as u64;
                if len < min || schema["maxItems"].as_u64().is_some_and(|max| len > max) {
                    return Err(Refusal::new(INVALID, path));
                }
                if let Some(item_schema) = schema.get("items") {
                    for (i, item) in items.iter().enumerate() {
                        self.walk(item_schema, item, &format!("{path}[{i}]"))?;
                    }
                }
            }
            Value::Object(fields) => {
                let required = schema["required"].as_array().map_or(&[][..], Vec::as_slice);
                for name in required.iter().filter_map(Value::as_str) {
                    match fields.get(name) {
                        None | Some(Value::Null) => {
                            return Err(Refusal::new(EMPTY, join(path, name)));
                        }
                        Some(Value::String(s)) if s.is_empty() => {
                            return Err(Refusal::new(EMPTY, join(path, name)));
                        }
                        _ => {}
                    }
                }
                if let Some(properties) = schema["properties"].as_object() {
                    for (name, property) in properties {
                        match fields.get(name) {
                            // An optional field sent as null counts as not sent.
                            None | Some(Value::Null) => {}
                            Some(field) => self.walk(property, field, &join(path, name))?,
                        }
                    }
                }
            }
            _ => {}
        }
        Ok(())
    }
}

fn join(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_owned()
    } else {
        format!("{path}.{name}")
    }
}

fn type_matches(expected: Option<&Value>, value: &Value) -> bool {
    let is = |name: &str| match name {
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        "boolean" => value.is_boolean(),
        "null" => value.is_null(),
        _ => true,
    };
    match expected {
        None => true,
        Some(Value::String(name)) => is(name),
        Some(Value::Array(names)) => names.iter().filter_map(Value::as_str).any(is),
        Some(_) => true,
    }
}

/// `enum`, `const`, and a `oneOf` made of `const`s (how the spec lists models, qualities…).
fn allowed(schema: &Value, value: &Value) -> bool {
    if let Some(values) = schema["enum"].as_array() {
        return values.contains(value);
    }
    if let Some(expected) = schema.get("const") {
        return expected == value;
    }
    match schema["oneOf"].as_array() {
        Some(options) if options.iter().all(|o| o.get("const").is_some()) => {
            options.iter().any(|o| &o["const"] == value)
        }
        _ => true,
    }
}

/// `prompt` → 400018 (`prompt_too_long`), `negative_prompt` → 400019: the error table's code
/// named after the field, else the generic invalid parameter.
pub(crate) fn too_long_code(path: &str) -> i64 {
    let field = path.rsplit('.').next().unwrap_or(path);
    let name = format!("{field}_too_long");
    pixfuse_core::ERROR_CODES
        .iter()
        .find(|row| row.name == name)
        .map_or(INVALID, |row| row.code)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn request() -> Value {
        json!({
            "image_references": [
                {"type": "subject", "img_id": 300000000000001u64, "ref_name": "dog"},
                {"type": "background", "img_id": 300000000000003u64, "ref_name": "room"}
            ],
            "prompt": "@dog naps in @room ",
            "model": "v5",
            "duration": 5,
            "quality": "540p",
            "aspect_ratio": "16:9",
        })
    }

    fn refusal(edit: impl FnOnce(&mut Value)) -> Option<(i64, String)> {
        let mut request = request();
        edit(&mut request);
        check_request(&request).err().map(|r| (r.code, r.param))
    }

    #[test]
    fn a_valid_request_and_unknown_fields_pass() {
        assert_eq!(refusal(|_| {}), None);
        assert_eq!(refusal(|r| r["style"] = json!("anime")), None);
        assert_eq!(refusal(|r| r["seed"] = Value::Null), None);
    }

    #[test]
    fn missing_or_empty_required_fields_are_empty_parameters() {
        let empty = |param: &str| Some((EMPTY, param.to_owned()));
        assert_eq!(
            refusal(|r| drop(r.as_object_mut().unwrap().remove("prompt"))),
            empty("prompt")
        );
        assert_eq!(refusal(|r| r["prompt"] = json!("")), empty("prompt"));
        // An empty image_references passes the schema (Omni mode may name videos alone); the
        // judge refuses it in a plain request (judge.rs).
        assert_eq!(refusal(|r| r["image_references"] = json!([])), None);
        assert_eq!(
            refusal(|r| drop(
                r["image_references"][1]
                    .as_object_mut()
                    .unwrap()
                    .remove("img_id")
            )),
            empty("image_references[1].img_id")
        );
    }

    #[test]
    fn wrong_types_and_values_outside_the_schema() {
        assert_eq!(
            refusal(|r| r["duration"] = json!("5")),
            Some((WRONG_TYPE, "duration".into()))
        );
        assert_eq!(
            refusal(|r| r["duration"] = json!(5.5)),
            Some((WRONG_TYPE, "duration".into()))
        );
        assert_eq!(
            refusal(|r| r["model"] = json!("v9")),
            Some((INVALID, "model".into()))
        );
        assert_eq!(
            refusal(|r| r["image_references"][0]["type"] = json!("hero")),
            Some((INVALID, "image_references[0].type".into()))
        );
        assert_eq!(
            refusal(|r| r["seed"] = json!(-1)),
            Some((INVALID, "seed".into()))
        );
        assert_eq!(
            refusal(|r| r["seed"] = json!(2147483648u64)),
            Some((INVALID, "seed".into()))
        );
        assert_eq!(
            refusal(|r| r["generate_audio_switch"] = json!("yes")),
            Some((WRONG_TYPE, "generate_audio_switch".into()))
        );
        assert_eq!(
            check_request(&json!([1])).map_err(|r| r.code),
            Err(WRONG_TYPE)
        );
    }

    #[test]
    fn too_long_strings_get_their_own_code() {
        assert_eq!(too_long_code("prompt"), 400018);
        assert_eq!(too_long_code("negative_prompt"), 400019);
        assert_eq!(too_long_code("style"), INVALID);
    }
}
