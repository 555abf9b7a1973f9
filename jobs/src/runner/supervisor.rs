//! The task that runs a job: one run of its graph after another until it finishes, is
//! stopped or cancelled, or fails on an error a restart would not cure.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use tokio::sync::watch;
use weir_engine::{EngineError, RestoreFrom, RuntimeConfig};

use super::request::EndRequest;
use super::{JobOutcome, JobStatus, Run, Shared, StartOptions};
use crate::build::build_graph;
use crate::error::JobError;

/// How one run of the graph ended.
enum RunEnd {
    Finished,
    Stopped(u64),
    Cancelled,
    Failed(JobError),
}

/// Runs the job until it ends and publishes how.
pub(super) async fn supervise(
    shared: Arc<Shared>,
    options: StartOptions,
    outcome: watch::Sender<Option<JobOutcome>>,
) {
    let ended = restart_loop(&shared, options).await;
    shared.status.send_replace(JobStatus::Ended);
    outcome.send_replace(Some(ended));
}

async fn restart_loop(shared: &Shared, options: StartOptions) -> JobOutcome {
    let job = shared.job.clone();
    let strategy = &job.restart;
    let mut config = job.runtime_config();
    let resumable = config.checkpoint_location.is_some();
    config.restore_from = options.restore_from.clone();
    // The newest checkpoint this job completed or started from, across runs.
    let mut newest: Option<u64> = None;
    let mut in_a_row = 0u32;
    let mut requests = shared.requests.subscribe();
    loop {
        if let Some(ended) = ended_between_runs(&requests.borrow(), newest) {
            return ended;
        }
        shared.status.send_replace(JobStatus::Starting);
        let started = Instant::now();
        let end = run_once(shared, &config, &mut newest, &mut requests).await;
        let error = match end {
            RunEnd::Finished => return JobOutcome::Finished,
            RunEnd::Stopped(checkpoint) => return JobOutcome::Stopped { checkpoint },
            RunEnd::Cancelled => return JobOutcome::Cancelled,
            RunEnd::Failed(error) => error,
        };
        let restarts = shared.restarts.load(Ordering::Relaxed);
        let failed = |error: JobError| JobOutcome::Failed {
            error: Arc::new(error),
            restarts,
        };
        if !error.is_transient() || requests.borrow().is_some() {
            return failed(error);
        }
        if started.elapsed() >= strategy.reset_after {
            in_a_row = 0;
        }
        if in_a_row >= strategy.attempts {
            return failed(error);
        }
        in_a_row += 1;
        shared.restarts.fetch_add(1, Ordering::Relaxed);
        if resumable {
            if let Some(id) = newest {
                config.restore_from = RestoreFrom::Checkpoint(id);
            }
        }
        let delay = strategy.delay(in_a_row);
        let from = match (&config.restore_from, resumable) {
            (_, false) => "the beginning (it has no checkpoint location)".to_string(),
            (RestoreFrom::Checkpoint(id), true) => format!("checkpoint {id}"),
            (RestoreFrom::Savepoint(location), true) => format!("the savepoint at {location}"),
            (RestoreFrom::Nothing, true) => "the beginning".to_string(),
            (RestoreFrom::Latest, true) => "its newest checkpoint".to_string(),
        };
        tracing::warn!(
            "job '{}' failed: {error}; restarting from {from} in {delay:.1?} (restart {in_a_row} of at most {} in a row)",
            job.name,
            strategy.attempts
        );
        shared.status.send_replace(JobStatus::Restarting {
            restart: in_a_row,
            delay,
            cause: error.to_string(),
        });
        tokio::select! {
            () = tokio::time::sleep(delay) => {}
            _ = requests.wait_for(Option::is_some) => {}
        }
    }
}

/// The outcome of a job asked to end while no run was going: stopped at the newest
/// checkpoint it has, or cancelled.
fn ended_between_runs(request: &Option<EndRequest>, newest: Option<u64>) -> Option<JobOutcome> {
    match request {
        None => None,
        Some(EndRequest::Stop { .. }) => Some(match newest {
            Some(checkpoint) => JobOutcome::Stopped { checkpoint },
            None => JobOutcome::Cancelled,
        }),
        Some(EndRequest::Cancel) => Some(JobOutcome::Cancelled),
    }
}

/// Builds, starts and runs the graph once, ending it as requested.
async fn run_once(
    shared: &Shared,
    config: &RuntimeConfig,
    newest: &mut Option<u64>,
    requests: &mut watch::Receiver<Option<EndRequest>>,
) -> RunEnd {
    let job = &shared.job;
    let graph = match build_graph(job).await {
        Ok(graph) => graph,
        Err(error) => return RunEnd::Failed(error),
    };
    let running = match graph.start(config).await {
        Ok(running) => running,
        Err(error) => return RunEnd::Failed(error.into()),
    };
    if let Some(restored) = running.restored() {
        *newest = (*newest).max(Some(restored.checkpoint_id));
    }
    let run = Run {
        control: running.control(),
        metrics: running.metrics().clone(),
    };
    if let Ok(mut current) = shared.current.lock() {
        *current = Some(run.clone());
    }
    // Running before the first run is announced: whoever `started()` sees it running.
    shared.status.send_replace(JobStatus::Running);
    shared.first_run.send_if_modified(|first| {
        let unset = first.is_none();
        if unset {
            *first = Some(running.restored().cloned());
        }
        unset
    });
    let joined = running.join();
    tokio::pin!(joined);
    let request = tokio::select! {
        joined = &mut joined => Err(joined),
        request = requests.wait_for(Option::is_some) => Ok(request.ok().and_then(|r| r.clone())),
    };
    let end = match request {
        Err(joined) => ended(joined),
        Ok(request) => end_on_request(shared, &run, request, joined, requests).await,
    };
    let completed = run.metrics.checkpoints().last().map(|c| c.checkpoint_id);
    *newest = (*newest).max(completed);
    end
}

/// The end of a run whose tasks all ended by themselves.
fn ended(joined: weir_engine::Result<Arc<weir_engine::JobMetrics>>) -> RunEnd {
    match joined {
        Ok(_) => RunEnd::Finished,
        Err(EngineError::Cancelled) => RunEnd::Cancelled,
        Err(error) => RunEnd::Failed(error.into()),
    }
}

/// Ends a run as `request` asks, while watching for the run to end by itself and for a
/// cancellation to override a stop.
async fn end_on_request<F>(
    shared: &Shared,
    run: &Run,
    request: Option<EndRequest>,
    mut joined: std::pin::Pin<&mut F>,
    requests: &mut watch::Receiver<Option<EndRequest>>,
) -> RunEnd
where
    F: std::future::Future<Output = weir_engine::Result<Arc<weir_engine::JobMetrics>>>,
{
    let savepoint = match request {
        Some(EndRequest::Stop { savepoint }) => savepoint,
        _ => {
            run.control.cancel();
            let _ = joined.await;
            return RunEnd::Cancelled;
        }
    };
    shared.status.send_replace(JobStatus::Stopping);
    let control = run.control.clone();
    let stop = async move {
        match &savepoint {
            Some(location) => control.stop_with_savepoint(location).await,
            None => control.stop().await,
        }
    };
    tokio::pin!(stop);
    /// What happened first during the stop.
    enum During {
        Stopped(weir_engine::Result<u64>),
        /// The job ended by itself (its sources ended) while it stopped.
        Ended(weir_engine::Result<Arc<weir_engine::JobMetrics>>),
        Cancelled,
    }
    let during = tokio::select! {
        stopped = &mut stop => During::Stopped(stopped),
        joined = joined.as_mut() => During::Ended(joined),
        cancelled = requests.wait_for(|r| *r == Some(EndRequest::Cancel)) => {
            drop(cancelled);
            During::Cancelled
        }
    };
    match during {
        During::Ended(joined) => ended(joined),
        During::Cancelled => {
            run.control.cancel();
            let _ = joined.await;
            RunEnd::Cancelled
        }
        During::Stopped(stopped) => match (stopped, joined.await) {
            (Ok(id), Ok(_)) => RunEnd::Stopped(id),
            // The job's own failure, if it had one, says more than the stop's.
            (_, Err(failure)) if !matches!(failure, EngineError::Cancelled) => {
                RunEnd::Failed(failure.into())
            }
            (Err(error), _) => RunEnd::Failed(JobError::Stop(error)),
            (Ok(_), Err(_)) => RunEnd::Cancelled,
        },
    }
}
