//! A job file as a tree of values that remember where they start, and typed configuration
//! read from that tree with every mistake reported at the line and column of the field at
//! fault.
//!
//! The YAML is parsed once into [`Located`] values (each carrying its [`Position`]); typed
//! configuration is then deserialized from the tree. Where serde reads a value directly
//! (plain structs, lists, maps), an error is attributed to the value or key being read. Where
//! serde buffers a value before reading it (`#[serde(flatten)]`, internally tagged enums such
//! as `type:` and `kind:` selected configs), the error leaves the buffer without a place; it
//! is then attributed to the value inside the buffered subtree that the error names: the key
//! of an unknown or duplicate field, the scalar of an unknown variant or of a wrong type or
//! value, and otherwise the buffered value itself (a missing field is missing from it).

use std::fmt;

use serde::de::value::StrDeserializer;
use serde::de::{
    self, DeserializeOwned, DeserializeSeed, Deserializer, EnumAccess, IntoDeserializer, MapAccess,
    SeqAccess, Unexpected, VariantAccess, Visitor,
};
use serde::Deserialize;
use serde_saphyr::Spanned;

use crate::error::{JobError, Result};

/// A line and column in a job file, both counted from 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Position {
    pub line: u64,
    pub column: u64,
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// A YAML value and the position where it starts (for an alias, where the alias is used).
#[derive(Debug, Clone, PartialEq)]
pub struct Located {
    pub at: Position,
    pub value: Value,
}

/// A YAML value, scalars typed as YAML 1.2 reads plain scalars (`${VAR}` already
/// substituted); mapping entries keep their order.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Unsigned(u64),
    Signed(i64),
    Float(f64),
    Text(String),
    List(Vec<Located>),
    Map(Vec<(Located, Located)>),
}

impl Located {
    /// The value of key `key` if this is a mapping holding it.
    pub fn get(&self, key: &str) -> Option<&Located> {
        match &self.value {
            Value::Map(entries) => entries
                .iter()
                .find(|(k, _)| k.text() == Some(key))
                .map(|(_, v)| v),
            _ => None,
        }
    }

    /// The key `key` itself, if this is a mapping holding it.
    pub fn key(&self, key: &str) -> Option<&Located> {
        match &self.value {
            Value::Map(entries) => entries
                .iter()
                .find(|(k, _)| k.text() == Some(key))
                .map(|(k, _)| k),
            _ => None,
        }
    }

    /// The text of a string scalar.
    pub fn text(&self) -> Option<&str> {
        match &self.value {
            Value::Text(text) => Some(text),
            _ => None,
        }
    }

    /// This value and every value and key inside it, depth first in document order, each
    /// with its path relative to this value (a key with the path of its mapping).
    pub(crate) fn walk<'a>(
        &'a self,
        path: String,
        visit: &mut impl FnMut(&'a Located, bool, &str),
    ) {
        visit(self, false, &path);
        match &self.value {
            Value::List(items) => {
                for (index, item) in items.iter().enumerate() {
                    item.walk(format!("{path}[{index}]"), visit);
                }
            }
            Value::Map(entries) => {
                for (key, value) in entries {
                    visit(key, true, &path);
                    value.walk(join(&path, &key_segment(key)), visit);
                }
            }
            _ => {}
        }
    }

    fn unexpected(&self) -> Unexpected<'_> {
        match &self.value {
            Value::Null => Unexpected::Unit,
            Value::Bool(b) => Unexpected::Bool(*b),
            Value::Unsigned(n) => Unexpected::Unsigned(*n),
            Value::Signed(n) => Unexpected::Signed(*n),
            Value::Float(f) => Unexpected::Float(*f),
            Value::Text(s) => Unexpected::Str(s),
            Value::List(_) => Unexpected::Seq,
            Value::Map(_) => Unexpected::Map,
        }
    }
}

impl<'de> Deserialize<'de> for Located {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let spanned = Spanned::<Value>::deserialize(deserializer)?;
        Ok(Located {
            at: Position {
                line: spanned.referenced.line(),
                column: spanned.referenced.column(),
            },
            value: spanned.value,
        })
    }
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ValueVisitor)
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a YAML value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Signed(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Unsigned(v))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Ok(Value::Float(v))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        Ok(Value::Text(v.to_string()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        Ok(Value::Text(v))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        Value::deserialize(deserializer)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Located>()? {
            items.push(item);
        }
        Ok(Value::List(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key::<Located>()? {
            let value = map.next_value::<Located>()?;
            entries.push((key, value));
        }
        Ok(Value::Map(entries))
    }
}

/// Deserializes a `T` from `root`; an error names `file`, the line and column of the field
/// at fault and its path (`sources.events.batch_size`).
pub(crate) fn deserialize<T: DeserializeOwned>(root: &Located, file: &str) -> Result<T> {
    let path = Path::Root;
    T::deserialize(ValueDeserializer {
        node: root,
        path: &path,
    })
    .map_err(|e| e.locate_within(root, &path).into_job_error(file))
}

/// Where a value sits in the document, as a chain of keys and list indices.
enum Path<'p> {
    Root,
    Key(&'p Path<'p>, &'p str),
    Index(&'p Path<'p>, usize),
}

impl fmt::Display for Path<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Path::Root => Ok(()),
            Path::Key(Path::Root, key) => f.write_str(key),
            Path::Key(parent, key) => write!(f, "{parent}.{key}"),
            Path::Index(parent, index) => write!(f, "{parent}[{index}]"),
        }
    }
}

fn join(path: &str, segment: &str) -> String {
    if path.is_empty() {
        segment.to_string()
    } else {
        format!("{path}.{segment}")
    }
}

fn key_segment(key: &Located) -> String {
    match &key.value {
        Value::Text(text) => text.clone(),
        _ => key.unexpected().to_string(),
    }
}

/// A deserialization error and, once known, the place it is attributed to.
#[derive(Debug)]
pub(crate) struct FieldError {
    message: String,
    place: Option<(Position, String)>,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for FieldError {}

impl de::Error for FieldError {
    fn custom<T: fmt::Display>(message: T) -> Self {
        FieldError {
            message: message.to_string(),
            place: None,
        }
    }
}

impl FieldError {
    /// Attributes an error that has no place yet to the value inside `node` it names, or to
    /// `node` itself.
    fn locate_within(mut self, node: &Located, path: &Path<'_>) -> Self {
        if self.place.is_none() {
            let (at, relative) = culprit(&self.message, node);
            let base = path.to_string();
            let full = match (base.is_empty(), relative.is_empty()) {
                (_, true) => base,
                (true, false) => relative,
                (false, false) if relative.starts_with('[') => format!("{base}{relative}"),
                (false, false) => format!("{base}.{relative}"),
            };
            self.place = Some((at, full));
        }
        self
    }

    fn into_job_error(self, file: &str) -> JobError {
        let (location, message) = match self.place {
            Some((at, path)) if path.is_empty() => (format!("{file}:{at}"), self.message),
            Some((at, path)) => (format!("{file}:{at}"), format!("{path}: {}", self.message)),
            None => (file.to_string(), self.message),
        };
        JobError::Definition { location, message }
    }
}

/// The value or key inside `node` that `message` (a serde error) is about, with its path
/// relative to `node`; `node` itself when the message names nothing found inside it.
fn culprit(message: &str, node: &Located) -> (Position, String) {
    let named = |prefix: &str| {
        let rest = message.strip_prefix(prefix)?;
        rest.split_once('`').map(|(name, _)| name.to_string())
    };
    let mut found: Vec<(Position, String)> = Vec::new();
    if let Some(field) = named("unknown field `").or_else(|| named("duplicate field `")) {
        node.walk(String::new(), &mut |value, is_key, path| {
            if is_key && value.text() == Some(field.as_str()) {
                found.push((value.at, path.to_string()));
            }
        });
    } else if let Some(variant) = named("unknown variant `") {
        node.walk(String::new(), &mut |value, is_key, path| {
            if !is_key && value.text() == Some(variant.as_str()) {
                found.push((value.at, path.to_string()));
            }
        });
    } else if message.starts_with("invalid type: ") || message.starts_with("invalid value: ") {
        let mut compound = false;
        node.walk(String::new(), &mut |value, is_key, path| {
            let shown = value.unexpected().to_string();
            let matches = !is_key
                && (message.starts_with(&format!("invalid type: {shown}, expected"))
                    || message.starts_with(&format!("invalid value: {shown}, expected")));
            if matches {
                compound |= matches!(value.value, Value::List(_) | Value::Map(_));
                found.push((value.at, path.to_string()));
            }
        });
        // A wrong mapping or list is only pinned down when it is the only one.
        if compound && found.len() > 1 {
            found.clear();
        }
    }
    found
        .into_iter()
        .next()
        .unwrap_or_else(|| (node.at, String::new()))
}

/// Reads typed values out of a [`Located`] tree.
struct ValueDeserializer<'a, 'p> {
    node: &'a Located,
    path: &'p Path<'p>,
}

impl<'de> Deserializer<'de> for ValueDeserializer<'_, '_> {
    type Error = FieldError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, FieldError> {
        match &self.node.value {
            Value::Null => visitor.visit_unit(),
            Value::Bool(b) => visitor.visit_bool(*b),
            Value::Unsigned(n) => visitor.visit_u64(*n),
            Value::Signed(n) => visitor.visit_i64(*n),
            Value::Float(f) => visitor.visit_f64(*f),
            Value::Text(s) => visitor.visit_str(s),
            Value::List(items) => visitor.visit_seq(Items {
                items: items.iter().enumerate(),
                path: self.path,
            }),
            Value::Map(entries) => visitor.visit_map(Entries {
                entries: entries.iter(),
                pending: None,
                path: self.path,
            }),
        }
    }

    /// A plain scalar read as a string is its text, as YAML reads it (`app_id: 2024`).
    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, FieldError> {
        match &self.node.value {
            Value::Bool(b) => visitor.visit_string(b.to_string()),
            Value::Unsigned(n) => visitor.visit_string(n.to_string()),
            Value::Signed(n) => visitor.visit_string(n.to_string()),
            Value::Float(f) => visitor.visit_string(f.to_string()),
            _ => self.deserialize_any(visitor),
        }
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, FieldError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, FieldError> {
        match self.node.value {
            Value::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, FieldError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, FieldError> {
        match &self.node.value {
            Value::Text(variant) => visitor.visit_enum(UnitVariant(variant)),
            Value::Map(entries) if entries.len() == 1 => {
                let (key, value) = &entries[0];
                visitor.visit_enum(Variant {
                    key,
                    value,
                    path: self.path,
                })
            }
            _ => Err(de::Error::invalid_type(
                self.node.unexpected(),
                &"a variant name or a mapping with one key",
            )),
        }
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char bytes byte_buf unit
        unit_struct seq tuple tuple_struct map struct identifier ignored_any
    }
}

struct Items<'a, 'p> {
    items: std::iter::Enumerate<std::slice::Iter<'a, Located>>,
    path: &'p Path<'p>,
}

impl<'de> SeqAccess<'de> for Items<'_, '_> {
    type Error = FieldError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, FieldError> {
        let Some((index, item)) = self.items.next() else {
            return Ok(None);
        };
        let path = Path::Index(self.path, index);
        seed.deserialize(ValueDeserializer {
            node: item,
            path: &path,
        })
        .map(Some)
        .map_err(|e| e.locate_within(item, &path))
    }
}

struct Entries<'a, 'p> {
    entries: std::slice::Iter<'a, (Located, Located)>,
    pending: Option<&'a (Located, Located)>,
    path: &'p Path<'p>,
}

impl<'de> MapAccess<'de> for Entries<'_, '_> {
    type Error = FieldError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, FieldError> {
        let Some(entry) = self.entries.next() else {
            return Ok(None);
        };
        self.pending = Some(entry);
        let key = &entry.0;
        seed.deserialize(ValueDeserializer {
            node: key,
            path: self.path,
        })
        .map(Some)
        .map_err(|e| e.locate_within(key, self.path))
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, FieldError> {
        let Some((key, value)) = self.pending.take() else {
            return Err(de::Error::custom("a value was read before its key"));
        };
        let segment = key_segment(key);
        let path = Path::Key(self.path, &segment);
        seed.deserialize(ValueDeserializer {
            node: value,
            path: &path,
        })
        .map_err(|e| e.locate_within(value, &path))
    }
}

/// An enum written as its variant's name.
struct UnitVariant<'a>(&'a str);

impl<'de, 'a> EnumAccess<'de> for UnitVariant<'a> {
    type Error = FieldError;
    type Variant = Self;

    fn variant_seed<T: DeserializeSeed<'de>>(
        self,
        seed: T,
    ) -> Result<(T::Value, Self), FieldError> {
        let name: StrDeserializer<'a, FieldError> = self.0.into_deserializer();
        Ok((seed.deserialize(name)?, self))
    }
}

impl<'de> VariantAccess<'de> for UnitVariant<'_> {
    type Error = FieldError;

    fn unit_variant(self) -> Result<(), FieldError> {
        Ok(())
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(
        self,
        _seed: T,
    ) -> Result<T::Value, FieldError> {
        Err(de::Error::invalid_type(
            Unexpected::UnitVariant,
            &"a variant with a value",
        ))
    }

    fn tuple_variant<V: Visitor<'de>>(
        self,
        _len: usize,
        _visitor: V,
    ) -> Result<V::Value, FieldError> {
        Err(de::Error::invalid_type(
            Unexpected::UnitVariant,
            &"a tuple variant",
        ))
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value, FieldError> {
        Err(de::Error::invalid_type(
            Unexpected::UnitVariant,
            &"a struct variant",
        ))
    }
}

/// An enum written as a mapping from its variant's name to the variant's value.
struct Variant<'a, 'p> {
    key: &'a Located,
    value: &'a Located,
    path: &'p Path<'p>,
}

impl<'de, 'a, 'p> EnumAccess<'de> for Variant<'a, 'p> {
    type Error = FieldError;
    type Variant = Self;

    fn variant_seed<T: DeserializeSeed<'de>>(
        self,
        seed: T,
    ) -> Result<(T::Value, Self), FieldError> {
        let variant = seed
            .deserialize(ValueDeserializer {
                node: self.key,
                path: self.path,
            })
            .map_err(|e| e.locate_within(self.key, self.path))?;
        Ok((variant, self))
    }
}

impl<'de> VariantAccess<'de> for Variant<'_, '_> {
    type Error = FieldError;

    fn unit_variant(self) -> Result<(), FieldError> {
        Err(de::Error::invalid_type(Unexpected::Map, &"a variant name"))
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(
        self,
        seed: T,
    ) -> Result<T::Value, FieldError> {
        let segment = key_segment(self.key);
        let path = Path::Key(self.path, &segment);
        seed.deserialize(ValueDeserializer {
            node: self.value,
            path: &path,
        })
        .map_err(|e| e.locate_within(self.value, &path))
    }

    fn tuple_variant<V: Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, FieldError> {
        let segment = key_segment(self.key);
        let path = Path::Key(self.path, &segment);
        ValueDeserializer {
            node: self.value,
            path: &path,
        }
        .deserialize_seq(visitor)
        .map_err(|e| e.locate_within(self.value, &path))
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, FieldError> {
        let segment = key_segment(self.key);
        let path = Path::Key(self.path, &segment);
        ValueDeserializer {
            node: self.value,
            path: &path,
        }
        .deserialize_map(visitor)
        .map_err(|e| e.locate_within(self.value, &path))
    }
}
