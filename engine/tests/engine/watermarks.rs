//! The watermark of an operator is the minimum over its inputs; idle inputs stop counting.

use std::sync::Arc;
use std::time::Duration;

use weir_engine::sinks::CollectSink;
use weir_engine::sources::{ChannelSource, ChannelSourceSender};
use weir_engine::{
    GraphBuilder, JobMetrics, RunningJob, RuntimeConfig, UnionConfig, WatermarkStrategy,
    WindowAggregateConfig, WindowSpec,
};

use super::common::{batch, lines, schema, strings};

struct TwoInputs {
    a: ChannelSourceSender,
    b: ChannelSourceSender,
    results: CollectSink,
    job: RunningJob,
}

/// Two channel sources -> union -> 10 s tumbling count per key.
async fn start(b_idle_timeout: Option<Duration>) -> TwoInputs {
    let mut g = GraphBuilder::new();
    let (source_a, a) = ChannelSource::new(schema(), 8);
    let (source_b, b) = ChannelSource::new(schema(), 8);
    let strategy = WatermarkStrategy::bounded("ts", Duration::ZERO);
    let mut strategy_b = strategy.clone();
    strategy_b.idle_timeout = b_idle_timeout;
    let a_node = g.source("a", source_a, 1, Some(strategy)).unwrap();
    let b_node = g.source("b", source_b, 1, Some(strategy_b)).unwrap();
    let union = g
        .operator(
            "union",
            &UnionConfig::default(),
            vec![a_node.main().forward(), b_node.main().forward()],
            1,
        )
        .unwrap();
    let window = WindowAggregateConfig {
        key: vec!["key".into()],
        event_time: "ts".into(),
        window: WindowSpec::Tumbling {
            size: Duration::from_secs(10),
        },
        aggregates: vec!["count(*) AS n".into()],
        allowed_lateness: Duration::ZERO,
    };
    let w = g
        .operator("window", &window, vec![union.main().forward()], 1)
        .unwrap();
    let results = CollectSink::new();
    g.operator("results", &results, vec![w.main().forward()], 1)
        .unwrap();
    let job = g
        .build()
        .unwrap()
        .start(&RuntimeConfig::default())
        .await
        .unwrap();
    TwoInputs { a, b, results, job }
}

async fn until_rows_in(metrics: &Arc<JobMetrics>, node: &str, rows: u64) {
    for _ in 0..1000 {
        if metrics.node(node).unwrap().rows_in() >= rows {
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("{node} never received {rows} rows");
}

async fn until_results(results: &CollectSink, rows: usize) -> Vec<String> {
    for _ in 0..1000 {
        let got = lines(&results.batches());
        if got.len() >= rows {
            return got;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("never got {rows} result rows");
}

#[tokio::test]
async fn the_slowest_input_holds_the_watermark() {
    let t = start(None).await;
    t.a.send(batch(&[("a", 15_000, 1)])).await.unwrap();
    t.b.send(batch(&[("b", 1_000, 1)])).await.unwrap();
    until_rows_in(t.job.metrics(), "window", 2).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        t.results.batches().is_empty(),
        "input b is at 1 s, so the window [0, 10 s) must not fire"
    );
    t.b.send(batch(&[("b", 12_000, 1)])).await.unwrap();
    assert_eq!(
        until_results(&t.results, 1).await,
        strings(&["b|0|10000|1"])
    );
    drop((t.a, t.b));
    t.job.join().await.unwrap();
    assert_eq!(
        lines(&t.results.batches()),
        strings(&["b|0|10000|1", "a|10000|20000|1", "b|10000|20000|1"])
    );
}

#[tokio::test]
async fn an_idle_input_stops_holding_the_watermark_after_the_timeout() {
    let t = start(Some(Duration::from_millis(200))).await;
    t.a.send(batch(&[("a", 1_000, 1)])).await.unwrap();
    t.a.send(batch(&[("a", 15_000, 1)])).await.unwrap();
    // b never sends anything but stays open; after 200 ms it is idle and [0, 10 s) fires.
    assert_eq!(
        until_results(&t.results, 1).await,
        strings(&["a|0|10000|1"])
    );
    // b wakes up: its rows count again and the watermark does not go backwards.
    t.b.send(batch(&[("b", 16_000, 1)])).await.unwrap();
    // Let b's row reach the window before a's end of input moves the watermark to the end
    // of time (while b is still idle, that would make the row late).
    until_rows_in(t.job.metrics(), "window", 3).await;
    drop((t.a, t.b));
    t.job.join().await.unwrap();
    assert_eq!(
        lines(&t.results.batches()),
        strings(&["a|0|10000|1", "a|10000|20000|1", "b|10000|20000|1"])
    );
}

#[tokio::test]
async fn without_an_idle_timeout_a_silent_input_holds_the_watermark() {
    let t = start(None).await;
    t.a.send(batch(&[("a", 1_000, 1)])).await.unwrap();
    t.a.send(batch(&[("a", 15_000, 1)])).await.unwrap();
    until_rows_in(t.job.metrics(), "window", 2).await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(t.results.batches().is_empty());
    drop((t.a, t.b));
    t.job.join().await.unwrap();
    assert_eq!(
        lines(&t.results.batches()),
        strings(&["a|0|10000|1", "a|10000|20000|1"])
    );
}
