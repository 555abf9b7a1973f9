//! `dedup`: keeps the first row of each key and drops the rows with the same key whose
//! event time is less than `within` after it. A row at or past that point is kept and
//! starts a new period for its key.
//!
//! The decision depends only on the rows of a key in arrival order, not on watermarks:
//! watermarks only free the memory of keys whose period ended. One consequence: a row so
//! late that its key's period already ended and was freed is kept. Rows without an event
//! time are kept and never deduplicated.

use std::sync::Arc;
use std::time::Duration;

use arrow::array::{Array, BooleanArray};
use arrow::compute::filter_record_batch;
use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::window::millis;
use crate::error::{EngineError, Result};
use crate::event_time::{check_event_time_type, event_times_ms};
use crate::graph::field_names;
use crate::message::Watermark;
use crate::operator::{
    Collector, Operator, OperatorFactory, OperatorPlan, OutputPort, PlanContext, SubtaskInfo,
    MAIN_PORT,
};
use crate::state::expiring_keys::ExpiringKeys;
use crate::state::{OperatorSnapshot, StateTable};

/// Configuration of a deduplication.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DedupConfig {
    /// The columns that make rows duplicates of each other.
    pub key: Vec<String>,
    /// The event-time column.
    pub event_time: String,
    /// How long after a key's first row later rows count as duplicates.
    #[serde(with = "humantime_serde")]
    pub within: Duration,
}

/// State table of the keys seen, with the end of their period.
const SEEN_TABLE: &str = "seen";

impl OperatorFactory for DedupConfig {
    fn key_columns(&self) -> Option<Vec<String>> {
        Some(self.key.clone())
    }

    fn plan(&self, ctx: &PlanContext<'_>) -> Result<Arc<dyn OperatorPlan>> {
        let schema = ctx.single_input()?.clone();
        let column = |name: &str, what: &str| {
            schema.index_of(name).map_err(|_| {
                EngineError::config(
                    ctx.node,
                    format!(
                        "{what} column '{name}' is not in the input ({})",
                        field_names(&schema)
                    ),
                )
            })
        };
        if self.key.is_empty() {
            return Err(EngineError::config(
                ctx.node,
                "dedup needs at least one key column",
            ));
        }
        let key_columns = self
            .key
            .iter()
            .map(|k| column(k, "key"))
            .collect::<Result<Vec<_>>>()?;
        let time_column = column(&self.event_time, "event time")?;
        check_event_time_type(
            ctx.node,
            &self.event_time,
            schema.field(time_column).data_type(),
        )?;
        Ok(Arc::new(DedupPlan {
            schema,
            key_columns,
            time_column,
            within_ms: millis(ctx.node, "within", self.within)?,
        }))
    }
}

struct DedupPlan {
    schema: SchemaRef,
    key_columns: Vec<usize>,
    time_column: usize,
    within_ms: i64,
}

impl OperatorPlan for DedupPlan {
    fn outputs(&self) -> Vec<OutputPort> {
        vec![OutputPort {
            name: MAIN_PORT.into(),
            schema: self.schema.clone(),
        }]
    }

    fn create(&self, subtask: &SubtaskInfo) -> Result<Box<dyn Operator>> {
        let key_fields = self
            .key_columns
            .iter()
            .map(|&i| self.schema.fields()[i].clone())
            .collect();
        Ok(Box::new(Dedup {
            key_columns: self.key_columns.clone(),
            time_column: self.time_column,
            within_ms: self.within_ms,
            seen: ExpiringKeys::new(SEEN_TABLE, key_fields, subtask.max_parallelism)?,
            watermark: None,
        }))
    }
}

struct Dedup {
    key_columns: Vec<usize>,
    time_column: usize,
    within_ms: i64,
    /// Keys whose period is running, until the end of the period.
    seen: ExpiringKeys,
    watermark: Option<i64>,
}

#[async_trait]
impl Operator for Dedup {
    async fn process_batch(
        &mut self,
        _: usize,
        batch: RecordBatch,
        out: &mut Collector,
    ) -> Result<()> {
        let keys: Vec<_> = self
            .key_columns
            .iter()
            .map(|&i| batch.column(i).clone())
            .collect();
        let encoded = self.seen.encode(&keys)?;
        let time_column = batch.column(self.time_column).clone();
        let (times, _) = event_times_ms(&time_column)?;
        let keep: BooleanArray = (0..batch.num_rows())
            .map(|row| {
                if time_column.is_null(row) {
                    return Some(true);
                }
                let (key, t) = (encoded.rows.row(row), times[row]);
                let duplicate = self.seen.expiry(key.as_ref()).is_some_and(|end| t < end);
                if !duplicate {
                    let end = t.saturating_add(self.within_ms);
                    self.seen.insert(key.as_ref(), encoded.key_groups[row], end);
                }
                Some(!duplicate)
            })
            .collect();
        let kept = filter_record_batch(&batch, &keep)?;
        if kept.num_rows() > 0 {
            out.emit(kept);
        }
        Ok(())
    }

    async fn on_watermark(
        &mut self,
        watermark: i64,
        _: &mut Collector,
    ) -> Result<Option<Watermark>> {
        self.watermark = Some(watermark);
        self.seen.expire(watermark);
        Ok(Some(Watermark::EventTime(watermark)))
    }

    fn state_tables(&self) -> Vec<StateTable> {
        vec![self.seen.state_table().clone()]
    }

    async fn snapshot(&mut self) -> Result<OperatorSnapshot> {
        Ok(OperatorSnapshot {
            watermark: self.watermark,
            chunks: self.seen.snapshot()?.into_iter().collect(),
            checkpoint_id: None,
        })
    }

    async fn restore(&mut self, snapshot: OperatorSnapshot) -> Result<()> {
        self.watermark = snapshot.watermark;
        for chunk in snapshot.chunks.iter().filter(|c| c.table == SEEN_TABLE) {
            self.seen.restore(chunk)?;
        }
        Ok(())
    }
}
