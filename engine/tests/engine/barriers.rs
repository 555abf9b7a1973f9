//! Checkpoint barriers: injected at the sources, aligned at operators with several inputs,
//! acknowledged by every subtask; then every operator hears that the checkpoint completed.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use arrow::record_batch::RecordBatch;
use async_trait::async_trait;
use weir_engine::sources::ChannelSource;
use weir_engine::{
    CheckpointBarrier, Collector, GraphBuilder, Operator, OperatorFactory, OperatorPlan,
    OutputPort, PlanContext, RuntimeConfig, SubtaskInfo, UnionConfig,
};

use super::common::{batch, schema};

/// Logs what it sees: `rows:N`, `barrier:ID`, `complete:ID`.
#[derive(Clone, Default)]
struct Recorder {
    log: Arc<Mutex<Vec<String>>>,
}

impl Recorder {
    fn log(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }
    async fn until(&self, entry: &str) {
        for _ in 0..2000 {
            if self.log().iter().any(|e| e == entry) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        panic!("never logged {entry}: {:?}", self.log());
    }
    async fn until_rows(&self, rows: usize) {
        for _ in 0..2000 {
            if self.log().iter().filter(|e| e.starts_with("rows:")).count() >= rows {
                return;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        panic!("never got {rows} batches: {:?}", self.log());
    }
}

impl OperatorFactory for Recorder {
    fn plan(&self, _: &PlanContext<'_>) -> weir_engine::Result<Arc<dyn OperatorPlan>> {
        Ok(Arc::new(self.clone()))
    }
}

impl OperatorPlan for Recorder {
    fn outputs(&self) -> Vec<OutputPort> {
        Vec::new()
    }
    fn create(&self, _: &SubtaskInfo) -> weir_engine::Result<Box<dyn Operator>> {
        Ok(Box::new(self.clone()))
    }
}

#[async_trait]
impl Operator for Recorder {
    async fn process_batch(
        &mut self,
        _: usize,
        batch: RecordBatch,
        _: &mut Collector,
    ) -> weir_engine::Result<()> {
        self.log
            .lock()
            .unwrap()
            .push(format!("rows:{}", batch.num_rows()));
        Ok(())
    }
    async fn on_barrier(
        &mut self,
        barrier: CheckpointBarrier,
        _: &mut Collector,
    ) -> weir_engine::Result<()> {
        self.log
            .lock()
            .unwrap()
            .push(format!("barrier:{}", barrier.checkpoint_id));
        Ok(())
    }
    async fn on_checkpoint_complete(&mut self, checkpoint_id: u64) -> weir_engine::Result<()> {
        self.log
            .lock()
            .unwrap()
            .push(format!("complete:{checkpoint_id}"));
        Ok(())
    }
}

#[tokio::test]
async fn checkpoints_align_complete_in_order_and_survive_finished_sources() {
    let mut g = GraphBuilder::new();
    let (source_a, a) = ChannelSource::new(schema(), 8);
    let (source_b, b) = ChannelSource::new(schema(), 8);
    let a_node = g.source("a", source_a, 1, None).unwrap();
    let b_node = g.source("b", source_b, 1, None).unwrap();
    let union = g
        .operator(
            "union",
            &UnionConfig::default(),
            vec![a_node.main().rebalance(), b_node.main().rebalance()],
            2,
        )
        .unwrap();
    let recorder = Recorder::default();
    g.operator("recorder", &recorder, vec![union.main().rebalance()], 1)
        .unwrap();
    let job = g
        .build()
        .unwrap()
        .start(&RuntimeConfig::default())
        .await
        .unwrap();

    a.send(batch(&[("a", 1, 1)])).await.unwrap();
    b.send(batch(&[("b", 1, 1)])).await.unwrap();
    recorder.until_rows(2).await;
    assert_eq!(job.checkpoint().await.unwrap(), 1);
    recorder.until("complete:1").await;

    for i in 0..3 {
        a.send(batch(&[("a", i, i)])).await.unwrap();
    }
    assert_eq!(job.checkpoint().await.unwrap(), 2);
    recorder.until("complete:2").await;

    // Source a finishes; checkpoints still complete with b alone.
    drop(a);
    assert_eq!(job.checkpoint().await.unwrap(), 3);
    recorder.until("complete:3").await;
    drop(b);
    job.join().await.unwrap();

    let expected: Vec<String> = [
        "rows:1",
        "rows:1",
        "barrier:1",
        "complete:1",
        "rows:1",
        "rows:1",
        "rows:1",
        "barrier:2",
        "complete:2",
        "barrier:3",
        "complete:3",
        // The final checkpoint, once every subtask finished.
        "complete:4",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    assert_eq!(recorder.log(), expected);
}

#[tokio::test]
async fn checkpoints_are_taken_on_an_interval() {
    let mut g = GraphBuilder::new();
    let (source, input) = ChannelSource::new(schema(), 8);
    let node = g.source("in", source, 1, None).unwrap();
    let recorder = Recorder::default();
    g.operator("recorder", &recorder, vec![node.main().forward()], 1)
        .unwrap();
    let config = RuntimeConfig {
        checkpoint_interval: Some(Duration::from_millis(20)),
        ..RuntimeConfig::default()
    };
    let job = g.build().unwrap().start(&config).await.unwrap();
    input.send(batch(&[("a", 1, 1)])).await.unwrap();
    recorder.until("complete:3").await;
    drop(input);
    job.join().await.unwrap();
    let log = recorder.log();
    let barriers: Vec<&String> = log.iter().filter(|e| e.starts_with("barrier:")).collect();
    assert!(barriers.len() >= 3);
    for (i, b) in barriers.iter().enumerate() {
        assert_eq!(
            **b,
            format!("barrier:{}", i + 1),
            "ids increase by one: {log:?}"
        );
    }
}
