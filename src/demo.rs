//! `weir demo`: the end-to-end job that runs with no outside services.
//!
//! Generated bids (out of order within 2 s) -> 10 s tumbling windows per channel -> a table
//! of per-window statistics, checked against the same aggregation done in one batch.

use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use arrow::compute::{lexsort_to_indices, take_record_batch, SortColumn};
use arrow::util::pretty::pretty_format_batches;
use clap::Args;
use weir_connectors::generator::{BidGenerator, BidGeneratorConfig};
use weir_engine::sinks::CollectSink;
use weir_engine::{
    GraphBuilder, ProjectConfig, RuntimeConfig, WatermarkStrategy, WindowAggregateConfig,
    WindowSpec,
};

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Number of generated bids.
    #[arg(long, default_value_t = 2_000_000)]
    events: u64,
    /// Parallelism of the generator and of the window operator.
    #[arg(long, default_value_t = 2)]
    parallelism: usize,
    /// How many result rows to print.
    #[arg(long, default_value_t = 12)]
    show: usize,
}

pub async fn run(args: DemoArgs) -> Result<()> {
    let generator = BidGeneratorConfig {
        events: Some(args.events),
        ..Default::default()
    };
    println!(
        "weir demo: {} bids over {} auctions, {:.0}% of them up to {:?} out of order",
        args.events,
        generator.auctions,
        generator.disorder_fraction * 100.0,
        generator.max_disorder
    );
    let mut graph = GraphBuilder::new();
    let bids = graph.source(
        "bids",
        BidGenerator::new(generator.clone())?,
        args.parallelism,
        Some(WatermarkStrategy::bounded(
            "event_time",
            generator.max_disorder,
        )),
    )?;
    let windows = graph.operator(
        "per_channel_10s",
        &WindowAggregateConfig {
            key: vec!["channel".into()],
            event_time: "event_time".into(),
            window: WindowSpec::Tumbling {
                size: Duration::from_secs(10),
            },
            aggregates: vec![
                "count(*) AS bids".into(),
                "count(DISTINCT auction) AS auctions".into(),
                "max(price) AS max_price".into(),
                "avg(price) AS avg_price".into(),
                "approx_percentile_cont(price, 0.95) AS p95_price".into(),
            ],
            allowed_lateness: Duration::ZERO,
        },
        vec![bids.main().hash(["channel"])],
        args.parallelism,
    )?;
    let rounded = graph.operator(
        "rounded",
        &ProjectConfig::new([
            "channel",
            "window_start",
            "window_end",
            "bids",
            "auctions",
            "max_price",
            "round(avg_price, 2) AS avg_price",
            "round(p95_price, 2) AS p95_price",
        ]),
        vec![windows.main().forward()],
        args.parallelism,
    )?;
    let sink = CollectSink::new();
    graph.operator("results", &sink, vec![rounded.main().rebalance()], 1)?;

    let started = Instant::now();
    let metrics = graph.build()?.run(&RuntimeConfig::default()).await?;
    let elapsed = started.elapsed();

    let results = sink.concat()?;
    let order = lexsort_to_indices(
        &[
            SortColumn {
                values: results
                    .column_by_name("window_start")
                    .context("window_start")?
                    .clone(),
                options: None,
            },
            SortColumn {
                values: results
                    .column_by_name("channel")
                    .context("channel")?
                    .clone(),
                options: None,
            },
        ],
        None,
    )?;
    let sorted = take_record_batch(&results, &order)?;
    let shown = sorted.slice(0, args.show.min(sorted.num_rows()));
    println!(
        "{}",
        pretty_format_batches(&[shown]).context("formatting results")?
    );
    let read = metrics.node("bids").map_or(0, |n| n.rows_in());
    println!(
        "{} windows from {} bids in {:.2?} ({:.1} M events/s)",
        results.num_rows(),
        read,
        elapsed,
        read as f64 / elapsed.as_secs_f64() / 1e6
    );
    Ok(())
}
