//! A two-phase-commit test sink: stands in for an external system with exactly-once
//! commits (the Delta sink works the same way).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use arrow::array::{Array, AsArray, UInt32Array, UInt64Array};
use arrow::compute::concat_batches;
use arrow::datatypes::{DataType, Field, SchemaRef, UInt64Type};
use arrow::record_batch::RecordBatch;
use arrow::util::display::{ArrayFormatter, FormatOptions};
use async_trait::async_trait;
use weir_engine::state::{state_batch, OperatorSnapshot, StateChunk, StateTable};
use weir_engine::{
    CheckpointBarrier, Collector, Operator, OperatorFactory, OperatorPlan, OutputPort, PlanContext,
    SubtaskInfo,
};

/// The "external system": output committed per checkpoint epoch, idempotently.
pub type Committed = Arc<Mutex<BTreeMap<u64, Vec<RecordBatch>>>>;

/// A two-phase-commit sink: rows of an epoch are staged at the barrier, kept in state, and
/// committed when the checkpoint completes (or on restore, if that had not happened yet).
#[derive(Clone)]
pub struct CommittingSink {
    committed: Committed,
    schema: Arc<Mutex<Option<SchemaRef>>>,
}

impl CommittingSink {
    /// A sink committing into `committed`.
    pub fn new(committed: &Committed) -> Self {
        Self {
            committed: committed.clone(),
            schema: Arc::default(),
        }
    }
}

struct CommittingSinkTask {
    committed: Committed,
    table: StateTable,
    pending: Vec<RecordBatch>,
    staged: BTreeMap<u64, Vec<RecordBatch>>,
    /// The newest checkpoint the sink took part in (or was restored from).
    last_checkpoint: u64,
}

impl CommittingSinkTask {
    fn commit(&self, epoch: u64, batches: Vec<RecordBatch>) {
        self.committed
            .lock()
            .unwrap()
            .entry(epoch)
            .or_insert(batches);
    }
}

impl OperatorFactory for CommittingSink {
    fn plan(&self, ctx: &PlanContext<'_>) -> weir_engine::Result<Arc<dyn OperatorPlan>> {
        *self.schema.lock().unwrap() = Some(ctx.single_input()?.clone());
        Ok(Arc::new(self.clone()))
    }
}

impl OperatorPlan for CommittingSink {
    fn outputs(&self) -> Vec<OutputPort> {
        Vec::new()
    }
    fn create(&self, _: &SubtaskInfo) -> weir_engine::Result<Box<dyn Operator>> {
        let schema = self.schema.lock().unwrap().clone().unwrap();
        let mut fields = vec![Arc::new(Field::new("epoch", DataType::UInt64, false))];
        fields.extend(schema.fields().iter().cloned());
        Ok(Box::new(CommittingSinkTask {
            committed: self.committed.clone(),
            table: StateTable::new("staged", fields),
            pending: Vec::new(),
            staged: BTreeMap::new(),
            last_checkpoint: 0,
        }))
    }
}

#[async_trait]
impl Operator for CommittingSinkTask {
    async fn process_batch(
        &mut self,
        _: usize,
        batch: RecordBatch,
        _: &mut Collector,
    ) -> weir_engine::Result<()> {
        self.pending.push(batch);
        Ok(())
    }
    async fn on_barrier(
        &mut self,
        barrier: CheckpointBarrier,
        _: &mut Collector,
    ) -> weir_engine::Result<()> {
        self.staged
            .insert(barrier.checkpoint_id, std::mem::take(&mut self.pending));
        self.last_checkpoint = barrier.checkpoint_id;
        Ok(())
    }
    async fn on_checkpoint_complete(&mut self, id: u64) -> weir_engine::Result<()> {
        let done: Vec<u64> = self.staged.range(..=id).map(|(e, _)| *e).collect();
        for epoch in done {
            let batches = self.staged.remove(&epoch).unwrap();
            self.commit(epoch, batches);
        }
        Ok(())
    }
    /// The rows after the last barrier form one more epoch, committed by the final
    /// checkpoint the runtime takes at the end of the input.
    async fn on_end(&mut self, _: &mut Collector) -> weir_engine::Result<()> {
        self.staged
            .insert(self.last_checkpoint + 1, std::mem::take(&mut self.pending));
        Ok(())
    }
    fn state_tables(&self) -> Vec<StateTable> {
        vec![self.table.clone()]
    }
    async fn snapshot(&mut self) -> weir_engine::Result<OperatorSnapshot> {
        let mut chunks = Vec::new();
        for (epoch, batches) in &self.staged {
            for b in batches {
                let rows = b.num_rows();
                let mut columns: Vec<Arc<dyn Array>> =
                    vec![Arc::new(UInt64Array::from_value(*epoch, rows))];
                columns.extend(b.columns().iter().cloned());
                let shard = Arc::new(UInt32Array::from_value(0, rows));
                chunks.push(StateChunk::new(
                    "staged",
                    state_batch(&self.table, shard, columns)?,
                ));
            }
        }
        Ok(OperatorSnapshot {
            watermark: None,
            chunks,
            checkpoint_id: None,
        })
    }
    async fn restore(&mut self, snapshot: OperatorSnapshot) -> weir_engine::Result<()> {
        // Everything staged in the checkpoint we restore from belongs to a complete
        // checkpoint: commit it unless that already happened.
        self.last_checkpoint = snapshot.checkpoint_id.unwrap_or(0);
        let mut epochs: BTreeMap<u64, Vec<RecordBatch>> = BTreeMap::new();
        for chunk in snapshot.chunks {
            let epoch = chunk.batch.column(1).as_primitive::<UInt64Type>().value(0);
            let schema = Arc::new(arrow::datatypes::Schema::new(
                chunk.batch.schema().fields()[2..].to_vec(),
            ));
            let rows = RecordBatch::try_new(schema, chunk.batch.columns()[2..].to_vec())?;
            epochs.entry(epoch).or_default().push(rows);
        }
        for (epoch, batches) in epochs {
            self.commit(epoch, batches);
        }
        Ok(())
    }
}

/// Every committed row as `a|b|c`, sorted.
pub fn lines(committed: &Committed) -> Vec<String> {
    let all: Vec<RecordBatch> = committed
        .lock()
        .unwrap()
        .values()
        .flatten()
        .cloned()
        .collect();
    if all.is_empty() {
        return Vec::new();
    }
    let batch = concat_batches(&all[0].schema(), &all).unwrap();
    let options = FormatOptions::default();
    let formatters: Vec<_> = batch
        .columns()
        .iter()
        .map(|c| ArrayFormatter::try_new(c.as_ref(), &options).unwrap())
        .collect();
    let mut out: Vec<String> = (0..batch.num_rows())
        .map(|r| {
            formatters
                .iter()
                .map(|f| f.value(r).to_string())
                .collect::<Vec<_>>()
                .join("|")
        })
        .collect();
    out.sort();
    out
}
