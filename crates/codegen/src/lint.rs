//! `cargo xtask spec-lint`: catch spec mistakes and typify hazards before they become confusing
//! build errors or silently wrong code.

use std::path::Path;

use serde_json::Value;

use crate::spec::{self, Spec};

/// Every problem found in the spec directory, as one readable line each. Empty means clean.
pub fn lint(spec_dir: &Path) -> Vec<String> {
    let mut problems = Vec::new();
    let spec = match Spec::load(spec_dir) {
        Ok(spec) => spec,
        Err(e) => return vec![e.to_string()],
    };
    schema_hazards(
        spec::REQUEST_SCHEMA,
        &spec.request_schema,
        "",
        false,
        &mut problems,
    );
    schema_hazards(spec::JOB_SCHEMA, &spec.job_schema, "", false, &mut problems);
    for (name, schema) in &spec.response_schemas {
        schema_hazards(name, schema, "", true, &mut problems);
    }
    job_covers_request(&spec, "", "", &mut problems);
    match crate::enums::collect(&spec.request_schema) {
        Err(e) => problems.push(e.to_string()),
        Ok(enums) => {
            if let Err(e) = crate::tables::render(&spec, &enums) {
                problems.push(e.to_string());
            }
            if let Some(models) = enums.iter().find(|e| e.name == "Model") {
                for v in &models.variants {
                    let rows = spec
                        .capabilities
                        .models
                        .iter()
                        .filter(|m| m.model == v.value)
                        .count();
                    if rows != 1 {
                        problems.push(format!(
                            "{}: model {:?} has {rows} rows (want exactly 1)",
                            spec::CAPABILITIES,
                            v.value
                        ));
                    }
                }
            }
        }
    }
    examples(&spec_dir.join("examples"), &mut problems);
    problems
}

/// The job schema lists every property of the request schema, in the same (documented) order,
/// at the top level and in the objects their arrays hold; it adds only the `x-rust-source`
/// alternatives (`image`). Catches a field added to the request but not to the job form.
fn job_covers_request(spec: &Spec, request_at: &str, job_at: &str, out: &mut Vec<String>) {
    let order = |file: &str, at: &str| -> Vec<String> {
        spec.key_orders
            .get(file)
            .and_then(|o| o.get(&format!("{at}/properties")))
            .cloned()
            .unwrap_or_default()
    };
    let request = order(spec::REQUEST_SCHEMA, request_at);
    let job = order(spec::JOB_SCHEMA, job_at);
    let shared: Vec<&String> = job.iter().filter(|p| request.contains(p)).collect();
    let missing: Vec<&String> = request.iter().filter(|p| !job.contains(p)).collect();
    if !missing.is_empty() {
        out.push(format!(
            "{} #{job_at}: lacks request properties {missing:?} (every request field belongs in the job form too)",
            spec::JOB_SCHEMA
        ));
    } else if shared
        .iter()
        .map(|s| s.as_str())
        .ne(request.iter().map(String::as_str))
    {
        out.push(format!(
            "{} #{job_at}: properties are not in the request's documented order {request:?}",
            spec::JOB_SCHEMA
        ));
    }
    let alternatives: Vec<&str> = spec
        .job_schema
        .pointer(job_at)
        .and_then(|n| n.get("oneOf"))
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(|i| i.pointer("/required/0").and_then(Value::as_str))
                .collect()
        })
        .unwrap_or_default();
    for extra in job.iter().filter(|p| !request.contains(p)) {
        if !alternatives.contains(&extra.as_str()) {
            out.push(format!(
                "{} #{job_at}: property {extra:?} is not in the request schema (only x-rust-source alternatives may be added)",
                spec::JOB_SCHEMA
            ));
        }
    }
    // Arrays of objects on both sides: compare their item definitions too.
    let items_ref = |schema: &Value, at: &str, name: &str| -> Option<String> {
        let reference = schema
            .pointer(&format!("{at}/properties/{name}/items/$ref"))?
            .as_str()?;
        reference.strip_prefix('#').map(str::to_owned)
    };
    for name in &request {
        if let (Some(r), Some(j)) = (
            items_ref(&spec.request_schema, request_at, name),
            items_ref(&spec.job_schema, job_at, name),
        ) {
            job_covers_request(spec, &r, &j, out);
        }
    }
}

/// Walks a schema: every property, definition and enum value needs a description; constructs
/// typify handles badly are refused.
fn schema_hazards(file: &str, node: &Value, at: &str, response: bool, out: &mut Vec<String>) {
    let Some(obj) = node.as_object() else { return };
    if obj.contains_key("pattern") {
        out.push(format!("{file} {at}: `pattern` makes typify emit a regress newtype; validate it in pixfuse-core instead"));
    }
    if obj.get("type").and_then(Value::as_str) == Some("integer") {
        if obj.contains_key("enum") {
            out.push(format!("{file} {at}: an integer `enum` becomes a newtype, not an enum; list allowed values in capabilities.json"));
        }
        if obj.get("minimum").and_then(Value::as_i64) == Some(1) {
            out.push(format!(
                "{file} {at}: `minimum: 1` makes typify emit NonZeroU64 and drop `maximum`"
            ));
        }
    }
    if response && obj.get("additionalProperties") == Some(&Value::Bool(false)) {
        out.push(format!("{file} {at}: responses must tolerate unknown fields; drop `additionalProperties: false`"));
    }
    if let Some(props) = obj.get("properties").and_then(Value::as_object) {
        for (name, prop) in props {
            let path = format!("{at}/properties/{name}");
            let described = prop.get("description").is_some() || prop.get("$ref").is_some();
            if !described {
                out.push(format!("{file} {path}: property has no description"));
            }
            schema_hazards(file, prop, &path, response, out);
        }
    }
    for key in ["$defs", "definitions"] {
        if let Some(defs) = obj.get(key).and_then(Value::as_object) {
            for (name, def) in defs {
                let path = format!("{at}/{key}/{name}");
                if def.get("description").is_none() {
                    out.push(format!("{file} {path}: definition has no description"));
                }
                schema_hazards(file, def, &path, response, out);
            }
        }
    }
    if let Some(items) = obj.get("oneOf").and_then(Value::as_array) {
        for (i, item) in items.iter().enumerate() {
            if item.get("const").is_some() && item.get("description").is_none() {
                out.push(format!(
                    "{file} {at}/oneOf/{i}: enum value {} has no description",
                    item["const"]
                ));
            }
        }
    }
    if obj.contains_key("enum") && file == spec::REQUEST_SCHEMA {
        out.push(format!(
            "{file} {at}: use oneOf of {{const, description}} so every enum value is documented"
        ));
    }
    if let Some(items) = obj.get("items") {
        schema_hazards(file, items, &format!("{at}/items"), response, out);
    }
}

/// Every example parses (or expects `json_syntax`) and has a well-formed `.expect.json`.
fn examples(dir: &Path, out: &mut Vec<String>) {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) => return out.push(format!("{}: {e}", dir.display())),
    };
    let mut names: Vec<String> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    for name in names
        .iter()
        .filter(|n| n.ends_with(".json") && !n.ends_with(".expect.json"))
    {
        let stem = name.trim_end_matches(".json");
        let expect_path = dir.join(format!("{stem}.expect.json"));
        let expect: Value =
            match std::fs::read_to_string(&expect_path).map(|t| serde_json::from_str(&t)) {
                Ok(Ok(v)) => v,
                Ok(Err(e)) => {
                    out.push(format!(
                        "examples/{stem}.expect.json is not valid JSON: {e}"
                    ));
                    continue;
                }
                Err(_) => {
                    out.push(format!("examples/{name} has no {stem}.expect.json"));
                    continue;
                }
            };
        let shape_ok = expect.get("valid").is_some_and(Value::is_boolean)
            && ["errors", "warnings"].iter().all(|k| {
                expect
                    .get(*k)
                    .and_then(Value::as_array)
                    .is_some_and(|items| {
                        items.iter().all(|i| {
                            i.get("path").is_some_and(Value::is_string)
                                && i.get("code").is_some_and(Value::is_string)
                        })
                    })
            });
        if !shape_ok {
            out.push(format!("examples/{stem}.expect.json needs {{valid: bool, errors: [{{path, code}}], warnings: [{{path, code}}]}}"));
            continue;
        }
        let expects_syntax_error = expect["errors"]
            .as_array()
            .is_some_and(|e| e.iter().any(|i| i["code"] == "json_syntax"));
        let parses = std::fs::read_to_string(dir.join(name))
            .is_ok_and(|t| serde_json::from_str::<Value>(&t).is_ok());
        if !parses && !expects_syntax_error {
            out.push(format!(
                "examples/{name} is not valid JSON (expect json_syntax if that is the point)"
            ));
        }
        if parses && expects_syntax_error {
            out.push(format!(
                "examples/{name} parses but its verdict expects json_syntax"
            ));
        }
    }
}
