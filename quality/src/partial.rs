//! A rule set's metrics computed in parts and merged: what the streaming gate needs. Each
//! writer of a sink updates [`PartialMetrics`] with the batches it writes and hands over
//! their state at the barrier (one row of Arrow values); the committer merges the states
//! of every writer into the metrics row [`RuleSet::judge`] reads. The aggregates are
//! DataFusion's own (partial and final aggregation through `Accumulator::state` and
//! `merge_batch`), so merging parts gives exactly what one query over all rows gives.

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow::array::{new_null_array, Array, ArrayRef, AsArray, RecordBatch, StringArray};
use arrow::compute::concat_batches;
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::common::DFSchema;
use datafusion::logical_expr::execution_props::ExecutionProps;
use datafusion::logical_expr::physical_planning_context::PhysicalPlanningContext;
use datafusion::logical_expr::Accumulator;
use datafusion::optimizer::simplify_expressions::{ExprSimplifier, SimplifyContext};
use datafusion::physical_expr::aggregate::{AggregateFunctionExpr, LoweredAggregateBuilder};
use datafusion::prelude::SessionContext;

use crate::error::{QualityError, Result};
use crate::evaluate::RuleSet;

/// The column of a partial state naming the rules whose metrics failed to evaluate in
/// that part (JSON: rule index to error), null when none did.
const ERRORS: &str = "errors";

/// One metric of the plan.
#[derive(Debug)]
struct PlannedMetric {
    name: String,
    /// The aggregate as SQL.
    sql: String,
    /// The index of the rule it serves; `None` for the row count.
    rule: Option<usize>,
    aggregate: Arc<AggregateFunctionExpr>,
}

/// The aggregates of a rule set over rows of one schema, ready to run in parts.
#[derive(Debug)]
pub struct MetricsPlan {
    metrics: Vec<PlannedMetric>,
    /// The columns of a partial state: every aggregate's state fields, in order, then
    /// [`ERRORS`].
    state_schema: SchemaRef,
}

/// The merged metrics of an evaluation: the row [`RuleSet::judge`] reads, and the rules
/// whose metrics could not be evaluated with the first error met.
#[derive(Debug)]
pub struct MergedMetrics {
    pub row: RecordBatch,
    pub errors: BTreeMap<usize, String>,
}

impl MetricsPlan {
    /// Plans the metrics a streaming gate needs for `rules` over rows of `schema`
    /// (including the keys uniqueness rules with a horizon compare across epochs).
    pub fn new(rules: &RuleSet, schema: &SchemaRef) -> Result<Self> {
        Self::plan(rules.stream_metrics(), schema)
    }

    /// Plans the metrics a table check needs for `rules` over rows of `schema`.
    pub fn for_table(rules: &RuleSet, schema: &SchemaRef) -> Result<Self> {
        Self::plan(rules.metrics(), schema)
    }

    fn plan(metrics: Vec<crate::evaluate::Metric>, schema: &SchemaRef) -> Result<Self> {
        let ctx = SessionContext::new();
        ctx.register_udaf(crate::distinct_rows::udaf());
        ctx.register_udaf(crate::distinct_rows::keys_udaf());
        let logical = DFSchema::try_from(schema.as_ref().clone())?;
        let props = ExecutionProps::new();
        let planning = PhysicalPlanningContext::default();
        // Types as a query would have them (an Int32 column against an integer literal).
        let simplifier = ExprSimplifier::new(
            SimplifyContext::builder()
                .with_schema(Arc::new(logical.clone()))
                .build(),
        );
        let mut planned = Vec::new();
        let mut state_fields = Vec::new();
        for metric in metrics {
            let expr = simplifier.coerce(ctx.parse_sql_expr(&metric.sql, &logical)?, &logical)?;
            let lowered = LoweredAggregateBuilder::new(&expr, &logical, schema, &props, &planning)
                .with_name(&metric.name)
                .build()?;
            // Accumulators are fed the aggregate's arguments only.
            if lowered.filter.is_some() || !lowered.order_bys.is_empty() {
                return Err(QualityError::Query(
                    datafusion::error::DataFusionError::Plan(format!(
                        "metric {} ({}) filters or orders its input",
                        metric.name, metric.sql
                    )),
                ));
            }
            let aggregate = lowered.aggregate;
            for (i, field) in aggregate.state_fields()?.iter().enumerate() {
                state_fields.push(Field::new(
                    format!("{}#{i}", metric.name),
                    field.data_type().clone(),
                    true,
                ));
            }
            planned.push(PlannedMetric {
                name: metric.name,
                sql: metric.sql,
                rule: metric.rule,
                aggregate,
            });
        }
        state_fields.push(Field::new(ERRORS, DataType::Utf8, true));
        Ok(Self {
            metrics: planned,
            state_schema: Arc::new(Schema::new(state_fields)),
        })
    }

    /// The schema of a partial state row.
    pub fn state_schema(&self) -> &SchemaRef {
        &self.state_schema
    }

    /// The names of the input columns the metrics read, in input order.
    pub fn input_columns(&self, schema: &SchemaRef) -> Vec<String> {
        let mut used = std::collections::BTreeSet::new();
        for metric in &self.metrics {
            for expr in metric.aggregate.expressions() {
                used.extend(
                    datafusion::physical_expr::utils::collect_columns(&expr)
                        .into_iter()
                        .map(|c| c.index()),
                );
            }
        }
        used.into_iter()
            .filter_map(|i| schema.fields().get(i).map(|f| f.name().clone()))
            .collect()
    }

    /// A fingerprint of what the metrics are (each metric's aggregate and state types):
    /// a stored state is merged only into the metrics of the same fingerprint.
    pub fn fingerprint(&self) -> u64 {
        let described: Vec<String> = self
            .metrics
            .iter()
            .map(|m| format!("{} = {}", m.name, m.sql))
            .chain(
                self.state_schema
                    .fields()
                    .iter()
                    .map(|f| format!("{}: {}", f.name(), f.data_type())),
            )
            .collect();
        xxhash_rust::xxh3::xxh3_64(described.join("\n").as_bytes())
    }

    /// The parts whose states are `states` as one part's state, or `None` when a metric
    /// failed in any of them (such a state is not worth keeping).
    pub fn combine(&self, states: &[RecordBatch]) -> Result<Option<RecordBatch>> {
        let states = concat_batches(&self.state_schema, states)?;
        if states
            .column_by_name(ERRORS)
            .is_some_and(|errors| errors.null_count() < errors.len())
        {
            return Ok(None);
        }
        let mut columns: Vec<ArrayRef> = Vec::new();
        let mut at = 0;
        for metric in &self.metrics {
            let width = metric.aggregate.state_fields()?.len();
            let mut accumulator = metric.aggregate.create_accumulator()?;
            accumulator.merge_batch(&states.columns()[at..at + width])?;
            at += width;
            for value in accumulator.state()? {
                columns.push(value.to_array()?);
            }
        }
        columns.push(new_null_array(&DataType::Utf8, 1));
        Ok(Some(RecordBatch::try_new(
            self.state_schema.clone(),
            columns,
        )?))
    }

    /// Fresh metrics for the rows of one part (a writer's share of an epoch).
    pub fn start(self: &Arc<Self>) -> Result<PartialMetrics> {
        let accumulators = self
            .metrics
            .iter()
            .map(|m| m.aggregate.create_accumulator())
            .collect::<datafusion::error::Result<_>>()?;
        Ok(PartialMetrics {
            plan: self.clone(),
            accumulators,
            errors: vec![None; self.metrics.len()],
        })
    }

    /// The metrics row (one column per metric) of the parts whose states are `states`.
    /// A metric that failed in any part is left out of the merge (its value is the empty
    /// aggregate's) and its rule is in the errors.
    pub fn merge(&self, states: &[RecordBatch]) -> Result<MergedMetrics> {
        let states = concat_batches(&self.state_schema, states)?;
        let mut errors = BTreeMap::new();
        let failed = states
            .column_by_name(ERRORS)
            .map(|c| c.as_string::<i32>().clone())
            .unwrap_or_else(|| StringArray::new_null(0));
        for text in failed.iter().flatten() {
            let part: BTreeMap<usize, String> =
                serde_json::from_str(text).map_err(|e| QualityError::Invalid {
                    rule: "(metric state)".into(),
                    reason: format!("unreadable errors of a part: {e}"),
                })?;
            for (rule, error) in part {
                errors.entry(rule).or_insert(error);
            }
        }
        let mut fields = Vec::new();
        let mut columns: Vec<ArrayRef> = Vec::new();
        let mut at = 0;
        for metric in &self.metrics {
            let width = metric.aggregate.state_fields()?.len();
            let mut accumulator = metric.aggregate.create_accumulator()?;
            if !metric.rule.is_some_and(|r| errors.contains_key(&r)) {
                accumulator.merge_batch(&states.columns()[at..at + width])?;
            }
            at += width;
            let value = accumulator.evaluate()?.to_array()?;
            fields.push(Field::new(&metric.name, value.data_type().clone(), true));
            columns.push(value);
        }
        Ok(MergedMetrics {
            row: RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)?,
            errors,
        })
    }
}

/// The metrics of one part of the rows, updated batch by batch.
pub struct PartialMetrics {
    plan: Arc<MetricsPlan>,
    accumulators: Vec<Box<dyn Accumulator>>,
    /// Per metric, the error that stopped it in this part; it takes no more rows.
    errors: Vec<Option<String>>,
}

impl std::fmt::Debug for PartialMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PartialMetrics").finish_non_exhaustive()
    }
}

impl PartialMetrics {
    /// Adds `batch` (rows of the plan's schema) to the metrics. A metric whose evaluation
    /// fails (a cast of one value, say) keeps the error for its rule's verdict and takes
    /// no more rows; the others go on.
    pub fn update(&mut self, batch: &RecordBatch) {
        let metrics = self.plan.metrics.iter();
        for ((metric, accumulator), error) in metrics
            .zip(&mut self.accumulators)
            .zip(&mut self.errors)
            .filter(|(_, error)| error.is_none())
        {
            let updated = metric
                .aggregate
                .expressions()
                .iter()
                .map(|e| e.evaluate(batch)?.into_array(batch.num_rows()))
                .collect::<datafusion::error::Result<Vec<_>>>()
                .and_then(|arguments| accumulator.update_batch(&arguments));
            if let Err(e) = updated {
                *error = Some(e.to_string());
            }
        }
    }

    /// The part's state: one row of [`MetricsPlan::state_schema`]. Takes the rows seen so
    /// far; the metrics start again empty.
    pub fn take_state(&mut self) -> Result<RecordBatch> {
        let mut columns: Vec<ArrayRef> = Vec::new();
        let mut errors = BTreeMap::new();
        let fields = self.plan.state_schema.fields();
        for ((metric, accumulator), error) in self
            .plan
            .metrics
            .iter()
            .zip(&mut self.accumulators)
            .zip(&self.errors)
        {
            match error {
                None => {
                    for value in accumulator.state()? {
                        columns.push(value.to_array()?);
                    }
                }
                Some(error) => {
                    for _ in metric.aggregate.state_fields()? {
                        columns.push(new_null_array(fields[columns.len()].data_type(), 1));
                    }
                    if let Some(rule) = metric.rule {
                        errors.entry(rule).or_insert_with(|| error.clone());
                    }
                }
            }
        }
        columns.push(Arc::new(StringArray::from(vec![
            (!errors.is_empty()).then(|| serde_json::to_string(&errors).expect("a map of text"))
        ])));
        let state = RecordBatch::try_new(self.plan.state_schema.clone(), columns)
            .map_err(|e| QualityError::Query(e.into()))?;
        *self = self.plan.start()?;
        Ok(state)
    }
}
