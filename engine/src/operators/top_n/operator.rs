//! The running `top_n` subtask: groups by end time, emission on watermarks and updates,
//! late rows, snapshot and restore.

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, BooleanArray, Int64Array};
use arrow::compute::cast;
use arrow::datatypes::{Int64Type, UInt32Type};
use arrow::record_batch::RecordBatch;
use arrow::row::{RowConverter, Rows};
use async_trait::async_trait;

use super::group::{Candidate, Group};
use super::TopNLayout;
use crate::error::Result;
use crate::event_time::event_times_ms;
use crate::message::Watermark;
use crate::operator::{Collector, Operator};
use crate::operators::window::late::{format_ms, late_rows};
use crate::state::{shard_column, state_batch, OperatorSnapshot, StateChunk, StateTable};

const LATE_PORT_INDEX: usize = 1;

/// Whether a group ending at `until` takes no more rows at `watermark`.
fn closed(until: i64, lateness_ms: i64, watermark: i64) -> bool {
    until.saturating_sub(1).saturating_add(lateness_ms) <= watermark
}

/// Groups by `(until in ms, group columns in row format)`, so they fire in time order.
type GroupId = (i64, Box<[u8]>);

pub(crate) struct TopN {
    layout: Arc<TopNLayout>,
    max_parallelism: usize,
    group_rows: RowConverter,
    key_rows: Option<RowConverter>,
    order_rows: RowConverter,
    rest_rows: Option<RowConverter>,
    groups: BTreeMap<GroupId, Group>,
    watermark: Option<i64>,
}

/// A group's rows to emit, with their ranks and the group's revision.
struct Emission {
    rows: Vec<(Candidate, i64)>,
    revision: i64,
}

/// The encoded columns of a batch.
struct Encoded {
    group: Rows,
    key: Option<Rows>,
    order: Rows,
    rest: Option<Rows>,
    key_groups: Vec<u32>,
}

impl TopN {
    pub fn new(layout: Arc<TopNLayout>, max_parallelism: usize) -> Result<Self> {
        let optional = |columns: &[usize]| -> Result<Option<RowConverter>> {
            if columns.is_empty() {
                Ok(None)
            } else {
                layout.converter(columns).map(Some)
            }
        };
        Ok(Self {
            group_rows: layout.converter(&layout.group)?,
            key_rows: optional(&layout.key)?,
            order_rows: RowConverter::new(layout.order.clone())?,
            rest_rows: optional(&layout.rest_columns)?,
            layout,
            max_parallelism,
            groups: BTreeMap::new(),
            watermark: None,
        })
    }

    fn encode(&self, batch: &RecordBatch) -> Result<Encoded> {
        let columns = |indices: &[usize]| -> Vec<ArrayRef> {
            indices.iter().map(|&i| batch.column(i).clone()).collect()
        };
        let layout = &self.layout;
        let optional = |converter: &Option<RowConverter>, indices: &[usize]| {
            converter
                .as_ref()
                .map(|c| c.convert_columns(&columns(indices)))
                .transpose()
        };
        let shard = shard_column(&columns(&layout.partition_by), self.max_parallelism)?;
        Ok(Encoded {
            group: self.group_rows.convert_columns(&columns(&layout.group))?,
            key: optional(&self.key_rows, &layout.key)?,
            order: self
                .order_rows
                .convert_columns(&columns(&layout.order_columns))?,
            rest: optional(&self.rest_rows, &layout.rest_columns)?,
            key_groups: shard.as_primitive::<UInt32Type>().values().to_vec(),
        })
    }

    fn candidate(encoded: &Encoded, row: usize) -> Candidate {
        let rest = match &encoded.rest {
            Some(rest) => rest.row(row).as_ref().into(),
            None => Box::default(),
        };
        (encoded.order.row(row).as_ref().into(), rest)
    }

    /// The group's top list if it changed since its last emission; marks it emitted.
    fn emission(&mut self, id: &GroupId) -> Option<Emission> {
        let layout = &self.layout;
        let group = self.groups.get_mut(id)?;
        group.dirty = false;
        let top = group.top(layout.limit, layout.ties);
        if !group.changed(&top) {
            return None;
        }
        let rows: Vec<(Candidate, i64)> = top.iter().map(|r| (r.row.clone(), r.rank)).collect();
        drop(top);
        group.emitted = rows.iter().map(|(row, _)| row.clone()).collect();
        let revision = group.emissions;
        group.emissions += 1;
        Some(Emission { rows, revision })
    }

    /// Decodes candidates back into input columns, in input order.
    fn decode<'a>(
        &self,
        rows: impl Iterator<Item = &'a Candidate> + Clone,
    ) -> Result<Vec<ArrayRef>> {
        let layout = &self.layout;
        let mut columns: Vec<Option<ArrayRef>> = vec![None; layout.input.fields().len()];
        let parser = self.order_rows.parser();
        let order = self
            .order_rows
            .convert_rows(rows.clone().map(|r| parser.parse(&r.0)))?;
        for (&i, array) in layout.order_columns.iter().zip(order) {
            columns[i] = Some(array);
        }
        if let Some(rest_rows) = &self.rest_rows {
            let parser = rest_rows.parser();
            let rest = rest_rows.convert_rows(rows.map(|r| parser.parse(&r.1)))?;
            for (&i, array) in layout.rest_columns.iter().zip(rest) {
                columns[i] = Some(array);
            }
        }
        columns
            .into_iter()
            .zip(layout.input.fields())
            .map(|(array, field)| {
                let array = array.expect("every column is an order_by or a rest column");
                if array.data_type() == field.data_type() {
                    Ok(array)
                } else {
                    Ok(cast(&array, field.data_type())?)
                }
            })
            .collect()
    }

    fn emit(&self, emissions: Vec<Emission>, out: &mut Collector) -> Result<()> {
        if emissions.is_empty() {
            return Ok(());
        }
        let rows = emissions
            .iter()
            .flat_map(|e| e.rows.iter().map(|(row, _)| row));
        let mut columns = self.decode(rows)?;
        let ranks = emissions
            .iter()
            .flat_map(|e| e.rows.iter().map(|(_, rank)| *rank));
        columns.push(Arc::new(Int64Array::from_iter_values(ranks)));
        let revisions = emissions
            .iter()
            .flat_map(|e| std::iter::repeat_n(e.revision, e.rows.len()));
        columns.push(Arc::new(Int64Array::from_iter_values(revisions)));
        out.emit(RecordBatch::try_new(self.layout.output.clone(), columns)?);
        Ok(())
    }

    fn late_reason(&self, until: Option<i64>, watermark: i64) -> String {
        let column = &self.layout.until_name;
        match until {
            None => format!("{column} is null"),
            Some(t) => format!(
                "{column} {} is too late: the watermark is {} and the group closed (allowed lateness {}ms)",
                format_ms(t),
                format_ms(watermark),
                self.layout.lateness_ms
            ),
        }
    }
}

#[async_trait]
impl Operator for TopN {
    async fn process_batch(
        &mut self,
        _: usize,
        batch: RecordBatch,
        out: &mut Collector,
    ) -> Result<()> {
        let watermark = self.watermark.unwrap_or(i64::MIN);
        let encoded = self.encode(&batch)?;
        let until_column = batch.column(self.layout.until).clone();
        let (untils, has_nulls) = event_times_ms(&until_column)?;
        let (mut late, mut reasons) = (Vec::new(), Vec::new());
        let mut touched = Vec::new();
        for (row, &until) in untils.iter().enumerate() {
            let valid = !has_nulls || until_column.is_valid(row);
            if !valid || closed(until, self.layout.lateness_ms, watermark) {
                late.push(row as u32);
                reasons.push(self.late_reason(valid.then_some(until), watermark));
                continue;
            }
            let id: GroupId = (until, encoded.group.row(row).as_ref().into());
            let key = encoded.key.as_ref().map(|k| k.row(row));
            let group = self
                .groups
                .entry(id.clone())
                .or_insert_with(|| Group::new(encoded.key_groups[row]));
            if !group.dirty {
                touched.push(id);
            }
            group.insert(
                key.as_ref().map(|k| k.as_ref()),
                Self::candidate(&encoded, row),
            );
        }
        if !late.is_empty() {
            out.emit_to(
                LATE_PORT_INDEX,
                late_rows(&self.layout.late, &batch, late, reasons)?,
            );
        }
        let mut emissions = Vec::new();
        for id in touched {
            if self.layout.key.is_empty() {
                if let Some(group) = self.groups.get_mut(&id) {
                    group.prune(self.layout.limit, self.layout.ties);
                }
            }
            if id.0.saturating_sub(1) <= watermark {
                emissions.extend(self.emission(&id));
            }
        }
        self.emit(emissions, out)
    }

    async fn on_watermark(
        &mut self,
        watermark: i64,
        out: &mut Collector,
    ) -> Result<Option<Watermark>> {
        self.watermark = Some(watermark);
        let due: Vec<GroupId> = self
            .groups
            .iter()
            .take_while(|((until, _), _)| until.saturating_sub(1) <= watermark)
            .filter(|(_, group)| group.dirty)
            .map(|(id, _)| id.clone())
            .collect();
        let mut emissions = Vec::new();
        for id in due {
            emissions.extend(self.emission(&id));
        }
        self.emit(emissions, out)?;
        let lateness = self.layout.lateness_ms;
        while let Some(entry) = self.groups.first_entry() {
            if !closed(entry.key().0, lateness, watermark) {
                break;
            }
            entry.remove();
        }
        Ok(Some(Watermark::EventTime(watermark)))
    }

    fn state_tables(&self) -> Vec<StateTable> {
        vec![self.layout.state.clone()]
    }

    async fn snapshot(&mut self) -> Result<OperatorSnapshot> {
        let (mut rows, mut shards, mut emissions, mut emitted) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for group in self.groups.values() {
            let listed = group
                .rows()
                .map(|row| (row, false))
                .chain(group.emitted.iter().map(|row| (row, true)));
            for (row, is_emitted) in listed {
                rows.push(row);
                shards.push(group.key_group);
                emissions.push(group.emissions);
                emitted.push(is_emitted);
            }
        }
        let mut chunks = Vec::new();
        if !rows.is_empty() {
            let mut columns: Vec<ArrayRef> = vec![
                Arc::new(Int64Array::from(emissions)),
                Arc::new(BooleanArray::from(emitted)),
            ];
            columns.extend(self.decode(rows.into_iter())?);
            let shard = Arc::new(arrow::array::UInt32Array::from(shards));
            chunks.push(StateChunk::new(
                super::STATE_TABLE,
                state_batch(&self.layout.state, shard, columns)?,
            ));
        }
        Ok(OperatorSnapshot {
            watermark: self.watermark,
            chunks,
            checkpoint_id: None,
        })
    }

    async fn restore(&mut self, snapshot: OperatorSnapshot) -> Result<()> {
        self.watermark = snapshot.watermark;
        for chunk in snapshot
            .chunks
            .into_iter()
            .filter(|c| c.table == super::STATE_TABLE)
        {
            let columns = chunk.batch.columns();
            let shards = columns[0].as_primitive::<UInt32Type>().clone();
            let emissions = columns[1].as_primitive::<Int64Type>().clone();
            let emitted = columns[2].as_boolean().clone();
            let batch = RecordBatch::try_new(self.layout.input.clone(), columns[3..].to_vec())?;
            let encoded = self.encode(&batch)?;
            let until_column = batch.column(self.layout.until).clone();
            let (untils, _) = event_times_ms(&until_column)?;
            for (row, &until) in untils.iter().enumerate() {
                let id: GroupId = (until, encoded.group.row(row).as_ref().into());
                let group = self
                    .groups
                    .entry(id)
                    .or_insert_with(|| Group::new(shards.value(row)));
                group.emissions = emissions.value(row);
                let candidate = Self::candidate(&encoded, row);
                if emitted.value(row) {
                    group.emitted.push(candidate);
                } else {
                    let key = encoded.key.as_ref().map(|k| k.row(row));
                    group.insert(key.as_ref().map(|k| k.as_ref()), candidate);
                }
            }
        }
        for group in self.groups.values_mut() {
            group.emitted.sort();
            group.dirty = true;
        }
        Ok(())
    }
}
