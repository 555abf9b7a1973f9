//! Lines parsed by a regular expression: each named group is a column.

use std::borrow::Cow;
use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use regex::{CaptureLocations, Regex};
use serde::{Deserialize, Serialize};

use super::columns::{typed, Value};
use super::schema::{schema_of, ColumnSpec};
use super::text::TextParser;
use crate::error::{ConnectorError, Result};

/// The `regex` format's settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegexConfig {
    /// A regular expression (Rust `regex` syntax) with named groups `(?P<name>...)`. It
    /// may match anywhere in the line; anchor it with `^...$` to match whole lines.
    pub pattern: String,
    /// Types of some groups (default: none); groups not listed are nullable strings.
    #[serde(default)]
    pub columns: Vec<ColumnSpec>,
}

/// The pattern compiled, and one column per named group, in the pattern's order.
struct Compiled {
    regex: Regex,
    /// The capture group index of each column.
    groups: Vec<usize>,
    schema: SchemaRef,
}

impl RegexConfig {
    fn compile(&self) -> Result<Compiled> {
        let bad = |message: String| ConnectorError::Config {
            connector: "regex format",
            message,
        };
        let regex = Regex::new(&self.pattern)
            .map_err(|e| bad(format!("pattern is not a valid regular expression: {e}")))?;
        let listed = if self.columns.is_empty() {
            None
        } else {
            Some(schema_of(&self.columns)?)
        };
        let mut groups = Vec::new();
        let mut fields = Vec::new();
        for (i, name) in regex.capture_names().enumerate() {
            let Some(name) = name else { continue };
            groups.push(i);
            fields.push(
                listed
                    .as_ref()
                    .and_then(|s| s.field_with_name(name).ok().cloned())
                    .unwrap_or_else(|| Field::new(name, DataType::Utf8, true)),
            );
        }
        if fields.is_empty() {
            return Err(bad("pattern has no named group (?P<name>...)".into()));
        }
        if let Some(c) = self
            .columns
            .iter()
            .find(|c| !fields.iter().any(|f| f.name() == &c.name))
        {
            return Err(bad(format!(
                "column '{}' is not a named group of the pattern",
                c.name
            )));
        }
        Ok(Compiled {
            regex,
            groups,
            schema: Arc::new(Schema::new(fields)),
        })
    }

    /// One column per named group, in the pattern's order.
    pub fn schema(&self) -> Result<SchemaRef> {
        Ok(self.compile()?.schema)
    }
}

/// Decodes lines by matching them against a pattern.
pub struct RegexDecoder {
    compiled: Compiled,
    locations: CaptureLocations,
    max_record_bytes: usize,
}

impl RegexDecoder {
    /// Fails if the pattern does not compile, has no named group, or `columns` names a
    /// column that is not a group.
    pub fn new(config: &RegexConfig, max_record_bytes: usize) -> Result<Self> {
        let compiled = config.compile()?;
        Ok(Self {
            locations: compiled.regex.capture_locations(),
            compiled,
            max_record_bytes,
        })
    }
}

impl TextParser for RegexDecoder {
    fn schema(&self) -> &SchemaRef {
        &self.compiled.schema
    }

    fn max_record_bytes(&self) -> usize {
        self.max_record_bytes
    }

    fn parse<'a>(&mut self, text: &'a str, row: &mut Vec<Value<'a>>) -> Result<(), String> {
        let Compiled {
            regex,
            groups,
            schema,
        } = &self.compiled;
        if regex.captures_read(&mut self.locations, text).is_none() {
            return Err("does not match pattern".into());
        }
        for (field, &group) in schema.fields().iter().zip(groups) {
            row.push(match self.locations.get(group) {
                Some((start, end)) => typed(field, Cow::Borrowed(&text[start..end]))
                    .map_err(|why| format!("group '{}': {why}", field.name()))?,
                None if field.is_nullable() => Value::Null,
                None => {
                    return Err(format!(
                        "group '{}' did not match and is not nullable",
                        field.name()
                    ))
                }
            });
        }
        Ok(())
    }
}
