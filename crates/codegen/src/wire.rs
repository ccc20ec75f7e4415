//! typify's wire types for the request and the responses.
//!
//! The `oneOf`/`const` enums are replaced by the readable enums of `enums.rs` (typify's own names,
//! `X169` or `V45`, never reach the public API). Response schemas do not set
//! `additionalProperties: false`, so the generated types ignore fields the vendor adds.

use proc_macro2::TokenStream;
use typify::{TypeSpace, TypeSpaceImpl, TypeSpaceSettings};

use crate::Error;
use crate::enums::EnumDef;
use crate::spec::{REQUEST_SCHEMA, Spec};

pub(crate) fn render(spec: &Spec, enums: &[EnumDef]) -> Result<TokenStream, Error> {
    let mut settings = TypeSpaceSettings::default();
    settings
        .with_derive("PartialEq".to_owned())
        .with_map_type("::std::collections::BTreeMap");
    for e in enums {
        settings.with_replacement(
            &e.name,
            format!("crate::{}", e.name),
            [TypeSpaceImpl::FromStr, TypeSpaceImpl::Display].into_iter(),
        );
    }
    let mut space = TypeSpace::new(&settings);
    add(&mut space, REQUEST_SCHEMA, &spec.request_schema)?;
    for (name, schema) in &spec.response_schemas {
        add(&mut space, name, schema)?;
    }
    if space.uses_regress() || space.uses_uuid() || space.uses_chrono() {
        return Err(Error::spec(
            REQUEST_SCHEMA,
            "a schema uses `pattern`, `format: uuid` or a date format; pixfuse-core does not depend on regress, uuid or chrono",
        ));
    }
    Ok(space.to_stream())
}

fn add(space: &mut TypeSpace, file: &str, schema: &serde_json::Value) -> Result<(), Error> {
    let root: schemars::schema::RootSchema =
        serde_json::from_value(schema.clone()).map_err(|e| Error::Typify {
            file: file.to_owned(),
            message: e.to_string(),
        })?;
    space.add_root_schema(root).map_err(|e| Error::Typify {
        file: file.to_owned(),
        message: e.to_string(),
    })?;
    Ok(())
}
