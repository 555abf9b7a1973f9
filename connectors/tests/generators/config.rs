//! Job files name generators with `kind:`.

use std::time::Duration;

use weir_connectors::generator::{
    BidGeneratorConfig, ClickstreamConfig, GeneratorConfig, LogKind, LogsConfig, NexmarkConfig,
};

fn parse(yaml: &str) -> GeneratorConfig {
    serde_saphyr::from_str(yaml).unwrap()
}

#[test]
fn each_kind_parses_from_yaml_with_defaults_for_the_rest() {
    assert_eq!(
        parse("kind: bids\nseed: 7\nevents: 100\nmax_disorder: 500ms"),
        GeneratorConfig::Bids(BidGeneratorConfig {
            seed: 7,
            events: Some(100),
            max_disorder: Duration::from_millis(500),
            ..Default::default()
        })
    );
    assert_eq!(
        parse("kind: nexmark\nevents: null\nhot_auction_ratio: 3\nrate_limit: 1000"),
        GeneratorConfig::Nexmark(NexmarkConfig {
            events: None,
            hot_auction_ratio: 3,
            rate_limit: Some(1000),
            ..Default::default()
        })
    );
    assert_eq!(
        parse("kind: logs\nlog_kind: app\nservices: [api, db]\nmalformed_fraction: 0.2"),
        GeneratorConfig::Logs(LogsConfig {
            log_kind: LogKind::App,
            services: vec!["api".into(), "db".into()],
            malformed_fraction: 0.2,
            ..Default::default()
        })
    );
    assert_eq!(
        parse("kind: clickstream\nsession_gap: 10m\nusers: 5000000"),
        GeneratorConfig::Clickstream(ClickstreamConfig {
            session_gap: Duration::from_secs(600),
            users: 5_000_000,
            ..Default::default()
        })
    );
}

#[test]
fn every_default_builds_a_source_with_its_schema() {
    for yaml in [
        "kind: bids",
        "kind: nexmark",
        "kind: logs",
        "kind: clickstream",
    ] {
        let plan = parse(yaml).plan().unwrap();
        assert!(
            plan.schema().field_with_name("event_time").is_ok(),
            "{yaml}"
        );
    }
}

#[test]
fn unknown_kinds_and_settings_are_refused() {
    let unknown = serde_saphyr::from_str::<GeneratorConfig>("kind: tweets").unwrap_err();
    assert!(
        unknown.to_string().contains("unknown variant `tweets`"),
        "{unknown}"
    );
    let typo =
        serde_saphyr::from_str::<GeneratorConfig>("kind: nexmark\nhot_auction: 2").unwrap_err();
    assert!(
        typo.to_string().contains("unknown field `hot_auction`"),
        "{typo}"
    );
    let invalid = parse("kind: logs\nmalformed_fraction: 2")
        .plan()
        .err()
        .unwrap();
    assert_eq!(
        invalid.to_string(),
        "invalid log generator configuration: malformed_fraction must be between 0 and 1, got 2"
    );
}
