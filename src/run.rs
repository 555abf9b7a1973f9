//! `weir run job.yaml`: runs a job file in the foreground until its sources end, it fails,
//! or a signal stops it. The lifecycle (restarts, stop, cancel) is the jobs crate's
//! [`JobHandle`]; this prints what happens.
//!
//! SIGINT (Ctrl-C) or SIGTERM stops the job gracefully: the sources stop reading, a final
//! checkpoint is taken and the sinks commit it, windows still open stay in that checkpoint
//! (nothing fires early), and the process exits 0; the next `weir run` resumes from the
//! final checkpoint. A second signal during the stop cancels the job at once: exit code
//! 130, and the job resumes from its last completed checkpoint.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Result};
use clap::Args;
use weir_engine::RestoreFrom;
use weir_jobs::{JobDefinition, JobHandle, JobOutcome, StartOptions};

use crate::job_summary::{summary, SinkRows};
use crate::live_status::LiveStatus;
use crate::stop_signals::StopSignals;

/// The exit code of a job cancelled by a second signal (128 + SIGINT, as shells report
/// an interrupted command).
const CANCELLED: u8 = 130;

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
    /// When stderr is not a terminal, how often to print a progress line (0s: never). On
    /// a terminal a status line is redrawn every second instead.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    progress: Duration,
    /// Serve the job's metrics in Prometheus' format at http://ADDRESS/metrics (as
    /// `weir server` does), e.g. 127.0.0.1:9464; port 0 picks a free one.
    #[arg(long, value_name = "ADDRESS")]
    metrics_bind: Option<std::net::SocketAddr>,
}

pub async fn run(args: RunArgs) -> Result<ExitCode> {
    let job = JobDefinition::from_file(&args.job)?;
    let restore_from = match (args.fresh, args.from_checkpoint, args.from_savepoint) {
        (true, _, _) => RestoreFrom::Nothing,
        (_, Some(id), _) => RestoreFrom::Checkpoint(id),
        (_, _, Some(location)) => RestoreFrom::Savepoint(location),
        _ => RestoreFrom::Latest,
    };
    let mut signals = StopSignals::listen()?;
    let location = job.runtime_config().checkpoint_location.unwrap_or_default();
    let interval = job.checkpoints.interval;
    let handle = JobHandle::start(job, StartOptions { restore_from });
    let name = handle.job().name.clone();
    if let Some(address) = args.metrics_bind {
        let bound = crate::run_metrics::serve(address, handle.clone()).await?;
        eprintln!("weir: metrics of job '{name}' at http://{bound}/metrics");
    }
    let started = Instant::now();
    let stopper = handle.clone();
    let signalled = tokio::spawn(async move {
        signals.next().await;
        crate::live_status::clear();
        eprintln!(
            "weir: stopping job '{}': taking a final checkpoint (press Ctrl-C again to cancel at once)",
            stopper.job().name
        );
        let stop = stopper.clone();
        tokio::spawn(async move { stop.stop().await });
        signals.next().await;
        stopper.cancel();
    });
    let first_run = handle.started().await;
    match &first_run {
        Ok(Some(restored)) => {
            eprintln!(
                "weir: job '{name}' restored from checkpoint {} at {}",
                restored.checkpoint_id, restored.location
            );
            for skipped in &restored.skipped {
                eprintln!("weir: skipped a damaged checkpoint: {skipped:?}");
            }
        }
        Ok(None) => eprintln!(
            "weir: job '{name}' started fresh; checkpoints every {interval:?} at {location}"
        ),
        Err(_) => {}
    }
    let status = LiveStatus::start(handle.clone(), args.progress);
    let outcome = handle.wait().await;
    status.finish();
    signalled.abort();
    let line = |rows| {
        handle.metrics().map_or(String::new(), |metrics| {
            summary(handle.job(), &metrics, started.elapsed(), rows)
        })
    };
    let restarts = match handle.restarts() {
        0 => String::new(),
        n => format!(" after {n} restarts"),
    };
    match outcome {
        JobOutcome::Finished => {
            eprintln!(
                "weir: job '{name}' finished{restarts}: {}",
                line(SinkRows::Committed)
            );
            Ok(ExitCode::SUCCESS)
        }
        JobOutcome::Stopped { checkpoint } => {
            match location.is_empty() {
                false => eprintln!(
                    "weir: job '{name}' stopped at checkpoint {checkpoint}; `weir run` resumes from it: {}",
                    line(SinkRows::Committed)
                ),
                true => eprintln!(
                    "weir: job '{name}' stopped; it has no checkpoint location, so nothing resumes from here: {}",
                    line(SinkRows::Committed)
                ),
            }
            Ok(ExitCode::SUCCESS)
        }
        JobOutcome::Cancelled => {
            eprintln!(
                "weir: job '{name}' cancelled; it resumes from its last completed checkpoint"
            );
            Ok(ExitCode::from(CANCELLED))
        }
        JobOutcome::Failed { error, restarts } => {
            if first_run.is_err() {
                if let Some(mistakes) = crate::validate::placed(&args.job).await {
                    return Err(anyhow!("building job '{name}': {mistakes}"));
                }
            }
            let after = match restarts {
                0 => String::new(),
                n => format!(" after {n} restarts"),
            };
            Err(anyhow!("job '{name}' failed{after}: {error}"))
        }
    }
}
