//! The same generated input gives identical results at parallelism 1, 2 and 4, for every
//! window flavour, and the sum of the per-window counts is the number of events.

use std::time::Duration;

use arrow::array::{Array, AsArray};
use arrow::compute::{lexsort_to_indices, take_record_batch, SortColumn};
use arrow::datatypes::Int64Type;
use arrow::record_batch::RecordBatch;
use weir_connectors::generator::{BidGenerator, BidGeneratorConfig};
use weir_engine::sinks::CollectSink;
use weir_engine::{
    GraphBuilder, RuntimeConfig, WatermarkStrategy, WindowAggregateConfig, WindowSpec, LATE_PORT,
};

const EVENTS: u64 = 200_000;

async fn run(window: WindowSpec, parallelism: usize) -> (RecordBatch, usize) {
    let generator = BidGeneratorConfig {
        events: Some(EVENTS),
        auctions: 500,
        events_per_second: 10_000,
        partitions: 4,
        batch_size: 1024,
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
    let config = WindowAggregateConfig {
        key: vec!["auction".into()],
        event_time: "event_time".into(),
        window,
        aggregates: vec![
            "count(*) AS bids".into(),
            "max(price) AS max_price".into(),
            "count(DISTINCT bidder) AS bidders".into(),
        ],
        allowed_lateness: Duration::ZERO,
    };
    let w = g
        .operator(
            "window",
            &config,
            vec![bids.main().hash(["auction"])],
            parallelism,
        )
        .unwrap();
    let results = CollectSink::new();
    let late = CollectSink::new();
    g.operator("results", &results, vec![w.main().rebalance()], 1)
        .unwrap();
    g.operator(
        "late",
        &late,
        vec![w.port(LATE_PORT).unwrap().rebalance()],
        1,
    )
    .unwrap();
    g.build()
        .unwrap()
        .run(&RuntimeConfig::default())
        .await
        .unwrap();
    let all = results.concat().unwrap();
    let sort: Vec<SortColumn> = ["auction", "window_start", "window_end"]
        .iter()
        .map(|c| SortColumn {
            values: all.column_by_name(c).unwrap().clone(),
            options: None,
        })
        .collect();
    let sorted = take_record_batch(&all, &lexsort_to_indices(&sort, None).unwrap()).unwrap();
    (sorted, late.batches().iter().map(|b| b.num_rows()).sum())
}

async fn check(window: WindowSpec, windows_per_event: u64) {
    let (one, late) = run(window.clone(), 1).await;
    assert_eq!(late, 0, "disorder stays within the watermark bound");
    let counted: i64 = one
        .column_by_name("bids")
        .unwrap()
        .as_primitive::<Int64Type>()
        .values()
        .iter()
        .sum();
    assert_eq!(counted as u64, EVENTS * windows_per_event);
    assert!(one.num_rows() > 500);
    for parallelism in [2, 4] {
        let (other, late) = run(window.clone(), parallelism).await;
        assert_eq!(late, 0);
        assert_eq!(
            other.num_rows(),
            one.num_rows(),
            "parallelism {parallelism}"
        );
        assert_eq!(
            other, one,
            "parallelism {parallelism} differs from parallelism 1"
        );
    }
    assert!(one.column_by_name("bidders").unwrap().null_count() == 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tumbling_windows_are_the_same_at_any_parallelism() {
    check(
        WindowSpec::Tumbling {
            size: Duration::from_secs(10),
        },
        1,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sliding_windows_are_the_same_at_any_parallelism() {
    check(
        WindowSpec::Sliding {
            size: Duration::from_secs(10),
            slide: Duration::from_secs(2),
        },
        5,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_windows_are_the_same_at_any_parallelism() {
    check(
        WindowSpec::Session {
            gap: Duration::from_millis(50),
        },
        1,
    )
    .await;
}
