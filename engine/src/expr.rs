//! SQL expressions compiled once, with DataFusion, into physical expressions.
//!
//! Filters, projections and aggregate calls are written as SQL text. They are parsed and
//! planned against the input schema when the graph is built, so a typo fails the build with
//! the expression and its position, never a running job.
//!
//! Planning does what DataFusion's query planner does before physical planning: type
//! coercion, then simplification, which also rewrites the functions that exist only to be
//! rewritten (`arrow_cast` into a cast, `coalesce` and `nvl` into `CASE`, ...; evaluating
//! them unrewritten is an internal error). A column keeps the name of the expression as
//! written and has the type its physical expression produces.

use std::sync::Arc;

use arrow::datatypes::{Field, FieldRef, Schema, SchemaRef};
use datafusion::common::tree_node::TreeNode;
use datafusion::common::DFSchema;
use datafusion::error::DataFusionError;
use datafusion::logical_expr::physical_planning_context::PhysicalPlanningContext;
use datafusion::logical_expr::simplify::SimplifyContext;
use datafusion::logical_expr::{Expr, ExprSchemable};
use datafusion::optimizer::simplify_expressions::ExprSimplifier;
use datafusion::physical_expr::aggregate::{AggregateFunctionExpr, LoweredAggregateBuilder};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::prelude::{SessionConfig, SessionContext};

use crate::error::{EngineError, Result};

/// A scalar expression with the name and type of the column it produces.
#[derive(Debug, Clone)]
pub struct CompiledExpr {
    pub expr: Arc<dyn PhysicalExpr>,
    pub field: FieldRef,
}

/// An aggregate call such as `count(DISTINCT bidder) AS bidders`.
#[derive(Debug, Clone)]
pub struct CompiledAggregate {
    pub function: Arc<AggregateFunctionExpr>,
    /// The `FILTER (WHERE ...)` clause, if any.
    pub filter: Option<Arc<dyn PhysicalExpr>>,
}

/// Compiles SQL expressions against schemas. Cheap to clone; one per graph.
#[derive(Clone)]
pub struct ExprCompiler {
    ctx: SessionContext,
}

impl std::fmt::Debug for ExprCompiler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ExprCompiler")
    }
}

impl Default for ExprCompiler {
    fn default() -> Self {
        let mut config = SessionConfig::new();
        config.options_mut().sql_parser.collect_spans = true;
        Self {
            ctx: SessionContext::new_with_config(config),
        }
    }
}

/// Where an expression is used, for error messages.
#[derive(Debug, Clone, Copy)]
pub struct ExprSite<'a> {
    pub node: &'a str,
    pub role: &'static str,
}

impl ExprCompiler {
    fn logical(&self, site: ExprSite<'_>, sql: &str, schema: &Schema) -> Result<(Expr, DFSchema)> {
        let df_schema = DFSchema::try_from(schema.clone()).map_err(|e| expr_error(site, sql, e))?;
        let expr = self
            .ctx
            .parse_sql_expr(sql, &df_schema)
            .map_err(|e| expr_error(site, sql, e))?;
        Ok((expr, df_schema))
    }

    /// `expr` coerced to the input's types and simplified, keeping its name.
    fn planned(&self, expr: Expr, df_schema: &DFSchema) -> datafusion::error::Result<Expr> {
        let name = expr.schema_name().to_string();
        let state = self.ctx.state();
        let context = SimplifyContext::builder()
            .with_schema(Arc::new(df_schema.clone()))
            .with_config_options(Arc::clone(state.config_options()))
            .build();
        let simplifier = ExprSimplifier::new(context);
        let coerced = simplifier.coerce(expr, df_schema)?;
        simplifier.simplify(coerced)?.alias_if_changed(name)
    }

    /// Compiles a scalar expression, optionally written as `expr AS name`.
    pub fn scalar(
        &self,
        site: ExprSite<'_>,
        sql: &str,
        schema: &SchemaRef,
    ) -> Result<CompiledExpr> {
        let (expr, df_schema) = self.logical(site, sql, schema)?;
        if contains_aggregate(&expr) {
            return Err(expr_error_msg(
                site,
                sql,
                "aggregate functions are not allowed here; use a window aggregation".into(),
            ));
        }
        let (_, named) = expr
            .to_field(&df_schema)
            .map_err(|e| expr_error(site, sql, e))?;
        let expr = self
            .planned(expr, &df_schema)
            .and_then(|planned| self.ctx.create_physical_expr(planned, &df_schema))
            .map_err(|e| expr_error(site, sql, e))?;
        let produced = expr
            .return_field(schema)
            .map_err(|e| expr_error(site, sql, e))?;
        let field = Field::new(
            named.name(),
            produced.data_type().clone(),
            produced.is_nullable(),
        )
        .with_metadata(produced.metadata().clone());
        Ok(CompiledExpr {
            expr,
            field: Arc::new(field),
        })
    }

    /// Compiles an aggregate call, optionally written as `agg(...) AS name`.
    pub fn aggregate(
        &self,
        site: ExprSite<'_>,
        sql: &str,
        schema: &SchemaRef,
    ) -> Result<CompiledAggregate> {
        let (expr, df_schema) = self.logical(site, sql, schema)?;
        if !is_aggregate_call(&expr) {
            return Err(expr_error_msg(
                site,
                sql,
                "expected one aggregate function call, such as `count(*)` or `max(price) AS top`"
                    .into(),
            ));
        }
        let expr = self
            .planned(expr, &df_schema)
            .map_err(|e| expr_error(site, sql, e))?;
        let state = self.ctx.state();
        let planning = PhysicalPlanningContext::default();
        let lowered = LoweredAggregateBuilder::new(
            &expr,
            &df_schema,
            schema.as_ref(),
            state.execution_props(),
            &planning,
        )
        .build()
        .map_err(|e| expr_error(site, sql, e))?;
        if !lowered.order_bys.is_empty() {
            return Err(expr_error_msg(
                site,
                sql,
                "order-sensitive aggregates (ORDER BY inside the call) are not supported in streaming windows"
                    .into(),
            ));
        }
        let (function, filter) = (lowered.aggregate, lowered.filter);
        Ok(CompiledAggregate { function, filter })
    }
}

fn is_aggregate_call(expr: &Expr) -> bool {
    match expr {
        Expr::Alias(alias) => is_aggregate_call(&alias.expr),
        Expr::AggregateFunction(_) => true,
        _ => false,
    }
}

fn contains_aggregate(expr: &Expr) -> bool {
    expr.exists(|e| Ok(matches!(e, Expr::AggregateFunction(_))))
        .unwrap_or(false)
}

fn expr_error_msg(site: ExprSite<'_>, sql: &str, message: String) -> EngineError {
    EngineError::Expression {
        node: site.node.to_string(),
        role: site.role,
        expr: sql.to_string(),
        position: None,
        message,
    }
}

/// Turns a DataFusion error into one naming the expression and, when known, the position.
fn expr_error(site: ExprSite<'_>, sql: &str, error: DataFusionError) -> EngineError {
    let message = error.strip_backtrace();
    let position = error
        .diagnostic()
        .and_then(|d| d.span)
        .map(|span| format!("line {}, column {}", span.start.line, span.start.column))
        .or_else(|| parser_position(&message))
        .or_else(|| {
            message
                .contains("found: EOF")
                .then(|| "the end".to_string())
        });
    EngineError::Expression {
        node: site.node.to_string(),
        role: site.role,
        expr: sql.to_string(),
        position,
        message,
    }
}

/// The position in a SQL parser message (`... at Line: 1, Column: 9`).
fn parser_position(message: &str) -> Option<String> {
    let rest = &message[message.find("Line: ")? + 6..];
    let (line, rest) = rest.split_once(", Column: ")?;
    let column: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
    (!column.is_empty() && line.parse::<u64>().is_ok())
        .then(|| format!("line {line}, column {column}"))
}
