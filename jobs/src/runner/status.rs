//! What a running job is doing, and how it ended.

use std::sync::Arc;
use std::time::Duration;

use crate::error::JobError;

/// The state of a job's lifecycle, as [`JobHandle::status`](super::JobHandle::status) reports it.
#[derive(Debug, Clone, PartialEq)]
pub enum JobStatus {
    /// Building the graph, connecting and restoring state.
    Starting,
    /// Every task is running.
    Running,
    /// Failed on a transient error; starts again from its last completed checkpoint after
    /// `delay`. `restart` counts the restarts in a row, out of the strategy's attempts.
    Restarting {
        restart: u32,
        delay: Duration,
        cause: String,
    },
    /// Taking the final checkpoint of a stop.
    Stopping,
    /// Ended; see [`JobOutcome`].
    Ended,
}

/// How a job ended.
#[derive(Debug, Clone)]
pub enum JobOutcome {
    /// Its sources ended and every sink committed everything.
    Finished,
    /// Stopped with a final checkpoint; a restart resumes from it.
    Stopped { checkpoint: u64 },
    /// Cancelled: a restart resumes from its last completed checkpoint.
    Cancelled,
    /// Failed on a permanent error, or on a transient one after the restarts ran out (or
    /// while it was being stopped). `restarts` is how many restarts it made in all.
    Failed { error: Arc<JobError>, restarts: u32 },
}
