//! What a compaction job beside a stream costs the stream: generated bids -> Delta table at
//! parallelism 2 with 1 s checkpoints (two files a second), run alone and with a
//! `kind: compact` job on the same table every second (`--every` seconds), alternating,
//! in one process:
//! events/s, CPU seconds, files left, and the bytes the compactions rewrote.
//!
//! `cargo run --release --example stream_compaction_bench [-- --events N --runs N --every S]`

use std::path::Path;
use std::time::Instant;

#[path = "support/process.rs"]
mod process;
use process::{cpu_seconds, peak_mib, reset_peak};

use weir_jobs::{JobDefinition, JobHandle, JobOutcome, StartOptions};
use weir_lake::table::open_existing;

fn arg(args: &[String], name: &str, default: u64) -> u64 {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map_or(default, |v| v.parse().expect("a number"))
}

fn job(yaml: &str, file: &str) -> JobDefinition {
    JobDefinition::from_yaml(yaml, file, |_| None).expect("job")
}

/// The files the table's newest version holds, and the bytes its compaction commits
/// rewrote (read from their commit info).
async fn files_and_rewritten(table: &str) -> (usize, u64) {
    let opened = open_existing(table).await.expect("open").expect("a table");
    let files = opened.snapshot().expect("snapshot").log_data().num_files();
    let mut rewritten = 0;
    for entry in std::fs::read_dir(Path::new(table).join("_delta_log")).expect("log") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "json") {
            let text = std::fs::read_to_string(&path).expect("commit");
            for line in text.lines().filter(|l| l.contains("\"commitInfo\"")) {
                let info: serde_json::Value = serde_json::from_str(line).expect("json");
                if let Some(bytes) = info["commitInfo"]["weir.compaction"]["bytesRemoved"].as_u64()
                {
                    rewritten += bytes;
                }
            }
        }
    }
    (files, rewritten)
}

/// One run of the stream into a new table, with or without the compaction job; returns
/// (seconds, CPU seconds, peak MiB, files left, bytes rewritten).
async fn run(
    dir: &Path,
    label: &str,
    events: u64,
    compaction: Option<u64>,
) -> (f64, f64, f64, usize, u64) {
    let table = dir.join(format!("lake/{label}")).display().to_string();
    let stream = job(
        &format!(
            "name: {label}\nparallelism: 2\n\
             checkpoints: {{interval: 1s, location: {dir}/checkpoints/{label}}}\n\
             sources:\n  bids: {{type: generator, kind: bids, events: {events}}}\n\
             sinks:\n  lake: {{type: delta, inputs: [bids], table: '{table}'}}\n",
            dir = dir.display()
        ),
        "stream.yaml",
    );
    let compact = job(
        &format!(
            "name: compact-{label}\nkind: compact\n\
             checkpoints: {{location: {dir}/checkpoints/compact-{label}}}\n\
             compact: {{table: '{table}', every: {every}s, min_files: 4}}\n",
            dir = dir.display(),
            every = compaction.unwrap_or(1),
        ),
        "compact.yaml",
    );
    reset_peak();
    let (cpu, started) = (cpu_seconds(), Instant::now());
    let stream = JobHandle::start(stream, StartOptions::default());
    let compactor = compaction.map(|_| JobHandle::start(compact, StartOptions::default()));
    let outcome = stream.wait().await;
    let seconds = started.elapsed().as_secs_f64();
    let cpu = cpu_seconds() - cpu;
    assert!(matches!(outcome, JobOutcome::Finished), "{outcome:?}");
    if let Some(compactor) = compactor {
        let stopped = compactor.stop().await;
        assert!(matches!(stopped, JobOutcome::Stopped { .. }), "{stopped:?}");
    }
    let (files, rewritten) = files_and_rewritten(&table).await;
    (seconds, cpu, peak_mib(), files, rewritten)
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let events = arg(&args, "--events", 100_000_000);
    let runs = arg(&args, "--runs", 2);
    let every = arg(&args, "--every", 1);
    let dir = tempfile::tempdir().expect("temp dir");
    println!("| run | compaction job | seconds | events/s | CPU s | peak MiB | files left | MiB rewritten |");
    println!("|---|---|---:|---:|---:|---:|---:|---:|");
    let mut rates = [Vec::new(), Vec::new()];
    for round in 0..runs {
        for compaction in [false, true] {
            let label = format!(
                "r{round}-{}",
                if compaction { "compacted" } else { "alone" }
            );
            let (seconds, cpu, peak, files, rewritten) =
                run(dir.path(), &label, events, compaction.then_some(every)).await;
            let rate = events as f64 / seconds;
            rates[usize::from(compaction)].push(rate);
            println!(
                "| {round} | {} | {seconds:.2} | {rate:.0} | {cpu:.1} | {peak:.0} | {files} | {:.0} |",
                if compaction { format!("every {every} s") } else { "none".into() },
                rewritten as f64 / (1 << 20) as f64
            );
        }
    }
    let best = |r: &[f64]| r.iter().cloned().fold(0.0, f64::max);
    let (alone, beside) = (best(&rates[0]), best(&rates[1]));
    println!(
        "\nbest events/s alone {alone:.0}, beside a compaction job {beside:.0}: {:.1}% lost",
        100.0 * (1.0 - beside / alone)
    );
}
