//! `weir validate`'s checks: every shipped job file is valid, and each kind of mistake is
//! reported with its message at the line and column of the field at fault.

use std::path::{Path, PathBuf};

use weir_engine::{GraphBuilder, ProjectConfig};
use weir_jobs::{validate, JobDefinition};

/// A valid job; the broken ones below change one or two of its lines.
const JOB: &str = "name: v
sources:
  bids:
    type: generator
    kind: bids
    events: 10
transforms:
  cheap:
    type: filter
    inputs: [bids]
    predicate: price < 100
  per_channel:
    type: window_aggregate
    inputs: [cheap]
    key: [channel]
    event_time: event_time
    window: {kind: tumbling, size: 10s}
    aggregates: [\"count(*) AS n\"]
sinks:
  out:
    type: delta
    inputs: [per_channel]
    table: ${LAKE}/windows
    partition_by: [channel]
  late:
    type: discard
    inputs: [per_channel.late]
";

async fn check(text: &str, lake: &Path) -> Result<weir_jobs::Outline, Vec<String>> {
    let lake = lake.display().to_string();
    validate(text, "job.yaml", |name| {
        (name == "LAKE").then(|| lake.clone())
    })
    .await
    .map_err(|mistakes| mistakes.iter().map(ToString::to_string).collect())
}

/// `JOB` with each `(old, new)` replaced; every `old` must be in it.
fn broken(changes: &[(&str, &str)]) -> String {
    changes.iter().fold(JOB.to_string(), |text, (old, new)| {
        assert!(text.contains(old), "{old}");
        text.replacen(old, new, 1)
    })
}

#[tokio::test]
async fn a_valid_job_prints_its_graph() {
    let lake = tempfile::tempdir().unwrap();
    let outline = check(JOB, lake.path()).await.unwrap();
    assert_eq!(
        outline.to_string(),
        format!(
            "job 'v' is valid
nodes:
  bids         source     generator, parallelism 1
  cheap        transform  filter, parallelism 1
  per_channel  transform  window_aggregate, parallelism 1
  late         sink       discard, parallelism 1
  out          sink       delta, parallelism 1
edges:
  bids -> cheap (forward)
  cheap -> per_channel (hash(channel))
  per_channel.late -> late (forward)
  per_channel -> out (forward)
outputs:
  late: nowhere (rows are counted and dropped)
  out: delta table {}/windows
",
            lake.path().display()
        )
    );
    assert!(
        !lake.path().join("windows").exists(),
        "validation creates nothing"
    );
}

#[tokio::test]
async fn each_mistake_is_reported_at_its_field() {
    let lake = tempfile::tempdir().unwrap();
    let cases: Vec<(&str, String, Vec<&str>)> = vec![
        (
            "unknown field inside a source",
            broken(&[("    events: 10", "    evnts: 10")]),
            vec!["job.yaml:6:5: sources.bids: unknown field `evnts`, expected one of `seed`, `events`, `partitions`, `batch_size`, `auctions`, `bidders`, `events_per_second`, `start_time_ms`, `disorder_fraction`, `max_disorder`, `rate_limit`"],
        ),
        (
            "wrong type inside a sink",
            broken(&[("    partition_by: [channel]", "    target_file_size: big")]),
            vec!["job.yaml:24:23: sinks.out.target_file_size: invalid type: string \"big\", expected u64"],
        ),
        (
            "unknown type",
            broken(&[("    type: discard", "    type: printer")]),
            vec!["job.yaml:26:11: sinks.late.type: unknown variant `printer`, expected one of `delta`, `kafka`, `parquet`, `stdout`, `discard`"],
        ),
        (
            "unknown input node",
            broken(&[("inputs: [cheap]", "inputs: [chep]")]),
            vec!["job.yaml:14:14: transforms.per_channel: input 'chep' is not a source or transform; there are: bids, cheap, per_channel"],
        ),
        (
            "unknown port",
            broken(&[("[per_channel.late]", "[per_channel.lat]")]),
            vec!["job.yaml:27:14: sinks.late: invalid job graph: node 'per_channel' has no output 'lat'; it has: main, late"],
        ),
        (
            "cycle",
            broken(&[("inputs: [bids]", "inputs: [per_channel]")]),
            vec!["job.yaml:10:13: transforms.cheap: the transforms cheap, per_channel read each other in a cycle"],
        ),
        (
            "non-boolean filter predicate",
            broken(&[("price < 100", "price + 1")]),
            vec!["job.yaml:11:16: transforms.cheap: invalid filter predicate `price + 1`: must be boolean, but it is Int64"],
        ),
        (
            "unknown column inside an expression, at its position in the expression",
            broken(&[("price < 100", "price < 100 AND prize > 1")]),
            vec!["job.yaml:11:32: transforms.cheap: invalid filter predicate `price < 100 AND prize > 1`: Schema error: No field named prize. Did you mean 'price'?\nValid fields are auction, bidder, price, channel, event_time."],
        ),
        (
            "unknown column in a window key",
            broken(&[("key: [channel]", "key: [chanel]")]),
            vec!["job.yaml:15:11: transforms.per_channel: key column 'chanel' is not in the input (auction, bidder, price, channel, event_time)"],
        ),
        (
            "event time of a type that is not a time",
            broken(&[("event_time: event_time", "event_time: price")]),
            vec!["job.yaml:16:17: transforms.per_channel: event time column 'price' must be a timestamp, but it is Int64"],
        ),
        (
            "sink partition column missing",
            broken(&[("partition_by: [channel]", "partition_by: [chanel]")]),
            vec!["job.yaml:24:20: sinks.out: partition column 'chanel' is not in the input"],
        ),
        (
            "two mistakes in different nodes",
            broken(&[
                ("price < 100", "price + 1"),
                ("[per_channel.late]", "[bids.dead_letters]"),
            ]),
            vec![
                "job.yaml:11:16: transforms.cheap: invalid filter predicate `price + 1`: must be boolean, but it is Int64",
                "job.yaml:27:14: sinks.late: invalid job graph: node 'bids' has no output 'dead_letters'; it has: main",
            ],
        ),
    ];
    for (what, text, expected) in cases {
        let mistakes = check(&text, lake.path()).await.unwrap_err();
        assert_eq!(mistakes, expected, "{what}");
    }
}

#[tokio::test]
async fn a_delta_sink_whose_table_has_another_column_type_is_refused() {
    let lake = tempfile::tempdir().unwrap();
    let table = format!("{}/windows", lake.path().display());
    // The table exists with `n` as a string; the job writes `n` as count(*), a long.
    let job = JobDefinition::from_yaml(JOB, "job.yaml", |_| Some("lake".into())).unwrap();
    let plan = job.sources["bids"].connector.plan().await.unwrap();
    let mut graph = GraphBuilder::new();
    let bids = graph.source("bids", plan, 1, None).unwrap();
    let projected = graph
        .operator(
            "p",
            &ProjectConfig::new(["channel", "CAST(price AS VARCHAR) AS n"]),
            vec![bids.main().forward()],
            1,
        )
        .unwrap();
    weir_lake::table::open_or_create(&table, projected.main().schema(), &[])
        .await
        .unwrap();
    let mistakes = check(JOB, lake.path()).await.unwrap_err();
    assert_eq!(
        mistakes,
        [format!(
            "job.yaml:23:12: sinks.out: schema: the stream does not fit table {table}: column 'n' is string in the table but long in the stream"
        )]
    );
}

#[tokio::test]
async fn yaml_mistakes_stop_the_check_at_the_first() {
    let lake = tempfile::tempdir().unwrap();
    let text = broken(&[
        ("    events: 10", "    evnts: 10"),
        ("key: [channel]", "key: [chanel]"),
    ]);
    let mistakes = check(&text, lake.path()).await.unwrap_err();
    assert_eq!(mistakes.len(), 1, "{mistakes:?}");
    assert!(mistakes[0].starts_with("job.yaml:6:5: "), "{mistakes:?}");
}

/// Every job file in `examples/jobs/` and `docker/jobs/`, with the variables they use set
/// (a broker that is never contacted; a lake that does not exist yet), run from the
/// repository's root as the README runs them (their dimension tables are relative paths).
#[tokio::test]
async fn every_example_and_docker_job_validates() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    std::env::set_current_dir(&root).unwrap();
    let lake = tempfile::tempdir().unwrap();
    let logs = root.join("examples/data/access.log");
    let vars = [
        ("LAKE", lake.path().display().to_string()),
        ("LOGS", logs.display().to_string()),
        ("EVENTS", "100".to_string()),
        ("PARALLELISM", "2".to_string()),
        ("KAFKA_BROKERS", "127.0.0.1:1".to_string()),
    ];
    let mut files: Vec<PathBuf> = Vec::new();
    for folder in ["examples/jobs", "docker/jobs"] {
        for entry in std::fs::read_dir(root.join(folder)).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "yaml") {
                files.push(path);
            }
        }
    }
    assert!(files.len() >= 6, "{files:?}");
    for path in files {
        let text = std::fs::read_to_string(&path).unwrap();
        let label = path.display().to_string();
        let checked = validate(&text, &label, |name| {
            vars.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.clone())
        })
        .await;
        if label.ends_with("lake_requests_per_level.yaml") {
            // It reads the table the log pipeline writes, which this lake does not have.
            let mistakes = checked.unwrap_err();
            let messages: Vec<_> = mistakes.iter().map(|m| m.message.clone()).collect();
            assert_eq!(
                messages,
                [format!(
                    "sources.requests: invalid delta source configuration: table {}/app/requests does not exist (no Delta log there)",
                    lake.path().display()
                )]
            );
            continue;
        }
        let outline = checked.unwrap_or_else(|mistakes| panic!("{mistakes:#?}"));
        assert!(!outline.nodes.is_empty(), "{label}");
    }
}
