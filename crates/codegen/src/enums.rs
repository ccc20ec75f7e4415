//! Readable public enums from the request schema's `oneOf` + `const` definitions.
//!
//! typify would name `"16:9"` `X169` and may rename variants when a sibling value is added, so
//! the public names come from here instead: a mechanical, documented mapping (`"v5.6"` →
//! `V5_6`; a leading digit takes the definition's `x-variant-prefix`, so `"16:9"` → `R16x9`),
//! overridable per value with `x-rust-name`. Every enum also has `Other(String)`, so a value the
//! vendor adds before pixfuse knows it still parses, is reported by validation, and can be sent.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use serde_json::Value;

use crate::Error;
use crate::spec::REQUEST_SCHEMA;

/// One readable enum.
#[derive(Debug, Clone)]
pub(crate) struct EnumDef {
    pub name: String,
    pub description: String,
    pub variants: Vec<Variant>,
}

#[derive(Debug, Clone)]
pub(crate) struct Variant {
    pub value: String,
    pub ident: String,
    pub description: String,
}

impl EnumDef {
    /// The Rust path expression of the variant for `value`, e.g. `crate::Model::V5_6`.
    pub(crate) fn path_of(&self, value: &str, file: &str) -> Result<TokenStream, Error> {
        let variant = self
            .variants
            .iter()
            .find(|v| v.value == value)
            .ok_or_else(|| {
                let known: Vec<&str> = self.variants.iter().map(|v| v.value.as_str()).collect();
                Error::spec(
                    file,
                    format!(
                        "{value:?} is not a {} (known: {})",
                        self.name,
                        known.join(", ")
                    ),
                )
            })?;
        let name = format_ident!("{}", self.name);
        let ident = format_ident!("{}", variant.ident);
        Ok(quote!(crate::#name::#ident))
    }
}

/// Every enum definition under `$defs` of the request schema.
pub(crate) fn collect(schema: &Value) -> Result<Vec<EnumDef>, Error> {
    let defs = schema
        .get("$defs")
        .and_then(Value::as_object)
        .ok_or_else(|| Error::spec(REQUEST_SCHEMA, "has no $defs object"))?;
    let mut out = Vec::new();
    for (name, def) in defs {
        let Some(items) = def.get("oneOf").and_then(Value::as_array) else {
            continue;
        };
        if !items
            .iter()
            .all(|i| i.get("const").is_some_and(Value::is_string))
        {
            continue;
        }
        let prefix = def.get("x-variant-prefix").and_then(Value::as_str);
        let mut variants: Vec<Variant> = Vec::new();
        for item in items {
            let value = item["const"].as_str().unwrap_or_default().to_owned();
            let ident = match item.get("x-rust-name").and_then(Value::as_str) {
                Some(explicit) => explicit.to_owned(),
                None => variant_ident(&value, prefix)
                    .map_err(|m| Error::spec(REQUEST_SCHEMA, format!("$defs/{name}: {m}")))?,
            };
            if !is_ident(&ident) || ident == "Other" {
                return Err(Error::spec(
                    REQUEST_SCHEMA,
                    format!("$defs/{name}: {ident:?} (for {value:?}) is not a usable variant name"),
                ));
            }
            if let Some(clash) = variants.iter().find(|v| v.ident == ident) {
                return Err(Error::spec(
                    REQUEST_SCHEMA,
                    format!(
                        "$defs/{name}: {:?} and {value:?} both map to variant {ident}; give one an x-rust-name",
                        clash.value
                    ),
                ));
            }
            let description = item
                .get("description")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            variants.push(Variant {
                value,
                ident,
                description,
            });
        }
        let description = def
            .get("description")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        out.push(EnumDef {
            name: name.clone(),
            description,
            variants,
        });
    }
    Ok(out)
}

/// `"v5.6"` → `V5_6`, `"background"` → `Background`, `"16:9"` with prefix `R` → `R16x9`.
pub(crate) fn variant_ident(value: &str, prefix: Option<&str>) -> Result<String, String> {
    let mut body = String::new();
    for ch in value.chars() {
        match ch {
            c if c.is_ascii_alphanumeric() => body.push(c),
            ':' => body.push('x'),
            _ => body.push('_'),
        }
    }
    if body.is_empty() {
        return Err(format!("{value:?} yields an empty variant name"));
    }
    if body.starts_with(|c: char| c.is_ascii_digit()) {
        let prefix =
            prefix.ok_or_else(|| format!("{value:?} starts with a digit; set x-variant-prefix"))?;
        body.insert_str(0, prefix);
    }
    let mut chars = body.chars();
    let first = chars.next().map(|c| c.to_ascii_uppercase()).unwrap_or('_');
    Ok(std::iter::once(first).chain(chars).collect())
}

fn is_ident(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

pub(crate) fn render(enums: &[EnumDef]) -> TokenStream {
    let items = enums.iter().map(render_one);
    quote! { #(#items)* }
}

fn render_one(e: &EnumDef) -> TokenStream {
    let name = format_ident!("{}", e.name);
    let doc = &e.description;
    let idents: Vec<_> = e
        .variants
        .iter()
        .map(|v| format_ident!("{}", v.ident))
        .collect();
    let values: Vec<_> = e.variants.iter().map(|v| v.value.as_str()).collect();
    let docs: Vec<_> = e
        .variants
        .iter()
        .map(|v| format!("`{}`: {}", v.value, v.description))
        .collect();
    let vdescs: Vec<_> = e.variants.iter().map(|v| v.description.as_str()).collect();
    let expecting = format!("a {} string", e.name);
    quote! {
        #[doc = #doc]
        ///
        /// Generated from spec/. Values the spec does not list parse as `Other` (so they can be
        /// reported, or sent when the caller opts in) instead of failing.
        #[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[non_exhaustive]
        pub enum #name {
            #( #[doc = #docs] #idents, )*
            /// A value this build of pixfuse does not know, kept verbatim.
            Other(::std::string::String),
        }

        impl #name {
            /// Every value the spec lists, in spec order.
            pub const KNOWN: &'static [#name] = &[ #( #name::#idents ),* ];

            /// The wire string.
            pub fn as_str(&self) -> &str {
                match self {
                    #( #name::#idents => #values, )*
                    #name::Other(s) => s.as_str(),
                }
            }

            /// The known value spelled exactly `s`, if any.
            pub fn from_known(s: &str) -> ::std::option::Option<Self> {
                match s {
                    #( #values => ::std::option::Option::Some(#name::#idents), )*
                    _ => ::std::option::Option::None,
                }
            }

            /// False for `Other`.
            pub fn is_known(&self) -> bool {
                !matches!(self, #name::Other(_))
            }

            /// The spec's description of this value (`None` for `Other`).
            pub fn description(&self) -> ::std::option::Option<&'static str> {
                match self {
                    #( #name::#idents => ::std::option::Option::Some(#vdescs), )*
                    #name::Other(_) => ::std::option::Option::None,
                }
            }
        }

        impl ::std::convert::From<&str> for #name {
            fn from(s: &str) -> Self {
                Self::from_known(s).unwrap_or_else(|| #name::Other(s.to_owned()))
            }
        }

        impl ::std::str::FromStr for #name {
            type Err = ::std::convert::Infallible;
            fn from_str(s: &str) -> ::std::result::Result<Self, Self::Err> {
                ::std::result::Result::Ok(Self::from(s))
            }
        }

        impl ::std::fmt::Display for #name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::serde::Serialize for #name {
            fn serialize<S: ::serde::Serializer>(&self, serializer: S) -> ::std::result::Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> ::serde::Deserialize<'de> for #name {
            fn deserialize<D: ::serde::Deserializer<'de>>(deserializer: D) -> ::std::result::Result<Self, D::Error> {
                struct V;
                impl<'de> ::serde::de::Visitor<'de> for V {
                    type Value = #name;
                    fn expecting(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                        f.write_str(#expecting)
                    }
                    fn visit_str<E: ::serde::de::Error>(self, s: &str) -> ::std::result::Result<#name, E> {
                        ::std::result::Result::Ok(#name::from(s))
                    }
                }
                deserializer.deserialize_str(V)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::variant_ident;

    #[test]
    fn variant_names_are_mechanical() {
        assert_eq!(variant_ident("v5.6", None).unwrap(), "V5_6");
        assert_eq!(variant_ident("v4.5", None).unwrap(), "V4_5");
        assert_eq!(variant_ident("c1", None).unwrap(), "C1");
        assert_eq!(variant_ident("background", None).unwrap(), "Background");
        assert_eq!(variant_ident("16:9", Some("R")).unwrap(), "R16x9");
        assert_eq!(variant_ident("1080p", Some("Q")).unwrap(), "Q1080p");
        assert!(variant_ident("16:9", None).is_err());
        assert!(variant_ident("", None).is_err());
    }
}
