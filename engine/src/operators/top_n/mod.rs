//! `top_n`: the top N rows of each group of a stream of windowed results, final per
//! watermark.
//!
//! Rows are grouped by `partition_by` plus the `until` timestamp column (for the output of a
//! `window_aggregate`: `partition_by: [window_start]`, `until: window_end`) and ordered by
//! `order_by` (`hits DESC`, `path ASC`), then by the rest of the row, ascending, so the order
//! is total and the output the same at any parallelism. A group is emitted once the watermark
//! reaches `until - 1ms` (when a window with that end fires), as its top `limit` rows with
//! a `rank` and a `revision` (0 for the first emission).
//!
//! Updates: with `key`, a row replaces the group's earlier row with the same key values (a
//! window row emitted again after a late update replaces the first one). Until the watermark
//! passes `until - 1ms + allowed_lateness` the group stays open; when a row changes its top
//! list after it was emitted, the whole list is emitted again with the next `revision`. The
//! newest revision of a group is its current top list. Rows arriving after that go to the
//! `late` port with a `late_reason`, as do rows whose `until` is null.
//!
//! Ties (`ties`): `first` (default) cuts at exactly `limit` rows, ties broken by the rest of
//! the row (SQL `ROW_NUMBER()` over `order_by` then every other column ascending);
//! `include` keeps every row whose `order_by` values equal the last one's (SQL `RANK()`).
//!
//! State: per open group its candidate rows (without `key` only the top list and its ties,
//! with `key` one row per key) and the rows of its last emission, split by the key group
//! of `partition_by` (the columns job files hash-partition the input by).

mod group;
mod operator;
mod order;

use std::sync::Arc;
use std::time::Duration;

use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::row::{RowConverter, SortField};
use serde::{Deserialize, Serialize};

use super::window::{LATE_PORT, LATE_REASON_COLUMN};
use crate::error::{EngineError, Result};
use crate::graph::field_names;
use crate::operator::{
    Operator, OperatorFactory, OperatorPlan, OutputPort, PlanContext, SubtaskInfo, MAIN_PORT,
};
use crate::state::StateTable;
use order::parse_sort_key;

/// Column of the output holding a row's rank in its group (1 is the top).
pub const RANK_COLUMN: &str = "rank";
/// Column of the output numbering the emissions of a group: 0, then 1, 2, ... for each
/// re-emission after an update. The rows with the highest revision are the group's current
/// top list.
pub const REVISION_COLUMN: &str = "revision";

/// What happens to rows equal (on `order_by`) to the N-th.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Ties {
    /// Exactly N rows: ties are broken by the rest of the row, ascending (`ROW_NUMBER()`).
    #[default]
    First,
    /// Every row equal to the N-th is kept too; ranks as SQL `RANK()`.
    Include,
}

/// Configuration of a top-N per group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TopNConfig {
    /// Columns of the group besides `until`, typically `[window_start]`; the input is
    /// hash-partitioned by them.
    pub partition_by: Vec<String>,
    /// Timestamp column ending the group (exclusive, like `window_end`): the group is
    /// emitted when the watermark reaches it minus 1 ms. Part of the group.
    pub until: String,
    /// Sort keys, `column [ASC|DESC] [NULLS FIRST|NULLS LAST]`, most significant first.
    pub order_by: Vec<String>,
    /// How many rows per group.
    pub limit: usize,
    /// Columns identifying a row within its group: a newer row with the same values
    /// replaces the older one. Empty (default): every row counts.
    #[serde(default)]
    pub key: Vec<String>,
    #[serde(default)]
    pub ties: Ties,
    /// How long after it was emitted a group still takes rows (set it to the upstream
    /// window's `allowed_lateness`); default 0.
    #[serde(with = "humantime_serde", default)]
    pub allowed_lateness: Duration,
}

/// The compiled configuration, shared by the subtasks.
#[derive(Debug)]
pub(crate) struct TopNLayout {
    input: SchemaRef,
    until_name: String,
    until: usize,
    /// Group columns: `partition_by` then `until`.
    group: Vec<usize>,
    partition_by: Vec<usize>,
    key: Vec<usize>,
    order: Vec<SortField>,
    order_columns: Vec<usize>,
    /// Every column not in `order_by`, ascending nulls last.
    rest_columns: Vec<usize>,
    limit: usize,
    ties: Ties,
    lateness_ms: i64,
    output: SchemaRef,
    late: SchemaRef,
    state: StateTable,
}

/// Name of the state table of candidate and emitted rows.
const STATE_TABLE: &str = "top_n";

impl TopNLayout {
    fn new(ctx: &PlanContext<'_>, config: &TopNConfig) -> Result<Self> {
        let input = ctx.single_input()?.clone();
        let fail = |message: String| EngineError::config(ctx.node, message);
        let column = |name: &str, what: &str| {
            input.index_of(name).map_err(|_| {
                fail(format!(
                    "{what} column '{name}' is not in the input ({})",
                    field_names(&input)
                ))
            })
        };
        if config.partition_by.is_empty() {
            return Err(fail(
                "top_n needs at least one partition_by column (typically window_start)".into(),
            ));
        }
        if config.order_by.is_empty() {
            return Err(fail("top_n needs at least one order_by column".into()));
        }
        if config.limit == 0 {
            return Err(fail("limit must be at least 1".into()));
        }
        let partition_by = config
            .partition_by
            .iter()
            .map(|c| column(c, "partition_by"))
            .collect::<Result<Vec<_>>>()?;
        let key = config
            .key
            .iter()
            .map(|c| column(c, "key"))
            .collect::<Result<Vec<_>>>()?;
        let until = column(&config.until, "until")?;
        if !matches!(input.field(until).data_type(), DataType::Timestamp(_, _)) {
            return Err(fail(format!(
                "until column '{}' must be a timestamp, but it is {}",
                config.until,
                input.field(until).data_type()
            )));
        }
        let mut order = Vec::new();
        let mut order_columns = Vec::new();
        for entry in &config.order_by {
            let sort = parse_sort_key(entry).map_err(&fail)?;
            let index = column(&sort.column, "order_by")?;
            order.push(SortField::new_with_options(
                input.field(index).data_type().clone(),
                sort.options,
            ));
            order_columns.push(index);
        }
        if !RowConverter::supports_fields(&order) {
            return Err(fail(format!(
                "order_by columns of these types cannot be sorted: {}",
                config.order_by.join(", ")
            )));
        }
        let rest_columns: Vec<usize> = (0..input.fields().len())
            .filter(|i| !order_columns.contains(i))
            .collect();
        let unsupported: Vec<&str> = (0..input.fields().len())
            .filter(|&i| {
                !RowConverter::supports_fields(&[SortField::new(
                    input.field(i).data_type().clone(),
                )])
            })
            .map(|i| input.field(i).name().as_str())
            .collect();
        if !unsupported.is_empty() {
            return Err(fail(format!(
                "top_n cannot hold columns of these types: {}",
                unsupported.join(", ")
            )));
        }
        for name in [RANK_COLUMN, REVISION_COLUMN] {
            if input.index_of(name).is_ok() {
                return Err(fail(format!(
                    "the input has a column '{name}', which top_n adds; rename it upstream"
                )));
            }
        }
        let mut fields: Vec<_> = input.fields().iter().cloned().collect();
        fields.push(Arc::new(Field::new(RANK_COLUMN, DataType::Int64, false)));
        fields.push(Arc::new(Field::new(
            REVISION_COLUMN,
            DataType::Int64,
            false,
        )));
        let mut late: Vec<_> = input.fields().iter().cloned().collect();
        late.push(Arc::new(Field::new(
            LATE_REASON_COLUMN,
            DataType::Utf8,
            false,
        )));
        let mut state = vec![
            Arc::new(Field::new("_emissions", DataType::Int64, false)),
            Arc::new(Field::new("_emitted", DataType::Boolean, false)),
        ];
        state.extend(input.fields().iter().cloned());
        let mut group = partition_by.clone();
        group.push(until);
        Ok(Self {
            until_name: config.until.clone(),
            until,
            group,
            partition_by,
            key,
            order,
            order_columns,
            rest_columns,
            limit: config.limit,
            ties: config.ties,
            lateness_ms: i64::try_from(config.allowed_lateness.as_millis()).unwrap_or(i64::MAX),
            output: Arc::new(Schema::new(fields)),
            late: Arc::new(Schema::new(late)),
            state: StateTable::new(STATE_TABLE, state),
            input,
        })
    }

    /// A row converter over `columns` of the input, ascending, nulls last.
    fn converter(&self, columns: &[usize]) -> Result<RowConverter> {
        let options = arrow::compute::SortOptions {
            descending: false,
            nulls_first: false,
        };
        Ok(RowConverter::new(
            columns
                .iter()
                .map(|&i| {
                    SortField::new_with_options(self.input.field(i).data_type().clone(), options)
                })
                .collect(),
        )?)
    }
}

impl OperatorFactory for TopNConfig {
    fn key_columns(&self) -> Option<Vec<String>> {
        Some(self.partition_by.clone())
    }

    fn plan(&self, ctx: &PlanContext<'_>) -> Result<Arc<dyn OperatorPlan>> {
        Ok(Arc::new(TopNPlan {
            layout: Arc::new(TopNLayout::new(ctx, self)?),
        }))
    }
}

struct TopNPlan {
    layout: Arc<TopNLayout>,
}

impl OperatorPlan for TopNPlan {
    fn outputs(&self) -> Vec<OutputPort> {
        vec![
            OutputPort {
                name: MAIN_PORT.into(),
                schema: self.layout.output.clone(),
            },
            OutputPort {
                name: LATE_PORT.into(),
                schema: self.layout.late.clone(),
            },
        ]
    }

    fn create(&self, subtask: &SubtaskInfo) -> Result<Box<dyn Operator>> {
        Ok(Box::new(operator::TopN::new(
            self.layout.clone(),
            subtask.max_parallelism,
        )?))
    }
}
