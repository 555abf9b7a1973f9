//! A slow sink slows the source down; no channel ever holds more rows than its bound.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use arrow::record_batch::RecordBatch;
use async_trait::async_trait;
use weir_engine::sources::MemorySource;
use weir_engine::{
    Collector, FilterConfig, GraphBuilder, JobMetrics, Operator, OperatorFactory, OperatorPlan,
    OutputPort, PlanContext, RuntimeConfig, SubtaskInfo,
};

use super::common::{batch, schema};

/// Sleeps on every batch and records how far the source ran ahead of it.
#[derive(Clone)]
struct SlowSink {
    metrics: Arc<std::sync::OnceLock<Arc<JobMetrics>>>,
    consumed: Arc<AtomicU64>,
    max_ahead: Arc<AtomicUsize>,
}

impl OperatorFactory for SlowSink {
    fn plan(&self, _: &PlanContext<'_>) -> weir_engine::Result<Arc<dyn OperatorPlan>> {
        Ok(Arc::new(self.clone()))
    }
}

impl OperatorPlan for SlowSink {
    fn outputs(&self) -> Vec<OutputPort> {
        Vec::new()
    }
    fn create(&self, _: &SubtaskInfo) -> weir_engine::Result<Box<dyn Operator>> {
        Ok(Box::new(self.clone()))
    }
}

#[async_trait]
impl Operator for SlowSink {
    async fn process_batch(
        &mut self,
        _: usize,
        batch: RecordBatch,
        _: &mut Collector,
    ) -> weir_engine::Result<()> {
        tokio::time::sleep(Duration::from_millis(2)).await;
        let consumed = self
            .consumed
            .fetch_add(batch.num_rows() as u64, Ordering::SeqCst);
        if let Some(metrics) = self.metrics.get() {
            let produced = metrics.node("source").unwrap().rows_in();
            let ahead = produced.saturating_sub(consumed) as usize;
            self.max_ahead.fetch_max(ahead, Ordering::SeqCst);
        }
        Ok(())
    }
}

#[tokio::test]
async fn a_slow_sink_bounds_the_rows_in_flight() {
    const BATCH: usize = 500;
    const BATCHES: usize = 200;
    const CAPACITY: usize = 2_000;
    let rows: Vec<(&str, i64, i64)> = (0..BATCH as i64).map(|i| ("k", i, i)).collect();
    let batches = vec![batch(&rows); BATCHES];
    let mut g = GraphBuilder::new();
    let source = g
        .source(
            "source",
            MemorySource::new(schema(), vec![batches]).unwrap(),
            1,
            None,
        )
        .unwrap();
    let pass = g
        .operator(
            "pass",
            &FilterConfig::new("value >= 0"),
            vec![source.main().forward()],
            1,
        )
        .unwrap();
    let sink = SlowSink {
        metrics: Arc::default(),
        consumed: Arc::default(),
        max_ahead: Arc::default(),
    };
    g.operator("sink", &sink, vec![pass.main().forward()], 1)
        .unwrap();
    let config = RuntimeConfig {
        channel_rows: CAPACITY,
        ..RuntimeConfig::default()
    };
    let job = g.build().unwrap().start(&config).await.unwrap();
    sink.metrics.set(job.metrics().clone()).ok().unwrap();
    let metrics = job.join().await.unwrap();

    assert_eq!(
        sink.consumed.load(Ordering::SeqCst),
        (BATCH * BATCHES) as u64
    );
    for channel in &metrics.channels {
        let max = channel.metrics.max_rows_in_flight();
        assert!(
            max <= CAPACITY,
            "{} -> {} held {max} rows",
            channel.from,
            channel.to
        );
    }
    let sink_input = metrics.channels.iter().find(|c| c.to == "sink[0]").unwrap();
    assert_eq!(
        sink_input.metrics.max_rows_in_flight(),
        CAPACITY,
        "the slow sink's input filled up"
    );
    // Two channels of CAPACITY, the batch the filter holds, the one the source is sending.
    let bound = 2 * CAPACITY + 2 * BATCH;
    let ahead = sink.max_ahead.load(Ordering::SeqCst);
    assert!(
        ahead <= bound,
        "the source ran {ahead} rows ahead of the sink (bound {bound})"
    );
    assert!(
        ahead >= CAPACITY,
        "the source did run ahead by the channel's capacity ({ahead})"
    );
}
