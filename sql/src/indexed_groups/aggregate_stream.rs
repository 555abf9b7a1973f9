//! One partition of [`super::IndexedGroupAggregateExec`]: its input's rows folded into
//! the aggregates' states by group index.

use std::sync::Arc;

use arrow::array::{ArrayRef, AsArray, RecordBatch};
use arrow::datatypes::SchemaRef;
use datafusion::common::{DataFusionError, Result};
use datafusion::execution::memory_pool::MemoryReservation;
use datafusion::logical_expr::{EmitTo, GroupsAccumulator};
use datafusion::physical_expr::aggregate::AggregateFunctionExpr;
use datafusion::physical_expr::{GroupsAccumulatorAdapter, PhysicalExpr};
use datafusion::physical_plan::aggregates::evaluate_many;
use datafusion::physical_plan::metrics::BaselineMetrics;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::SendableRecordBatchStream;
use futures::{stream, StreamExt, TryStreamExt};

use super::GroupIndices;

/// What a partial aggregation by one column computes.
pub struct PartialAggregation {
    /// The grouping column's index in the input.
    pub column: usize,
    pub aggregates: Vec<Arc<AggregateFunctionExpr>>,
    /// Each aggregate's argument expressions over the input.
    pub arguments: Vec<Vec<Arc<dyn PhysicalExpr>>>,
    /// Each aggregate's `FILTER (WHERE ...)`, if any.
    pub filters: Vec<Option<Arc<dyn PhysicalExpr>>>,
    /// Enough groups to stop reading at (an unordered `LIMIT` over the groups).
    pub limit: Option<usize>,
    /// Rows per output batch at most.
    pub batch_size: usize,
    /// Once the groups held come from at least this many rows ...
    pub probe_rows: usize,
    /// ... and number more than this share of them, each batch's groups are emitted as
    /// they come: gathering groups that hardly repeat saves the final phase nothing
    /// (DataFusion's partial aggregation skips grouping then).
    pub pass_through_ratio: f64,
}

/// The partial aggregation's output over `input`: a batch of `schema` (the group's
/// value, then every aggregate's state columns) per group, the groups indexed by
/// `groups`.
///
/// The groups and states are emitted when the input ends, when `limit` groups are
/// reached, early whenever `reservation` cannot grow to hold them, and after every batch
/// once the groups hardly repeat (`pass_through_ratio`): a partial phase may emit a group
/// more than once, as the final phase merges them. Errors of the input,
/// of evaluating arguments and of the accumulators end the stream.
pub fn aggregate_stream(
    input: SendableRecordBatchStream,
    schema: SchemaRef,
    aggregation: PartialAggregation,
    groups: Box<dyn GroupIndices>,
    reservation: MemoryReservation,
    metrics: BaselineMetrics,
) -> Result<SendableRecordBatchStream> {
    let accumulators = new_accumulators(&aggregation.aggregates)?;
    let state = State {
        input,
        schema: Arc::clone(&schema),
        aggregation,
        groups,
        rows_held: 0,
        passing_through: false,
        indices: Vec::new(),
        accumulators,
        reservation,
        metrics,
        done: false,
    };
    let batches = stream::try_unfold(state, |mut state| async move {
        if state.done {
            return Ok::<_, DataFusionError>(None);
        }
        let emitted = state.next_emission().await?;
        Ok(Some((stream::iter(emitted.into_iter().map(Ok)), state)))
    })
    .try_flatten();
    Ok(Box::pin(RecordBatchStreamAdapter::new(schema, batches)))
}

struct State {
    input: SendableRecordBatchStream,
    schema: SchemaRef,
    aggregation: PartialAggregation,
    groups: Box<dyn GroupIndices>,
    /// The input rows the groups held come from.
    rows_held: usize,
    /// The groups hardly repeat: each batch's are emitted at once.
    passing_through: bool,
    /// The current batch's group indices, kept to reuse the allocation.
    indices: Vec<usize>,
    /// One per aggregate, indexed by group.
    accumulators: Vec<Box<dyn GroupsAccumulator>>,
    reservation: MemoryReservation,
    metrics: BaselineMetrics,
    /// The input has ended or the limit is reached, and everything was emitted.
    done: bool,
}

impl State {
    /// Reads input until there is something to emit, and emits it.
    async fn next_emission(&mut self) -> Result<Vec<RecordBatch>> {
        while let Some(batch) = self.input.next().await {
            let batch = batch?;
            let elapsed_compute = self.metrics.elapsed_compute().clone();
            let timer = elapsed_compute.timer();
            self.aggregate(&batch)?;
            timer.done();
            self.rows_held += batch.num_rows();
            if !self.passing_through && self.rows_held >= self.aggregation.probe_rows {
                self.passing_through = self.groups.len() as f64
                    > self.aggregation.pass_through_ratio * self.rows_held as f64;
            }
            if self.passing_through {
                return self.emit();
            }
            if self
                .aggregation
                .limit
                .is_some_and(|limit| self.groups.len() >= limit)
            {
                self.done = true;
                return self.emit();
            }
            let size = self.groups.size()
                + self
                    .accumulators
                    .iter()
                    .map(|accumulator| accumulator.size())
                    .sum::<usize>();
            if self.reservation.try_resize(size).is_err() {
                return self.emit();
            }
        }
        self.done = true;
        self.emit()
    }

    fn aggregate(&mut self, batch: &RecordBatch) -> Result<()> {
        self.groups
            .intern(batch.column(self.aggregation.column), &mut self.indices)?;
        let groups = self.groups.len();
        let arguments = evaluate_many(&self.aggregation.arguments, batch)?;
        for ((accumulator, values), filter) in self
            .accumulators
            .iter_mut()
            .zip(&arguments)
            .zip(&self.aggregation.filters)
        {
            let filter = match filter {
                Some(filter) => Some(filter.evaluate(batch)?.into_array(batch.num_rows())?),
                None => None,
            };
            let filter = filter.as_ref().map(|filter| filter.as_boolean());
            accumulator.update_batch(values, &self.indices, filter, groups)?;
        }
        Ok(())
    }

    /// Every group so far with its states, in batches of at most `batch_size` rows; the
    /// groups and states start over.
    fn emit(&mut self) -> Result<Vec<RecordBatch>> {
        let elapsed_compute = self.metrics.elapsed_compute().clone();
        let _timer = elapsed_compute.timer();
        self.rows_held = 0;
        if self.groups.is_empty() {
            return Ok(Vec::new());
        }
        let mut columns: Vec<ArrayRef> = vec![self.groups.emit()?];
        for accumulator in &mut self.accumulators {
            columns.extend(accumulator.state(EmitTo::All)?);
        }
        let all = RecordBatch::try_new(Arc::clone(&self.schema), columns)?;
        self.reservation.resize(self.groups.size());
        let batch_size = self.aggregation.batch_size.max(1);
        let batches: Vec<RecordBatch> = (0..all.num_rows())
            .step_by(batch_size)
            .map(|start| all.slice(start, batch_size.min(all.num_rows() - start)))
            .collect();
        self.metrics.record_output(all.num_rows());
        Ok(batches)
    }
}

/// An accumulator per aggregate: its own grouped one, or one per group behind an
/// adapter when it has none.
fn new_accumulators(
    aggregates: &[Arc<AggregateFunctionExpr>],
) -> Result<Vec<Box<dyn GroupsAccumulator>>> {
    aggregates
        .iter()
        .map(|aggregate| {
            if aggregate.groups_accumulator_supported() {
                aggregate.create_groups_accumulator()
            } else {
                let aggregate = Arc::clone(aggregate);
                Ok(Box::new(GroupsAccumulatorAdapter::new(move || {
                    aggregate.create_accumulator()
                })) as Box<dyn GroupsAccumulator>)
            }
        })
        .collect()
}
