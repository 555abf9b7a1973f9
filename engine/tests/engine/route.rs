//! `route`: every row on `main`, each row on every output whose condition is true (null is
//! false), the rest on `unmatched`; the same rows as a batch `WHERE` at any parallelism;
//! bad outputs fail the build naming the node, the output and the expression.

use std::sync::Arc;

use arrow::array::{ArrayRef, Int64Array, StringArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::record_batch::RecordBatch;
use datafusion::prelude::SessionContext;
use weir_engine::sinks::CollectSink;
use weir_engine::sources::MemorySource;
use weir_engine::{GraphBuilder, RouteConfig, RuntimeConfig};

use super::common::lines;

fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("service", DataType::Utf8, false),
        Field::new("status", DataType::Int64, true),
        Field::new("duration_ms", DataType::Int64, true),
    ]))
}

fn batch(rows: &[(&str, Option<i64>, Option<i64>)]) -> RecordBatch {
    let columns: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.0))),
        Arc::new(Int64Array::from_iter(rows.iter().map(|r| r.1))),
        Arc::new(Int64Array::from_iter(rows.iter().map(|r| r.2))),
    ];
    RecordBatch::try_new(schema(), columns).unwrap()
}

fn input() -> Vec<Vec<RecordBatch>> {
    vec![
        vec![
            batch(&[("a", Some(200), Some(10)), ("b", Some(500), Some(2000))]),
            batch(&[("c", Some(503), Some(5))]),
        ],
        vec![batch(&[
            ("d", None, Some(3000)),
            ("e", Some(404), None),
            ("f", None, None),
        ])],
    ]
}

fn config() -> RouteConfig {
    RouteConfig::new([("errors", "status >= 500"), ("slow", "duration_ms > 1000")])
}

const PORTS: [&str; 4] = ["main", "errors", "slow", "unmatched"];

/// The rows of each port (in `PORTS` order) after routing `input()` at `parallelism`.
async fn route(parallelism: usize) -> Vec<Vec<String>> {
    let mut g = GraphBuilder::new();
    let source = g
        .source(
            "rows",
            MemorySource::new(schema(), input()).unwrap(),
            2,
            None,
        )
        .unwrap();
    let routed = g
        .operator(
            "routed",
            &config(),
            vec![source.main().rebalance()],
            parallelism,
        )
        .unwrap();
    let sinks: Vec<CollectSink> = PORTS.iter().map(|_| CollectSink::new()).collect();
    for (port, sink) in PORTS.iter().zip(&sinks) {
        g.operator(
            &format!("out_{port}"),
            sink,
            vec![routed.port(port).unwrap().rebalance()],
            1,
        )
        .unwrap();
    }
    g.build()
        .unwrap()
        .run(&RuntimeConfig::default())
        .await
        .unwrap();
    sinks.iter().map(|s| lines(&s.batches())).collect()
}

/// The same rows computed in one batch by DataFusion SQL.
async fn reference() -> Vec<Vec<String>> {
    let ctx = SessionContext::new();
    let all: Vec<RecordBatch> = input().into_iter().flatten().collect();
    ctx.register_batch(
        "t",
        arrow::compute::concat_batches(&schema(), &all).unwrap(),
    )
    .unwrap();
    let mut out = Vec::new();
    for condition in [
        "true",
        "status >= 500",
        "duration_ms > 1000",
        "NOT (coalesce(status >= 500, false) OR coalesce(duration_ms > 1000, false))",
    ] {
        let sql = format!("SELECT * FROM t WHERE {condition}");
        let batches = ctx.sql(&sql).await.unwrap().collect().await.unwrap();
        out.push(lines(&batches));
    }
    out
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rows_go_to_every_matching_output_and_the_rest_to_unmatched() {
    let routed = route(1).await;
    assert_eq!(
        routed[0],
        strings(&[
            "a|200|10",
            "b|500|2000",
            "c|503|5",
            "d|null|3000",
            "e|404|null",
            "f|null|null"
        ])
    );
    assert_eq!(routed[1], strings(&["b|500|2000", "c|503|5"]));
    assert_eq!(routed[2], strings(&["b|500|2000", "d|null|3000"]));
    assert_eq!(
        routed[3],
        strings(&["a|200|10", "e|404|null", "f|null|null"])
    );
    assert_eq!(routed, reference().await);
    assert_eq!(route(3).await, routed);
}

fn build_error(config: &RouteConfig) -> String {
    let mut g = GraphBuilder::new();
    let source = g
        .source(
            "rows",
            MemorySource::new(schema(), vec![]).unwrap(),
            1,
            None,
        )
        .unwrap();
    match g.operator("routed", config, vec![source.main().forward()], 1) {
        Ok(_) => panic!("the graph was built"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn a_non_boolean_condition_names_the_output_and_expression() {
    assert_eq!(
        build_error(&RouteConfig::new([("errors", "status + 1")])),
        "invalid route condition `status + 1` in node 'routed': output 'errors': must be boolean, but it is Int64"
    );
}

#[test]
fn an_unknown_column_names_the_output_and_position() {
    let e = build_error(&RouteConfig::new([
        ("errors", "status >= 500"),
        ("slow", "latency > 10"),
    ]));
    assert!(
        e.starts_with(
            "invalid route condition `latency > 10` in node 'routed' at line 1, column 1: output 'slow': "
        ),
        "{e}"
    );
    assert!(e.contains("latency"), "{e}");
}

#[test]
fn reserved_and_invalid_output_names_are_refused() {
    for reserved in ["main", "unmatched"] {
        let e = build_error(&RouteConfig::new([(reserved, "status >= 500")]));
        assert!(
            e.starts_with(&format!(
                "invalid configuration of node 'routed': output '{reserved}' is reserved"
            )),
            "{e}"
        );
    }
    assert_eq!(
        build_error(&RouteConfig::new([("5xx.errors", "status >= 500")])),
        "invalid configuration of node 'routed': output name '5xx.errors' is invalid: use letters, digits, '_' and '-'"
    );
    assert_eq!(
        build_error(&RouteConfig::new(Vec::<(String, String)>::new())),
        "invalid configuration of node 'routed': a router needs at least one output under `outputs`"
    );
}

#[test]
fn route_parses_from_yaml() {
    let parsed: weir_engine::OperatorConfig = serde_saphyr::from_str(
        "type: route\noutputs:\n  errors: \"status >= 500\"\n  slow: duration_ms > 1000\n",
    )
    .unwrap();
    assert_eq!(parsed, weir_engine::OperatorConfig::Route(config()));
}
