//! A time-expiring key map: keys held in memory with an event-time expiry each, split by
//! key group for checkpoints and rescaling.
//!
//! Keys are Arrow row-format bytes of the key columns, so any key type (and nulls) works
//! and equal keys are equal bytes. A key expires once the watermark reaches its expiry
//! time; until then it is live.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, Int64Array, UInt32Array};
use arrow::datatypes::{DataType, Field, FieldRef, Int64Type, UInt32Type};
use arrow::row::{RowConverter, Rows, SortField};

use super::{shard_column, state_batch, StateChunk, StateTable};
use crate::error::{EngineError, Result};

/// Keys with an expiry time each.
pub struct ExpiringKeys {
    table: StateTable,
    converter: RowConverter,
    key_count: usize,
    max_parallelism: usize,
    /// Expiry time and key group, by key.
    entries: HashMap<Box<[u8]>, (i64, u32)>,
    /// The same keys ordered by expiry time, to drop them as the watermark passes.
    by_expiry: BTreeSet<(i64, Box<[u8]>)>,
}

/// Encoded keys of a batch with the key group of each row.
pub struct EncodedKeys {
    pub rows: Rows,
    pub key_groups: Vec<u32>,
}

impl ExpiringKeys {
    /// An empty map stored as state table `name` with columns `key_fields` + `expires_at`.
    pub fn new(name: &str, key_fields: Vec<FieldRef>, max_parallelism: usize) -> Result<Self> {
        let converter = RowConverter::new(
            key_fields
                .iter()
                .map(|f| SortField::new(f.data_type().clone()))
                .collect(),
        )?;
        let key_count = key_fields.len();
        let mut fields = key_fields;
        fields.push(Arc::new(Field::new("expires_at", DataType::Int64, false)));
        Ok(Self {
            table: StateTable::new(name, fields),
            converter,
            key_count,
            max_parallelism,
            entries: HashMap::new(),
            by_expiry: BTreeSet::new(),
        })
    }

    /// The state table the map is checkpointed as.
    pub fn state_table(&self) -> &StateTable {
        &self.table
    }

    /// How many keys are live.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no key is live.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Encodes the key columns of a batch.
    pub fn encode(&self, key_columns: &[ArrayRef]) -> Result<EncodedKeys> {
        let rows = self.converter.convert_columns(key_columns)?;
        let shard = shard_column(key_columns, self.max_parallelism)?;
        let key_groups = shard.as_primitive::<UInt32Type>().values().to_vec();
        Ok(EncodedKeys { rows, key_groups })
    }

    /// The expiry time of `key`, if it is in the map.
    pub fn expiry(&self, key: &[u8]) -> Option<i64> {
        self.entries.get(key).map(|(expires_at, _)| *expires_at)
    }

    /// Puts `key` in the map until `expires_at`, replacing any earlier expiry.
    pub fn insert(&mut self, key: &[u8], key_group: u32, expires_at: i64) {
        if let Some((old, _)) = self.entries.insert(key.into(), (expires_at, key_group)) {
            self.by_expiry.remove(&(old, key.into()));
        }
        self.by_expiry.insert((expires_at, key.into()));
    }

    /// Drops every key whose expiry time is at or before `watermark`; returns how many.
    pub fn expire(&mut self, watermark: i64) -> usize {
        let mut dropped = 0;
        while let Some((expires_at, _)) = self.by_expiry.first() {
            if *expires_at > watermark {
                break;
            }
            let (_, key) = self.by_expiry.pop_first().expect("just seen");
            self.entries.remove(&key);
            dropped += 1;
        }
        dropped
    }

    /// The whole map as state rows (none when empty).
    pub fn snapshot(&self) -> Result<Option<StateChunk>> {
        if self.entries.is_empty() {
            return Ok(None);
        }
        let parser = self.converter.parser();
        let keys = self
            .converter
            .convert_rows(self.entries.keys().map(|k| parser.parse(k)))?;
        let shard = Arc::new(UInt32Array::from_iter_values(
            self.entries.values().map(|(_, group)| *group),
        ));
        let mut columns = keys;
        columns.push(Arc::new(Int64Array::from_iter_values(
            self.entries.values().map(|(expires_at, _)| *expires_at),
        )));
        Ok(Some(StateChunk::new(
            self.table.name.clone(),
            state_batch(&self.table, shard, columns)?,
        )))
    }

    /// Adds the keys of restored state rows of this map's table.
    pub fn restore(&mut self, chunk: &StateChunk) -> Result<()> {
        let batch = &chunk.batch;
        if batch.schema().fields() != self.table.schema.fields() {
            return Err(EngineError::Checkpoint(format!(
                "state table '{}' has columns {:?}, expected {:?}",
                self.table.name,
                batch.schema().fields(),
                self.table.schema.fields()
            )));
        }
        let groups = batch.column(0).as_primitive::<UInt32Type>();
        let keys = self
            .converter
            .convert_columns(&batch.columns()[1..=self.key_count])?;
        let expiry = batch.column(self.key_count + 1).as_primitive::<Int64Type>();
        for row in 0..batch.num_rows() {
            if expiry.is_valid(row) {
                self.insert(keys.row(row).as_ref(), groups.value(row), expiry.value(row));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::StringArray;

    fn keys(values: &[Option<&str>]) -> Vec<ArrayRef> {
        vec![Arc::new(StringArray::from(values.to_vec()))]
    }

    #[test]
    fn keys_expire_with_the_watermark_and_survive_a_snapshot() {
        let field = Arc::new(Field::new("k", DataType::Utf8, true));
        let mut map = ExpiringKeys::new("seen", vec![field.clone()], 128).unwrap();
        let encoded = map.encode(&keys(&[Some("a"), Some("b"), None])).unwrap();
        for (row, end) in [(0, 100), (1, 200), (2, 300)] {
            map.insert(encoded.rows.row(row).as_ref(), encoded.key_groups[row], end);
        }
        // Re-inserting moves the expiry.
        map.insert(encoded.rows.row(0).as_ref(), encoded.key_groups[0], 250);
        assert_eq!(map.expire(199), 0);
        assert_eq!(map.expire(200), 1);
        assert_eq!(map.len(), 2);
        assert_eq!(map.expiry(encoded.rows.row(1).as_ref()), None);

        let chunk = map.snapshot().unwrap().unwrap();
        assert_eq!(chunk.batch.num_rows(), 2);
        let mut restored = ExpiringKeys::new("seen", vec![field], 128).unwrap();
        restored.restore(&chunk).unwrap();
        assert_eq!(restored.expiry(encoded.rows.row(0).as_ref()), Some(250));
        assert_eq!(restored.expiry(encoded.rows.row(2).as_ref()), Some(300));
        assert_eq!(restored.expire(i64::MAX), 2);
        assert!(restored.is_empty() && restored.snapshot().unwrap().is_none());
    }
}
