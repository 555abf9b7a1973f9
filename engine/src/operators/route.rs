//! `route`: sends each row to every named output whose SQL condition holds.
//!
//! Ports, all with the input's columns: `main` (port 0) carries every input row unchanged;
//! then one port per output in name order; last `unmatched`, the rows for which no
//! condition held. A null condition counts as false, so a row is in `unmatched` exactly
//! when it is in no named output, and a row may be in several named outputs.

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow::array::{Array, AsArray, BooleanArray};
use arrow::compute::kernels::boolean::{not, or};
use arrow::compute::{filter_record_batch, prep_null_mask_filter};
use arrow::datatypes::{DataType, SchemaRef};
use arrow::record_batch::RecordBatch;
use async_trait::async_trait;
use datafusion::physical_expr::PhysicalExpr;
use serde::{Deserialize, Serialize};

use crate::error::{EngineError, Result};
use crate::expr::ExprSite;
use crate::operator::{
    Collector, Operator, OperatorFactory, OperatorPlan, OutputPort, PlanContext, SubtaskInfo,
    MAIN_PORT,
};

/// The port of the rows that matched no output's condition.
pub const UNMATCHED_PORT: &str = "unmatched";

/// Configuration of a router.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteConfig {
    /// Output name -> boolean SQL condition over the input columns, e.g.
    /// `errors: "status >= 500"`. Names are letters, digits, `_` and `-`, and neither
    /// `main` nor `unmatched`.
    pub outputs: BTreeMap<String, String>,
}

impl RouteConfig {
    pub fn new<N: Into<String>, C: Into<String>>(
        outputs: impl IntoIterator<Item = (N, C)>,
    ) -> Self {
        Self {
            outputs: outputs
                .into_iter()
                .map(|(name, condition)| (name.into(), condition.into()))
                .collect(),
        }
    }
}

fn check_name(node: &str, name: &str) -> Result<()> {
    if name == MAIN_PORT || name == UNMATCHED_PORT {
        return Err(EngineError::config(
            node,
            format!("output '{name}' is reserved: the router has its own '{MAIN_PORT}' (every row) and '{UNMATCHED_PORT}' (rows no condition matched) outputs"),
        ));
    }
    let valid = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if !valid {
        return Err(EngineError::config(
            node,
            format!("output name '{name}' is invalid: use letters, digits, '_' and '-'"),
        ));
    }
    Ok(())
}

impl OperatorFactory for RouteConfig {
    fn plan(&self, ctx: &PlanContext<'_>) -> Result<Arc<dyn OperatorPlan>> {
        let schema = ctx.single_input()?.clone();
        if self.outputs.is_empty() {
            return Err(EngineError::config(
                ctx.node,
                "a router needs at least one output under `outputs`",
            ));
        }
        let site = ExprSite {
            node: ctx.node,
            role: "route condition",
        };
        let mut conditions = Vec::with_capacity(self.outputs.len());
        for (name, condition) in &self.outputs {
            check_name(ctx.node, name)?;
            let compiled = ctx
                .compiler
                .scalar(site, condition, &schema)
                .map_err(|e| name_output(e, name))?;
            if compiled.field.data_type() != &DataType::Boolean {
                return Err(EngineError::Expression {
                    node: ctx.node.to_string(),
                    role: site.role,
                    expr: condition.clone(),
                    position: None,
                    message: format!(
                        "output '{name}': must be boolean, but it is {}",
                        compiled.field.data_type()
                    ),
                });
            }
            conditions.push(compiled.expr);
        }
        Ok(Arc::new(Route {
            names: self.outputs.keys().cloned().collect(),
            conditions,
            schema,
        }))
    }
}

/// Puts the output's name in front of an expression error's message.
fn name_output(error: EngineError, output: &str) -> EngineError {
    match error {
        EngineError::Expression {
            node,
            role,
            expr,
            position,
            message,
        } => EngineError::Expression {
            node,
            role,
            expr,
            position,
            message: format!("output '{output}': {message}"),
        },
        other => other,
    }
}

/// The compiled router; stateless, so it is its own plan.
#[derive(Debug, Clone)]
struct Route {
    /// Output names in port order (ports `1..=names.len()`).
    names: Vec<String>,
    conditions: Vec<Arc<dyn PhysicalExpr>>,
    schema: SchemaRef,
}

impl OperatorPlan for Route {
    fn outputs(&self) -> Vec<OutputPort> {
        std::iter::once(MAIN_PORT)
            .chain(self.names.iter().map(String::as_str))
            .chain(std::iter::once(UNMATCHED_PORT))
            .map(|name| OutputPort {
                name: name.into(),
                schema: self.schema.clone(),
            })
            .collect()
    }

    fn create(&self, _: &SubtaskInfo) -> Result<Box<dyn Operator>> {
        Ok(Box::new(self.clone()))
    }
}

#[async_trait]
impl Operator for Route {
    async fn process_batch(
        &mut self,
        _: usize,
        batch: RecordBatch,
        out: &mut Collector,
    ) -> Result<()> {
        let rows = batch.num_rows();
        let mut matched = BooleanArray::from(vec![false; rows]);
        for (i, condition) in self.conditions.iter().enumerate() {
            let mask = condition.evaluate(&batch)?.into_array(rows)?;
            let mask = mask.as_boolean();
            let mask = if mask.null_count() > 0 {
                prep_null_mask_filter(mask)
            } else {
                mask.clone()
            };
            out.emit_to(i + 1, filter_record_batch(&batch, &mask)?);
            matched = or(&matched, &mask)?;
        }
        out.emit_to(
            self.conditions.len() + 1,
            filter_record_batch(&batch, &not(&matched)?)?,
        );
        out.emit(batch);
        Ok(())
    }
}
