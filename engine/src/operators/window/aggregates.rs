//! The aggregate calls of a window, compiled once, and their per-batch inputs.

use std::sync::Arc;

use arrow::array::{ArrayRef, AsArray, BooleanArray, UInt32Array};
use arrow::compute::take;
use arrow::datatypes::{Field, FieldRef, SchemaRef};
use arrow::record_batch::RecordBatch;
use datafusion::logical_expr::{Accumulator, GroupsAccumulator};
use datafusion::physical_expr::GroupsAccumulatorAdapter;

use crate::error::{EngineError, Result};
use crate::expr::{CompiledAggregate, ExprSite};
use crate::operator::PlanContext;

/// The aggregate calls of one window operator.
#[derive(Debug)]
pub(crate) struct Aggregates {
    calls: Vec<CompiledAggregate>,
    output_fields: Vec<FieldRef>,
    /// Intermediate state columns of all calls, in call order; names are made unique.
    state_fields: Vec<FieldRef>,
    state_widths: Vec<usize>,
}

/// Argument columns and filter masks of every call, evaluated over one batch.
#[derive(Debug)]
pub(crate) struct AggregateInputs {
    pub args: Vec<Vec<ArrayRef>>,
    pub filters: Vec<Option<BooleanArray>>,
}

impl AggregateInputs {
    /// The rows at `indices`, in that order.
    pub fn take(&self, indices: &UInt32Array) -> Result<Self> {
        let args = self
            .args
            .iter()
            .map(|cols| {
                cols.iter()
                    .map(|c| take(c, indices, None))
                    .collect::<Result<Vec<_>, _>>()
            })
            .collect::<Result<Vec<_>, _>>()?;
        let filters = self
            .filters
            .iter()
            .map(|f| {
                f.as_ref()
                    .map(|f| take(f, indices, None).map(|a| a.as_boolean().clone()))
                    .transpose()
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self { args, filters })
    }
}

impl Aggregates {
    pub fn compile(ctx: &PlanContext<'_>, schema: &SchemaRef, sqls: &[String]) -> Result<Self> {
        if sqls.is_empty() {
            return Err(EngineError::config(
                ctx.node,
                "a window aggregation needs at least one aggregate",
            ));
        }
        let site = ExprSite {
            node: ctx.node,
            role: "aggregate",
        };
        let mut calls = Vec::new();
        let mut output_fields: Vec<FieldRef> = Vec::new();
        let mut state_fields = Vec::new();
        let mut state_widths = Vec::new();
        for (i, sql) in sqls.iter().enumerate() {
            let call = ctx.compiler.aggregate(site, sql, schema)?;
            let field = call.function.field();
            if output_fields.iter().any(|f| f.name() == field.name()) {
                return Err(EngineError::config(
                    ctx.node,
                    format!(
                        "two aggregates produce a column named '{}'; name them with AS",
                        field.name()
                    ),
                ));
            }
            let states = call.function.state_fields()?;
            state_widths.push(states.len());
            for (j, f) in states.iter().enumerate() {
                state_fields.push(Arc::new(Field::new(
                    format!("__state_{i}_{j}"),
                    f.data_type().clone(),
                    true,
                )));
            }
            output_fields.push(field);
            calls.push(call);
        }
        Ok(Self {
            calls,
            output_fields,
            state_fields,
            state_widths,
        })
    }

    /// Result columns, one per call.
    pub fn output_fields(&self) -> &[FieldRef] {
        &self.output_fields
    }

    /// Intermediate state columns of all calls.
    pub fn state_fields(&self) -> &[FieldRef] {
        &self.state_fields
    }

    /// Evaluates every call's arguments and filter over `batch`.
    pub fn inputs(&self, batch: &RecordBatch) -> Result<AggregateInputs> {
        let rows = batch.num_rows();
        let mut args = Vec::with_capacity(self.calls.len());
        let mut filters = Vec::with_capacity(self.calls.len());
        for call in &self.calls {
            let cols = call
                .function
                .expressions()
                .iter()
                .map(|e| e.evaluate(batch).and_then(|v| v.into_array(rows)))
                .collect::<datafusion::error::Result<Vec<_>>>()?;
            args.push(cols);
            let filter = match &call.filter {
                None => None,
                Some(f) => Some(f.evaluate(batch)?.into_array(rows)?.as_boolean().clone()),
            };
            filters.push(filter);
        }
        Ok(AggregateInputs { args, filters })
    }

    /// Fresh vectorised accumulators, one per call (DataFusion's, or row accumulators behind
    /// an adapter for functions without a grouped implementation).
    pub fn groups_accumulators(&self) -> Result<Vec<Box<dyn GroupsAccumulator>>> {
        self.calls
            .iter()
            .map(|call| {
                let function = call.function.clone();
                if function.groups_accumulator_supported() {
                    Ok(function.create_groups_accumulator()?)
                } else {
                    Ok(Box::new(GroupsAccumulatorAdapter::new(move || {
                        function.create_accumulator()
                    })) as Box<dyn GroupsAccumulator>)
                }
            })
            .collect()
    }

    /// Fresh row accumulators, one per call.
    pub fn accumulators(&self) -> Result<Vec<Box<dyn Accumulator>>> {
        self.calls
            .iter()
            .map(|call| Ok(call.function.create_accumulator()?))
            .collect()
    }

    /// Splits the state columns of all calls (as laid out by [`Aggregates::state_fields`])
    /// into one slice per call.
    pub fn split_states<'a>(&self, states: &'a [ArrayRef]) -> Vec<&'a [ArrayRef]> {
        let mut out = Vec::with_capacity(self.state_widths.len());
        let mut offset = 0;
        for &w in &self.state_widths {
            out.push(&states[offset..offset + w]);
            offset += w;
        }
        out
    }
}
