//! What quality rules on a Delta sink cost a job: JSON-lines log files -> file source ->
//! Delta table at parallelism 2 with 1 s checkpoints, without rules and with 10 rules on
//! the sink (every kind a stream judges: range, set, regex, condition, completeness x2,
//! uniqueness, freshness, volume, a p99), alternating, in one process: rows/s, CPU
//! seconds, peak memory.
//!
//! `cargo run --release --example quality_gate_bench [-- --mb N --runs N]`

use std::path::Path;
use std::time::Instant;

#[path = "support/process.rs"]
mod process;
use process::{cpu_seconds, peak_mib, reset_peak};
// The decoding format is spelled out in the job file here.
#[allow(dead_code)]
#[path = "support/json_logs.rs"]
mod json_logs;

use weir_jobs::{JobDefinition, JobHandle, JobOutcome, StartOptions};

const RULES: &str = "
    quality:
      rules:
        - {name: status_known, range: {column: status, min: 100, max: 599}}
        - {name: levels, in_set: {column: level, values: [INFO, WARN, ERROR, DEBUG]}}
        - {name: paths, regex: {column: path, pattern: '^/v1/'}}
        - {name: latency_sane, valid: 'latency_ms >= 0 AND latency_ms < 60000'}
        - {name: messages, completeness: {column: msg, max_null_fraction: 0.01}}
        - {name: services, completeness: {column: service, max_null_fraction: 0}}
        - {name: one_line_per_moment, unique: {columns: [ts, service, path]}}
        - {name: fresh, freshness: {column: ts, max_age: 36500d}}
        - {name: lines, volume: {min: 1}}
        - {name: p99_latency, distribution: {column: latency_ms, statistic: p99, max: 1000}}
";

fn arg(args: &[String], name: &str, default: u64) -> u64 {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map_or(default, |v| v.parse().expect("a number"))
}

/// One run of the job into a new table; returns (seconds, rows, CPU seconds, peak MiB).
async fn run(dir: &Path, logs: &Path, label: &str, rules: bool) -> (f64, u64, f64, f64) {
    let yaml = format!(
        "name: {label}\nparallelism: 2\n\
         checkpoints: {{interval: 1s, location: {dir}/checkpoints/{label}}}\n\
         sources:\n  logs:\n    type: file\n    path: {logs}\n    mode: bounded\n    format:\n      type: json\n      columns:\n\
         \x20       - {{name: ts, type: timestamp}}\n\
         \x20       - {{name: level, type: string}}\n\
         \x20       - {{name: service, type: string}}\n\
         \x20       - {{name: latency_ms, type: int64}}\n\
         \x20       - {{name: path, type: string}}\n\
         \x20       - {{name: status, type: int32}}\n\
         \x20       - {{name: msg, type: string}}\n\
         sinks:\n  lake:\n    type: delta\n    inputs: [logs]\n    table: {dir}/lake/{label}\n{}",
        if rules { RULES } else { "" },
        dir = dir.display(),
        logs = logs.display(),
    );
    let job = JobDefinition::from_yaml(&yaml, "bench.yaml", |_| None).expect("job");
    reset_peak();
    let (cpu, started) = (cpu_seconds(), Instant::now());
    let handle = JobHandle::start(job, StartOptions::default());
    let outcome = handle.wait().await;
    let seconds = started.elapsed().as_secs_f64();
    assert!(matches!(outcome, JobOutcome::Finished), "{outcome:?}");
    let metrics = handle.metrics().expect("metrics");
    let rows = metrics.node("logs").map_or(0, |n| n.rows_in());
    (seconds, rows, cpu_seconds() - cpu, peak_mib())
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let mb = arg(&args, "--mb", 200);
    let runs = arg(&args, "--runs", 2);
    let dir = tempfile::tempdir().expect("temp dir");
    let logs = dir.path().join("logs.json");
    let lines = json_logs::write_file(&logs, mb, 0);
    println!("{lines} lines, {mb} MB of JSON logs\n");
    println!("| run | rules | seconds | rows/s | rows/s per core | CPU s | peak MiB |");
    println!("|---|---:|---:|---:|---:|---:|---:|");
    let mut best = [0.0f64; 2];
    for round in 0..runs {
        for rules in [false, true] {
            let label = format!("r{round}-{}", if rules { "gated" } else { "plain" });
            let (seconds, rows, cpu, peak) = run(dir.path(), &logs, &label, rules).await;
            assert_eq!(rows, lines, "every line read");
            let rate = rows as f64 / seconds;
            best[usize::from(rules)] = best[usize::from(rules)].max(rate);
            println!(
                "| {round} | {} | {seconds:.2} | {rate:.0} | {:.0} | {cpu:.1} | {peak:.0} |",
                if rules { 10 } else { 0 },
                rows as f64 / cpu
            );
        }
    }
    println!(
        "\nbest rows/s without rules {:.0}, with 10 rules {:.0}: {:.1}% lost",
        best[0],
        best[1],
        100.0 * (1.0 - best[1] / best[0])
    );
}
