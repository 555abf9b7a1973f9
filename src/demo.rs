//! `weir demo`: the end-to-end job that runs with no outside services.
//!
//! Runs the example job `examples/jobs/bids_to_lake.yaml`: generated bids (some out of
//! order) -> 10 s tumbling windows per channel -> a Delta table, and the raw bids -> a
//! second Delta table, exactly once with checkpoints. Then queries the lake with SQL and
//! checks the streamed windows against the same aggregation done in one batch over the
//! raw bids.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use arrow::array::{AsArray, RecordBatch};
use arrow::datatypes::Int64Type;
use arrow::util::pretty::pretty_format_batches;
use clap::Args;
use weir_engine::RestoreFrom;
use weir_jobs::{JobDefinition, JobHandle, JobOutcome, StartOptions};
use weir_sql::Lake;

/// The job the demo runs, as shipped in `examples/jobs`.
const JOB: &str = include_str!("../examples/jobs/bids_to_lake.yaml");
const JOB_FILE: &str = "examples/jobs/bids_to_lake.yaml";
/// Marks a folder as the demo's own, so a later demo may replace it.
const MARKER: &str = ".weir-demo";

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Number of generated bids.
    #[arg(long, default_value_t = 2_000_000)]
    events: u64,
    /// Parallelism of every node.
    #[arg(long, default_value_t = 2)]
    parallelism: usize,
    /// Where the lake goes; replaced if an earlier demo made it.
    #[arg(long, default_value = "weir-demo")]
    lake: PathBuf,
    /// How many windows to print.
    #[arg(long, default_value_t = 12)]
    show: usize,
}

pub async fn run(args: DemoArgs) -> Result<()> {
    prepare(&args.lake)?;
    let lake = args.lake.display().to_string();
    let (events, parallelism) = (args.events.to_string(), args.parallelism.to_string());
    let job = JobDefinition::from_yaml(JOB, JOB_FILE, |name| match name {
        "LAKE" => Some(lake.clone()),
        "EVENTS" => Some(events.clone()),
        "PARALLELISM" => Some(parallelism.clone()),
        _ => None,
    })?;
    println!(
        "weir demo: {} generated bids, 10% of them up to 2 s out of order, through 10 s windows \
         per channel into Delta tables in {lake}/ (job: {JOB_FILE}, parallelism {})",
        args.events, args.parallelism
    );
    let started = Instant::now();
    let options = StartOptions {
        restore_from: RestoreFrom::Nothing,
    };
    let handle = JobHandle::start(job, options);
    match handle.wait().await {
        JobOutcome::Finished => {}
        JobOutcome::Failed { error, .. } => bail!("the demo job failed: {error}"),
        other => bail!("the demo job ended early: {other:?}"),
    }
    let elapsed = started.elapsed();
    let metrics = handle
        .metrics()
        .context("the demo job never started a run")?;
    let read = metrics.node("bids").map_or(0, |n| n.rows_in());
    println!(
        "streamed {read} bids in {elapsed:.2?} ({:.1} M events/s), {} checkpoints, committed to Delta",
        read as f64 / elapsed.as_secs_f64() / 1e6,
        metrics.checkpoints().len()
    );

    let ctx = Lake::new(&args.lake)?.session().await?;
    let sql = |query: String| {
        let ctx = ctx.clone();
        async move {
            let batches = ctx.sql(&query).await?.collect().await?;
            anyhow::Ok(batches)
        }
    };
    println!("\nSQL over the lake: SELECT ... FROM bid_windows ORDER BY window_start, channel");
    let shown = sql(format!(
        "SELECT channel, window_start, window_end, bids, auctions, max_price, \
                round(CAST(total_price AS DOUBLE) / bids, 2) AS avg_price \
         FROM bid_windows ORDER BY window_start, channel LIMIT {}",
        args.show
    ))
    .await?;
    println!("{}", pretty_format_batches(&shown)?);

    let windows = count(&sql("SELECT count(*) FROM bid_windows".into()).await?);
    let differing = count(
        &sql(format!(
            "SELECT count(*) FROM (({WINDOWS} EXCEPT {REFERENCE}) UNION ALL ({REFERENCE} EXCEPT {WINDOWS}))"
        ))
        .await?,
    );
    let raw = count(&sql("SELECT count(*) FROM bids".into()).await?);
    if differing != 0 {
        bail!("{differing} windows differ from the batch aggregation of the raw bids");
    }
    println!(
        "{windows} windows; they equal the same aggregation run in one batch over the {raw} raw bids \
         in table `bids`.\nThe tables are plain Delta Lake tables in {lake}/: bid_windows, bids \
         (partitioned by channel). Query them:\n  weir sql --lake {lake} -e \"SELECT channel, \
         sum(bids) FROM bid_windows GROUP BY channel\""
    );
    Ok(())
}

/// The streamed windows and the same aggregation over the raw bids, for `EXCEPT`.
const WINDOWS: &str =
    "SELECT channel, window_start, bids, auctions, max_price, total_price FROM bid_windows";
const REFERENCE: &str =
    "SELECT channel, date_bin(INTERVAL '10 seconds', event_time) AS window_start, \
     count(*) AS bids, count(DISTINCT auction) AS auctions, max(price) AS max_price, \
     sum(price) AS total_price FROM bids GROUP BY 1, 2";

fn count(batches: &[RecordBatch]) -> i64 {
    batches
        .first()
        .map_or(0, |b| b.column(0).as_primitive::<Int64Type>().value(0))
}

/// Clears a lake an earlier demo made; refuses to touch a non-empty folder it did not make.
fn prepare(lake: &Path) -> Result<()> {
    let empty = std::fs::read_dir(lake).is_ok_and(|mut entries| entries.next().is_none());
    if lake.exists() && !empty {
        if !lake.join(MARKER).exists() {
            bail!(
                "{} exists and was not made by `weir demo`; choose another folder with --lake",
                lake.display()
            );
        }
        std::fs::remove_dir_all(lake).with_context(|| format!("clearing {}", lake.display()))?;
    }
    std::fs::create_dir_all(lake).with_context(|| format!("creating {}", lake.display()))?;
    std::fs::write(lake.join(MARKER), "made by weir demo\n")?;
    Ok(())
}
