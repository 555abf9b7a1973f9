//! Operator state as Arrow batches, split by key group so it can be re-split when the
//! parallelism changes.
//!
//! An operator declares its state tables ([`StateTable`]). A snapshot is a set of batches
//! per table whose first column, [`SHARD_COLUMN`], names the key group owning each row. On
//! restore, a subtask receives exactly the rows of the key groups it owns at the new
//! parallelism, together with the lowest watermark any old subtask had seen.

pub mod expiring_keys;

use std::ops::Range;
use std::sync::Arc;

use arrow::array::{ArrayRef, AsArray, BooleanArray, UInt32Array};
use arrow::compute::filter_record_batch;
use arrow::datatypes::{DataType, Field, FieldRef, Schema, SchemaRef, UInt32Type};
use arrow::record_batch::RecordBatch;

use crate::error::{EngineError, Result};
use crate::keys::{hash_columns, key_group};

/// First column of every state batch: the key group that owns the row.
pub const SHARD_COLUMN: &str = "_key_group";

/// A state table an operator keeps: its name and the schema of its batches.
#[derive(Debug, Clone, PartialEq)]
pub struct StateTable {
    pub name: String,
    pub schema: SchemaRef,
}

impl StateTable {
    /// A table whose rows are `SHARD_COLUMN` followed by `fields`.
    pub fn new(name: impl Into<String>, fields: impl IntoIterator<Item = FieldRef>) -> Self {
        let mut all = vec![Arc::new(Field::new(SHARD_COLUMN, DataType::UInt32, false))];
        all.extend(fields);
        Self {
            name: name.into(),
            schema: Arc::new(Schema::new(all)),
        }
    }
}

/// Rows of one state table.
#[derive(Debug, Clone)]
pub struct StateChunk {
    pub table: String,
    pub batch: RecordBatch,
    /// Set by operators on chunks that never change once handed out (for example state
    /// frozen at an earlier checkpoint). A chunk whose id the subtask's previous checkpoint
    /// already wrote is referenced there instead of written again: that is what makes
    /// checkpoints incremental. Ids are unique within one subtask's run.
    pub immutable_id: Option<u64>,
}

impl StateChunk {
    /// Rows that may change between checkpoints: written in full every time.
    pub fn new(table: impl Into<String>, batch: RecordBatch) -> Self {
        Self {
            table: table.into(),
            batch,
            immutable_id: None,
        }
    }

    /// Rows that stay exactly as they are for as long as the operator hands out `id`.
    pub fn immutable(table: impl Into<String>, batch: RecordBatch, id: u64) -> Self {
        Self {
            table: table.into(),
            batch,
            immutable_id: Some(id),
        }
    }
}

/// Everything one operator subtask needs to continue where it stopped.
#[derive(Debug, Clone, Default)]
pub struct OperatorSnapshot {
    /// The event-time watermark the subtask had reached.
    pub watermark: Option<i64>,
    pub chunks: Vec<StateChunk>,
    /// On restore: the checkpoint the state was read from. Operators that number their
    /// output by checkpoint (two-phase-commit sinks) continue from it. Ignored when a
    /// snapshot is taken.
    pub checkpoint_id: Option<u64>,
}

/// The key groups owned by `subtask` out of `parallelism`: the inverse of
/// [`crate::keys::subtask_for_key_group`].
pub fn key_group_range(subtask: usize, parallelism: usize, max_parallelism: usize) -> Range<usize> {
    let start = (subtask * max_parallelism).div_ceil(parallelism);
    let end = ((subtask + 1) * max_parallelism).div_ceil(parallelism);
    start..end
}

/// The key group of every row, from its key columns, as a shard column.
pub fn shard_column(keys: &[ArrayRef], max_parallelism: usize) -> Result<ArrayRef> {
    let mut hashes = Vec::new();
    hash_columns(keys, &mut hashes)?;
    Ok(Arc::new(UInt32Array::from_iter_values(
        hashes.iter().map(|&h| key_group(h, max_parallelism) as u32),
    )))
}

/// Builds a state batch: the shard column followed by `columns`.
pub fn state_batch(
    table: &StateTable,
    shard: ArrayRef,
    columns: Vec<ArrayRef>,
) -> Result<RecordBatch> {
    let mut all = Vec::with_capacity(columns.len() + 1);
    all.push(shard);
    all.extend(columns);
    Ok(RecordBatch::try_new(table.schema.clone(), all)?)
}

/// The rows of `batch` whose key group lies in `groups`.
pub fn select_key_groups(batch: &RecordBatch, groups: &Range<usize>) -> Result<RecordBatch> {
    if batch.schema().field(0).name() != SHARD_COLUMN {
        return Err(EngineError::Checkpoint(format!(
            "state batch does not start with the {SHARD_COLUMN} column"
        )));
    }
    let shards = batch.column(0).as_primitive::<UInt32Type>();
    let keep: BooleanArray = shards
        .values()
        .iter()
        .map(|&g| Some(groups.contains(&(g as usize))))
        .collect();
    Ok(filter_record_batch(batch, &keep)?)
}

/// Restores the snapshots of the old subtasks into the snapshot of new subtask `subtask`
/// out of `parallelism`: its key groups' rows of every table, and the lowest watermark.
pub fn redistribute(
    old: &[OperatorSnapshot],
    subtask: usize,
    parallelism: usize,
    max_parallelism: usize,
) -> Result<OperatorSnapshot> {
    let groups = key_group_range(subtask, parallelism, max_parallelism);
    let mut chunks = Vec::new();
    for snapshot in old {
        for chunk in &snapshot.chunks {
            let batch = select_key_groups(&chunk.batch, &groups)?;
            if batch.num_rows() > 0 {
                chunks.push(StateChunk::new(chunk.table.clone(), batch));
            }
        }
    }
    let watermark = old.iter().filter_map(|s| s.watermark).min();
    let checkpoint_id = old.iter().filter_map(|s| s.checkpoint_id).max();
    Ok(OperatorSnapshot {
        watermark,
        chunks,
        checkpoint_id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::subtask_for_key_group;

    #[test]
    fn key_group_ranges_invert_the_owner_function() {
        for max in [7usize, 128] {
            for parallelism in 1..=max.min(9) {
                for subtask in 0..parallelism {
                    let range = key_group_range(subtask, parallelism, max);
                    let owned: Vec<usize> = (0..max)
                        .filter(|&g| subtask_for_key_group(g, max, parallelism) == subtask)
                        .collect();
                    assert_eq!(
                        range.collect::<Vec<_>>(),
                        owned,
                        "max {max} p {parallelism} subtask {subtask}"
                    );
                }
            }
        }
    }
}
