//! The exactly-once Delta sink under load, as Markdown tables:
//!
//! 1. JSON-lines log files -> file source -> Delta table at parallelism 2 with a
//!    checkpoint (and so a commit) every second: rows/s, MB/s of input, CPU, peak memory;
//! 2. generated bids -> Delta table at parallelism 2 with 1 s checkpoints: events/s;
//! 3. the commit itself: committing one checkpoint's files (4 add actions with their
//!    epoch) to a table that already has many versions, timed one by one (p50, p99, max).
//!
//! `cargo run --release --example delta_bench [-- --mb N --events N --commits N]`

use std::path::Path;
use std::time::{Duration, Instant};

#[path = "support/process.rs"]
mod process;
use process::{cpu_seconds, peak_mib, reset_peak};
#[path = "support/json_logs.rs"]
mod json_logs;
use json_logs::{format, write_file};

use deltalake::writer::{DeltaWriter as _, RecordBatchWriter};
use weir_connectors::delta::{add_delta_sink, DeltaSinkConfig};
use weir_connectors::files::{FileSource, FileSourceConfig};
use weir_connectors::generator::{BidGenerator, BidGeneratorConfig};
use weir_engine::{GraphBuilder, RuntimeConfig, SourcePlan};
use weir_lake::table::{commit_epoch, open_or_create};

fn arg(args: &[String], name: &str, default: u64) -> u64 {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map_or(default, |v| v.parse().expect("a number"))
}

/// Runs `source` into a new Delta table at parallelism 2 with 1 s checkpoints; returns
/// (seconds, rows, CPU seconds, peak MiB, checkpoints).
async fn into_delta(
    source: std::sync::Arc<dyn SourcePlan>,
    table: &Path,
    checkpoints: &Path,
) -> (f64, u64, f64, f64, usize) {
    let mut g = GraphBuilder::new();
    let rows = g.source("rows", source, 2, None).expect("source");
    add_delta_sink(
        &mut g,
        "lake",
        DeltaSinkConfig::new(&table.display().to_string(), "bench"),
        rows.main().forward(),
        2,
    )
    .expect("sink");
    let config = RuntimeConfig {
        checkpoint_interval: Some(Duration::from_secs(1)),
        checkpoint_location: Some(checkpoints.display().to_string()),
        ..RuntimeConfig::default()
    };
    reset_peak();
    let (cpu, started) = (cpu_seconds(), Instant::now());
    let metrics = g.build().expect("graph").run(&config).await.expect("run");
    let seconds = started.elapsed().as_secs_f64();
    let read = metrics.node("rows").map_or(0, |n| n.rows_in());
    (
        seconds,
        read,
        cpu_seconds() - cpu,
        peak_mib(),
        metrics.checkpoints().len(),
    )
}

/// Times `commits` commits of 4 staged files each; returns the sorted durations.
async fn commit_latencies(dir: &Path, commits: u64) -> Vec<Duration> {
    let uri = dir.join("commits").display().to_string();
    let schema = BidGenerator::schema_ref();
    let mut table = open_or_create(&uri, &schema, &[]).await.expect("table");
    let generator = BidGeneratorConfig {
        events: Some(4 * 1024),
        batch_size: 1024,
        partitions: 1,
        ..Default::default()
    };
    let batches: Vec<_> = (0..4)
        .map(|b| {
            let bids: Vec<_> = (b * 1024..(b + 1) * 1024)
                .map(|i| generator.bid(i))
                .collect();
            bid_rows::bids_batch(&bids)
        })
        .collect();
    let mut times = Vec::new();
    for epoch in 1..=commits as i64 {
        let mut writer = RecordBatchWriter::for_table(&table).expect("writer");
        let mut adds = Vec::new();
        for batch in &batches {
            writer.write(batch.clone()).await.expect("write");
            adds.extend(writer.flush().await.expect("flush"));
        }
        let started = Instant::now();
        commit_epoch(&mut table, "bench", epoch, adds, None)
            .await
            .expect("commit");
        times.push(started.elapsed());
    }
    times.sort();
    times
}

/// Bids as an Arrow batch in the generator's schema (timestamps in microseconds, as the
/// table stores them).
mod bid_rows {
    use std::sync::Arc;

    use arrow::array::{Int64Array, StringArray, TimestampMicrosecondArray};
    use arrow::datatypes::{DataType, Field, Schema, TimeUnit};
    use arrow::record_batch::RecordBatch;
    use weir_connectors::generator::bids::Bid;

    pub fn bids_batch(bids: &[Bid]) -> RecordBatch {
        let schema = Schema::new(vec![
            Field::new("auction", DataType::Int64, false),
            Field::new("bidder", DataType::Int64, false),
            Field::new("price", DataType::Int64, false),
            Field::new("channel", DataType::Utf8, false),
            Field::new(
                "event_time",
                DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
                false,
            ),
        ]);
        RecordBatch::try_new(
            Arc::new(schema),
            vec![
                Arc::new(Int64Array::from_iter_values(bids.iter().map(|b| b.auction))),
                Arc::new(Int64Array::from_iter_values(bids.iter().map(|b| b.bidder))),
                Arc::new(Int64Array::from_iter_values(bids.iter().map(|b| b.price))),
                Arc::new(StringArray::from_iter_values(
                    bids.iter().map(|b| b.channel),
                )),
                Arc::new(
                    TimestampMicrosecondArray::from_iter_values(
                        bids.iter().map(|b| b.event_time_ms * 1000),
                    )
                    .with_timezone("UTC"),
                ),
            ],
        )
        .expect("batch")
    }
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let mb = arg(&args, "--mb", 400);
    let events = arg(&args, "--events", 20_000_000);
    let commits = arg(&args, "--commits", 100);
    let dir = tempfile::tempdir().expect("temp dir");

    let input = dir.path().join("input");
    std::fs::create_dir_all(&input).expect("input dir");
    let mut lines = 0;
    let mut bytes = 0;
    for file in ["a.jsonl", "b.jsonl"] {
        lines += write_file(&input.join(file), mb / 2, bytes);
        bytes += std::fs::metadata(input.join(file)).expect("file").len();
    }
    let pattern = format!("{}/*.jsonl", input.display());
    let source = FileSource::new(FileSourceConfig::lines(&pattern, format()))
        .await
        .expect("file source");
    let (seconds, rows, cpu, peak, checkpoints) = into_delta(
        source,
        &dir.path().join("logs"),
        &dir.path().join("chk-logs"),
    )
    .await;
    assert_eq!(rows, lines, "every line read");
    println!(
        "JSON lines files -> Delta ({lines} lines, {:.0} MB in 2 files, parallelism 2, 1 s checkpoints):\n",
        bytes as f64 / 1e6
    );
    println!("| rows/s | MB/s | CPU s | rows per CPU s | checkpoints (commits) | peak MiB |");
    println!("|---|---|---|---|---|---|");
    println!(
        "| {:.2} M | {:.0} | {cpu:.1} | {:.2} M | {checkpoints} | {peak:.0} |\n",
        rows as f64 / seconds / 1e6,
        bytes as f64 / seconds / 1e6,
        rows as f64 / cpu.max(1e-9) / 1e6,
    );

    let generator = BidGenerator::new(BidGeneratorConfig {
        events: Some(events),
        ..Default::default()
    })
    .expect("generator");
    let (seconds, rows, cpu, peak, checkpoints) = into_delta(
        generator,
        &dir.path().join("bids"),
        &dir.path().join("chk-bids"),
    )
    .await;
    println!("Generated bids -> Delta at parallelism 2, 1 s checkpoints ({rows} events):\n");
    println!("| events/s | CPU s | events per CPU s | checkpoints (commits) | peak MiB |");
    println!("|---|---|---|---|---|");
    println!(
        "| {:.2} M | {cpu:.1} | {:.2} M | {checkpoints} | {peak:.0} |\n",
        rows as f64 / seconds / 1e6,
        rows as f64 / cpu.max(1e-9) / 1e6,
    );

    let times = commit_latencies(dir.path(), commits).await;
    let at = |q: f64| times[((times.len() - 1) as f64 * q) as usize];
    println!("Delta commit of one checkpoint (4 files + txn), {commits} commits in a row:\n");
    println!("| p50 | p99 | max |");
    println!("|---|---|---|");
    println!(
        "| {:.1} ms | {:.1} ms | {:.1} ms |",
        at(0.5).as_secs_f64() * 1e3,
        at(0.99).as_secs_f64() * 1e3,
        times.last().expect("commits").as_secs_f64() * 1e3
    );
}
