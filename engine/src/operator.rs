//! The operator trait, and how an operator's configuration becomes running subtasks.
//!
//! Configuration ([`OperatorFactory`]) is checked and compiled once against the input
//! schemas into an [`OperatorPlan`]; the plan creates one [`Operator`] per subtask.

use std::sync::Arc;

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use async_trait::async_trait;

use crate::error::Result;
use crate::expr::ExprCompiler;
use crate::message::{CheckpointBarrier, Watermark};
use crate::state::{OperatorSnapshot, StateTable};

/// Where one subtask sits in the job.
#[derive(Debug, Clone)]
pub struct SubtaskInfo {
    /// The node's name in the graph.
    pub node: String,
    /// This subtask's index, `0..parallelism`.
    pub index: usize,
    pub parallelism: usize,
    /// Number of key groups; keyed state is split by key group.
    pub max_parallelism: usize,
    /// Where the subtask reports figures of its own (shared by the node's subtasks).
    pub gauges: crate::gauges::NodeGauges,
}

/// Output ports of a node: port 0 is the main output, others are side outputs.
#[derive(Debug, Clone)]
pub struct OutputPort {
    pub name: String,
    pub schema: SchemaRef,
}

/// The name of every node's main output port.
pub const MAIN_PORT: &str = "main";

/// What an operator's configuration sees while it is planned.
#[derive(Debug)]
pub struct PlanContext<'a> {
    /// The node's name, for error messages.
    pub node: &'a str,
    /// Schemas of the node's inputs, in the order the inputs were given.
    pub inputs: &'a [SchemaRef],
    pub compiler: &'a ExprCompiler,
}

impl PlanContext<'_> {
    /// The schema of the single input of a one-input operator.
    pub fn single_input(&self) -> Result<&SchemaRef> {
        match self.inputs {
            [schema] => Ok(schema),
            _ => Err(crate::EngineError::config(
                self.node,
                format!("expects exactly one input, got {}", self.inputs.len()),
            )),
        }
    }
}

/// An operator's configuration: validated and compiled into a plan at graph build time.
pub trait OperatorFactory {
    fn plan(&self, ctx: &PlanContext<'_>) -> Result<Arc<dyn OperatorPlan>>;

    /// The columns a keyed operator groups by. Job files partition such an operator's
    /// input by the hash of these columns unless they say otherwise; `None` for operators
    /// that are not keyed.
    fn key_columns(&self) -> Option<Vec<String>> {
        None
    }
}

/// A compiled operator: knows its outputs and creates its subtasks.
pub trait OperatorPlan: Send + Sync {
    /// Output ports; the first is the main output. Sinks have none.
    fn outputs(&self) -> Vec<OutputPort>;
    /// A fresh operator instance for one subtask.
    fn create(&self, subtask: &SubtaskInfo) -> Result<Box<dyn Operator>>;
}

/// Batches an operator produced during one call, per output port.
#[derive(Debug, Default)]
pub struct Collector {
    ports: Vec<Vec<RecordBatch>>,
}

impl Collector {
    /// A collector for an operator with `ports` output ports.
    pub fn new(ports: usize) -> Self {
        Self {
            ports: (0..ports).map(|_| Vec::new()).collect(),
        }
    }

    /// Emits a batch on the main output. Empty batches are skipped.
    pub fn emit(&mut self, batch: RecordBatch) {
        self.emit_to(0, batch)
    }

    /// Emits a batch on output port `port` (0 is main; side outputs follow in the order the
    /// plan declared them).
    pub fn emit_to(&mut self, port: usize, batch: RecordBatch) {
        if batch.num_rows() > 0 {
            self.ports[port].push(batch);
        }
    }

    /// Takes the batches emitted on `port` so far.
    pub fn take_port(&mut self, port: usize) -> Vec<RecordBatch> {
        std::mem::take(&mut self.ports[port])
    }

    pub(crate) fn drain(&mut self) -> impl Iterator<Item = (usize, RecordBatch)> + '_ {
        self.ports
            .iter_mut()
            .enumerate()
            .flat_map(|(port, batches)| batches.drain(..).map(move |b| (port, b)))
    }
}

/// One subtask of an operator. Only `process_batch` is required.
///
/// The runtime calls the methods from one task, never concurrently, in the order the
/// messages arrive. Watermarks given to `on_watermark` never decrease.
#[async_trait]
pub trait Operator: Send {
    /// Processes a batch from input `input` (the index of the input in the node's input list).
    async fn process_batch(
        &mut self,
        input: usize,
        batch: RecordBatch,
        out: &mut Collector,
    ) -> Result<()>;

    /// The combined watermark of all inputs advanced to `watermark`. Returns the watermark to
    /// forward downstream (by default the same one), or `None` to hold it back.
    async fn on_watermark(
        &mut self,
        watermark: i64,
        _out: &mut Collector,
    ) -> Result<Option<Watermark>> {
        Ok(Some(Watermark::EventTime(watermark)))
    }

    /// All inputs delivered `barrier`: everything before it has been processed.
    async fn on_barrier(
        &mut self,
        _barrier: CheckpointBarrier,
        _out: &mut Collector,
    ) -> Result<()> {
        Ok(())
    }

    /// Every subtask of the job has acknowledged checkpoint `checkpoint_id`.
    async fn on_checkpoint_complete(&mut self, _checkpoint_id: u64) -> Result<()> {
        Ok(())
    }

    /// The state tables this operator keeps; stateless operators keep none.
    fn state_tables(&self) -> Vec<StateTable> {
        Vec::new()
    }

    /// Captures the operator's state, as of everything processed so far, in its declared
    /// tables. The operator carries on afterwards with unchanged results.
    async fn snapshot(&mut self) -> Result<OperatorSnapshot> {
        Ok(OperatorSnapshot::default())
    }

    /// Loads state before any input arrives. The snapshot holds exactly the rows of the key
    /// groups this subtask owns, possibly gathered from several earlier subtasks.
    async fn restore(&mut self, _snapshot: OperatorSnapshot) -> Result<()> {
        Ok(())
    }

    /// All inputs ended; emit what is left. Nothing is called after this.
    async fn on_end(&mut self, _out: &mut Collector) -> Result<()> {
        Ok(())
    }
}
