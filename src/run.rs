//! `weir run job.yaml`: runs a job file in the foreground until its sources end, it fails,
//! or Ctrl-C stops it (state is then as of the last completed checkpoint).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clap::Args;
use weir_engine::RestoreFrom;
use weir_jobs::{build_graph, JobDefinition};

use crate::job_summary::{summary, SinkRows};

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The job file (YAML).
    job: PathBuf,
    /// Start from nothing, ignoring the checkpoints at the job's checkpoint location.
    #[arg(long, conflicts_with_all = ["from_checkpoint", "from_savepoint"])]
    fresh: bool,
    /// Start from this checkpoint id at the job's checkpoint location (default: the newest).
    #[arg(long, conflicts_with = "from_savepoint")]
    from_checkpoint: Option<u64>,
    /// Start from the savepoint at this location.
    #[arg(long)]
    from_savepoint: Option<String>,
    /// How often to print progress to stderr (0s: never).
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    progress: Duration,
}

pub async fn run(args: RunArgs) -> Result<()> {
    let job = JobDefinition::from_file(&args.job)?;
    let mut config = job.runtime_config();
    config.restore_from = match (args.fresh, args.from_checkpoint, args.from_savepoint) {
        (true, _, _) => RestoreFrom::Nothing,
        (_, Some(id), _) => RestoreFrom::Checkpoint(id),
        (_, _, Some(location)) => RestoreFrom::Savepoint(location),
        _ => RestoreFrom::Latest,
    };
    let graph = build_graph(&job)
        .await
        .with_context(|| format!("building job '{}'", job.name))?;
    let running = graph
        .start(&config)
        .await
        .with_context(|| format!("starting job '{}'", job.name))?;
    let location = config.checkpoint_location.as_deref().unwrap_or_default();
    match running.restored() {
        Some(restored) => {
            eprintln!(
                "weir: job '{}' restored from checkpoint {} at {}",
                job.name, restored.checkpoint_id, restored.location
            );
            for skipped in &restored.skipped {
                eprintln!("weir: skipped a damaged checkpoint: {skipped:?}");
            }
        }
        None => eprintln!(
            "weir: job '{}' started fresh; checkpoints every {:?} at {location}",
            job.name, job.checkpoints.interval
        ),
    }
    let metrics = running.metrics().clone();
    let started = Instant::now();
    let job = Arc::new(job);
    let reporter = (!args.progress.is_zero()).then(|| {
        let metrics = metrics.clone();
        let job = job.clone();
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(args.progress);
            ticks.tick().await;
            loop {
                ticks.tick().await;
                let line = summary(&job, &metrics, started.elapsed(), SinkRows::Written);
                eprintln!("weir: {line}");
            }
        })
    });
    let outcome = tokio::select! {
        joined = running.join() => Some(joined),
        _ = tokio::signal::ctrl_c() => None,
    };
    if let Some(reporter) = reporter {
        reporter.abort();
    }
    match outcome {
        Some(joined) => {
            joined.with_context(|| format!("job '{}' failed", job.name))?;
            eprintln!(
                "weir: job '{}' finished: {}",
                job.name,
                summary(&job, &metrics, started.elapsed(), SinkRows::Committed)
            );
        }
        None => eprintln!(
            "weir: job '{}' stopped by Ctrl-C; it resumes from its last checkpoint: {}",
            job.name,
            summary(&job, &metrics, started.elapsed(), SinkRows::Written)
        ),
    }
    Ok(())
}
