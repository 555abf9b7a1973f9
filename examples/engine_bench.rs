//! Engine throughput benchmark: the bid generator through four job shapes at parallelism 1
//! and 2, printing events/s, CPU seconds and peak memory per run as a Markdown table.
//!
//! `cargo run --release --example engine_bench [-- --events N]`

use std::time::{Duration, Instant};

#[path = "support/process.rs"]
mod process;
use process::{cpu_seconds, peak_mib, reset_peak};

use weir_connectors::generator::{BidGenerator, BidGeneratorConfig};
use weir_engine::sinks::DiscardSink;
use weir_engine::{
    FilterConfig, GraphBuilder, OperatorFactory, RuntimeConfig, WatermarkStrategy,
    WindowAggregateConfig, WindowSpec,
};

enum Shape {
    Passthrough,
    Filter,
    Tumbling,
    Sliding,
}

impl Shape {
    fn name(&self) -> &'static str {
        match self {
            Shape::Passthrough => "passthrough -> discard",
            Shape::Filter => "filter auction % 123 = 0",
            Shape::Tumbling => "tumbling 10 s count+max by auction",
            Shape::Sliding => "sliding 10 s / 2 s count by auction",
        }
    }
}

async fn run(shape: &Shape, events: u64, parallelism: usize) -> (f64, f64, f64) {
    let generator = BidGeneratorConfig {
        events: Some(events),
        auctions: 10_000,
        partitions: 4,
        ..Default::default()
    };
    let mut g = GraphBuilder::new();
    let bids = g
        .source(
            "bids",
            BidGenerator::new(generator.clone()).expect("generator"),
            parallelism,
            Some(WatermarkStrategy::bounded(
                "event_time",
                generator.max_disorder,
            )),
        )
        .expect("source");
    let window = |window: WindowSpec, aggregates: &[&str]| WindowAggregateConfig {
        key: vec!["auction".into()],
        event_time: "event_time".into(),
        window,
        aggregates: aggregates.iter().map(|a| a.to_string()).collect(),
        allowed_lateness: Duration::ZERO,
    };
    let tail = match shape {
        Shape::Passthrough => bids.main().forward(),
        Shape::Filter => {
            let f = g
                .operator(
                    "filter",
                    &FilterConfig::new("auction % 123 = 0"),
                    vec![bids.main().forward()],
                    parallelism,
                )
                .expect("filter");
            f.main().forward()
        }
        Shape::Tumbling | Shape::Sliding => {
            let config = match shape {
                Shape::Tumbling => window(
                    WindowSpec::Tumbling {
                        size: Duration::from_secs(10),
                    },
                    &["count(*) AS bids", "max(price) AS max_price"],
                ),
                _ => window(
                    WindowSpec::Sliding {
                        size: Duration::from_secs(10),
                        slide: Duration::from_secs(2),
                    },
                    &["count(*) AS bids"],
                ),
            };
            let w = g
                .operator(
                    "window",
                    &config as &dyn OperatorFactory,
                    vec![bids.main().hash(["auction"])],
                    parallelism,
                )
                .expect("window");
            w.main().forward()
        }
    };
    g.operator("sink", &DiscardSink, vec![tail], parallelism)
        .expect("sink");
    let job = g.build().expect("graph");
    reset_peak();
    let cpu = cpu_seconds();
    let started = Instant::now();
    let metrics = job.run(&RuntimeConfig::default()).await.expect("job");
    let wall = started.elapsed().as_secs_f64();
    let read = metrics.node("bids").map_or(0, |n| n.rows_in());
    assert_eq!(read, events);
    (events as f64 / wall, cpu_seconds() - cpu, peak_mib())
}

fn main() {
    let mut events = 10_000_000u64;
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--events") {
        events = args
            .get(i + 1)
            .and_then(|v| v.parse().ok())
            .expect("--events N");
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    println!("{events} events, 10,000 auctions, {cores} cores");
    println!(
        "| job | parallelism | events/s | events/s per core (per CPU-second) | CPU s | peak MiB |"
    );
    println!("|---|---|---|---|---|---|");
    for shape in [
        Shape::Passthrough,
        Shape::Filter,
        Shape::Tumbling,
        Shape::Sliding,
    ] {
        for parallelism in [1, 2] {
            let (rate, cpu, peak) = runtime.block_on(run(&shape, events, parallelism));
            println!(
                "| {} | {} | {:.2} M | {:.2} M | {:.2} | {:.0} |",
                shape.name(),
                parallelism,
                rate / 1e6,
                events as f64 / cpu / 1e6,
                cpu,
                peak
            );
        }
    }
}
