//! Generator throughput: each generator read by one subtask on one core, printing events/s
//! and the Arrow bytes produced as a Markdown table.
//!
//! `cargo run --release --example generator_bench [-- --events N]`

use std::time::Instant;

#[path = "support/process.rs"]
mod process;
use process::{cpu_seconds, peak_mib, reset_peak};

use weir_connectors::generator::{
    BidGeneratorConfig, ClickstreamConfig, GeneratorConfig, LogKind, LogsConfig, NexmarkConfig,
};
use weir_engine::SubtaskInfo;

/// Reads the whole stream with one reader; returns (wall seconds, CPU seconds, bytes of
/// Arrow data, peak MiB).
fn run(config: &GeneratorConfig, runtime: &tokio::runtime::Runtime) -> (f64, f64, usize, f64) {
    let plan = config.plan().expect("generator");
    let mut reader = plan
        .create(&SubtaskInfo {
            gauges: Default::default(),
            node: "generator".into(),
            index: 0,
            parallelism: 1,
            max_parallelism: 128,
        })
        .expect("reader");
    reset_peak();
    let cpu = cpu_seconds();
    let started = Instant::now();
    let mut bytes = 0;
    while let Some(read) = runtime.block_on(reader.next_batch()).expect("batch") {
        bytes += read
            .batch
            .columns()
            .iter()
            .map(|c| c.to_data().get_slice_memory_size().unwrap_or(0))
            .sum::<usize>();
    }
    let wall = started.elapsed().as_secs_f64();
    (wall, cpu_seconds() - cpu, bytes, peak_mib())
}

fn main() {
    let mut events = 4_000_000u64;
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--events") {
        events = args
            .get(i + 1)
            .and_then(|v| v.parse().ok())
            .expect("--events N");
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let n = events as f64;
    let events = Some(events);
    let generators = [
        (
            "bids",
            GeneratorConfig::Bids(BidGeneratorConfig {
                events,
                ..Default::default()
            }),
        ),
        (
            "nexmark",
            GeneratorConfig::Nexmark(NexmarkConfig {
                events,
                ..Default::default()
            }),
        ),
        (
            "logs (access)",
            GeneratorConfig::Logs(LogsConfig {
                events,
                ..Default::default()
            }),
        ),
        (
            "logs (app)",
            GeneratorConfig::Logs(LogsConfig {
                events,
                log_kind: LogKind::App,
                ..Default::default()
            }),
        ),
        (
            "clickstream",
            GeneratorConfig::Clickstream(ClickstreamConfig {
                events,
                ..Default::default()
            }),
        ),
    ];
    println!("{n} events per generator, one subtask");
    println!("| generator | events/s | events/s per CPU-second | Arrow MiB/s | CPU s | peak MiB |");
    println!("|---|---|---|---|---|---|");
    for (name, config) in &generators {
        let (wall, cpu, bytes, peak) = run(config, &runtime);
        println!(
            "| {name} | {:.2} M | {:.2} M | {:.0} | {cpu:.2} | {peak:.0} |",
            n / wall / 1e6,
            n / cpu.max(0.01) / 1e6,
            bytes as f64 / wall / (1 << 20) as f64,
        );
    }
}
