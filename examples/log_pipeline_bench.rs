//! The log pipeline end to end, whole process, as Markdown: generated log files (about 1%
//! malformed lines) -> file source -> parse -> enrich -> route -> Delta tables, through the
//! job runner at parallelism 2, as `weir run` runs it:
//!
//! 1. JSON app logs with `examples/jobs/log_pipeline_files.yaml` (parse, enrich with the
//!    service table, route errors and slow requests, four Delta tables, dead letters);
//! 2. Apache combined access logs: parse, derive the date and status class, route server
//!    errors, Delta tables partitioned by date and status class, dead letters.
//!
//! Reports MB/s and lines/s of input, CPU seconds (and lines per CPU second) and peak
//! memory of the process.
//!
//! `cargo run --release --example log_pipeline_bench [-- --lines N]` (default 2,000,000 of each)

use std::io::{BufWriter, Write};
use std::path::Path;
use std::time::Instant;

#[path = "support/process.rs"]
mod process;
use process::{cpu_seconds, peak_mib, reset_peak};

use arrow::array::{Array, StringArray};
use weir_connectors::generator::logs::{LogGenerator, LogKind, LogsConfig};
use weir_engine::{SourcePlan, SubtaskInfo};
use weir_jobs::{JobDefinition, JobHandle, JobOutcome, StartOptions};

/// The access-log pipeline: what `log_pipeline_files.yaml` does for app logs, for the
/// combined format (it has no service to enrich by).
const ACCESS_PIPELINE: &str = "name: access-pipeline
parallelism: 2
checkpoints:
  interval: 10s
  location: ${LAKE}/_checkpoints/access
sources:
  access:
    type: file
    path: ${LOGS}
    format: {type: access_log, variant: combined}
transforms:
  dated:
    type: project
    inputs: [access]
    columns:
      - timestamp
      - CAST(timestamp AS DATE) AS date
      - client_ip
      - method
      - path
      - status
      - bytes
      - user_agent
      - \"CASE WHEN status >= 500 THEN '5xx' WHEN status >= 400 THEN '4xx' ELSE 'ok' END AS status_class\"
  routed:
    type: route
    inputs: [dated]
    outputs:
      errors: status >= 500
sinks:
  ordinary: {type: discard, inputs: [routed.unmatched]}
  requests:
    type: delta
    inputs: [routed]
    table: ${LAKE}/access/requests
    partition_by: [date, status_class]
  errors:
    type: delta
    inputs: [routed.errors]
    table: ${LAKE}/access/errors
  dead_letters:
    type: delta
    inputs: [access.dead_letters]
    table: ${LAKE}/access/dead_letters
";

fn arg(args: &[String], name: &str, default: u64) -> u64 {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map_or(default, |v| v.parse().expect("a number"))
}

/// Writes `lines` generated log lines of `kind` to `path`; returns the bytes written.
async fn write_logs(path: &Path, kind: LogKind, lines: u64) -> u64 {
    let generator = LogGenerator::new(LogsConfig {
        log_kind: kind,
        events: Some(lines),
        partitions: 1,
        ..LogsConfig::default()
    })
    .expect("generator");
    let subtask = SubtaskInfo {
        gauges: Default::default(),
        node: "logs".into(),
        index: 0,
        parallelism: 1,
        max_parallelism: 128,
    };
    let mut source = generator.create(&subtask).expect("source");
    let mut out = BufWriter::new(std::fs::File::create(path).expect("create"));
    let mut bytes = 0;
    while let Some(batch) = source.next_batch().await.expect("batch") {
        let column = batch.batch.column_by_name("line").expect("line column");
        let text = column.as_any().downcast_ref::<StringArray>().expect("text");
        for i in 0..text.len() {
            let line = text.value(i);
            out.write_all(line.as_bytes()).expect("write");
            out.write_all(b"\n").expect("write");
            bytes += line.len() as u64 + 1;
        }
    }
    out.flush().expect("flush");
    bytes
}

/// Runs `yaml` on the file at `logs` into `lake` to its end; returns (seconds, CPU
/// seconds, peak MiB, rows read, dead letters).
async fn run(yaml: &str, logs: &Path, lake: &Path) -> (f64, f64, f64, u64, u64) {
    let vars = [
        ("LOGS", logs.display().to_string()),
        ("LAKE", lake.display().to_string()),
        ("PARALLELISM", "2".to_string()),
        ("CHECKPOINT_INTERVAL", "10s".to_string()),
    ];
    let job = JobDefinition::from_yaml(yaml, "bench.yaml", |name| {
        vars.iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.clone())
    })
    .expect("job");
    let source = job.sources.keys().next().expect("a source").clone();
    reset_peak();
    let (cpu, started) = (cpu_seconds(), Instant::now());
    let handle = JobHandle::start(job, StartOptions::default());
    let outcome = handle.wait().await;
    let seconds = started.elapsed().as_secs_f64();
    assert!(matches!(outcome, JobOutcome::Finished), "{outcome:?}");
    let metrics = handle.metrics().expect("metrics");
    let node = metrics.node(&source).expect("source metrics");
    (
        seconds,
        cpu_seconds() - cpu,
        peak_mib(),
        node.rows_in(),
        node.port_rows("dead_letters"),
    )
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let lines = arg(&args, "--lines", 2_000_000);
    let dir = tempfile::tempdir().expect("temp dir");
    let app_yaml = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/jobs/log_pipeline_files.yaml"),
    )
    .expect("log_pipeline_files.yaml")
    .replace(
        "examples/data/services.csv",
        &Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("examples/data/services.csv")
            .display()
            .to_string(),
    );
    println!("| input | lines | MB | seconds | MB/s | lines/s | lines per CPU s | CPU s | peak MiB | dead letters |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    let cases = [
        ("JSON app logs", LogKind::App, app_yaml.as_str()),
        ("combined access logs", LogKind::Access, ACCESS_PIPELINE),
    ];
    for (label, kind, yaml) in cases {
        let logs = dir.path().join(format!("{kind:?}.log"));
        let bytes = write_logs(&logs, kind, lines).await;
        let lake = dir.path().join(format!("lake-{kind:?}"));
        let (seconds, cpu, peak, rows, dead) = run(yaml, &logs, &lake).await;
        assert_eq!(rows + dead, lines, "every line is a row or a dead letter");
        let mb = bytes as f64 / 1e6;
        println!(
            "| {label} | {lines} | {mb:.0} | {seconds:.2} | {:.0} | {:.0} | {:.0} | {cpu:.1} | {peak:.0} | {dead} |",
            mb / seconds,
            lines as f64 / seconds,
            lines as f64 / cpu,
        );
        std::fs::remove_file(&logs).expect("remove logs");
    }
}
