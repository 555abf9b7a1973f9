//! Edges: broadcast copies every row to every subtask, rebalance and hash split them.

use weir_engine::sinks::CollectSink;
use weir_engine::sources::MemorySource;
use weir_engine::{GraphBuilder, Partitioning, RuntimeConfig};

use super::common::{batch, lines, schema};

async fn rows_through(partitioning: Partitioning, parallelism: usize) -> Vec<String> {
    let rows: Vec<(String, i64, i64)> = (0..100).map(|i| (format!("k{}", i % 7), i, i)).collect();
    let refs: Vec<(&str, i64, i64)> = rows.iter().map(|(k, t, v)| (k.as_str(), *t, *v)).collect();
    let batches = refs.chunks(9).map(batch).collect();
    let mut g = GraphBuilder::new();
    let source = g
        .source(
            "rows",
            MemorySource::new(schema(), vec![batches]).unwrap(),
            1,
            None,
        )
        .unwrap();
    let sink = CollectSink::new();
    g.operator(
        "sink",
        &sink,
        vec![source.main().with(partitioning)],
        parallelism,
    )
    .unwrap();
    g.build()
        .unwrap()
        .run(&RuntimeConfig::default())
        .await
        .unwrap();
    lines(&sink.batches())
}

#[tokio::test]
async fn broadcast_delivers_every_row_to_every_subtask() {
    let once = rows_through(Partitioning::Rebalance, 3).await;
    assert_eq!(once.len(), 100);
    let thrice = rows_through(Partitioning::Broadcast, 3).await;
    let expected: Vec<String> = once
        .iter()
        .flat_map(|l| [l.clone(), l.clone(), l.clone()])
        .collect();
    assert_eq!(thrice, expected);
}

#[tokio::test]
async fn hash_partitioning_delivers_every_row_once() {
    let hashed = rows_through(Partitioning::Hash(vec!["key".into()]), 3).await;
    assert_eq!(hashed, rows_through(Partitioning::Forward, 1).await);
}

#[test]
fn a_hash_key_must_exist_and_be_hashable() {
    let mut g = GraphBuilder::new();
    let source = g
        .source(
            "rows",
            MemorySource::new(schema(), vec![]).unwrap(),
            1,
            None,
        )
        .unwrap();
    let e = g
        .operator(
            "sink",
            &CollectSink::new(),
            vec![source.main().hash(["nope"])],
            2,
        )
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "invalid configuration of node 'sink': key column 'nope' is not in the input schema (key, ts, value)"
    );
}
