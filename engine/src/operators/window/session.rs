//! Session windows: per key, rows closer than `gap` to each other share a window
//! `[first event time, last event time + gap)`. A row that bridges two sessions merges them.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, BooleanArray, Int64Array, UInt32Array};
use arrow::compute::filter;
use arrow::datatypes::{DataType, Field, Int64Type};
use arrow::record_batch::RecordBatch;
use arrow::row::{RowConverter, SortField};
use async_trait::async_trait;
use datafusion::common::ScalarValue;
use datafusion::logical_expr::Accumulator;

use super::aggregates::Aggregates;
use super::late::{late_reason, late_rows};
use super::WindowLayout;
use crate::error::Result;
use crate::event_time::event_times_ms;
use crate::message::Watermark;
use crate::operator::{Collector, Operator, OperatorPlan, OutputPort, SubtaskInfo};
use crate::state::{shard_column, state_batch, OperatorSnapshot, StateChunk, StateTable};

/// Name of the state table holding open sessions.
const SESSIONS_TABLE: &str = "sessions";

const LATE_PORT_INDEX: usize = 1;

/// Compiled session window aggregation.
#[derive(Debug)]
pub(crate) struct SessionWindowPlan {
    layout: Arc<WindowLayout>,
    gap: i64,
    sessions_table: StateTable,
}

impl SessionWindowPlan {
    pub fn new(layout: WindowLayout, gap: i64) -> Self {
        let mut fields: Vec<_> = layout.key_schema.fields().iter().cloned().collect();
        fields.push(Arc::new(Field::new(
            "session_start",
            DataType::Int64,
            false,
        )));
        fields.push(Arc::new(Field::new("session_last", DataType::Int64, false)));
        fields.push(Arc::new(Field::new("fired", DataType::Boolean, false)));
        fields.extend(layout.aggregates.state_fields().iter().cloned());
        Self {
            layout: Arc::new(layout),
            gap,
            sessions_table: StateTable::new(SESSIONS_TABLE, fields),
        }
    }
}

impl OperatorPlan for SessionWindowPlan {
    fn outputs(&self) -> Vec<OutputPort> {
        self.layout.outputs()
    }

    fn create(&self, subtask: &SubtaskInfo) -> Result<Box<dyn Operator>> {
        let fields = self
            .layout
            .key_schema
            .fields()
            .iter()
            .map(|f| SortField::new(f.data_type().clone()))
            .collect();
        Ok(Box::new(SessionWindow {
            layout: self.layout.clone(),
            gap: self.gap,
            sessions_table: self.sessions_table.clone(),
            max_parallelism: subtask.max_parallelism,
            converter: RowConverter::new(fields)?,
            key_index: HashMap::new(),
            keys: Vec::new(),
            free: Vec::new(),
            timers: BTreeSet::new(),
            watermark: None,
        }))
    }
}

struct Session {
    start: i64,
    /// Newest event time in the session; the window ends at `last + gap`.
    last: i64,
    accumulators: Vec<Box<dyn Accumulator>>,
    /// Rows of the current batch assigned to this session, not yet aggregated.
    pending: Vec<u32>,
    /// Whether the watermark has passed the end and the result was emitted.
    fired: bool,
}

struct KeySessions {
    /// The key in arrow's row format.
    key: Box<[u8]>,
    /// Non-overlapping sessions ordered by start.
    sessions: Vec<Session>,
}

struct SessionWindow {
    layout: Arc<WindowLayout>,
    gap: i64,
    sessions_table: StateTable,
    max_parallelism: usize,
    converter: RowConverter,
    key_index: HashMap<Box<[u8]>, usize>,
    keys: Vec<Option<KeySessions>>,
    free: Vec<usize>,
    /// (event time, key slot): look at the key's sessions when the watermark reaches it.
    timers: BTreeSet<(i64, usize)>,
    watermark: Option<i64>,
}

/// A finished result row waiting to be assembled into a batch.
struct ResultRow {
    key: Box<[u8]>,
    start: i64,
    end: i64,
    values: Vec<ScalarValue>,
}

/// The intermediate state of a session's accumulators, leaving them usable.
fn read_state(aggregates: &Aggregates, session: &mut Session) -> Result<Vec<ScalarValue>> {
    let mut fresh = aggregates.accumulators()?;
    let mut values = Vec::new();
    for (acc, f) in session.accumulators.iter_mut().zip(&mut fresh) {
        let state = acc.state()?;
        let arrays = state
            .iter()
            .map(|v| v.to_array())
            .collect::<datafusion::error::Result<Vec<ArrayRef>>>()?;
        f.merge_batch(&arrays)?;
        values.extend(state);
    }
    session.accumulators = fresh;
    Ok(values)
}

fn merge_into(
    target: &mut [Box<dyn Accumulator>],
    mut source: Vec<Box<dyn Accumulator>>,
) -> Result<()> {
    for (t, s) in target.iter_mut().zip(source.iter_mut()) {
        let state = s
            .state()?
            .into_iter()
            .map(|v| v.to_array())
            .collect::<datafusion::error::Result<Vec<ArrayRef>>>()?;
        t.merge_batch(&state)?;
    }
    Ok(())
}

impl SessionWindow {
    fn slot(&mut self, key: &[u8]) -> usize {
        if let Some(&slot) = self.key_index.get(key) {
            return slot;
        }
        let entry = KeySessions {
            key: key.into(),
            sessions: Vec::new(),
        };
        let slot = match self.free.pop() {
            Some(slot) => {
                self.keys[slot] = Some(entry);
                slot
            }
            None => {
                self.keys.push(Some(entry));
                self.keys.len() - 1
            }
        };
        self.key_index.insert(key.into(), slot);
        slot
    }

    /// Evaluates a session; keeps it able to take more rows when `keep` is set.
    fn evaluate(&self, session: &mut Session, keep: bool) -> Result<Vec<ScalarValue>> {
        let mut values = Vec::with_capacity(session.accumulators.len());
        if !keep {
            for acc in &mut session.accumulators {
                values.push(acc.evaluate()?);
            }
            return Ok(values);
        }
        let mut fresh = self.layout.aggregates.accumulators()?;
        let mut copy = self.layout.aggregates.accumulators()?;
        for ((acc, f), c) in session
            .accumulators
            .iter_mut()
            .zip(&mut fresh)
            .zip(&mut copy)
        {
            let state = acc
                .state()?
                .into_iter()
                .map(|v| v.to_array())
                .collect::<datafusion::error::Result<Vec<ArrayRef>>>()?;
            f.merge_batch(&state)?;
            c.merge_batch(&state)?;
            values.push(c.evaluate()?);
        }
        session.accumulators = fresh;
        Ok(values)
    }

    fn emit(&self, rows: Vec<ResultRow>, out: &mut Collector) -> Result<()> {
        if rows.is_empty() {
            return Ok(());
        }
        let parser = self.converter.parser();
        let keys = self
            .converter
            .convert_rows(rows.iter().map(|r| parser.parse(&r.key)))?;
        let starts = rows.iter().map(|r| r.start).collect();
        let ends = rows.iter().map(|r| r.end).collect();
        let count = self.layout.aggregates.output_fields().len();
        let mut values = Vec::with_capacity(count);
        for i in 0..count {
            values.push(ScalarValue::iter_to_array(
                rows.iter().map(|r| r.values[i].clone()),
            )?);
        }
        out.emit(self.layout.result(keys, starts, ends, values)?);
        Ok(())
    }

    /// Fires due sessions of the key in `slot` and drops those past their lateness.
    fn visit(&mut self, slot: usize, watermark: i64, results: &mut Vec<ResultRow>) -> Result<()> {
        let Some(mut entry) = self.keys[slot].take() else {
            return Ok(());
        };
        let lateness = self.layout.lateness_ms;
        let mut kept = Vec::with_capacity(entry.sessions.len());
        for mut session in std::mem::take(&mut entry.sessions) {
            let last = session.last.saturating_add(self.gap - 1);
            let closed = last.saturating_add(lateness) <= watermark;
            if last <= watermark && !session.fired {
                let values = self.evaluate(&mut session, !closed)?;
                session.fired = true;
                results.push(ResultRow {
                    key: entry.key.clone(),
                    start: session.start,
                    end: session.last + self.gap,
                    values,
                });
            }
            if !closed {
                kept.push(session);
            }
        }
        if kept.is_empty() {
            self.key_index.remove(&entry.key);
            self.free.push(slot);
        } else {
            entry.sessions = kept;
            self.keys[slot] = Some(entry);
        }
        Ok(())
    }
}

#[async_trait]
impl Operator for SessionWindow {
    async fn process_batch(
        &mut self,
        _: usize,
        batch: RecordBatch,
        out: &mut Collector,
    ) -> Result<()> {
        let time_column = batch.column(self.layout.time_column).clone();
        let (times, has_nulls) = event_times_ms(&time_column)?;
        let watermark = self.watermark.unwrap_or(i64::MIN);
        let lateness = self.layout.lateness_ms;
        let gap = self.gap;
        let rows = self
            .converter
            .convert_columns(&self.layout.keys_of(&batch))?;

        let mut entries = Vec::with_capacity(batch.num_rows());
        let (mut late, mut reasons) = (Vec::new(), Vec::new());
        for (row, &t) in times.iter().enumerate() {
            if has_nulls && time_column.is_null(row) {
                late.push(row as u32);
                reasons.push(late_reason(None, watermark, lateness));
                continue;
            }
            let slot = self.slot(rows.row(row).as_ref());
            entries.push((slot, t, row as u32));
        }
        entries.sort_unstable();

        let mut touched = Vec::new();
        let mut unused = Vec::new();
        for &(slot, t, row) in &entries {
            let entry = self.keys[slot].as_mut().expect("slot in use");
            // Sessions whose window [start, last + gap) meets the row's window [t, t + gap).
            let first = entry
                .sessions
                .iter()
                .position(|s| s.start < t.saturating_add(gap) && t < s.last.saturating_add(gap));
            match first {
                None => {
                    if t.saturating_add(gap - 1).saturating_add(lateness) <= watermark {
                        late.push(row);
                        reasons.push(late_reason(Some(t), watermark, lateness));
                        if entry.sessions.is_empty() {
                            unused.push(slot);
                        }
                        continue;
                    }
                    let at = entry.sessions.partition_point(|s| s.start < t);
                    entry.sessions.insert(
                        at,
                        Session {
                            start: t,
                            last: t,
                            accumulators: self.layout.aggregates.accumulators()?,
                            pending: vec![row],
                            fired: false,
                        },
                    );
                }
                Some(i) => {
                    let mut end = i + 1;
                    while end < entry.sessions.len()
                        && entry.sessions[end].start < t.saturating_add(gap)
                    {
                        end += 1;
                    }
                    let merged: Vec<Session> = entry.sessions.drain(i + 1..end).collect();
                    let target = &mut entry.sessions[i];
                    target.start = target.start.min(t);
                    target.last = target.last.max(t);
                    target.pending.push(row);
                    for other in merged {
                        target.last = target.last.max(other.last);
                        target.pending.extend(other.pending);
                        target.fired = false;
                        merge_into(&mut target.accumulators, other.accumulators)?;
                    }
                }
            }
            touched.push(slot);
        }
        touched.dedup();
        for slot in unused {
            if let Some(entry) = self.keys[slot].take_if(|e| e.sessions.is_empty()) {
                self.key_index.remove(&entry.key);
                self.free.push(slot);
            }
        }

        let inputs = self.layout.aggregates.inputs(&batch)?;
        let mut updates = Vec::new();
        for &slot in &touched {
            let entry = self.keys[slot].as_mut().expect("slot in use");
            for session in &mut entry.sessions {
                if session.pending.is_empty() {
                    continue;
                }
                let indices = UInt32Array::from(std::mem::take(&mut session.pending));
                let picked = inputs.take(&indices)?;
                for ((acc, args), mask) in session
                    .accumulators
                    .iter_mut()
                    .zip(&picked.args)
                    .zip(&picked.filters)
                {
                    match mask {
                        None => acc.update_batch(args)?,
                        Some(mask) => {
                            let kept = args
                                .iter()
                                .map(|a| filter(a, mask))
                                .collect::<Result<Vec<_>, _>>()?;
                            acc.update_batch(&kept)?;
                        }
                    }
                }
                let last = session.last.saturating_add(gap - 1);
                self.timers.insert((last, slot));
                self.timers.insert((last.saturating_add(lateness), slot));
                if last <= watermark {
                    // A fired session updated within its allowed lateness: emit it again.
                    session.fired = false;
                    updates.push(slot);
                }
            }
        }
        if !late.is_empty() {
            out.emit_to(
                LATE_PORT_INDEX,
                late_rows(&self.layout.late_schema, &batch, late, reasons)?,
            );
        }
        if !updates.is_empty() {
            let mut results = Vec::new();
            updates.dedup();
            for slot in updates {
                self.visit(slot, watermark, &mut results)?;
            }
            self.emit(results, out)?;
        }
        Ok(())
    }

    async fn on_watermark(
        &mut self,
        watermark: i64,
        out: &mut Collector,
    ) -> Result<Option<Watermark>> {
        self.watermark = Some(watermark);
        let mut results = Vec::new();
        while let Some(&(time, slot)) = self.timers.first() {
            if time > watermark {
                break;
            }
            self.timers.pop_first();
            self.visit(slot, watermark, &mut results)?;
        }
        self.emit(results, out)?;
        Ok(Some(Watermark::EventTime(watermark)))
    }

    fn state_tables(&self) -> Vec<StateTable> {
        vec![self.sessions_table.clone()]
    }

    async fn snapshot(&mut self) -> Result<OperatorSnapshot> {
        let (mut keys, mut starts, mut lasts, mut fired, mut states) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let aggregates = &self.layout.aggregates;
        for entry in self.keys.iter_mut().flatten() {
            for session in &mut entry.sessions {
                keys.push(entry.key.clone());
                starts.push(session.start);
                lasts.push(session.last);
                fired.push(session.fired);
                states.push(read_state(aggregates, session)?);
            }
        }
        let mut chunks = Vec::new();
        if !keys.is_empty() {
            let parser = self.converter.parser();
            let key_columns = self
                .converter
                .convert_rows(keys.iter().map(|k| parser.parse(k)))?;
            let shard = shard_column(&key_columns, self.max_parallelism)?;
            let mut columns = key_columns;
            columns.push(Arc::new(Int64Array::from(starts)));
            columns.push(Arc::new(Int64Array::from(lasts)));
            columns.push(Arc::new(BooleanArray::from(fired)));
            for i in 0..self.layout.aggregates.state_fields().len() {
                columns.push(ScalarValue::iter_to_array(
                    states.iter().map(|s| s[i].clone()),
                )?);
            }
            chunks.push(StateChunk::new(
                SESSIONS_TABLE,
                state_batch(&self.sessions_table, shard, columns)?,
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
        let key_count = self.layout.key_columns.len();
        for chunk in snapshot
            .chunks
            .into_iter()
            .filter(|c| c.table == SESSIONS_TABLE)
        {
            let columns = chunk.batch.columns();
            let rows = self.converter.convert_columns(&columns[1..1 + key_count])?;
            let starts = columns[1 + key_count].as_primitive::<Int64Type>().clone();
            let lasts = columns[2 + key_count].as_primitive::<Int64Type>().clone();
            let fired = columns[3 + key_count].as_boolean().clone();
            let states = &columns[4 + key_count..];
            for i in 0..chunk.batch.num_rows() {
                let mut accumulators = self.layout.aggregates.accumulators()?;
                let row_states: Vec<ArrayRef> = states.iter().map(|a| a.slice(i, 1)).collect();
                for (acc, state) in accumulators
                    .iter_mut()
                    .zip(self.layout.aggregates.split_states(&row_states))
                {
                    acc.merge_batch(state)?;
                }
                let slot = self.slot(rows.row(i).as_ref());
                let session = Session {
                    start: starts.value(i),
                    last: lasts.value(i),
                    accumulators,
                    pending: Vec::new(),
                    fired: fired.value(i),
                };
                let last = session.last.saturating_add(self.gap - 1);
                self.timers.insert((last, slot));
                self.timers
                    .insert((last.saturating_add(self.layout.lateness_ms), slot));
                let entry = self.keys[slot].as_mut().expect("slot in use");
                let at = entry.sessions.partition_point(|s| s.start < session.start);
                entry.sessions.insert(at, session);
            }
        }
        Ok(())
    }
}
