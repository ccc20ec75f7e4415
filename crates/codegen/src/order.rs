//! The order of keys in a JSON document. serde_json's map is sorted in this workspace (no
//! `preserve_order`), but a schema's `properties` are listed in the vendor's documented order,
//! which is the order the generated serializer writes: this reads that order from the text.

use std::collections::BTreeMap;
use std::fmt;

use serde::Deserializer;
use serde::de::{DeserializeSeed, MapAccess, SeqAccess, Visitor};

/// JSON pointer of an object → its keys in file order.
pub(crate) type KeyOrder = BTreeMap<String, Vec<String>>;

/// Every object's keys in `text`, in the order written.
pub(crate) fn key_order(text: &str) -> Result<KeyOrder, serde_json::Error> {
    let mut out = KeyOrder::new();
    let mut de = serde_json::Deserializer::from_str(text);
    Walk {
        at: String::new(),
        out: &mut out,
    }
    .deserialize(&mut de)?;
    de.end()?;
    Ok(out)
}

/// `a/b` → `a~1b`, as RFC 6901 spells a key inside a pointer.
pub(crate) fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

struct Walk<'a> {
    at: String,
    out: &'a mut KeyOrder,
}

impl<'de> DeserializeSeed<'de> for Walk<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Walk<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut keys = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            map.next_value_seed(Walk {
                at: format!("{}/{}", self.at, escape(&key)),
                out: &mut *self.out,
            })?;
            keys.push(key);
        }
        self.out.insert(self.at, keys);
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut i = 0usize;
        while seq
            .next_element_seed(Walk {
                at: format!("{}/{i}", self.at),
                out: &mut *self.out,
            })?
            .is_some()
        {
            i += 1;
        }
        Ok(())
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::key_order;

    #[test]
    fn keys_keep_file_order_at_every_depth() {
        let order = key_order(r#"{"z":1,"a":{"y":[{"q":1,"b":2}],"c":3}}"#).unwrap();
        assert_eq!(order[""], ["z", "a"]);
        assert_eq!(order["/a"], ["y", "c"]);
        assert_eq!(order["/a/y/0"], ["q", "b"]);
    }
}
