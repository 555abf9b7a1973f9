//! `window_aggregate`: keyed event-time windows (tumbling, sliding, session) with aggregates.
//!
//! Output rows are `key columns..., window_start, window_end, aggregates...`. A window fires
//! when the watermark passes its end (`watermark >= window_end - 1ms`). With
//! `allowed_lateness` a fired window stays open that much longer: a late row updates it and
//! the whole updated row is emitted again (later rows for the same key and window supersede
//! earlier ones). Rows arriving after that, and rows without event time, go to the `late`
//! side output with a `late_reason` column; they are never dropped silently.

mod aggregates;
pub(crate) mod late;
mod pane;
mod session;

use std::sync::Arc;
use std::time::Duration;

use arrow::array::{ArrayRef, TimestampMillisecondArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use arrow::record_batch::RecordBatch;
use serde::{Deserialize, Serialize};

use crate::error::{EngineError, Result};
use crate::event_time::check_event_time_type;
use crate::graph::field_names;
use crate::operator::{OperatorFactory, OperatorPlan, OutputPort, PlanContext, MAIN_PORT};
use aggregates::Aggregates;

/// Name of the side output carrying late rows.
pub const LATE_PORT: &str = "late";
/// Column added to late rows saying why they were not aggregated.
pub const LATE_REASON_COLUMN: &str = "late_reason";

/// The shape of the windows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum WindowSpec {
    /// Fixed, non-overlapping windows `[k*size, (k+1)*size)`.
    Tumbling {
        #[serde(with = "humantime_serde")]
        size: Duration,
    },
    /// Windows of `size` starting every `slide`; `size` must be a multiple of `slide`.
    Sliding {
        #[serde(with = "humantime_serde")]
        size: Duration,
        #[serde(with = "humantime_serde")]
        slide: Duration,
    },
    /// Per key, rows closer than `gap` to each other form one window
    /// `[first event time, last event time + gap)`.
    Session {
        #[serde(with = "humantime_serde")]
        gap: Duration,
    },
}

/// Configuration of a keyed window aggregation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WindowAggregateConfig {
    /// Key columns; results are per key and window.
    pub key: Vec<String>,
    /// The timestamp column that assigns rows to windows.
    pub event_time: String,
    pub window: WindowSpec,
    /// Aggregate calls in SQL, e.g. `count(*) AS bids`, `max(price)`,
    /// `count(DISTINCT bidder)`, `approx_distinct(bidder)`,
    /// `approx_percentile_cont(price, 0.95) AS p95`.
    pub aggregates: Vec<String>,
    /// How long after a window fired late rows still update it (default 0).
    #[serde(with = "humantime_serde", default)]
    pub allowed_lateness: Duration,
}

/// What every window flavour shares, compiled once.
#[derive(Debug)]
pub(crate) struct WindowLayout {
    key_columns: Vec<usize>,
    key_schema: SchemaRef,
    time_column: usize,
    window_type: DataType,
    aggregates: Aggregates,
    output_schema: SchemaRef,
    late_schema: SchemaRef,
    lateness_ms: i64,
}

/// A duration in whole milliseconds, refused when zero, fractional or too large.
pub(crate) fn millis(node: &str, what: &str, d: Duration) -> Result<i64> {
    let ms = d.as_millis();
    if ms == 0 || !d.subsec_nanos().is_multiple_of(1_000_000) {
        return Err(EngineError::config(
            node,
            format!("{what} must be a positive whole number of milliseconds, got {d:?}"),
        ));
    }
    i64::try_from(ms).map_err(|_| EngineError::config(node, format!("{what} is too large")))
}

impl WindowLayout {
    fn new(ctx: &PlanContext<'_>, config: &WindowAggregateConfig) -> Result<Self> {
        let input = ctx.single_input()?;
        let column = |name: &str, what: &str| {
            input.index_of(name).map_err(|_| {
                EngineError::config(
                    ctx.node,
                    format!(
                        "{what} column '{name}' is not in the input ({})",
                        field_names(input)
                    ),
                )
            })
        };
        if config.key.is_empty() {
            return Err(EngineError::config(
                ctx.node,
                "a window aggregation needs at least one key column",
            ));
        }
        let key_columns = config
            .key
            .iter()
            .map(|k| column(k, "key"))
            .collect::<Result<Vec<_>>>()?;
        let time_column = column(&config.event_time, "event time")?;
        let time_type = input.field(time_column).data_type();
        check_event_time_type(ctx.node, &config.event_time, time_type)?;
        let tz = match time_type {
            DataType::Timestamp(_, tz) => tz.clone(),
            _ => None,
        };
        let window_type = DataType::Timestamp(TimeUnit::Millisecond, tz);
        let aggregates = Aggregates::compile(ctx, input, &config.aggregates)?;
        let key_fields: Vec<_> = key_columns
            .iter()
            .map(|&i| input.fields()[i].clone())
            .collect();
        let mut fields = key_fields.clone();
        fields.push(Arc::new(Field::new(
            "window_start",
            window_type.clone(),
            false,
        )));
        fields.push(Arc::new(Field::new(
            "window_end",
            window_type.clone(),
            false,
        )));
        for f in aggregates.output_fields() {
            if fields.iter().any(|g| g.name() == f.name()) {
                return Err(EngineError::config(
                    ctx.node,
                    format!("aggregate column '{}' clashes with a key or window column; rename it with AS", f.name()),
                ));
            }
            fields.push(f.clone());
        }
        let mut late_fields: Vec<_> = input.fields().iter().cloned().collect();
        late_fields.push(Arc::new(Field::new(
            LATE_REASON_COLUMN,
            DataType::Utf8,
            false,
        )));
        Ok(Self {
            key_columns,
            key_schema: Arc::new(Schema::new(key_fields)),
            time_column,
            window_type,
            aggregates,
            output_schema: Arc::new(Schema::new(fields)),
            late_schema: Arc::new(Schema::new(late_fields)),
            lateness_ms: i64::try_from(config.allowed_lateness.as_millis()).unwrap_or(i64::MAX),
        })
    }

    fn outputs(&self) -> Vec<OutputPort> {
        vec![
            OutputPort {
                name: MAIN_PORT.into(),
                schema: self.output_schema.clone(),
            },
            OutputPort {
                name: LATE_PORT.into(),
                schema: self.late_schema.clone(),
            },
        ]
    }

    fn keys_of(&self, batch: &RecordBatch) -> Vec<ArrayRef> {
        self.key_columns
            .iter()
            .map(|&i| batch.column(i).clone())
            .collect()
    }

    /// A result batch: keys, window bounds per row, aggregate values.
    fn result(
        &self,
        keys: Vec<ArrayRef>,
        starts: Vec<i64>,
        ends: Vec<i64>,
        values: Vec<ArrayRef>,
    ) -> Result<RecordBatch> {
        let tz = match &self.window_type {
            DataType::Timestamp(_, tz) => tz.clone(),
            _ => None,
        };
        let mut columns = keys;
        columns.push(Arc::new(
            TimestampMillisecondArray::from(starts).with_timezone_opt(tz.clone()),
        ));
        columns.push(Arc::new(
            TimestampMillisecondArray::from(ends).with_timezone_opt(tz),
        ));
        columns.extend(values);
        Ok(RecordBatch::try_new(self.output_schema.clone(), columns)?)
    }
}

impl OperatorFactory for WindowAggregateConfig {
    fn key_columns(&self) -> Option<Vec<String>> {
        Some(self.key.clone())
    }

    fn plan(&self, ctx: &PlanContext<'_>) -> Result<Arc<dyn OperatorPlan>> {
        let layout = WindowLayout::new(ctx, self)?;
        match &self.window {
            WindowSpec::Tumbling { size } => {
                let size = millis(ctx.node, "window size", *size)?;
                Ok(Arc::new(pane::PaneWindowPlan::new(layout, size, size)))
            }
            WindowSpec::Sliding { size, slide } => {
                let size = millis(ctx.node, "window size", *size)?;
                let slide = millis(ctx.node, "window slide", *slide)?;
                if size % slide != 0 {
                    return Err(EngineError::config(
                        ctx.node,
                        format!("sliding window size ({size}ms) must be a multiple of its slide ({slide}ms)"),
                    ));
                }
                Ok(Arc::new(pane::PaneWindowPlan::new(layout, size, slide)))
            }
            WindowSpec::Session { gap } => {
                let gap = millis(ctx.node, "session gap", *gap)?;
                Ok(Arc::new(session::SessionWindowPlan::new(layout, gap)))
            }
        }
    }
}
