//! Columns for JSON records, inferred from a sample of them.

use std::fmt;

use chrono::DateTime;
use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};

use super::schema::ColumnSpec;
use crate::error::{ConnectorError, Result};

/// The type of a field as far as the sample shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Null,
    Boolean,
    Int,
    Float,
    Timestamp,
    String,
    /// An object or array: not a column type a format can declare.
    Nested,
}

impl Kind {
    fn of(value: &serde_json::Value) -> Kind {
        use serde_json::Value as V;
        match value {
            V::Null => Kind::Null,
            V::Bool(_) => Kind::Boolean,
            V::Number(n) if n.is_i64() => Kind::Int,
            V::Number(_) => Kind::Float,
            V::String(s) if DateTime::parse_from_rfc3339(s).is_ok() => Kind::Timestamp,
            V::String(_) => Kind::String,
            V::Array(_) | V::Object(_) => Kind::Nested,
        }
    }

    /// The narrowest kind holding both.
    fn merge(self, other: Kind) -> Kind {
        match (self, other) {
            (a, b) if a == b => a,
            (Kind::Null, k) | (k, Kind::Null) => k,
            (Kind::Nested, _) | (_, Kind::Nested) => Kind::Nested,
            (Kind::Int, Kind::Float) | (Kind::Float, Kind::Int) => Kind::Float,
            _ => Kind::String,
        }
    }

    fn type_name(self) -> Option<&'static str> {
        Some(match self {
            Kind::Null | Kind::String => "string",
            Kind::Boolean => "boolean",
            Kind::Int => "int64",
            Kind::Float => "float64",
            Kind::Timestamp => "timestamp",
            Kind::Nested => return None,
        })
    }
}

/// The top-level fields of one JSON object, in the order they appear.
struct Fields(Vec<(String, Kind)>);

impl<'de> Deserialize<'de> for Fields {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ObjectVisitor;
        impl<'de> Visitor<'de> for ObjectVisitor {
            type Value = Fields;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Fields, A::Error> {
                let mut fields = Vec::new();
                while let Some(key) = map.next_key::<String>()? {
                    let value: serde_json::Value = map.next_value()?;
                    fields.push((key, Kind::of(&value)));
                }
                Ok(Fields(fields))
            }
        }
        deserializer.deserialize_map(ObjectVisitor)
    }
}

/// Columns for records like `sample`, all nullable, in the order fields first appear.
///
/// Integers are `int64`, other numbers `float64` (also where a field is an integer in some
/// records), strings that are all RFC 3339 date-times `timestamp`, fields of mixed types or
/// only nulls `string`. Objects and arrays are left out (no column type holds them);
/// records that are not JSON objects are skipped. Fails if none is.
pub fn infer_json_columns(sample: &[&[u8]]) -> Result<Vec<ColumnSpec>> {
    let mut columns: Vec<(String, Kind)> = Vec::new();
    let mut objects = 0;
    for record in sample {
        let mut reader = serde_json::Deserializer::from_slice(record);
        let Ok(Fields(fields)) = Fields::deserialize(&mut reader) else {
            continue;
        };
        if reader.end().is_err() {
            continue;
        }
        objects += 1;
        for (name, kind) in fields {
            match columns.iter_mut().find(|(n, _)| *n == name) {
                Some((_, known)) => *known = known.merge(kind),
                None => columns.push((name, kind)),
            }
        }
    }
    if objects == 0 {
        return Err(ConnectorError::Config {
            connector: "json format",
            message: format!(
                "cannot infer columns: none of the {} sample records is a JSON object",
                sample.len()
            ),
        });
    }
    Ok(columns
        .into_iter()
        .filter_map(|(name, kind)| Some(ColumnSpec::new(&name, kind.type_name()?)))
        .collect())
}
