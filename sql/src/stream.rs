//! A statement's result as it is computed ([`QueryStream`]), and the time limit of the
//! statement it belongs to ([`Deadline`]).

use std::future::Future;
use std::time::Duration;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use tokio::sync::{mpsc, OwnedMutexGuard};
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::error::{Result, SqlError};

/// When a statement's time is up: its start plus the session's time limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadline {
    at: Instant,
    timeout: Duration,
}

impl Deadline {
    /// `timeout` from now.
    pub fn after(timeout: Duration) -> Self {
        Self {
            at: Instant::now() + timeout,
            timeout,
        }
    }

    /// `work`'s output, or [`SqlError::Timeout`] if the deadline passes first (`work` is
    /// then dropped). The caller's part of a statement, such as writing its rows, runs
    /// under the statement's time limit this way.
    pub async fn bound<T>(self, work: impl Future<Output = T>) -> Result<T> {
        tokio::time::timeout_at(self.at, work)
            .await
            .map_err(|_| SqlError::Timeout(self.timeout))
    }
}

/// The batches of one statement's result, in order, as the query computes them. At most
/// [`QUEUED_BATCHES`] computed batches wait for the reader, so a result is never held
/// whole; the reader's pace holds the query back.
///
/// The statement holds the session (its memory pool and its preloaded tables) until the
/// stream is dropped; dropping it cancels the query. After an error or the end, `next`
/// returns `None`.
pub struct QueryStream {
    schema: SchemaRef,
    batches: mpsc::Receiver<Result<RecordBatch>>,
    deadline: Deadline,
    /// The task computing the batches; dropping the set aborts it.
    task: JoinSet<()>,
    /// The lake's root, to name in an error of the task.
    location: String,
    ended: bool,
    _running: OwnedMutexGuard<()>,
}

/// How many computed batches may wait for the reader of a [`QueryStream`].
pub const QUEUED_BATCHES: usize = 2;

impl QueryStream {
    pub(crate) fn new(
        schema: SchemaRef,
        batches: mpsc::Receiver<Result<RecordBatch>>,
        deadline: Deadline,
        task: JoinSet<()>,
        location: String,
        running: OwnedMutexGuard<()>,
    ) -> Self {
        Self {
            schema,
            batches,
            deadline,
            task,
            location,
            ended: false,
            _running: running,
        }
    }

    /// The result's schema, also when it has no rows.
    pub fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    /// The statement's time limit, for the reader's own work on the batches.
    pub fn deadline(&self) -> Deadline {
        self.deadline
    }

    /// The next batch, `None` after the last one; the statement's error, or
    /// [`SqlError::Timeout`] when its time is up before the batch is ready, ends it.
    pub async fn next(&mut self) -> Option<Result<RecordBatch>> {
        if self.ended {
            return None;
        }
        let next = match self.deadline.bound(self.batches.recv()).await {
            Err(timeout) => Some(Err(timeout)),
            Ok(Some(batch)) => Some(batch),
            Ok(None) => self.task_failure().await,
        };
        self.ended = !matches!(next, Some(Ok(_)));
        next
    }

    /// Why the task ended without an error in the channel: `None` if it just finished; a
    /// panic in it is resumed here.
    async fn task_failure(&mut self) -> Option<Result<RecordBatch>> {
        let failed = self.task.join_next().await?.err()?;
        match failed.try_into_panic() {
            Ok(panic) => std::panic::resume_unwind(panic),
            Err(failed) => Some(Err(SqlError::Lake {
                location: self.location.clone(),
                message: format!("the query's task ended: {failed}"),
            })),
        }
    }
}
