//! Checkpoints, stops and cancellations of a running job, asked for from any task while
//! another one awaits [`RunningJob::join`](super::RunningJob::join).

use std::sync::Arc;

use tokio::sync::{mpsc, oneshot, watch};

use super::checkpoint::Request;
use crate::checkpoint::CheckpointStore;
use crate::error::{EngineError, Result};

/// How a job was ended from outside; the first ending asked for is the one that counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ending {
    /// After a final checkpoint that every operator finished completing.
    Stopped,
    /// At once, whatever was in flight.
    Cancelled,
}

/// A handle on a running job; clones control the same job. Once the job's tasks have
/// all ended, every request fails with a checkpoint error.
#[derive(Debug, Clone)]
pub struct JobControl {
    checkpoints: mpsc::Sender<Request>,
    ending: Arc<watch::Sender<Option<Ending>>>,
}

impl JobControl {
    /// A control sending requests to the coordinator; the receiver hears the ending.
    pub(crate) fn new(
        checkpoints: mpsc::Sender<Request>,
    ) -> (Self, watch::Receiver<Option<Ending>>) {
        let (ending, ended) = watch::channel(None);
        let control = Self {
            checkpoints,
            ending: Arc::new(ending),
        };
        (control, ended)
    }

    /// Triggers a checkpoint (or joins the one in progress) and waits until it is
    /// complete; returns its id. Ids increase by one from one past the highest id at the
    /// checkpoint location (1 at a fresh location).
    pub async fn checkpoint(&self) -> Result<u64> {
        self.request(None, false).await
    }

    /// Takes a checkpoint and copies it, with every state file it references, to
    /// `location` (a directory or object store URL): a savepoint that stays valid whatever
    /// retention does at the checkpoint location. Needs a checkpoint location.
    pub async fn savepoint(&self, location: &str) -> Result<u64> {
        self.request(Some(CheckpointStore::open(location)?), false)
            .await
    }

    /// Stops the job without draining it; returns the id of its final checkpoint.
    ///
    /// The sources stop reading at the final checkpoint's barrier, so the checkpoint
    /// covers everything the job read. This returns once the checkpoint is complete and
    /// every operator ran `on_checkpoint_complete` for it (sinks have committed); then
    /// every task is stopped and [`RunningJob::join`](super::RunningJob::join) returns
    /// `Ok`. Nothing runs as if the input had ended: no `on_end`, no end-of-time
    /// watermark, so windows still open stay open, in the checkpoint, for the next run.
    /// Without a checkpoint location the checkpoint only aligns and commits; nothing can
    /// resume from it. If the final checkpoint fails, the job is cancelled and the error
    /// returned: the job resumes from its last completed checkpoint.
    pub async fn stop(&self) -> Result<u64> {
        self.stop_at(None).await
    }

    /// Like [`JobControl::stop`], with the final checkpoint also copied to `location` as a
    /// savepoint (see [`JobControl::savepoint`]).
    pub async fn stop_with_savepoint(&self, location: &str) -> Result<u64> {
        self.stop_at(Some(CheckpointStore::open(location)?)).await
    }

    /// Stops every task at once; [`RunningJob::join`](super::RunningJob::join) returns
    /// [`EngineError::Cancelled`]. What was not in a completed checkpoint is lost (and read
    /// again by a job restored from that checkpoint).
    pub fn cancel(&self) {
        self.end(Ending::Cancelled);
    }

    async fn stop_at(&self, savepoint: Option<CheckpointStore>) -> Result<u64> {
        match self.request(savepoint, true).await {
            Ok(id) => {
                self.end(Ending::Stopped);
                Ok(id)
            }
            Err(e) => {
                self.cancel();
                Err(e)
            }
        }
    }

    fn end(&self, ending: Ending) {
        self.ending.send_if_modified(|current| {
            let first = current.is_none();
            if first {
                *current = Some(ending);
            }
            first
        });
    }

    async fn request(&self, savepoint: Option<CheckpointStore>, stop: bool) -> Result<u64> {
        let (reply, done) = oneshot::channel();
        let stopped = || EngineError::Checkpoint("the job has stopped".into());
        self.checkpoints
            .send(Request {
                savepoint,
                stop,
                reply,
            })
            .await
            .map_err(|_| stopped())?;
        done.await.map_err(|_| stopped())?
    }
}
