//! The compiled `enrich` and its subtasks: each batch's keys looked up in the shared
//! table, the added columns gathered with one `take` each.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, UInt32Array};
use arrow::compute::{filter_record_batch, is_not_null, take};
use arrow::datatypes::{DataType, SchemaRef};
use arrow::json::LineDelimitedWriter;
use arrow::record_batch::RecordBatch;
use async_trait::async_trait;
use weir_engine::operator::MAIN_PORT;
use weir_engine::{Collector, Operator, OperatorPlan, OutputPort, SubtaskInfo, DEAD_LETTER_PORT};

use super::lookup::{describe_key, LookupTable};
use super::shared::Dimension;
use super::Missing;
use crate::format::dead_letter::{dead_letter_schema, DeadLetters, KEEP_BYTES};

/// An `enrich` node checked against its input, with the table its subtasks share.
#[derive(Debug)]
pub struct EnrichPlan {
    pub(super) node: String,
    pub(super) output: SchemaRef,
    /// The stream's join columns, in the table's key order.
    pub(super) key_indices: Vec<usize>,
    /// Their names and types, for reasons.
    pub(super) key_names: Vec<(String, DataType)>,
    pub(super) missing: Missing,
    pub(super) path: String,
    pub(super) dimension: Arc<Dimension>,
}

impl EnrichPlan {
    /// The table shared by this node's subtasks (reload counts, waiting for a reload).
    pub fn dimension(&self) -> &Arc<Dimension> {
        &self.dimension
    }

    /// The schema of the enriched rows: the input's columns, then the added ones.
    pub fn output_schema(&self) -> &SchemaRef {
        &self.output
    }
}

impl OperatorPlan for EnrichPlan {
    fn outputs(&self) -> Vec<OutputPort> {
        let mut ports = vec![OutputPort {
            name: MAIN_PORT.into(),
            schema: self.output.clone(),
        }];
        if self.missing == Missing::DeadLetter {
            ports.push(OutputPort {
                name: DEAD_LETTER_PORT.into(),
                schema: dead_letter_schema(),
            });
        }
        ports
    }

    fn create(&self, _: &SubtaskInfo) -> weir_engine::Result<Box<dyn Operator>> {
        Ok(Box::new(Enrich {
            node: self.node.clone(),
            output: self.output.clone(),
            key_indices: self.key_indices.clone(),
            key_names: self.key_names.clone(),
            missing: self.missing,
            path: self.path.clone(),
            dimension: self.dimension.clone(),
            rows_seen: 0,
        }))
    }
}

struct Enrich {
    node: String,
    output: SchemaRef,
    key_indices: Vec<usize>,
    key_names: Vec<(String, DataType)>,
    missing: Missing,
    path: String,
    dimension: Arc<Dimension>,
    /// Input rows this subtask has seen, to number origins.
    rows_seen: u64,
}

impl Enrich {
    /// `batch` with the table's columns at `found` appended.
    fn joined(
        &self,
        table: &LookupTable,
        batch: &RecordBatch,
        found: &UInt32Array,
    ) -> weir_engine::Result<RecordBatch> {
        let mut columns: Vec<ArrayRef> = batch.columns().to_vec();
        for column in &table.columns {
            columns.push(take(column.as_ref(), found, None)?);
        }
        Ok(RecordBatch::try_new(self.output.clone(), columns)?)
    }

    /// The rows of `batch` at `missed` as dead letters.
    fn dead_letters(
        &self,
        batch: &RecordBatch,
        keys: &[ArrayRef],
        missed: &[usize],
    ) -> weir_engine::Result<Option<RecordBatch>> {
        let mut letters = DeadLetters::default();
        for &row in missed {
            let mut writer = LineDelimitedWriter::new(Vec::new());
            writer.write(&batch.slice(row, 1))?;
            writer.finish()?;
            let mut raw = writer.into_inner();
            if raw.last() == Some(&b'\n') {
                raw.pop();
            }
            let key = describe_key(&self.key_names, keys, row)?;
            let reason = if keys.iter().any(|k| k.is_null(row)) {
                format!("the join key has a null value ({key})")
            } else {
                format!("no row of dimension table '{}' has {key}", self.path)
            };
            let origin = format!("{}:{}", self.node, self.rows_seen + row as u64);
            letters.push(&raw, KEEP_BYTES, &origin, &reason);
        }
        Ok(letters.finish()?)
    }
}

#[async_trait]
impl Operator for Enrich {
    async fn process_batch(
        &mut self,
        _: usize,
        batch: RecordBatch,
        out: &mut Collector,
    ) -> weir_engine::Result<()> {
        self.dimension.poll_reload();
        let table = self.dimension.current();
        let keys: Vec<ArrayRef> = self
            .key_indices
            .iter()
            .map(|&i| batch.column(i).clone())
            .collect();
        let found = table.find(&keys)?;
        if self.missing == Missing::Null || found.null_count() == 0 {
            out.emit(self.joined(&table, &batch, &found)?);
        } else {
            let hit = is_not_null(&found)?;
            let kept = filter_record_batch(&batch, &hit)?;
            let kept_found: UInt32Array = found.iter().flatten().map(Some).collect();
            out.emit(self.joined(&table, &kept, &kept_found)?);
            let missed: Vec<usize> = (0..found.len()).filter(|&row| found.is_null(row)).collect();
            if let Some(letters) = self.dead_letters(&batch, &keys, &missed)? {
                out.emit_to(1, letters);
            }
        }
        self.rows_seen += batch.num_rows() as u64;
        Ok(())
    }
}
