//! The `enrich` transform: a lookup join of each row against a dimension table held in
//! memory (a CSV file with a header, a Parquet file or a Delta table).
//!
//! Output rows: the input's columns, then the added dimension columns (all nullable,
//! named with `prefix` in front). A row whose key is not in the table (or has a null key
//! value) keeps null added columns (`missing: null`, the default) or goes to the
//! `dead_letters` output (`missing: dead_letter`, `raw, origin, reason, time` like the
//! sources' dead letters: `raw` is the row as JSON, `origin` `<node>:<n>` with `n` the
//! row's number in the subtask's input since the job (re)started). Keys must be unique in
//! the table: a version with a repeated key is refused (at build time an error, on a
//! reload a failed reload). Everything is checked when the job is built: the table must
//! exist and load, and the join and added columns must be there, without clashing with
//! input columns. The table is reloaded when it changes (see [`shared`]).

pub mod dimension;
pub mod lookup;
pub mod operator;
pub mod shared;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use arrow::compute::can_cast_types;
use arrow::datatypes::{Field, Schema, SchemaRef};
use serde::{Deserialize, Serialize};
use weir_engine::{EngineError, OperatorFactory, OperatorPlan, PlanContext};

use self::dimension::{DimensionFormat, DimensionSource};
use self::lookup::{LookupTable, Shape};
use self::operator::EnrichPlan;
use self::shared::Dimension;
use crate::error::ConnectorError;

/// Settings of an `enrich` transform.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnrichConfig {
    /// The dimension table: a CSV or Parquet file, or a Delta table directory or URL.
    pub path: String,
    /// How the table is stored; by default inferred from `path` (`_delta_log` inside, or
    /// the extension `.csv` / `.parquet`).
    #[serde(default)]
    pub format: Option<DimensionFormat>,
    /// The join columns: one name present on both sides, or stream column -> table column.
    pub on: JoinOn,
    /// Table columns to add (default: every column that is not a join column).
    #[serde(default)]
    pub columns: Option<Vec<String>>,
    /// Put in front of each added column's name (default none); needed when an added
    /// column has the name of an input column.
    #[serde(default)]
    pub prefix: String,
    #[serde(default)]
    pub missing: Missing,
    /// How often the table is checked for changes (default 30s).
    #[serde(default = "default_reload_interval", with = "humantime_serde")]
    pub reload_interval: Duration,
}

fn default_reload_interval() -> Duration {
    Duration::from_secs(30)
}

/// The join columns of an `enrich`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum JoinOn {
    /// A column of the same name in the stream and the table.
    Same(String),
    /// Stream column -> table column (several make a composite key).
    Columns(BTreeMap<String, String>),
}

impl JoinOn {
    /// (stream column, table column) pairs.
    fn pairs(&self) -> Vec<(String, String)> {
        match self {
            Self::Same(name) => vec![(name.clone(), name.clone())],
            Self::Columns(map) => map.iter().map(|(s, d)| (s.clone(), d.clone())).collect(),
        }
    }
}

/// What happens to a row whose key is not in the table.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Missing {
    /// The row goes on with null added columns.
    #[default]
    Null,
    /// The row goes to the `dead_letters` output with the reason.
    DeadLetter,
}

/// Runs `work` to its end on a thread of its own with its own runtime, so that planning
/// (which is not async) can read a table wherever it is called from.
fn block_on<T: Send>(work: impl std::future::Future<Output = T> + Send) -> std::io::Result<T> {
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map(|runtime| runtime.block_on(work))
            })
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}

impl EnrichConfig {
    /// Loads the table and checks it against the input; the plan's [`Dimension`] is the
    /// copy every subtask of this process shares.
    pub fn open(&self, ctx: &PlanContext<'_>) -> weir_engine::Result<Arc<EnrichPlan>> {
        let node = ctx.node;
        let input = ctx.single_input()?.clone();
        let fail = |message: String| EngineError::config(node, message);
        let pairs = self.on.pairs();
        if pairs.is_empty() {
            return Err(fail("`on` names no join column".into()));
        }
        let mut key_indices = Vec::with_capacity(pairs.len());
        for (stream, _) in &pairs {
            key_indices.push(input.index_of(stream).map_err(|_| {
                fail(format!(
                    "join column '{stream}' is not in the input (it has: {})",
                    names(&input)
                ))
            })?);
        }
        let path = &self.path;
        let format = match self.format {
            Some(format) => format,
            None => DimensionFormat::infer(path).map_err(|e| fail(reason(e)))?,
        };
        if !path.contains("://") && !Path::new(path).exists() {
            return Err(fail(format!("dimension table '{path}' does not exist")));
        }
        let source = DimensionSource {
            path: path.clone(),
            format,
        };
        let (batch, stamp) = block_on(source.read())
            .map_err(|e| fail(format!("reading dimension table '{path}': {e}")))?
            .map_err(|e| fail(reason(e)))?;
        let table_schema = batch.schema();
        let mut keys = Vec::with_capacity(pairs.len());
        for ((stream, column), &index) in pairs.iter().zip(&key_indices) {
            let field = table_schema.field_with_name(column).map_err(|_| {
                fail(format!(
                    "join column '{column}' is not in dimension table '{path}' (it has: {})",
                    names(&table_schema)
                ))
            })?;
            let stream_type = input.field(index).data_type();
            if !can_cast_types(field.data_type(), stream_type) {
                return Err(fail(format!(
                    "join column '{column}' of dimension table '{path}' is {}, which cannot be compared with input column '{stream}' ({stream_type})",
                    field.data_type()
                )));
            }
            keys.push((column.clone(), stream_type.clone()));
        }
        let added_names: Vec<String> = match &self.columns {
            Some(columns) => columns.clone(),
            None => table_schema
                .fields()
                .iter()
                .map(|f| f.name().clone())
                .filter(|name| !pairs.iter().any(|(_, column)| column == name))
                .collect(),
        };
        let mut added = Vec::with_capacity(added_names.len());
        let mut fields: Vec<Field> = input.fields().iter().map(|f| f.as_ref().clone()).collect();
        for name in &added_names {
            let field = table_schema.field_with_name(name).map_err(|_| {
                fail(format!(
                    "column '{name}' is not in dimension table '{path}' (it has: {})",
                    names(&table_schema)
                ))
            })?;
            let output = format!("{}{name}", self.prefix);
            if fields.iter().any(|f| f.name() == &output) {
                return Err(fail(format!(
                    "added column '{output}' is also an input column; set a `prefix` or leave it out of `columns`"
                )));
            }
            fields.push(Field::new(output, field.data_type().clone(), true));
            added.push((name.clone(), field.data_type().clone()));
        }
        let shape = Shape { keys, added };
        let table = LookupTable::build(&batch, &shape, stamp, path).map_err(|e| fail(reason(e)))?;
        let dimension = Dimension::new(source, shape.clone(), self.reload_interval, table);
        Ok(Arc::new(EnrichPlan {
            node: node.to_string(),
            output: Arc::new(Schema::new(fields)),
            key_indices,
            key_names: pairs
                .into_iter()
                .map(|(s, _)| s)
                .zip(shape.keys)
                .map(|(s, (_, t))| (s, t))
                .collect(),
            missing: self.missing,
            path: path.clone(),
            dimension: Arc::new(dimension),
        }))
    }
}

/// A connector error as the message of a node's configuration error.
fn reason(error: ConnectorError) -> String {
    match error {
        ConnectorError::Config { message, .. } => message,
        other => other.to_string(),
    }
}

fn names(schema: &SchemaRef) -> String {
    schema
        .fields()
        .iter()
        .map(|f| f.name().as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

impl OperatorFactory for EnrichConfig {
    fn plan(&self, ctx: &PlanContext<'_>) -> weir_engine::Result<Arc<dyn OperatorPlan>> {
        Ok(self.open(ctx)?)
    }
}
