//! `weir run job.yaml`: runs a job file in the foreground until its sources end, it fails,
//! or a signal stops it.
//!
//! SIGINT (Ctrl-C) or SIGTERM stops the job gracefully: the sources stop reading, a final
//! checkpoint is taken and the sinks commit it, windows still open stay in that checkpoint
//! (nothing fires early), and the process exits 0; the next `weir run` resumes from the
//! final checkpoint. A second signal during the stop cancels the job at once: exit code
//! 130, and the job resumes from its last completed checkpoint.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clap::Args;
use weir_engine::{EngineError, JobMetrics, RestoreFrom};
use weir_jobs::{build_graph, JobDefinition};

use crate::job_summary::{summary, SinkRows};
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
    /// How often to print progress to stderr (0s: never).
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    progress: Duration,
}

pub async fn run(args: RunArgs) -> Result<ExitCode> {
    let job = JobDefinition::from_file(&args.job)?;
    let mut config = job.runtime_config();
    config.restore_from = match (args.fresh, args.from_checkpoint, args.from_savepoint) {
        (true, _, _) => RestoreFrom::Nothing,
        (_, Some(id), _) => RestoreFrom::Checkpoint(id),
        (_, _, Some(location)) => RestoreFrom::Savepoint(location),
        _ => RestoreFrom::Latest,
    };
    let mut signals = StopSignals::listen()?;
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
    let control = running.control();
    let joined = running.join();
    tokio::pin!(joined);
    let signalled = tokio::select! {
        joined = &mut joined => Err(joined),
        () = signals.next() => Ok(()),
    };
    let outcome = match signalled {
        Err(joined) => Outcome::Ended(joined),
        Ok(()) => {
            eprintln!(
                "weir: stopping job '{}': taking a final checkpoint (press Ctrl-C again to cancel at once)",
                job.name
            );
            let stop = control.stop();
            tokio::pin!(stop);
            // The job may also end by itself (its sources end) while it stops.
            let stopped = tokio::select! {
                stopped = &mut stop => Ok(Some(stopped)),
                joined = &mut joined => Err(joined),
                () = signals.next() => Ok(None),
            };
            match stopped {
                Err(joined) => Outcome::Ended(joined),
                Ok(Some(Ok(id))) => Outcome::Stopped(id, joined.await),
                Ok(Some(Err(error))) => Outcome::StopFailed(error, joined.await),
                Ok(None) => {
                    control.cancel();
                    let _ = joined.await;
                    Outcome::Cancelled
                }
            }
        }
    };
    if let Some(reporter) = reporter {
        reporter.abort();
    }
    let resumes = !location.is_empty();
    let line = |rows| summary(&job, &metrics, started.elapsed(), rows);
    match outcome {
        Outcome::Ended(joined) => finish(&job, joined, started),
        Outcome::Stopped(id, joined) => {
            joined.with_context(|| format!("job '{}' failed while stopping", job.name))?;
            match resumes {
                true => eprintln!(
                    "weir: job '{}' stopped at checkpoint {id}; `weir run` resumes from it: {}",
                    job.name,
                    line(SinkRows::Committed)
                ),
                false => eprintln!(
                    "weir: job '{}' stopped; it has no checkpoint location, so nothing resumes from here: {}",
                    job.name,
                    line(SinkRows::Committed)
                ),
            }
            Ok(ExitCode::SUCCESS)
        }
        Outcome::StopFailed(error, joined) => {
            // The job's own failure, if it had one, says more than the stop's.
            let error = match joined {
                Err(failure) if !matches!(failure, EngineError::Cancelled) => failure,
                _ => error,
            };
            Err(error).with_context(|| {
                format!(
                    "stopping job '{}' failed; it was cancelled and resumes from its last completed checkpoint",
                    job.name
                )
            })
        }
        Outcome::Cancelled => {
            match resumes {
                true => eprintln!(
                    "weir: job '{}' cancelled; it resumes from its last completed checkpoint",
                    job.name
                ),
                false => eprintln!(
                    "weir: job '{}' cancelled; it has no checkpoint location, so nothing resumes from it",
                    job.name
                ),
            }
            Ok(ExitCode::from(CANCELLED))
        }
    }
}

/// How the run ended.
enum Outcome {
    /// The job ended by itself: its sources ended, or it failed.
    Ended(weir_engine::Result<Arc<JobMetrics>>),
    /// Stopped at this checkpoint; then the job's tasks ended like this.
    Stopped(u64, weir_engine::Result<Arc<JobMetrics>>),
    /// The final checkpoint failed (and the job was cancelled).
    StopFailed(EngineError, weir_engine::Result<Arc<JobMetrics>>),
    /// A second signal came during the stop.
    Cancelled,
}

/// Reports a job that ended by itself.
fn finish(
    job: &JobDefinition,
    joined: weir_engine::Result<Arc<JobMetrics>>,
    started: Instant,
) -> Result<ExitCode> {
    let metrics = joined.with_context(|| format!("job '{}' failed", job.name))?;
    eprintln!(
        "weir: job '{}' finished: {}",
        job.name,
        summary(job, &metrics, started.elapsed(), SinkRows::Committed)
    );
    Ok(ExitCode::SUCCESS)
}
