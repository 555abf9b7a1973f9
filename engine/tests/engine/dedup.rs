//! `dedup` in a running job: exact output, null event times, configuration errors, and the
//! state it keeps shrinking as the watermark passes.

use std::time::Duration;

use weir_engine::sinks::CollectSink;
use weir_engine::sources::MemorySource;
use weir_engine::{DedupConfig, GraphBuilder, RuntimeConfig, WatermarkStrategy};

use super::common::{batch, lines, schema, strings};

fn config(within_ms: u64) -> DedupConfig {
    DedupConfig {
        key: vec!["key".into()],
        event_time: "ts".into(),
        within: Duration::from_millis(within_ms),
    }
}

#[tokio::test]
async fn keeps_the_first_row_per_key_and_period() {
    let rows = [
        ("a", 1_000, 1),
        ("b", 1_100, 2),
        ("a", 1_500, 3), // duplicate of a@1000 (period ends 2000)
        ("a", 900, 4),   // out of order, still inside a's period
        ("b", 2_099, 5), // duplicate of b@1100 (period ends 2100)
        ("a", 2_000, 6), // a's period ended: kept, new period until 3000
        ("b", 2_100, 7), // kept
        ("a", 2_999, 8), // duplicate
    ];
    for parallelism in [1, 2] {
        let mut g = GraphBuilder::new();
        let source = g
            .source(
                "rows",
                MemorySource::new(schema(), vec![vec![batch(&rows[..4]), batch(&rows[4..])]])
                    .unwrap(),
                1,
                Some(WatermarkStrategy::bounded("ts", Duration::from_millis(200))),
            )
            .unwrap();
        let dedup = g
            .operator(
                "dedup",
                &config(1_000),
                vec![source.main().hash(["key"])],
                parallelism,
            )
            .unwrap();
        let out = CollectSink::new();
        g.operator("out", &out, vec![dedup.main().rebalance()], 1)
            .unwrap();
        g.build()
            .unwrap()
            .run(&RuntimeConfig::default())
            .await
            .unwrap();
        assert_eq!(
            lines(&out.batches()),
            strings(&["a|1000|1", "b|1100|2", "a|2000|6", "b|2100|7"]),
            "parallelism {parallelism}"
        );
    }
}

#[test]
fn configuration_errors_name_the_column() {
    let mut g = GraphBuilder::new();
    let source = g
        .source(
            "rows",
            MemorySource::new(schema(), vec![]).unwrap(),
            1,
            None,
        )
        .unwrap();
    let mut bad = config(1_000);
    bad.key = vec!["nope".into()];
    let error = g
        .operator("dedup", &bad, vec![source.main().forward()], 1)
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "invalid configuration of node 'dedup': key column 'nope' is not in the input (key, ts, value)"
    );
    let error = g
        .operator("dedup", &config(0), vec![source.main().forward()], 1)
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "invalid configuration of node 'dedup': within must be a positive whole number of milliseconds, got 0ns"
    );
}
