//! Bad SQL in a filter, projection or aggregate fails when the graph is built, naming the
//! node, the expression and the position.

use std::time::Duration;

use weir_engine::sources::MemorySource;
use weir_engine::{
    FilterConfig, GraphBuilder, OperatorFactory, ProjectConfig, WindowAggregateConfig, WindowSpec,
};

use super::common::schema;

fn build_error(factory: &dyn OperatorFactory) -> String {
    let mut g = GraphBuilder::new();
    let source = g
        .source(
            "rows",
            MemorySource::new(schema(), vec![]).unwrap(),
            1,
            None,
        )
        .unwrap();
    match g.operator("step", factory, vec![source.main().forward()], 1) {
        Ok(_) => panic!("the graph was built"),
        Err(e) => e.to_string(),
    }
}

fn window(aggregate: &str) -> WindowAggregateConfig {
    WindowAggregateConfig {
        key: vec!["key".into()],
        event_time: "ts".into(),
        window: WindowSpec::Tumbling {
            size: Duration::from_secs(1),
        },
        aggregates: vec![aggregate.into()],
        allowed_lateness: Duration::ZERO,
    }
}

#[test]
fn a_syntax_error_names_the_expression_and_position() {
    let e = build_error(&FilterConfig::new("value > > 1"));
    assert!(
        e.starts_with("invalid filter predicate `value > > 1` in node 'step' at line 1, column 9:"),
        "{e}"
    );
    let e = build_error(&FilterConfig::new("value >"));
    assert!(
        e.starts_with("invalid filter predicate `value >` in node 'step' at the end:"),
        "{e}"
    );
}

#[test]
fn an_unknown_column_names_the_column_and_position() {
    let e = build_error(&FilterConfig::new("value > 1 AND prize < 3"));
    assert!(
        e.starts_with("invalid filter predicate `value > 1 AND prize < 3` in node 'step' at line 1, column 15:"),
        "{e}"
    );
    assert!(e.contains("prize"), "{e}");
}

#[test]
fn a_non_boolean_filter_is_refused() {
    let e = build_error(&FilterConfig::new("value + 1"));
    assert_eq!(
        e,
        "invalid filter predicate `value + 1` in node 'step': must be boolean, but it is Int64"
    );
}

#[test]
fn a_projection_with_an_unknown_function_is_refused() {
    let e = build_error(&ProjectConfig::new(["key", "nosuch(value) AS x"]));
    assert!(
        e.starts_with("invalid projection `nosuch(value) AS x` in node 'step'"),
        "{e}"
    );
    assert!(e.contains("nosuch"), "{e}");
}

#[test]
fn an_aggregate_must_be_an_aggregate_call() {
    let e = build_error(&window("value + 1"));
    assert_eq!(
        e,
        "invalid aggregate `value + 1` in node 'step': expected one aggregate function call, such as `count(*)` or `max(price) AS top`"
    );
    let e = build_error(&window("max(valu)"));
    assert!(
        e.starts_with("invalid aggregate `max(valu)` in node 'step' at line 1, column 5:"),
        "{e}"
    );
}

#[test]
fn window_settings_are_checked() {
    let mut w = window("count(*)");
    w.key = vec!["nope".into()];
    assert_eq!(
        build_error(&w),
        "invalid configuration of node 'step': key column 'nope' is not in the input (key, ts, value)"
    );
    let mut w = window("count(*)");
    w.window = WindowSpec::Sliding {
        size: Duration::from_secs(10),
        slide: Duration::from_secs(3),
    };
    assert_eq!(
        build_error(&w),
        "invalid configuration of node 'step': sliding window size (10000ms) must be a multiple of its slide (3000ms)"
    );
}
