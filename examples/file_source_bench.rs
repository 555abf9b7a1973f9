//! File source throughput: JSON-lines log files read by a bounded file source and decoded
//! into Arrow rows (discarded after), at parallelism 1 (one file) and 2 (two files),
//! printing MB/s, rows/s, CPU seconds and peak memory as a Markdown table.
//!
//! `cargo run --release --example file_source_bench [-- --mb N]` (N MB per file)

use std::path::Path;
use std::time::Instant;

#[path = "support/process.rs"]
mod process;
use process::{cpu_seconds, peak_mib, reset_peak};
#[path = "support/json_logs.rs"]
mod json_logs;
use json_logs::{format, write_file};

use weir_connectors::files::{FileSource, FileSourceConfig};
use weir_engine::sinks::DiscardSink;
use weir_engine::{GraphBuilder, RuntimeConfig};

/// Reads every file in `dir` at `parallelism`; returns (seconds, rows, CPU seconds, peak MiB).
async fn run(dir: &Path, parallelism: usize) -> (f64, u64, f64, f64) {
    let pattern = format!("{}/*.jsonl", dir.display());
    let source = FileSource::new(FileSourceConfig::lines(&pattern, format()))
        .await
        .expect("source");
    let mut g = GraphBuilder::new();
    let files = g
        .source("files", source, parallelism, None)
        .expect("source node");
    g.operator(
        "sink",
        &DiscardSink,
        vec![files.main().forward()],
        parallelism,
    )
    .expect("sink");
    let job = g.build().expect("graph");
    reset_peak();
    let cpu = cpu_seconds();
    let started = Instant::now();
    let metrics = job.run(&RuntimeConfig::default()).await.expect("job");
    let wall = started.elapsed().as_secs_f64();
    let rows = metrics.node("files").map_or(0, |n| n.rows_in());
    (wall, rows, cpu_seconds() - cpu, peak_mib())
}

fn main() {
    let mut mb = 200u64;
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--mb") {
        mb = args
            .get(i + 1)
            .and_then(|v| v.parse().ok())
            .expect("--mb N");
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!("JSON lines, 7 columns, {mb} MB per file, {cores} cores");
    println!(
        "| files | parallelism | bytes/line | MB/s | rows/s | CPU s | MB per CPU-second | peak MiB |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    let dir = tempfile::tempdir().expect("temp dir");
    let mut expected = 0;
    let mut bytes = 0;
    for files in [1usize, 2] {
        let path = dir.path().join(format!("part-{files}.jsonl"));
        expected += write_file(&path, mb, files as u64);
        bytes += std::fs::metadata(&path).expect("size").len();
        let (wall, rows, cpu, peak) = runtime.block_on(run(dir.path(), files));
        assert_eq!(rows, expected, "every line read once");
        let megabytes = bytes as f64 / 1e6;
        println!(
            "| {files} | {files} | {:.0} | {:.0} | {:.2} M | {:.2} | {:.0} | {:.0} |",
            bytes as f64 / rows as f64,
            megabytes / wall,
            rows as f64 / wall / 1e6,
            cpu,
            megabytes / cpu,
            peak
        );
    }
}
