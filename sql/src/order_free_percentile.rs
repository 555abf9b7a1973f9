//! Approximate percentiles that give the same answer every time a plan runs over the same
//! table version.
//!
//! DataFusion's `approx_percentile_cont`, `approx_percentile_cont_with_weight` and
//! `approx_median` summarise rows in t-digests, which depend on the order they are fed
//! in. Two things made that order change from run to run: the final phase merged the
//! partial digests one batch at a time as the partitions delivered them, and a scan's
//! partitions steal files from each other, so which rows meet in which partial digest
//! changed too. Here the final phase keeps the digests it is given and merges them all
//! at once in an order of their own contents ([`OrderFreeAccumulator`]), and a statement
//! using one of these functions reads each partition's files in their planned partition
//! ([`fixed_partitions`]). Memory stays bounded: one digest per partial result (a
//! partition's partial state per group), at most 100 centroids each by default.

use std::any::Any;
use std::cmp::Ordering;
use std::sync::Arc;

use arrow::array::ArrayRef;
use arrow::datatypes::{DataType, FieldRef};
use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
use datafusion::common::{internal_err, Result, ScalarValue};
use datafusion::execution::TaskContext;
use datafusion::functions_aggregate::approx_median::approx_median_udaf;
use datafusion::functions_aggregate::approx_percentile_cont::approx_percentile_cont_udaf;
use datafusion::functions_aggregate::approx_percentile_cont_with_weight::approx_percentile_cont_with_weight_udaf;
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, Documentation, Expr, LogicalPlan, Signature,
};
use datafusion::prelude::SessionContext;
use datafusion_functions_aggregate_common::tdigest::TDigest;

/// Replaces the session's t-digest functions by their order-free versions (same names,
/// arguments and results).
pub fn register(ctx: &SessionContext) {
    for inner in [
        approx_percentile_cont_udaf(),
        approx_percentile_cont_with_weight_udaf(),
        approx_median_udaf(),
    ] {
        ctx.register_udaf(AggregateUDF::new_from_impl(OrderFree { inner }));
    }
}

/// One of DataFusion's t-digest aggregate functions whose partial results are merged in
/// an order of their own ([`OrderFreeAccumulator`]).
#[derive(Debug, PartialEq, Eq, Hash)]
struct OrderFree {
    inner: Arc<AggregateUDF>,
}

impl AggregateUDFImpl for OrderFree {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn signature(&self) -> &Signature {
        self.inner.signature()
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        self.inner.return_type(arg_types)
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        self.inner.state_fields(args)
    }

    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        let own = self.inner.accumulator(args.clone())?;
        // A null input has no digest to merge (DataFusion's accumulator for it is a no-op).
        if args.expr_fields[0].data_type().is_null() {
            return Ok(own);
        }
        Ok(Box::new(OrderFreeAccumulator {
            own,
            combiner: Some(self.inner.accumulator(args)?),
            merged: Vec::new(),
        }))
    }

    fn supports_within_group_clause(&self) -> bool {
        self.inner.inner().supports_within_group_clause()
    }

    fn documentation(&self) -> Option<&Documentation> {
        self.inner.documentation()
    }
}

/// Feeds its own rows to DataFusion's accumulator (in the order its partition reads
/// them), keeps the digests merged into it, and combines them all at once, sorted by
/// their contents, when its state or result is asked for.
#[derive(Debug)]
struct OrderFreeAccumulator {
    /// The rows given to this accumulator; after combining, the combined digest.
    own: Box<dyn Accumulator>,
    /// An unused accumulator of the same function, to combine the digests in; taken when
    /// they are combined.
    combiner: Option<Box<dyn Accumulator>>,
    /// The digests of partial results merged into this one, not combined yet.
    merged: Vec<TDigest>,
}

impl OrderFreeAccumulator {
    /// Makes `own` the combination of its digest and the merged ones (nothing to do when
    /// none were merged).
    fn combine(&mut self) -> Result<()> {
        if self.merged.is_empty() {
            return Ok(());
        }
        let Some(mut combiner) = self.combiner.take() else {
            return internal_err!("an approximate percentile was merged into after its result");
        };
        let mut digests = std::mem::take(&mut self.merged);
        digests.push(TDigest::from_scalar_state(&self.own.state()?));
        digests.sort_by(by_contents);
        let states: Vec<Vec<ScalarValue>> = digests.iter().map(TDigest::to_scalar_state).collect();
        let columns = (0..states[0].len())
            .map(|field| ScalarValue::iter_to_array(states.iter().map(|s| s[field].clone())))
            .collect::<Result<Vec<ArrayRef>>>()?;
        combiner.merge_batch(&columns)?;
        self.own = combiner;
        Ok(())
    }
}

impl Accumulator for OrderFreeAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        self.own.update_batch(values)
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        for row in 0..states.first().map_or(0, |column| column.len()) {
            let state = states
                .iter()
                .map(|column| ScalarValue::try_from_array(column, row))
                .collect::<Result<Vec<_>>>()?;
            self.merged.push(TDigest::from_scalar_state(&state));
        }
        Ok(())
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        self.combine()?;
        self.own.state()
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        self.combine()?;
        self.own.evaluate()
    }

    fn size(&self) -> usize {
        size_of_val(self)
            + self.own.size()
            + self.combiner.as_ref().map_or(0, |c| c.size())
            + self.merged.iter().map(TDigest::size).sum::<usize>()
    }
}

/// A total order of digests by what they hold: count, sum, min, max, then centroids.
fn by_contents(a: &TDigest, b: &TDigest) -> Ordering {
    let head = |d: &TDigest| [d.count(), d.sum(), d.min(), d.max()];
    let centroids = |d: &TDigest| {
        d.centroids()
            .iter()
            .flat_map(|c| [c.mean(), c.weight()])
            .collect::<Vec<_>>()
    };
    cmp_floats(&head(a), &head(b)).then_with(|| cmp_floats(&centroids(a), &centroids(b)))
}

fn cmp_floats(a: &[f64], b: &[f64]) -> Ordering {
    a.iter()
        .zip(b)
        .map(|(x, y)| x.total_cmp(y))
        .find(|o| o.is_ne())
        .unwrap_or_else(|| a.len().cmp(&b.len()))
}

/// The task context to run `plan` in: the session's, with file stealing between a
/// scan's partitions turned off when the plan uses one of the functions [`register`]
/// replaced (so each partial digest gets the same rows every run).
pub fn fixed_partitions(plan: &LogicalPlan, task: TaskContext) -> TaskContext {
    if !uses_digests(plan) {
        return task;
    }
    let mut config = task.session_config().clone();
    config
        .options_mut()
        .execution
        .enable_file_stream_work_stealing = false;
    task.with_session_config(config)
}

/// Whether an aggregate or window of `plan` (subqueries included) is a t-digest function.
fn uses_digests(plan: &LogicalPlan) -> bool {
    let mut found = false;
    let _ = plan.apply_with_subqueries(|node| {
        node.apply_expressions(|expr| {
            expr.apply(|e| {
                found |= is_digest(e);
                Ok(if found {
                    TreeNodeRecursion::Stop
                } else {
                    TreeNodeRecursion::Continue
                })
            })
        })
    });
    found
}

fn is_digest(expr: &Expr) -> bool {
    use datafusion::logical_expr::expr::WindowFunctionDefinition;
    let udf = match expr {
        Expr::AggregateFunction(f) => &f.func,
        Expr::WindowFunction(w) => match &w.fun {
            WindowFunctionDefinition::AggregateUDF(udf) => udf,
            WindowFunctionDefinition::WindowUDF(_) => return false,
        },
        _ => return false,
    };
    (udf.inner().as_ref() as &dyn Any).is::<OrderFree>()
}
