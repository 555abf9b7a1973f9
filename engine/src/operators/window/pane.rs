//! Tumbling and sliding windows, aggregated in panes.
//!
//! Time is cut into panes of `slide` milliseconds; a window of `size` is `size / slide`
//! consecutive panes (tumbling windows are one pane). Rows update the vectorised DataFusion
//! accumulators of their pane, so each row is aggregated once however many windows overlap
//! it. When a window fires, the panes' intermediate states are merged. A pane whose state is
//! read by a window is frozen into a state batch (keys + accumulator states) so later windows
//! and late updates can merge it again; a tumbling window without allowed lateness is
//! evaluated straight from its accumulators.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::Arc;

use arrow::array::{ArrayRef, AsArray, BooleanArray, Int64Array, UInt32Array};
use arrow::compute::take;
use arrow::compute::{filter, filter_record_batch};
use arrow::datatypes::{DataType, Field, Int64Type};
use arrow::datatypes::{Schema, SchemaRef};
use arrow::record_batch::RecordBatch;
use arrow::row::{RowConverter, SortField};
use async_trait::async_trait;
use datafusion::logical_expr::{EmitTo, GroupsAccumulator};
use datafusion::physical_plan::aggregates::group_values::{new_group_values, GroupValues};
use datafusion::physical_plan::aggregates::order::GroupOrdering;

use super::aggregates::AggregateInputs;
use super::late::{late_reason, late_rows};
use super::WindowLayout;
use crate::error::Result;
use crate::event_time::event_times_ms;
use crate::message::Watermark;
use crate::operator::{Collector, Operator, OperatorPlan, OutputPort, SubtaskInfo};
use crate::state::{shard_column, state_batch, OperatorSnapshot, StateChunk, StateTable};

/// Name of the state table holding pane contents.
const PANES_TABLE: &str = "panes";

const LATE_PORT_INDEX: usize = 1;

/// Compiled tumbling or sliding window aggregation.
#[derive(Debug)]
pub(crate) struct PaneWindowPlan {
    layout: Arc<WindowLayout>,
    size: i64,
    slide: i64,
    state_schema: SchemaRef,
    panes_table: StateTable,
}

impl PaneWindowPlan {
    pub fn new(layout: WindowLayout, size: i64, slide: i64) -> Self {
        let mut fields: Vec<_> = layout.key_schema.fields().iter().cloned().collect();
        fields.extend(layout.aggregates.state_fields().iter().cloned());
        let state_schema = Arc::new(Schema::new(fields));
        let mut table_fields = vec![Arc::new(Field::new("pane_start", DataType::Int64, false))];
        table_fields.extend(state_schema.fields().iter().cloned());
        Self {
            layout: Arc::new(layout),
            size,
            slide,
            state_schema,
            panes_table: StateTable::new(PANES_TABLE, table_fields),
        }
    }
}

impl OperatorPlan for PaneWindowPlan {
    fn outputs(&self) -> Vec<OutputPort> {
        self.layout.outputs()
    }

    fn create(&self, subtask: &SubtaskInfo) -> Result<Box<dyn Operator>> {
        Ok(Box::new(PaneWindow {
            layout: self.layout.clone(),
            size: self.size,
            slide: self.slide,
            state_schema: self.state_schema.clone(),
            panes_table: self.panes_table.clone(),
            max_parallelism: subtask.max_parallelism,
            key_rows: RowConverter::new(
                self.layout
                    .key_schema
                    .fields()
                    .iter()
                    .map(|f| SortField::new(f.data_type().clone()))
                    .collect(),
            )?,
            panes: BTreeMap::new(),
            watermark: None,
            groups: Vec::new(),
            next_frozen_id: 0,
        }))
    }
}

/// Keys interned to group indices plus one vectorised accumulator per aggregate call.
struct GroupTable {
    values: Box<dyn GroupValues>,
    accumulators: Vec<Box<dyn GroupsAccumulator>>,
}

impl GroupTable {
    fn new(layout: &WindowLayout) -> Result<Self> {
        Ok(Self {
            values: new_group_values(layout.key_schema.clone(), &GroupOrdering::None)?,
            accumulators: layout.aggregates.groups_accumulators()?,
        })
    }

    fn update(
        &mut self,
        keys: &[ArrayRef],
        inputs: &AggregateInputs,
        groups: &mut Vec<usize>,
    ) -> Result<()> {
        self.values.intern(keys, groups)?;
        let total = self.values.len();
        for ((acc, args), filter) in self
            .accumulators
            .iter_mut()
            .zip(&inputs.args)
            .zip(&inputs.filters)
        {
            acc.update_batch(args, groups, filter.as_ref(), total)?;
        }
        Ok(())
    }

    fn merge(
        &mut self,
        layout: &WindowLayout,
        state: &RecordBatch,
        groups: &mut Vec<usize>,
    ) -> Result<()> {
        let key_count = layout.key_columns.len();
        let columns = state.columns();
        self.values.intern(&columns[..key_count], groups)?;
        let total = self.values.len();
        let states = layout.aggregates.split_states(&columns[key_count..]);
        for (acc, state) in self.accumulators.iter_mut().zip(states) {
            acc.merge_batch(state, groups, total)?;
        }
        Ok(())
    }

    /// Drains the table into a state batch laid out as `state_schema`.
    fn into_state(mut self, state_schema: &SchemaRef) -> Result<RecordBatch> {
        let mut columns = self.values.emit(EmitTo::All)?;
        for acc in &mut self.accumulators {
            columns.extend(acc.state(EmitTo::All)?);
        }
        Ok(RecordBatch::try_new(state_schema.clone(), columns)?)
    }

    /// Drains the table into key columns and final aggregate values.
    fn evaluate(mut self) -> Result<(Vec<ArrayRef>, Vec<ArrayRef>)> {
        let keys = self.values.emit(EmitTo::All)?;
        let values = self
            .accumulators
            .iter_mut()
            .map(|acc| acc.evaluate(EmitTo::All))
            .collect::<datafusion::error::Result<Vec<_>>>()?;
        Ok((keys, values))
    }
}

#[derive(Default)]
struct Pane {
    /// Accumulators receiving rows since the pane was last frozen.
    live: Option<GroupTable>,
    /// Earlier contents, as state batches. They never change, so each is written to one
    /// checkpoint only and referenced by later ones.
    frozen: Vec<Frozen>,
    /// Frozen batches being merged into one.
    compaction: Option<Compaction>,
}

/// A merge of frozen batches running on the blocking pool.
struct Compaction {
    /// The ids of the batches being merged; they stay in the pane until the result is in.
    ids: Vec<u64>,
    result: tokio::sync::oneshot::Receiver<Result<RecordBatch>>,
}

impl Compaction {
    fn start(layout: Arc<WindowLayout>, state_schema: SchemaRef, frozen: &[Frozen]) -> Self {
        let ids = frozen.iter().map(|f| f.id).collect();
        let states: Vec<RecordBatch> = frozen.iter().map(|f| f.state.clone()).collect();
        let (done, result) = tokio::sync::oneshot::channel();
        tokio::task::spawn_blocking(move || {
            let merge = || -> Result<RecordBatch> {
                let mut merged = GroupTable::new(&layout)?;
                let mut groups = Vec::new();
                for state in &states {
                    merged.merge(&layout, state, &mut groups)?;
                }
                merged.into_state(&state_schema)
            };
            // The pane may be gone by now; then nobody waits for the result.
            let _ = done.send(merge());
        });
        Self { ids, result }
    }

    /// The merged batch with the ids it replaces, once ready.
    fn finished(&mut self) -> Option<(Vec<u64>, Result<RecordBatch>)> {
        match self.result.try_recv() {
            Ok(merged) => Some((std::mem::take(&mut self.ids), merged)),
            Err(tokio::sync::oneshot::error::TryRecvError::Empty) => None,
            Err(tokio::sync::oneshot::error::TryRecvError::Closed) => Some((
                std::mem::take(&mut self.ids),
                Err(crate::error::EngineError::Join(
                    "a state compaction stopped".into(),
                )),
            )),
        }
    }
}

/// Pane contents frozen into a state batch (keys + accumulator states).
struct Frozen {
    state: RecordBatch,
    /// Identifies the batch to incremental checkpoints, unique within the subtask.
    id: u64,
    /// The batch as a row of the panes state table, built at its first checkpoint.
    chunk: Option<RecordBatch>,
}

struct PaneWindow {
    layout: Arc<WindowLayout>,
    size: i64,
    slide: i64,
    state_schema: SchemaRef,
    panes_table: StateTable,
    max_parallelism: usize,
    /// Encodes keys as comparable bytes, to re-emit only the keys a late row updated.
    key_rows: RowConverter,
    /// Panes by start time.
    panes: BTreeMap<i64, Pane>,
    /// The last watermark received; windows ending at or before it have fired.
    watermark: Option<i64>,
    groups: Vec<usize>,
    /// The id the next frozen batch gets.
    next_frozen_id: u64,
}

impl PaneWindow {
    fn pane_of(&self, t: i64) -> i64 {
        t - t.rem_euclid(self.slide)
    }

    /// Start times of the windows containing pane `p`, in order.
    fn windows_of(&self, p: i64) -> impl Iterator<Item = i64> {
        let (size, slide) = (self.size, self.slide);
        (0..size / slide).rev().map(move |k| p - k * slide)
    }

    /// The last event time of window `s`; it fires once the watermark reaches this.
    fn last_of(&self, s: i64) -> i64 {
        s.saturating_add(self.size - 1)
    }

    /// Whether window `s` is past its allowed lateness at watermark `w`.
    fn is_closed(&self, s: i64, w: i64) -> bool {
        self.last_of(s).saturating_add(self.layout.lateness_ms) <= w
    }

    /// Freezes the live accumulators of pane `p`, if it has any.
    fn freeze(&mut self, p: i64) -> Result<()> {
        let Some(pane) = self.panes.get_mut(&p) else {
            return Ok(());
        };
        if let Some(table) = pane.live.take() {
            pane.frozen.push(Frozen {
                state: table.into_state(&self.state_schema)?,
                id: self.next_frozen_id,
                chunk: None,
            });
            self.next_frozen_id += 1;
        }
        // Compaction: once the batches frozen after the first outgrow it, they are merged
        // into one in the background (not to stop the data flow), so state stays within
        // a few times its merged size however many checkpoints a long window sees.
        if let Some(merged) = pane.compaction.as_mut().and_then(Compaction::finished) {
            let (ids, state) = (merged.0, merged.1?);
            pane.compaction = None;
            pane.frozen.retain(|f| !ids.contains(&f.id));
            pane.frozen.insert(
                0,
                Frozen {
                    state,
                    id: self.next_frozen_id,
                    chunk: None,
                },
            );
            self.next_frozen_id += 1;
        }
        let later: usize = pane.frozen.iter().skip(1).map(|f| f.state.num_rows()).sum();
        if pane.compaction.is_none()
            && pane.frozen.len() > 1
            && later > pane.frozen[0].state.num_rows()
        {
            pane.compaction = Some(Compaction::start(
                self.layout.clone(),
                self.state_schema.clone(),
                &pane.frozen,
            ));
        }
        Ok(())
    }

    fn update_pane(&mut self, p: i64, keys: &[ArrayRef], inputs: &AggregateInputs) -> Result<()> {
        let pane = self.panes.entry(p).or_default();
        if pane.live.is_none() {
            pane.live = Some(GroupTable::new(&self.layout)?);
        }
        let table = pane.live.as_mut().expect("just created");
        table.update(keys, inputs, &mut self.groups)
    }

    /// Emits window `s`; with `only`, just the rows of those keys (in row format).
    fn fire(
        &mut self,
        s: i64,
        only: Option<&HashSet<Box<[u8]>>>,
        out: &mut Collector,
    ) -> Result<()> {
        let end = s.saturating_add(self.size);
        let starts: Vec<i64> = self.panes.range(s..end).map(|(p, _)| *p).collect();
        let (keys, values) = match starts.as_slice() {
            [] => return Ok(()),
            [p] if self.size == self.slide
                && self.layout.lateness_ms == 0
                && self.panes[p].frozen.is_empty() =>
            {
                match self.panes.remove(p).and_then(|pane| pane.live) {
                    Some(table) => table.evaluate()?,
                    None => return Ok(()),
                }
            }
            _ => {
                let mut merged = GroupTable::new(&self.layout)?;
                for p in starts {
                    self.freeze(p)?;
                    for frozen in &self.panes[&p].frozen {
                        merged.merge(&self.layout, &frozen.state, &mut self.groups)?;
                    }
                }
                merged.evaluate()?
            }
        };
        let (keys, values) = match only {
            None => (keys, values),
            Some(only) => {
                let rows = self.key_rows.convert_columns(&keys)?;
                let mask: BooleanArray = rows
                    .iter()
                    .map(|r| Some(only.contains(r.as_ref())))
                    .collect();
                let pick = |a: &ArrayRef| filter(a, &mask);
                (
                    keys.iter().map(pick).collect::<Result<Vec<_>, _>>()?,
                    values.iter().map(pick).collect::<Result<Vec<_>, _>>()?,
                )
            }
        };
        let rows = keys.first().map_or(0, |k| k.len());
        out.emit(
            self.layout
                .result(keys, vec![s; rows], vec![end; rows], values)?,
        );
        Ok(())
    }
}

#[async_trait]
impl Operator for PaneWindow {
    async fn process_batch(
        &mut self,
        _: usize,
        batch: RecordBatch,
        out: &mut Collector,
    ) -> Result<()> {
        let time_column = batch.column(self.layout.time_column).clone();
        let (times, has_nulls) = event_times_ms(&time_column)?;
        let watermark = self.watermark.unwrap_or(i64::MIN);
        let keys = self.layout.keys_of(&batch);
        let inputs = self.layout.aggregates.inputs(&batch)?;

        // Common case: every row in one open pane.
        if !has_nulls && !times.is_empty() {
            let (min, max) = times
                .iter()
                .fold((i64::MAX, i64::MIN), |(lo, hi), &t| (lo.min(t), hi.max(t)));
            let p = self.pane_of(min);
            if p == self.pane_of(max) && !self.is_closed(p, watermark) {
                self.update_pane(p, &keys, &inputs)?;
                return self.refire_touched(vec![(p, keys)], watermark, out);
            }
        }

        // A batch spans few panes: a short list with the last hit cached beats a map.
        let mut by_pane: Vec<(i64, Vec<u32>)> = Vec::new();
        let mut last_hit = 0;
        let (mut late, mut reasons) = (Vec::new(), Vec::new());
        for (row, &t) in times.iter().enumerate() {
            let valid = !has_nulls || time_column.is_valid(row);
            let p = self.pane_of(t);
            if valid && !self.is_closed(p, watermark) {
                if by_pane.get(last_hit).is_none_or(|(q, _)| *q != p) {
                    last_hit = match by_pane.iter().position(|(q, _)| *q == p) {
                        Some(i) => i,
                        None => {
                            by_pane.push((p, Vec::new()));
                            by_pane.len() - 1
                        }
                    };
                }
                by_pane[last_hit].1.push(row as u32);
            } else {
                late.push(row as u32);
                reasons.push(late_reason(
                    valid.then_some(t),
                    watermark,
                    self.layout.lateness_ms,
                ));
            }
        }
        let mut touched = Vec::with_capacity(by_pane.len());
        for (p, rows) in by_pane {
            let indices = UInt32Array::from(rows);
            let pane_keys = keys
                .iter()
                .map(|k| take(k, &indices, None))
                .collect::<Result<Vec<_>, _>>()?;
            self.update_pane(p, &pane_keys, &inputs.take(&indices)?)?;
            touched.push((p, pane_keys));
        }
        if !late.is_empty() {
            out.emit_to(
                LATE_PORT_INDEX,
                late_rows(&self.layout.late_schema, &batch, late, reasons)?,
            );
        }
        self.refire_touched(touched, watermark, out)
    }

    async fn on_watermark(
        &mut self,
        watermark: i64,
        out: &mut Collector,
    ) -> Result<Option<Watermark>> {
        let previous = self.watermark.unwrap_or(i64::MIN);
        if watermark <= previous {
            return Ok(Some(Watermark::EventTime(watermark)));
        }
        self.watermark = Some(watermark);
        let mut due = BTreeSet::new();
        for &p in self.panes.keys() {
            for s in self.windows_of(p) {
                let last = self.last_of(s);
                if last > previous && last <= watermark {
                    due.insert(s);
                }
            }
        }
        for s in due {
            self.fire(s, None, out)?;
        }
        let (size, lateness) = (self.size, self.layout.lateness_ms);
        self.panes
            .retain(|&p, _| p.saturating_add(size - 1).saturating_add(lateness) > watermark);
        Ok(Some(Watermark::EventTime(watermark)))
    }

    fn state_tables(&self) -> Vec<StateTable> {
        vec![self.panes_table.clone()]
    }

    /// Freezes every pane and hands out its frozen batches, each row tagged with its key's
    /// key group. Frozen panes keep working: windows merge frozen state when they fire.
    /// Batches frozen before the previous checkpoint are handed out unchanged, with the same
    /// id, so an incremental checkpoint only writes what was frozen since.
    async fn snapshot(&mut self) -> Result<OperatorSnapshot> {
        let key_count = self.layout.key_columns.len();
        let starts: Vec<i64> = self.panes.keys().copied().collect();
        let mut chunks = Vec::new();
        for p in starts {
            self.freeze(p)?;
            let pane = self.panes.get_mut(&p).expect("listed above");
            for frozen in &mut pane.frozen {
                let chunk = match &frozen.chunk {
                    Some(chunk) => chunk.clone(),
                    None => {
                        let state = &frozen.state;
                        let rows = state.num_rows();
                        let shard =
                            shard_column(&state.columns()[..key_count], self.max_parallelism)?;
                        let mut columns: Vec<ArrayRef> =
                            vec![Arc::new(Int64Array::from_value(p, rows))];
                        columns.extend(state.columns().iter().cloned());
                        let chunk = state_batch(&self.panes_table, shard, columns)?;
                        frozen.chunk = Some(chunk.clone());
                        chunk
                    }
                };
                chunks.push(StateChunk::immutable(PANES_TABLE, chunk, frozen.id));
            }
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
            .filter(|c| c.table == PANES_TABLE)
        {
            let batch = chunk.batch;
            let starts = batch.column(1).as_primitive::<Int64Type>().clone();
            let mut distinct: Vec<i64> = starts.values().to_vec();
            distinct.sort_unstable();
            distinct.dedup();
            for p in distinct {
                let rows = if starts.values().iter().all(|&s| s == p) {
                    batch.clone()
                } else {
                    let mask: BooleanArray =
                        starts.values().iter().map(|&s| Some(s == p)).collect();
                    filter_record_batch(&batch, &mask)?
                };
                let state =
                    RecordBatch::try_new(self.state_schema.clone(), rows.columns()[2..].to_vec())?;
                self.panes.entry(p).or_default().frozen.push(Frozen {
                    state,
                    id: self.next_frozen_id,
                    chunk: None,
                });
                self.next_frozen_id += 1;
            }
        }
        Ok(())
    }
}

impl PaneWindow {
    /// Emits updated results for the windows that already fired, are still within their
    /// allowed lateness and contain a pane updated by this batch: for the updated keys only.
    fn refire_touched(
        &mut self,
        touched: Vec<(i64, Vec<ArrayRef>)>,
        watermark: i64,
        out: &mut Collector,
    ) -> Result<()> {
        if self.layout.lateness_ms == 0 || self.watermark.is_none() {
            return Ok(());
        }
        let mut again: BTreeMap<i64, HashSet<Box<[u8]>>> = BTreeMap::new();
        for (p, keys) in touched {
            let fired: Vec<i64> = self
                .windows_of(p)
                .filter(|&s| self.last_of(s) <= watermark && !self.is_closed(s, watermark))
                .collect();
            if fired.is_empty() {
                continue;
            }
            let rows = self.key_rows.convert_columns(&keys)?;
            for s in fired {
                let only = again.entry(s).or_default();
                only.extend(rows.iter().map(|r| Box::<[u8]>::from(r.as_ref())));
            }
        }
        for (s, only) in again {
            self.fire(s, Some(&only), out)?;
        }
        Ok(())
    }
}
