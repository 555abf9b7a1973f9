//! Exactly once inside the engine: a windowed job killed after a checkpoint and restarted
//! from it (also at another parallelism) commits exactly the output of an uninterrupted run.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arrow::array::{Array, AsArray, UInt32Array, UInt64Array};
use arrow::compute::concat_batches;
use arrow::datatypes::{DataType, Field, SchemaRef, UInt64Type};
use arrow::record_batch::RecordBatch;
use arrow::util::display::{ArrayFormatter, FormatOptions};
use async_trait::async_trait;
use weir_connectors::generator::{BidGenerator, BidGeneratorConfig};
use weir_engine::state::{state_batch, OperatorSnapshot, StateChunk, StateTable};
use weir_engine::{
    CheckpointBarrier, Collector, GraphBuilder, Operator, OperatorFactory, OperatorPlan,
    OutputPort, PlanContext, RuntimeConfig, SubtaskInfo, WatermarkStrategy, WindowAggregateConfig,
    WindowSpec,
};

/// The "external system": output committed per checkpoint epoch, idempotently.
type Committed = Arc<Mutex<BTreeMap<u64, Vec<RecordBatch>>>>;

/// A two-phase-commit sink: rows of an epoch are staged at the barrier, kept in state, and
/// committed when the checkpoint completes (or on restore, if that had not happened yet).
#[derive(Clone)]
struct CommittingSink {
    committed: Committed,
    schema: Arc<Mutex<Option<SchemaRef>>>,
}

struct CommittingSinkTask {
    committed: Committed,
    table: StateTable,
    pending: Vec<RecordBatch>,
    staged: BTreeMap<u64, Vec<RecordBatch>>,
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
    async fn on_end(&mut self, _: &mut Collector) -> weir_engine::Result<()> {
        for (epoch, batches) in std::mem::take(&mut self.staged) {
            self.commit(epoch, batches);
        }
        let last = std::mem::take(&mut self.pending);
        self.commit(u64::MAX, last);
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
                chunks.push(StateChunk {
                    table: "staged".into(),
                    batch: state_batch(&self.table, shard, columns)?,
                });
            }
        }
        Ok(OperatorSnapshot {
            watermark: None,
            chunks,
        })
    }
    async fn restore(&mut self, snapshot: OperatorSnapshot) -> weir_engine::Result<()> {
        // Everything staged in the checkpoint we restore from belongs to a complete
        // checkpoint: commit it unless that already happened.
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

fn graph(parallelism: usize, committed: &Committed) -> weir_engine::JobGraph {
    let generator = BidGeneratorConfig {
        events: Some(300_000),
        auctions: 100,
        partitions: 4,
        batch_size: 2_000,
        rate_limit: Some(1_000_000),
        ..Default::default()
    };
    let mut g = GraphBuilder::new();
    let bids = g
        .source(
            "bids",
            BidGenerator::new(generator.clone()).unwrap(),
            parallelism,
            Some(WatermarkStrategy::bounded(
                "event_time",
                generator.max_disorder,
            )),
        )
        .unwrap();
    let window = WindowAggregateConfig {
        key: vec!["auction".into()],
        event_time: "event_time".into(),
        window: WindowSpec::Tumbling {
            size: Duration::from_secs(1),
        },
        aggregates: vec!["count(*) AS bids".into(), "sum(price) AS total".into()],
        allowed_lateness: Duration::ZERO,
    };
    let w = g
        .operator(
            "window",
            &window,
            vec![bids.main().hash(["auction"])],
            parallelism,
        )
        .unwrap();
    let sink = CommittingSink {
        committed: committed.clone(),
        schema: Arc::default(),
    };
    g.operator("sink", &sink, vec![w.main().rebalance()], 1)
        .unwrap();
    g.build().unwrap()
}

fn lines(committed: &Committed) -> Vec<String> {
    let all: Vec<RecordBatch> = committed
        .lock()
        .unwrap()
        .values()
        .flatten()
        .cloned()
        .collect();
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_and_restored_runs_commit_exactly_the_uninterrupted_output() {
    let straight: Committed = Arc::default();
    graph(2, &straight)
        .run(&RuntimeConfig::default())
        .await
        .unwrap();
    let expected = lines(&straight);
    assert!(expected.len() > 300, "{} result rows", expected.len());

    // Kill after 1 and 2 checkpoints, then finish at another parallelism each time.
    for (kills, restart_parallelism) in [(1usize, 2usize), (2, 3)] {
        let dir = tempfile::tempdir().unwrap();
        let config = RuntimeConfig {
            checkpoint_location: Some(dir.path().to_str().unwrap().to_string()),
            ..RuntimeConfig::default()
        };
        let committed: Committed = Arc::default();
        for _ in 0..kills {
            let job = graph(2, &committed).start(&config).await.unwrap();
            tokio::time::sleep(Duration::from_millis(40)).await;
            job.checkpoint().await.unwrap();
            tokio::time::sleep(Duration::from_millis(20)).await;
            drop(job); // killed: every task aborted, no final checkpoint
        }
        graph(restart_parallelism, &committed)
            .run(&config)
            .await
            .unwrap();
        assert_eq!(
            lines(&committed),
            expected,
            "killed {kills} times, restarted at {restart_parallelism}"
        );
    }
}
