//! Checkpoint benchmark: a keyed window job over 1 million distinct keys, run without
//! checkpoints, then checkpointing every 10 s and every 1 s; then a restore from the last
//! checkpoint. Prints throughput, checkpoint duration (p50 / max), the longest pause of a
//! subtask, checkpoint sizes (full and incremental) and the restore time.
//!
//! `--leftover-folders N` first fills each checkpoint location with N empty checkpoint
//! folders, as a job running for hours left them before retention removed folders: the
//! first checkpoint's retention removes them, later checkpoints must cost what they cost
//! in an empty location.
//!
//! `cargo run --release --example checkpoint_bench [-- --events N --keys K --intervals-ms 10000,1000 --leftover-folders N]`

use std::time::{Duration, Instant};

#[path = "support/process.rs"]
mod process;
use process::{cpu_seconds, peak_mib, reset_peak};

use weir_connectors::generator::{BidGenerator, BidGeneratorConfig};
use weir_engine::runtime::metrics::CheckpointStats;
use weir_engine::sinks::DiscardSink;
use weir_engine::{
    GraphBuilder, JobGraph, RestoreFrom, RuntimeConfig, WatermarkStrategy, WindowAggregateConfig,
    WindowSpec,
};

const PARALLELISM: usize = 2;

/// Bids keyed by auction into one-hour tumbling windows: the run stays inside the first
/// window, so the state holds one row of accumulators per distinct key.
fn job(events: u64, keys: u64) -> JobGraph {
    let generator = BidGeneratorConfig {
        events: Some(events),
        auctions: keys,
        partitions: 4,
        ..Default::default()
    };
    let mut g = GraphBuilder::new();
    let bids = g
        .source(
            "bids",
            BidGenerator::new(generator.clone()).expect("generator"),
            PARALLELISM,
            Some(WatermarkStrategy::bounded(
                "event_time",
                generator.max_disorder,
            )),
        )
        .expect("source");
    let window = WindowAggregateConfig {
        key: vec!["auction".into()],
        event_time: "event_time".into(),
        window: WindowSpec::Tumbling {
            size: Duration::from_secs(3600),
        },
        aggregates: [
            "count(*) AS bids",
            "sum(price) AS total",
            "min(price) AS low",
            "max(price) AS high",
            "avg(price) AS mean",
        ]
        .iter()
        .map(|a| a.to_string())
        .collect(),
        allowed_lateness: Duration::ZERO,
    };
    let w = g
        .operator(
            "window",
            &window,
            vec![bids.main().hash(["auction"])],
            PARALLELISM,
        )
        .expect("window");
    g.operator("sink", &DiscardSink, vec![w.main().forward()], PARALLELISM)
        .expect("sink");
    g.build().expect("graph")
}

struct Run {
    events_per_second: f64,
    cpu_seconds: f64,
    peak_mib: f64,
    checkpoints: Vec<CheckpointStats>,
}

async fn run(events: u64, keys: u64, config: &RuntimeConfig) -> Run {
    reset_peak();
    let cpu = cpu_seconds();
    let started = Instant::now();
    let metrics = job(events, keys).run(config).await.expect("job");
    let wall = started.elapsed().as_secs_f64();
    Run {
        events_per_second: events as f64 / wall,
        cpu_seconds: cpu_seconds() - cpu,
        peak_mib: peak_mib(),
        checkpoints: metrics.checkpoints(),
    }
}

fn ms(d: Duration) -> String {
    format!("{:.0} ms", d.as_secs_f64() * 1e3)
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let flag = |name: &str, default: u64| {
        args.iter().position(|a| a == name).map_or(default, |i| {
            args.get(i + 1)
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("{name} N"))
        })
    };
    let events = flag("--events", 100_000_000);
    let keys = flag("--keys", 1_000_000);
    let leftover = flag("--leftover-folders", 0);
    let intervals: Vec<u64> = args
        .iter()
        .position(|a| a == "--intervals-ms")
        .and_then(|i| args.get(i + 1))
        .map_or(vec![10_000, 1_000], |list| {
            list.split(',')
                .map(|v| v.parse().expect("--intervals-ms A,B,..."))
                .collect()
        });
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    println!("{events} events, {keys} keys, parallelism {PARALLELISM}, {cores} cores, {leftover} leftover checkpoint folders");
    println!("| checkpoints | events/s | events/s per CPU-second | peak MiB | checkpoints taken | duration p50 / max | longest pause | first (full) size | later (incremental) written, median |");
    println!("|---|---|---|---|---|---|---|---|---|");
    let dir = tempfile::tempdir().expect("temp dir");
    let mut restore_point = None;
    let runs = std::iter::once(None).chain(intervals.into_iter().map(Some));
    for interval in runs {
        let location = interval.map(|every| dir.path().join(format!("every-{every}ms")));
        if let Some(location) = &location {
            for id in 1..=leftover {
                let folder = location.join(format!("chk-{id:010}/window/0"));
                std::fs::create_dir_all(folder).expect("leftover folder");
            }
        }
        let config = RuntimeConfig {
            checkpoint_interval: interval.map(Duration::from_millis),
            checkpoint_location: location.as_ref().map(|l| l.to_string_lossy().into_owned()),
            ..RuntimeConfig::default()
        };
        let r = runtime.block_on(run(events, keys, &config));
        // The final checkpoint at the end of the input is not a periodic one.
        let periodic = &r.checkpoints[..r.checkpoints.len().saturating_sub(1)];
        let mut durations: Vec<Duration> = periodic.iter().map(|c| c.duration).collect();
        durations.sort();
        let mut incremental: Vec<u64> = periodic.iter().skip(1).map(|c| c.written_bytes).collect();
        incremental.sort();
        let cell = |v: Option<String>| v.unwrap_or_else(|| "-".into());
        println!(
            "| {} | {:.2} M | {:.2} M | {:.0} | {} | {} | {} | {} | {} |",
            interval.map_or("none".to_string(), |every| format!(
                "every {}",
                ms(Duration::from_millis(every))
            )),
            r.events_per_second / 1e6,
            events as f64 / r.cpu_seconds / 1e6,
            r.peak_mib,
            periodic.len(),
            cell(durations.last().map(|max| format!(
                "{} / {}",
                ms(durations[durations.len() / 2]),
                ms(*max)
            ))),
            cell(periodic.iter().map(|c| c.max_pause).max().map(ms)),
            cell(periodic.first().map(|c| mib(c.state_bytes))),
            cell(incremental.get(incremental.len() / 2).map(|b| mib(*b))),
        );
        if let (Some(location), Some(last)) = (&config.checkpoint_location, periodic.last()) {
            restore_point = Some((location.clone(), last.checkpoint_id));
        }
    }

    // Restore the last periodic checkpoint (the final one holds no window state): read
    // it and hand every subtask its key groups.
    let Some((location, id)) = restore_point else {
        println!("\nno periodic checkpoint completed (the runs were shorter than the intervals; use more --events): restore not measured");
        return;
    };
    let config = RuntimeConfig {
        checkpoint_location: Some(location),
        restore_from: RestoreFrom::Checkpoint(id),
        ..RuntimeConfig::default()
    };
    let restore = runtime.block_on(async {
        let started = Instant::now();
        let job = job(events, keys).start(&config).await.expect("restore");
        let took = started.elapsed();
        let id = job.restored().map(|r| r.checkpoint_id);
        drop(job);
        (took, id)
    });
    println!(
        "\nrestore of checkpoint {:?} (read + re-split + load into operators): {}",
        restore.1,
        ms(restore.0)
    );
}
