//! Job files: what parses, what builds, and the errors a user sees for mistakes.

#[path = "definition/no_panic.rs"]
mod no_panic;
#[path = "definition/positions.rs"]
mod positions;
#[path = "definition/safe_yaml.rs"]
mod safe_yaml;
#[path = "definition/validate.rs"]
mod validate;

use weir_jobs::{build_graph, JobDefinition, PartitionSpec};

const JOB: &str = r#"
name: demo
parallelism: 2
sources:
  bids:
    type: generator
    kind: bids
    events: 1000
    watermark: {event_time: event_time, max_out_of_orderness: 1s}
transforms:
  per_channel:
    type: window_aggregate
    inputs: [bids]
    key: [channel]
    event_time: event_time
    window: {kind: tumbling, size: 10s}
    aggregates: ["count(*) AS n"]
  cheap:
    type: filter
    inputs: [bids]
    predicate: price < 100
    partition: {hash: [auction]}
sinks:
  out:
    type: stdout
    inputs: [per_channel]
    format: json_lines
  rest:
    type: discard
    inputs: [cheap]
  late:
    type: discard
    inputs: [per_channel.late]
"#;

fn parse(text: &str) -> Result<JobDefinition, String> {
    JobDefinition::from_yaml(text, "job.yaml", |_| None).map_err(|e| e.to_string())
}

async fn build(text: &str) -> Result<(), String> {
    let job = parse(text)?;
    build_graph(&job)
        .await
        .map(|_| ())
        .map_err(|e| e.to_string())
}

#[tokio::test]
async fn a_job_file_parses_and_builds() {
    let job = parse(JOB).unwrap();
    assert_eq!(job.name, "demo");
    assert_eq!(
        job.transforms["cheap"].partition,
        Some(PartitionSpec::Hash(vec!["auction".into()]))
    );
    let config = job.runtime_config();
    assert_eq!(
        config.checkpoint_location.as_deref(),
        Some("checkpoints/demo")
    );
    assert_eq!(
        config.checkpoint_interval,
        Some(std::time::Duration::from_secs(10))
    );
    build(JOB).await.unwrap();
}

#[test]
fn every_example_and_docker_job_parses() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut files = Vec::new();
    for folder in ["examples/jobs", "docker/jobs"] {
        for entry in std::fs::read_dir(root.join(folder)).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "yaml") {
                files.push(path);
            }
        }
    }
    assert_eq!(files.len(), 14, "{files:?}");
    for path in files {
        JobDefinition::from_file(&path).unwrap_or_else(|e| panic!("{e}"));
    }
}

#[test]
fn yaml_mistakes_name_the_file_line_and_field() {
    let e = parse("name: x\nsources: {}\nsinks: {}\nparalelism: 2\n").unwrap_err();
    assert!(
        e.starts_with("job.yaml:4:1: unknown field `paralelism`"),
        "{e}"
    );
    let typo = JOB.replace("predicate: price < 100", "predicat: price < 100");
    let e = parse(&typo).unwrap_err();
    assert!(e.contains("unknown field `predicat`"), "{e}");
    let e = parse(&JOB.replace("type: stdout", "type: printer")).unwrap_err();
    assert!(e.contains("unknown variant `printer`"), "{e}");
}

#[test]
fn names_are_checked() {
    let e = parse(&JOB.replace("  rest:", "  cheap:")).unwrap_err();
    assert_eq!(
        e,
        "job.yaml: node name 'cheap' is used in both transforms and sinks"
    );
    let e = parse(&JOB.replace("name: demo", "name: my job")).unwrap_err();
    assert_eq!(
        e,
        "job.yaml: job name 'my job' must be letters, digits, '_' or '-'"
    );
    let e = parse("name: x\nsources: {}\nsinks: {}\n").unwrap_err();
    assert_eq!(e, "job.yaml: a job needs at least one source and one sink");
}

#[tokio::test]
async fn wiring_mistakes_name_the_node() {
    let e = build(&JOB.replace("inputs: [cheap]", "inputs: [chep]"))
        .await
        .unwrap_err();
    assert_eq!(
        e,
        "node 'rest': input 'chep' is not a source or transform; there are: bids, cheap, per_channel"
    );
    let e = build(&JOB.replace("inputs: [per_channel.late]", "inputs: [per_channel.lat]"))
        .await
        .unwrap_err();
    assert_eq!(
        e,
        "node 'late': invalid job graph: node 'per_channel' has no output 'lat'; it has: main, late"
    );
    let e = build(&JOB.replace("inputs: [cheap]", "inputs: [cheap, bids]"))
        .await
        .unwrap_err();
    assert_eq!(
        e,
        "node 'rest': a sink reads exactly one input, got 2 (union them in a transform first)"
    );
}

#[tokio::test]
async fn a_cycle_between_transforms_is_refused() {
    let job = r#"
name: cyclic
sources:
  s: {type: generator, kind: bids, events: 10}
transforms:
  a: {type: filter, inputs: [b], predicate: price > 1}
  b: {type: filter, inputs: [a], predicate: price > 2}
sinks:
  out: {type: discard, inputs: [a]}
"#;
    assert_eq!(
        build(job).await.unwrap_err(),
        "node 'a': the transforms a, b read each other in a cycle"
    );
}

#[tokio::test]
async fn operator_errors_name_the_node_and_expression() {
    let e = build(&JOB.replace("price < 100", "prize < 100"))
        .await
        .unwrap_err();
    assert!(e.contains("cheap"), "{e}");
    assert!(e.contains("prize"), "{e}");
}

#[test]
fn environment_variables_fill_in_the_file() {
    let text = JOB.replace("parallelism: 2", "parallelism: ${P}");
    let job = JobDefinition::from_yaml(&text, "job.yaml", |name| {
        (name == "P").then(|| "3".to_string())
    })
    .unwrap();
    assert_eq!(job.parallelism, 3);
    let e = parse(&text).unwrap_err();
    assert_eq!(
        e,
        "job.yaml:3:14: environment variable P is not set (write ${P:-default} to give a default)"
    );
}

#[test]
fn kafka_sources_parse_with_every_start() {
    use weir_connectors::kafka::StartOffset;
    use weir_jobs::sources::SourceConfig;
    for (start, expected) in [
        ("earliest", StartOffset::Earliest),
        ("latest", StartOffset::Latest),
        (
            "{timestamp: 1767225600000}",
            StartOffset::Timestamp(1_767_225_600_000),
        ),
    ] {
        let text = format!(
            "name: k\nsources:\n  events:\n    type: kafka\n    brokers: b:9092\n    topics: [t]\n    start: {start}\n    format: {{type: json, columns: [{{name: a, type: int64}}]}}\nsinks:\n  out: {{type: discard, inputs: [events]}}\n"
        );
        let job = parse(&text).unwrap();
        let SourceConfig::Kafka(kafka) = &job.sources["events"].connector else {
            panic!("not a kafka source");
        };
        assert_eq!(kafka.start, expected);
    }
}

#[tokio::test]
async fn every_generator_kind_builds_from_a_job_file() {
    for kind in [
        "kind: bids",
        "kind: nexmark",
        "kind: logs\n    log_kind: app",
        "kind: clickstream",
    ] {
        let text = format!(
            "name: g\nsources:\n  s:\n    type: generator\n    {kind}\n    events: 100\nsinks:\n  out: {{type: discard, inputs: [s]}}\n"
        );
        build(&text).await.unwrap_or_else(|e| panic!("{kind}: {e}"));
    }
    let e = parse("name: g\nsources:\n  s: {type: generator, kind: tweets}\nsinks:\n  out: {type: discard, inputs: [s]}\n").unwrap_err();
    assert!(e.contains("unknown variant `tweets`"), "{e}");
}

#[tokio::test]
async fn parse_transforms_decode_a_text_column() {
    let job = r#"
name: p
sources:
  s: {type: generator, kind: logs, log_kind: app, events: 10}
transforms:
  parsed:
    type: parse
    inputs: [s]
    column: line
    format: {type: json, columns: [{name: service, type: string}]}
sinks:
  out: {type: discard, inputs: [parsed]}
  bad: {type: discard, inputs: [parsed.dead_letters]}
"#;
    build(job).await.unwrap();
    let e = build(&job.replace("column: line", "column: lines"))
        .await
        .unwrap_err();
    assert!(e.contains("column 'lines' is not in the input"), "{e}");
    let e = parse(&job.replace("type: parse", "type: parsee")).unwrap_err();
    assert!(
        e.contains("unknown variant `parsee`, expected one of `enrich`, `parse`, "),
        "{e}"
    );
}

#[tokio::test]
async fn a_compact_job_is_a_compaction_source_into_stdout_and_its_mistakes_are_named() {
    let job =
        parse("name: c\nkind: compact\ncompact: {table: lake/t, every: 30s, cluster_by: [a, b]}\n")
            .unwrap();
    assert_eq!(job.kind, weir_jobs::JobKind::Compact);
    let nodes: Vec<&str> = job
        .sources
        .keys()
        .chain(job.sinks.keys())
        .map(String::as_str)
        .collect();
    assert_eq!(nodes, ["compaction", "compactions"]);
    build("name: c\nkind: compact\ncompact: {table: lake/t}\n")
        .await
        .unwrap();

    for (text, message) in [
        (
            "name: c\nkind: compact\n",
            "job.yaml: a `kind: compact` job needs a `compact:` section (table, every, ...)",
        ),
        (
            "name: c\ncompact: {table: t}\nsources: {b: {type: generator, kind: bids}}\nsinks: {d: {type: discard, inputs: [b]}}\n",
            "job.yaml: `compact:` belongs to a `kind: compact` job",
        ),
        (
            "name: c\nkind: compact\ncompact: {table: t}\nsinks: {d: {type: discard, inputs: [b]}}\n",
            "job.yaml: a `kind: compact` job has no sources, transforms or sinks: it compacts its `compact.table`",
        ),
    ] {
        assert_eq!(parse(text).unwrap_err(), message, "{text}");
    }
    assert_eq!(
        build("name: c\nkind: compact\ncompact: {table: t, every: 0s}\n")
            .await
            .unwrap_err(),
        "node 'compaction': invalid compaction configuration: every must be longer than 0"
    );
}
