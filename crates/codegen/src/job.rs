//! The job types (`Job`, `JobReference`) and their serde code, from `spec/job.schema.json`.
//!
//! Not typify, for three reasons: typify orders fields alphabetically (the vendor documents an
//! order, and the serializer here writes it); it would collect unknown fields through serde's
//! `flatten`, which buffers the whole object (the typed parse is the hot path of validation);
//! and it would turn the `img_id`/`image` alternative into an untagged enum with an opaque error.
//!
//! What the schema says and what comes out:
//! - the root object is a struct named by `title`; an object under `$defs` that a property
//!   refers to is a struct named by its key;
//! - each property is a field in schema order (a Rust keyword gets a trailing `_`): required
//!   ones plain, optional ones `Option` (`null` counts as absent); types follow `type`/`format`
//!   or a `$ref`, which may point into the request schema (`fusion-generate.request.schema.json#…`)
//!   so a fact about a field is written once;
//! - an optional array with `default: []` is a plain `Vec` (absent or `null` reads as empty,
//!   and an empty one is not written), so code that reads it needs no `Option`;
//! - an object without `additionalProperties: false` keeps unknown fields in `extra`, in one
//!   pass; one with it refuses them;
//! - `x-rust-source: {field, type}` with a `oneOf` of `{required: [name]}` turns those
//!   alternative properties into one field of a hand-written type, which provides
//!   `from_fields(alternatives…) -> Result<Self, &'static str>` (in schema order) and
//!   `serialize_fields(&self, map)`; that conversion is all pixfuse-core writes by hand.

use std::collections::BTreeSet;

use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use serde_json::Value;

use crate::Error;
use crate::enums::EnumDef;
use crate::order::escape;
use crate::spec::{JOB_SCHEMA, REQUEST_SCHEMA, Spec};

/// One generated struct.
#[derive(Debug)]
pub(crate) struct StructDef {
    pub name: String,
    pub doc: String,
    pub fields: Vec<Field>,
    /// Unknown fields are kept in `extra` (else refused).
    pub extra: bool,
}

/// One Rust field: a property, or a group of alternative properties.
#[derive(Debug)]
pub(crate) enum Field {
    Plain(Property),
    Source {
        ident: String,
        type_: String,
        doc: String,
        alternatives: Vec<Property>,
    },
}

#[derive(Debug)]
pub(crate) struct Property {
    pub wire: String,
    pub ident: String,
    pub ty: Ty,
    pub required: bool,
    /// Optional with `default: []`: a plain `Vec`, empty when absent.
    pub defaulted: bool,
    pub doc: String,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Ty {
    String,
    Bool,
    U32,
    U64,
    I64,
    F64,
    Enum(String),
    Struct(String),
    Vec(Box<Ty>),
}

impl StructDef {
    /// Wire names in schema order, alternatives included.
    pub(crate) fn wire_names(&self) -> Vec<&str> {
        self.fields
            .iter()
            .flat_map(|f| match f {
                Field::Plain(p) => vec![p.wire.as_str()],
                Field::Source { alternatives, .. } => {
                    alternatives.iter().map(|a| a.wire.as_str()).collect()
                }
            })
            .collect()
    }
}

/// A place in one of the two schemas.
#[derive(Clone, Debug)]
struct At {
    file: &'static str,
    pointer: String,
}

struct Reader<'a> {
    spec: &'a Spec,
    enums: &'a [EnumDef],
}

/// Every struct of the job schema: the root first, then the definitions it refers to.
pub(crate) fn collect(spec: &Spec, enums: &[EnumDef]) -> Result<Vec<StructDef>, Error> {
    let r = Reader { spec, enums };
    let root = &spec.job_schema;
    let name = root
        .get("title")
        .and_then(Value::as_str)
        .ok_or_else(|| Error::spec(JOB_SCHEMA, "has no title (the name of the root struct)"))?;
    let mut todo = vec![(
        name.to_owned(),
        At {
            file: JOB_SCHEMA,
            pointer: String::new(),
        },
    )];
    let mut done: Vec<StructDef> = Vec::new();
    while let Some((name, at)) = todo.pop() {
        if done.iter().any(|d| d.name == name) {
            continue;
        }
        let def = r.struct_def(&name, &at)?;
        for field in &def.fields {
            let props: Vec<&Property> = match field {
                Field::Plain(p) => vec![p],
                Field::Source { alternatives, .. } => alternatives.iter().collect(),
            };
            for p in props {
                if let Some(inner) = p.ty.struct_name() {
                    todo.push((
                        inner.to_owned(),
                        At {
                            file: JOB_SCHEMA,
                            pointer: format!("/$defs/{}", escape(inner)),
                        },
                    ));
                }
            }
        }
        done.push(def);
    }
    Ok(done)
}

impl Ty {
    fn struct_name(&self) -> Option<&str> {
        match self {
            Ty::Struct(name) => Some(name),
            Ty::Vec(inner) => inner.struct_name(),
            _ => None,
        }
    }
}

impl Reader<'_> {
    fn schema(&self, file: &str) -> &Value {
        if file == REQUEST_SCHEMA {
            &self.spec.request_schema
        } else {
            &self.spec.job_schema
        }
    }

    fn node(&self, at: &At) -> Result<&Value, Error> {
        self.schema(at.file)
            .pointer(&at.pointer)
            .ok_or_else(|| Error::spec(at.file, format!("nothing at #{}", at.pointer)))
    }

    /// Follows `$ref`s from `at`; returns where it ended and the first description on the way.
    fn resolve(&self, at: &At) -> Result<(At, Option<String>), Error> {
        let mut at = at.clone();
        let mut doc = None;
        for _ in 0..16 {
            let node = self.node(&at)?;
            if doc.is_none() {
                doc = node
                    .get("description")
                    .and_then(Value::as_str)
                    .map(str::to_owned);
            }
            let Some(target) = node.get("$ref").and_then(Value::as_str) else {
                return Ok((at, doc));
            };
            at = self.target(&at, target)?;
        }
        Err(Error::spec(
            at.file,
            format!("#{}: $ref chain too long", at.pointer),
        ))
    }

    fn target(&self, from: &At, reference: &str) -> Result<At, Error> {
        let (file, pointer) = reference.split_once('#').ok_or_else(|| {
            Error::spec(from.file, format!("$ref {reference:?} has no `#` fragment"))
        })?;
        let file = match file {
            "" => from.file,
            f if f == REQUEST_SCHEMA => REQUEST_SCHEMA,
            f if f == JOB_SCHEMA => JOB_SCHEMA,
            other => {
                return Err(Error::spec(
                    from.file,
                    format!("$ref into {other:?}: only the request and job schemas are known"),
                ));
            }
        };
        Ok(At {
            file,
            pointer: pointer.to_owned(),
        })
    }

    fn struct_def(&self, name: &str, at: &At) -> Result<StructDef, Error> {
        let (at, doc) = self.resolve(at)?;
        let node = self.node(&at)?;
        let where_ = |m: String| Error::spec(at.file, format!("#{} ({name}): {m}", at.pointer));
        let props = node
            .get("properties")
            .and_then(Value::as_object)
            .ok_or_else(|| where_("an object with `properties` is expected".into()))?;
        let order = self
            .spec
            .key_orders
            .get(at.file)
            .and_then(|o| o.get(&format!("{}/properties", at.pointer)))
            .ok_or_else(|| where_("cannot read the order of its properties".into()))?;
        let required: BTreeSet<&str> = node
            .get("required")
            .and_then(Value::as_array)
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let extra = node.get("additionalProperties") != Some(&Value::Bool(false));
        let source = self.source_group(node, &where_)?;

        let mut fields = Vec::new();
        for wire in order {
            debug_assert!(props.contains_key(wire));
            let prop_at = At {
                file: at.file,
                pointer: format!("{}/properties/{}", at.pointer, escape(wire)),
            };
            let (ty, doc) = self.ty(&prop_at)?;
            let is_required = required.contains(wire.as_str());
            let defaulted = match self.node(&prop_at)?.get("default") {
                None => false,
                Some(Value::Array(items))
                    if items.is_empty() && matches!(ty, Ty::Vec(_)) && !is_required =>
                {
                    true
                }
                Some(_) => {
                    return Err(where_(format!(
                        "{wire:?}: only `default: []` on an optional array is supported"
                    )));
                }
            };
            let property = Property {
                wire: wire.clone(),
                ident: ident_for(wire),
                ty,
                required: is_required,
                defaulted,
                doc: doc.unwrap_or_default(),
            };
            match &source {
                Some((group, ident, type_, doc)) if group.contains(wire) => {
                    if property.required {
                        return Err(where_(format!(
                            "{wire:?} is one of the x-rust-source alternatives, so it cannot be required"
                        )));
                    }
                    match fields.iter_mut().find_map(|f| match f {
                        Field::Source { alternatives, .. } => Some(alternatives),
                        Field::Plain(_) => None,
                    }) {
                        Some(alternatives) => alternatives.push(property),
                        None => fields.push(Field::Source {
                            ident: ident.clone(),
                            type_: type_.clone(),
                            doc: doc.clone(),
                            alternatives: vec![property],
                        }),
                    }
                }
                _ => fields.push(Field::Plain(property)),
            }
        }
        for r in &required {
            if !props.contains_key(*r) {
                return Err(where_(format!("required {r:?} is not a property")));
            }
        }
        // `extra` holds unknown fields; the generated visitor's own locals are `map` and `key`;
        // `Other` is the tag of an unknown field.
        for taken in ["extra", "map", "key", "other"] {
            if props.contains_key(taken) {
                return Err(where_(format!(
                    "a property named {taken:?} clashes with a name the generated code uses"
                )));
            }
        }
        Ok(StructDef {
            name: name.to_owned(),
            doc: doc.unwrap_or_default(),
            fields,
            extra,
        })
    }

    /// `x-rust-source` and its `oneOf` of single `required` names.
    #[allow(clippy::type_complexity)]
    fn source_group(
        &self,
        node: &Value,
        where_: &dyn Fn(String) -> Error,
    ) -> Result<Option<(Vec<String>, String, String, String)>, Error> {
        let Some(source) = node.get("x-rust-source") else {
            return Ok(None);
        };
        let text = |key: &str| {
            source
                .get(key)
                .and_then(Value::as_str)
                .map(str::to_owned)
                .ok_or_else(|| where_(format!("x-rust-source needs a string {key:?}")))
        };
        let (field, type_, doc) = (text("field")?, text("type")?, text("description")?);
        let group: Vec<String> = node
            .get("oneOf")
            .and_then(Value::as_array)
            .map(|items| {
                items
                    .iter()
                    .filter_map(|i| match i.get("required").and_then(Value::as_array) {
                        Some(r) if r.len() == 1 => r[0].as_str().map(str::to_owned),
                        _ => None,
                    })
                    .collect()
            })
            .unwrap_or_default();
        if group.len() < 2 {
            return Err(where_(
                "x-rust-source needs a oneOf of at least two {\"required\": [name]}".into(),
            ));
        }
        Ok(Some((group, field, type_, doc)))
    }

    fn ty(&self, at: &At) -> Result<(Ty, Option<String>), Error> {
        let (end, doc) = self.resolve(at)?;
        if let Some(name) = end
            .pointer
            .strip_prefix("/$defs/")
            .filter(|n| !n.contains('/'))
        {
            if self.enums.iter().any(|e| e.name == name) {
                return Ok((Ty::Enum(name.to_owned()), doc));
            }
            if end.file == JOB_SCHEMA {
                return Ok((Ty::Struct(name.to_owned()), doc));
            }
        }
        let node = self.node(&end)?;
        let unsupported = |m: &str| {
            Error::spec(
                end.file,
                format!("#{}: {m} is not supported here", end.pointer),
            )
        };
        let ty = match node.get("type").and_then(Value::as_str) {
            Some("string") => Ty::String,
            Some("boolean") => Ty::Bool,
            Some("number") => Ty::F64,
            Some("integer") => match node.get("format").and_then(Value::as_str) {
                Some("uint32") => Ty::U32,
                Some("uint64") => Ty::U64,
                None | Some("int64") => Ty::I64,
                Some(other) => return Err(unsupported(&format!("integer format {other:?}"))),
            },
            Some("array") => {
                let items = At {
                    file: end.file,
                    pointer: format!("{}/items", end.pointer),
                };
                Ty::Vec(Box::new(self.ty(&items)?.0))
            }
            Some(other) => return Err(unsupported(&format!("type {other:?}"))),
            None => return Err(unsupported("a schema without `type` or `$ref`")),
        };
        Ok((ty, doc))
    }
}

/// `image_references` → `ImageReferences`, `type_` → `Type`.
fn camel(ident: &str) -> String {
    ident
        .split('_')
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut chars = w.chars();
            chars
                .next()
                .map(|c| c.to_ascii_uppercase())
                .into_iter()
                .chain(chars)
                .collect::<String>()
        })
        .collect()
}

/// The Rust name of a property: itself, or with a trailing `_` if it is a keyword.
fn ident_for(wire: &str) -> String {
    const KEYWORDS: &[&str] = &[
        "as", "break", "const", "continue", "crate", "else", "enum", "extern", "false", "fn",
        "for", "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut", "pub", "ref",
        "return", "self", "static", "struct", "super", "trait", "true", "type", "unsafe", "use",
        "where", "while", "async", "await", "dyn",
    ];
    if KEYWORDS.contains(&wire) {
        format!("{wire}_")
    } else {
        wire.to_owned()
    }
}

fn ty_tokens(ty: &Ty) -> TokenStream {
    match ty {
        Ty::String => quote!(::std::string::String),
        Ty::Bool => quote!(bool),
        Ty::U32 => quote!(u32),
        Ty::U64 => quote!(u64),
        Ty::I64 => quote!(i64),
        Ty::F64 => quote!(f64),
        Ty::Enum(name) => {
            let name = format_ident!("{name}");
            quote!(crate::#name)
        }
        Ty::Struct(name) => {
            let name = format_ident!("{name}");
            quote!(#name)
        }
        Ty::Vec(inner) => {
            let inner = ty_tokens(inner);
            quote!(::std::vec::Vec<#inner>)
        }
    }
}

fn has_float(ty: &Ty) -> bool {
    match ty {
        Ty::F64 => true,
        Ty::Vec(inner) => has_float(inner),
        _ => false,
    }
}

pub(crate) fn render(structs: &[StructDef]) -> TokenStream {
    let items = structs.iter().map(render_struct);
    quote! { #(#items)* }
}

fn render_struct(s: &StructDef) -> TokenStream {
    let name = format_ident!("{}", s.name);
    let doc = &s.doc;
    let floats = s.fields.iter().any(|f| match f {
        Field::Plain(p) => has_float(&p.ty),
        Field::Source { .. } => false,
    });
    let derive = if floats {
        quote!(#[derive(Clone, Debug, PartialEq)])
    } else {
        quote!(#[derive(Clone, Debug, PartialEq, Eq)])
    };
    let decls = s.fields.iter().map(|f| match f {
        Field::Plain(p) => {
            let (ident, doc) = (format_ident!("{}", p.ident), &p.doc);
            let ty = ty_tokens(&p.ty);
            let ty = if p.required || p.defaulted {
                ty
            } else {
                quote!(::std::option::Option<#ty>)
            };
            quote!(#[doc = #doc] pub #ident: #ty,)
        }
        Field::Source {
            ident, type_, doc, ..
        } => {
            let (ident, type_) = (format_ident!("{ident}"), format_ident!("{type_}"));
            quote!(#[doc = #doc] pub #ident: crate::#type_,)
        }
    });
    let extra_decl = s.extra.then(|| {
        quote! {
            /// Fields the spec does not know, kept verbatim (and sent as written).
            pub extra: ::std::collections::BTreeMap<::std::string::String, ::serde_json::Value>,
        }
    });
    let wire_names = s.wire_names();
    let fields_doc = format!(
        "The wire names of {}'s fields, in the documented order (which is the order they are \
         sent in).",
        s.name
    );
    // One constant per wire name, so code that writes a field by name (the CLI's flags) names
    // it through the schema and fails to compile when the schema renames it.
    let name_consts = wire_names.iter().map(|wire| {
        let konst = format_ident!("{}", wire.to_ascii_uppercase());
        let doc = format!("The wire name `{wire}`.");
        quote!(#[doc = #doc] pub const #konst: &'static str = #wire;)
    });
    let constructor = (!s.extra).then(|| constructor(s));
    let serialize = serialize(s);
    let deserialize = deserialize(s);
    quote! {
        #[doc = #doc]
        ///
        /// Generated from spec/job.schema.json.
        #derive
        pub struct #name {
            #(#decls)*
            #extra_decl
        }

        impl #name {
            #[doc = #fields_doc]
            pub const FIELDS: &'static [&'static str] = &[#(#wire_names),*];
            #(#name_consts)*
            #constructor
        }

        #serialize
        #deserialize
    }
}

fn constructor(s: &StructDef) -> TokenStream {
    let mut params = Vec::new();
    let mut inits = Vec::new();
    for f in &s.fields {
        match f {
            Field::Plain(p) => {
                let ident = format_ident!("{}", p.ident);
                let ty = ty_tokens(&p.ty);
                if p.required && p.ty == Ty::String {
                    params.push(quote!(#ident: impl ::std::convert::Into<::std::string::String>));
                    inits.push(quote!(#ident: #ident.into()));
                } else if p.required || p.defaulted {
                    params.push(quote!(#ident: #ty));
                    inits.push(quote!(#ident));
                } else {
                    params.push(quote!(#ident: ::std::option::Option<#ty>));
                    inits.push(quote!(#ident));
                }
            }
            Field::Source { ident, type_, .. } => {
                let (ident, type_) = (format_ident!("{ident}"), format_ident!("{type_}"));
                params.push(quote!(#ident: crate::#type_));
                inits.push(quote!(#ident));
            }
        }
    }
    let doc = format!("A {} from its fields, in documented order.", s.name);
    quote! {
        #[doc = #doc]
        pub fn new(#(#params),*) -> Self {
            Self { #(#inits),* }
        }
    }
}

fn serialize(s: &StructDef) -> TokenStream {
    let name = format_ident!("{}", s.name);
    let mut fixed = 0usize;
    let mut optional = Vec::new();
    let mut entries = Vec::new();
    for f in &s.fields {
        match f {
            Field::Plain(p) => {
                let (ident, wire) = (format_ident!("{}", p.ident), &p.wire);
                if p.required {
                    fixed += 1;
                    entries.push(quote!(map.serialize_entry(#wire, &self.#ident)?;));
                } else if p.defaulted {
                    optional.push(quote!(usize::from(!self.#ident.is_empty())));
                    entries.push(quote! {
                        if !self.#ident.is_empty() {
                            map.serialize_entry(#wire, &self.#ident)?;
                        }
                    });
                } else {
                    optional.push(quote!(usize::from(self.#ident.is_some())));
                    entries.push(quote! {
                        if let ::std::option::Option::Some(value) = &self.#ident {
                            map.serialize_entry(#wire, value)?;
                        }
                    });
                }
            }
            Field::Source { ident, type_, .. } => {
                fixed += 1;
                let (ident, type_) = (format_ident!("{ident}"), format_ident!("{type_}"));
                entries.push(quote!(crate::#type_::serialize_fields(&self.#ident, &mut map)?;));
            }
        }
    }
    let (extra_len, extra_entries) = if s.extra {
        (
            quote!(+ self.extra.len()),
            quote! {
                for (key, value) in &self.extra {
                    map.serialize_entry(key, value)?;
                }
            },
        )
    } else {
        (quote!(), quote!())
    };
    quote! {
        impl ::serde::Serialize for #name {
            fn serialize<S: ::serde::Serializer>(&self, serializer: S) -> ::std::result::Result<S::Ok, S::Error> {
                use ::serde::ser::SerializeMap as _;
                let len = #fixed #(+ #optional)* #extra_len;
                let mut map = serializer.serialize_map(::std::option::Option::Some(len))?;
                #(#entries)*
                #extra_entries
                map.end()
            }
        }
    }
}

fn deserialize(s: &StructDef) -> TokenStream {
    let name = format_ident!("{}", s.name);
    let props: Vec<&Property> = s
        .fields
        .iter()
        .flat_map(|f| match f {
            Field::Plain(p) => vec![p],
            Field::Source { alternatives, .. } => alternatives.iter().collect(),
        })
        .collect();
    let tags: Vec<_> = props
        .iter()
        .map(|p| format_ident!("{}", camel(&p.ident)))
        .collect();
    // Locals named after the fields (struct_def refused the names the visitor itself uses).
    let slots: Vec<_> = props.iter().map(|p| format_ident!("{}", p.ident)).collect();
    let wires: Vec<&str> = props.iter().map(|p| p.wire.as_str()).collect();
    let slot_tys = props.iter().map(|p| {
        let ty = ty_tokens(&p.ty);
        if p.required {
            quote!(::std::option::Option<#ty>)
        } else {
            // The outer Option: seen or not; the inner one: `null` reads as absent.
            quote!(::std::option::Option<::std::option::Option<#ty>>)
        }
    });
    let (other_variant, unknown, other_arm, extra_init, extra_field) = if s.extra {
        (
            quote!(Other(::std::string::String),),
            quote!(Field::Other(other.to_owned())),
            quote! {
                Field::Other(key) => {
                    let value: ::serde_json::Value = map.next_value()?;
                    if extra.insert(key, value).is_some() {
                        return ::std::result::Result::Err(::serde::de::Error::custom("duplicate field"));
                    }
                }
            },
            quote!(let mut extra = ::std::collections::BTreeMap::new();),
            quote!(extra,),
        )
    } else {
        (
            quote!(),
            quote!(return ::std::result::Result::Err(::serde::de::Error::unknown_field(other, #name::FIELDS))),
            quote!(),
            quote!(),
            quote!(),
        )
    };
    // `slots` follows `props`, which flattens `s.fields` in order.
    let mut next = 0usize;
    let mut inits = Vec::new();
    for f in &s.fields {
        match f {
            Field::Plain(p) => {
                let slot = &slots[next];
                next += 1;
                let (ident, wire) = (format_ident!("{}", p.ident), &p.wire);
                inits.push(if p.required {
                    quote!(#ident: #slot.ok_or_else(|| ::serde::de::Error::missing_field(#wire))?,)
                } else if p.defaulted {
                    quote!(#ident: #slot.flatten().unwrap_or_default(),)
                } else {
                    quote!(#ident: #slot.flatten(),)
                });
            }
            Field::Source {
                ident,
                type_,
                alternatives,
                ..
            } => {
                let used = &slots[next..next + alternatives.len()];
                next += alternatives.len();
                let (ident, type_) = (format_ident!("{ident}"), format_ident!("{type_}"));
                inits.push(quote! {
                    #ident: crate::#type_::from_fields(#(#used.flatten()),*)
                        .map_err(::serde::de::Error::custom)?,
                });
            }
        }
    }
    let expecting = format!("a {} object", s.name);
    quote! {
        impl<'de> ::serde::Deserialize<'de> for #name {
            fn deserialize<D: ::serde::Deserializer<'de>>(deserializer: D) -> ::std::result::Result<Self, D::Error> {
                enum Field {
                    #(#tags,)*
                    #other_variant
                }

                impl<'de> ::serde::Deserialize<'de> for Field {
                    fn deserialize<D: ::serde::Deserializer<'de>>(deserializer: D) -> ::std::result::Result<Self, D::Error> {
                        struct FieldVisitor;
                        impl ::serde::de::Visitor<'_> for FieldVisitor {
                            type Value = Field;
                            fn expecting(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                                f.write_str("a field name")
                            }
                            fn visit_str<E: ::serde::de::Error>(self, other: &str) -> ::std::result::Result<Field, E> {
                                ::std::result::Result::Ok(match other {
                                    #(#wires => Field::#tags,)*
                                    _ => #unknown,
                                })
                            }
                        }
                        deserializer.deserialize_identifier(FieldVisitor)
                    }
                }

                struct ObjectVisitor;
                impl<'de> ::serde::de::Visitor<'de> for ObjectVisitor {
                    type Value = #name;
                    fn expecting(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                        f.write_str(#expecting)
                    }
                    fn visit_map<A: ::serde::de::MapAccess<'de>>(self, mut map: A) -> ::std::result::Result<#name, A::Error> {
                        #(let mut #slots: #slot_tys = ::std::option::Option::None;)*
                        #extra_init
                        while let ::std::option::Option::Some(key) = map.next_key::<Field>()? {
                            match key {
                                #(Field::#tags => {
                                    if #slots.is_some() {
                                        return ::std::result::Result::Err(::serde::de::Error::duplicate_field(#wires));
                                    }
                                    #slots = ::std::option::Option::Some(map.next_value()?);
                                })*
                                #other_arm
                            }
                        }
                        ::std::result::Result::Ok(#name {
                            #(#inits)*
                            #extra_field
                        })
                    }
                }
                deserializer.deserialize_map(ObjectVisitor)
            }
        }
    }
}
