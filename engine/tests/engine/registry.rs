//! Operators are configured by `type` through the one registry, as job files will.

use std::time::Duration;

use weir_engine::{FilterConfig, OperatorConfig, WindowAggregateConfig, WindowSpec};

#[test]
fn operator_configurations_parse_by_type() {
    let yaml = r#"
- type: filter
  predicate: "value > 3"
- type: window_aggregate
  key: [key]
  event_time: ts
  window: {kind: sliding, size: 10s, slide: 2s}
  aggregates: ["count(*) AS n", "max(value)"]
  allowed_lateness: 1m
"#;
    let parsed: Vec<OperatorConfig> = serde_saphyr::from_str(yaml).unwrap();
    assert_eq!(
        parsed,
        vec![
            OperatorConfig::Filter(FilterConfig::new("value > 3")),
            OperatorConfig::WindowAggregate(WindowAggregateConfig {
                key: vec!["key".into()],
                event_time: "ts".into(),
                window: WindowSpec::Sliding {
                    size: Duration::from_secs(10),
                    slide: Duration::from_secs(2),
                },
                aggregates: vec!["count(*) AS n".into(), "max(value)".into()],
                allowed_lateness: Duration::from_secs(60),
            }),
        ]
    );
}

#[test]
fn unknown_types_and_fields_are_refused() {
    let e = serde_saphyr::from_str::<OperatorConfig>("type: sort\nby: x").unwrap_err();
    assert!(e.to_string().contains("unknown variant `sort`"), "{e}");
    let e = serde_saphyr::from_str::<OperatorConfig>("type: filter\npredicate: a\nwhere: b")
        .unwrap_err();
    assert!(e.to_string().contains("unknown field `where`"), "{e}");
}
