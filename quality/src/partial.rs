//! A rule set's metrics computed in parts and merged: what the streaming gate needs. Each
//! writer of a sink updates [`PartialMetrics`] with the batches it writes and hands over
//! their state at the barrier (one row of Arrow values); the committer merges the states
//! of every writer into the metrics row [`RuleSet::judge`] reads. The aggregates are
//! DataFusion's own (partial and final aggregation through `Accumulator::state` and
//! `merge_batch`), so merging parts gives exactly what one query over all rows gives.

use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatch};
use arrow::compute::concat_batches;
use arrow::datatypes::{Field, Schema, SchemaRef};
use datafusion::common::DFSchema;
use datafusion::logical_expr::execution_props::ExecutionProps;
use datafusion::logical_expr::physical_planning_context::PhysicalPlanningContext;
use datafusion::logical_expr::Accumulator;
use datafusion::optimizer::simplify_expressions::{ExprSimplifier, SimplifyContext};
use datafusion::physical_expr::aggregate::{AggregateFunctionExpr, LoweredAggregateBuilder};
use datafusion::prelude::SessionContext;

use crate::error::{QualityError, Result};
use crate::evaluate::RuleSet;

/// The aggregates of a rule set over rows of one schema, ready to run in parts.
#[derive(Debug)]
pub struct MetricsPlan {
    /// Each metric's name and aggregate.
    aggregates: Vec<(String, Arc<AggregateFunctionExpr>)>,
    /// The columns of a partial state: every aggregate's state fields, in order.
    state_schema: SchemaRef,
}

impl MetricsPlan {
    /// Plans the metrics of `rules` over rows of `schema`.
    pub fn new(rules: &RuleSet, schema: &SchemaRef) -> Result<Self> {
        let ctx = SessionContext::new();
        ctx.register_udaf(crate::distinct_rows::udaf());
        let logical = DFSchema::try_from(schema.as_ref().clone())?;
        let props = ExecutionProps::new();
        let planning = PhysicalPlanningContext::default();
        // Types as a query would have them (an Int32 column against an integer literal).
        let simplifier = ExprSimplifier::new(
            SimplifyContext::builder()
                .with_schema(Arc::new(logical.clone()))
                .build(),
        );
        let mut aggregates = Vec::new();
        let mut state_fields = Vec::new();
        for metric in rules.metrics() {
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
            aggregates.push((metric.name, aggregate));
        }
        Ok(Self {
            aggregates,
            state_schema: Arc::new(Schema::new(state_fields)),
        })
    }

    /// The schema of a partial state row.
    pub fn state_schema(&self) -> &SchemaRef {
        &self.state_schema
    }

    /// Fresh metrics for the rows of one part (a writer's share of an epoch).
    pub fn start(self: &Arc<Self>) -> Result<PartialMetrics> {
        let accumulators = self
            .aggregates
            .iter()
            .map(|(_, aggregate)| aggregate.create_accumulator())
            .collect::<datafusion::error::Result<_>>()?;
        Ok(PartialMetrics {
            plan: self.clone(),
            accumulators,
        })
    }

    /// The metrics row (one column per metric) of the parts whose states are `states`.
    pub fn merge(&self, states: &[RecordBatch]) -> Result<RecordBatch> {
        let states = concat_batches(&self.state_schema, states)?;
        let mut fields = Vec::new();
        let mut columns: Vec<ArrayRef> = Vec::new();
        let mut at = 0;
        for (name, aggregate) in &self.aggregates {
            let width = aggregate.state_fields()?.len();
            let mut accumulator = aggregate.create_accumulator()?;
            accumulator.merge_batch(&states.columns()[at..at + width])?;
            at += width;
            let value = accumulator.evaluate()?.to_array()?;
            fields.push(Field::new(name, value.data_type().clone(), true));
            columns.push(value);
        }
        Ok(RecordBatch::try_new(
            Arc::new(Schema::new(fields)),
            columns,
        )?)
    }
}

/// The metrics of one part of the rows, updated batch by batch.
pub struct PartialMetrics {
    plan: Arc<MetricsPlan>,
    accumulators: Vec<Box<dyn Accumulator>>,
}

impl std::fmt::Debug for PartialMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PartialMetrics").finish_non_exhaustive()
    }
}

impl PartialMetrics {
    /// Adds `batch` (rows of the plan's schema) to the metrics.
    pub fn update(&mut self, batch: &RecordBatch) -> Result<()> {
        for ((_, aggregate), accumulator) in self.plan.aggregates.iter().zip(&mut self.accumulators)
        {
            let arguments = aggregate
                .expressions()
                .iter()
                .map(|e| e.evaluate(batch)?.into_array(batch.num_rows()))
                .collect::<datafusion::error::Result<Vec<_>>>()?;
            accumulator.update_batch(&arguments)?;
        }
        Ok(())
    }

    /// The part's state: one row of [`MetricsPlan::state_schema`]. Takes the rows seen so
    /// far; the metrics start again empty.
    pub fn take_state(&mut self) -> Result<RecordBatch> {
        let mut columns: Vec<ArrayRef> = Vec::new();
        for accumulator in &mut self.accumulators {
            for value in accumulator.state()? {
                columns.push(value.to_array()?);
            }
        }
        let state = RecordBatch::try_new(self.plan.state_schema.clone(), columns)
            .map_err(|e| QualityError::Query(e.into()))?;
        *self = self.plan.start()?;
        Ok(state)
    }
}
