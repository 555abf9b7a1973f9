//! One lifecycle for every job, used by `weir run`, `weir demo` and the server: start a
//! job, watch its status and counters, checkpoint it, stop it with a final checkpoint or a
//! savepoint, cancel it, wait for its end, and restart it from its last completed
//! checkpoint when it fails on a transient error (see [`RestartStrategy`]).

mod request;
mod restart;
mod status;
mod supervisor;

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::watch;
use weir_engine::{JobControl, JobMetrics, RestoreFrom, RestoreInfo};

use crate::definition::JobDefinition;
use crate::error::{JobError, Result};
use request::EndRequest;
pub use restart::RestartStrategy;
pub use status::{JobOutcome, JobStatus};

/// How a job starts.
#[derive(Debug, Clone, Default)]
pub struct StartOptions {
    /// The state its first run starts from (default: the newest checkpoint at its
    /// checkpoint location). Restarts after a failure start from the newest checkpoint
    /// this job completed, or from this again when it completed none.
    pub restore_from: RestoreFrom,
}

/// A job started by [`JobHandle::start`]; clones are handles on the same job. The job runs
/// on its own tasks whether or not a handle is kept.
#[derive(Debug, Clone)]
pub struct JobHandle {
    shared: Arc<Shared>,
    outcome: watch::Receiver<Option<JobOutcome>>,
}

/// What the handles and the supervisor of one job share.
#[derive(Debug)]
struct Shared {
    job: Arc<JobDefinition>,
    status: watch::Sender<JobStatus>,
    /// What the first run restored from, once it runs (`Some(None)`: a fresh start).
    first_run: watch::Sender<Option<Option<RestoreInfo>>>,
    /// The newest run: its control and counters.
    current: Mutex<Option<Run>>,
    requests: watch::Sender<Option<EndRequest>>,
    restarts: AtomicU32,
}

/// One run of the job's graph, from a start or a restart to its end.
#[derive(Debug, Clone)]
struct Run {
    control: JobControl,
    metrics: Arc<JobMetrics>,
}

impl JobHandle {
    /// Starts `job` on the current tokio runtime and returns at once; the first run builds
    /// the graph, connects and restores in the background (see [`JobHandle::started`]).
    pub fn start(job: JobDefinition, options: StartOptions) -> JobHandle {
        let (status, _) = watch::channel(JobStatus::Starting);
        let (first_run, _) = watch::channel(None);
        let (requests, _) = watch::channel(None);
        let shared = Arc::new(Shared {
            job: Arc::new(job),
            status,
            first_run,
            current: Mutex::new(None),
            requests,
            restarts: AtomicU32::new(0),
        });
        let (outcome_sender, outcome) = watch::channel(None);
        tokio::spawn(supervisor::supervise(
            shared.clone(),
            options,
            outcome_sender,
        ));
        JobHandle { shared, outcome }
    }

    /// The job's definition.
    pub fn job(&self) -> &JobDefinition {
        &self.shared.job
    }

    pub fn status(&self) -> JobStatus {
        self.shared.status.borrow().clone()
    }

    /// Waits until the job's first run is running and returns what it restored from
    /// (`None`: a fresh start); `Err` with the outcome if the job ended before that.
    pub async fn started(&self) -> std::result::Result<Option<RestoreInfo>, JobOutcome> {
        // Values are cloned out of the channels, never borrowed across an await: the
        // future is `Send`, so it can be awaited in a spawned task.
        let mut first_run = self.shared.first_run.subscribe();
        let mut outcome = self.outcome.clone();
        loop {
            let run = first_run.borrow_and_update().clone();
            if let Some(run) = run {
                return Ok(run);
            }
            let ended = outcome.borrow_and_update().clone();
            if let Some(ended) = ended {
                return Err(ended);
            }
            let closed = tokio::select! {
                biased;
                changed = first_run.changed() => changed.is_err(),
                changed = outcome.changed() => changed.is_err(),
            };
            if closed {
                return Err(self.wait().await);
            }
        }
    }

    /// The counters of the newest run (a restart starts them over); `None` before the
    /// first run started.
    pub fn metrics(&self) -> Option<Arc<JobMetrics>> {
        self.current().map(|run| run.metrics)
    }

    /// How many times the job restarted after a failure.
    pub fn restarts(&self) -> u32 {
        self.shared.restarts.load(Ordering::Relaxed)
    }

    /// Triggers a checkpoint (or joins the one in progress) and waits until it is
    /// complete; returns its id. Fails when the job is not running.
    pub async fn checkpoint(&self) -> Result<u64> {
        Ok(self.running()?.control.checkpoint().await?)
    }

    /// Takes a checkpoint and copies it to `location` as a savepoint; returns its id.
    pub async fn savepoint(&self, location: &str) -> Result<u64> {
        Ok(self.running()?.control.savepoint(location).await?)
    }

    /// Stops the job: its sources stop reading, a final checkpoint is taken and committed
    /// by the sinks, and the job ends [`JobOutcome::Stopped`] at it. A job waiting to
    /// restart ends at once, stopped at its last completed checkpoint. Returns the outcome.
    pub async fn stop(&self) -> JobOutcome {
        self.request(EndRequest::Stop { savepoint: None });
        self.wait().await
    }

    /// Like [`JobHandle::stop`], with the final checkpoint also copied to `location`.
    pub async fn stop_with_savepoint(&self, location: &str) -> JobOutcome {
        self.request(EndRequest::Stop {
            savepoint: Some(location.to_string()),
        });
        self.wait().await
    }

    /// Cancels the job at once, also during a stop: it resumes from its last completed
    /// checkpoint. Returns without waiting; [`JobHandle::wait`] tells when it ended.
    pub fn cancel(&self) {
        self.request(EndRequest::Cancel);
    }

    /// Waits until the job ended.
    pub async fn wait(&self) -> JobOutcome {
        let mut outcome = self.outcome.clone();
        loop {
            let ended = outcome.borrow_and_update().clone();
            if let Some(ended) = ended {
                return ended;
            }
            if outcome.changed().await.is_err() {
                return ended_outcome(outcome.borrow().clone());
            }
        }
    }

    fn request(&self, request: EndRequest) {
        self.shared.requests.send_if_modified(|current| {
            let replace = request.overrides(current.as_ref());
            if replace {
                *current = Some(request);
            }
            replace
        });
    }

    fn current(&self) -> Option<Run> {
        self.shared.current.lock().ok().and_then(|run| run.clone())
    }

    fn running(&self) -> Result<Run> {
        let status = self.status();
        match (status, self.current()) {
            (JobStatus::Running, Some(run)) => Ok(run),
            (status, _) => Err(JobError::NotRunning {
                job: self.shared.job.name.clone(),
                status: format!("{status:?}"),
            }),
        }
    }
}

/// The outcome a finished wait saw; a supervisor that went away without one failed.
fn ended_outcome(outcome: Option<JobOutcome>) -> JobOutcome {
    outcome.unwrap_or_else(|| JobOutcome::Failed {
        error: Arc::new(JobError::Runner(
            "the job's supervisor ended abnormally".into(),
        )),
        restarts: 0,
    })
}
