//! A subtask's line to the checkpoint coordinator.
//!
//! A subtask hands its snapshot over and goes on processing at once; a writer task of its
//! own writes the state files in the background, in checkpoint order, and then reports to
//! the coordinator. Dropping the link (the subtask stopped or was killed) stops the writer.

use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use super::checkpoint::{Covered, Report};
use crate::checkpoint::{CheckpointStore, SubtaskState, SubtaskWriter};
use crate::error::{EngineError, Result};
use crate::state::OperatorSnapshot;

/// What the writer is asked to write.
enum Write {
    /// A checkpoint, with how long the subtask paused to take its snapshot.
    Checkpoint(u64, Duration),
    /// The state after the last message, with whoever waits for it to be checkpointed.
    Final(Option<Covered>),
}

pub(crate) struct TaskLink {
    /// `None` once the subtask finished.
    writes: Option<mpsc::UnboundedSender<(Write, OperatorSnapshot)>>,
    writer: JoinHandle<Result<()>>,
}

impl Drop for TaskLink {
    fn drop(&mut self) {
        // Pending writes of a stopped subtask must not land after a restarted job began.
        self.writer.abort();
    }
}

impl TaskLink {
    /// The link of the subtask with global index `subtask`, subtask `index` of `node`.
    pub fn new(
        subtask: usize,
        node: &str,
        index: usize,
        store: Option<&CheckpointStore>,
        first_id: u64,
        reports: mpsc::Sender<Report>,
    ) -> Self {
        let (writes, requests) = mpsc::unbounded_channel();
        let writer = store.map(|s| s.subtask_writer(node, index));
        let writer = tokio::spawn(run_writer(
            subtask, index, writer, first_id, requests, reports,
        ));
        Self {
            writes: Some(writes),
            writer,
        }
    }

    fn send(&self, write: Write, snapshot: OperatorSnapshot) -> Result<()> {
        self.writes
            .as_ref()
            .and_then(|w| w.send((write, snapshot)).ok())
            .ok_or_else(|| EngineError::Checkpoint("the state writer stopped".into()))
    }

    /// Hands the subtask's part of checkpoint `checkpoint_id` to the writer.
    /// `pause` is how long taking the snapshot kept the subtask from processing.
    pub fn acknowledge(
        &self,
        checkpoint_id: u64,
        snapshot: OperatorSnapshot,
        pause: Duration,
    ) -> Result<()> {
        self.send(Write::Checkpoint(checkpoint_id, pause), snapshot)
    }

    /// Reports that the subtask processed its last message and holds `snapshot` now.
    /// Waits until the writer is done with everything handed to it.
    pub async fn finished(mut self, snapshot: OperatorSnapshot) -> Result<()> {
        self.send(Write::Final(None), snapshot)?;
        self.drain().await
    }

    /// Like [`TaskLink::finished`], then waits for a checkpoint holding the final state
    /// and returns its id (`None` when the job stopped first).
    pub async fn finished_and_covered(mut self, snapshot: OperatorSnapshot) -> Result<Option<u64>> {
        let (covered, done) = oneshot::channel();
        self.send(Write::Final(Some(covered)), snapshot)?;
        self.drain().await?;
        match done.await {
            Ok(Ok(id)) => Ok(Some(id)),
            Ok(Err(e)) => Err(e),
            Err(_) => Ok(None),
        }
    }

    /// Closes the queue and waits until the writer wrote everything in it.
    async fn drain(&mut self) -> Result<()> {
        self.writes = None;
        match (&mut self.writer).await {
            Ok(result) => result,
            Err(e) => Err(EngineError::Join(e.to_string())),
        }
    }
}

async fn run_writer(
    subtask: usize,
    index: usize,
    mut writer: Option<SubtaskWriter>,
    first_id: u64,
    mut requests: mpsc::UnboundedReceiver<(Write, OperatorSnapshot)>,
    reports: mpsc::Sender<Report>,
) -> Result<()> {
    let mut last_id = None;
    while let Some((what, snapshot)) = requests.recv().await {
        // Final state goes to the folder of the next checkpoint this subtask could be in.
        let folder = match what {
            Write::Checkpoint(id, _) => id,
            Write::Final(_) => last_id.map_or(first_id, |id: u64| id + 1),
        };
        let written = match &mut writer {
            Some(w) => w.write(folder, snapshot).await,
            None => Ok(SubtaskState {
                subtask: index,
                ..SubtaskState::default()
            }),
        };
        // The coordinator only stops when the job does.
        let report = match (what, written) {
            (Write::Checkpoint(checkpoint_id, pause), Ok(state)) => {
                last_id = Some(checkpoint_id);
                Report::Acknowledged {
                    subtask,
                    checkpoint_id,
                    state,
                    pause,
                }
            }
            (Write::Checkpoint(checkpoint_id, _), Err(e)) => Report::Declined {
                checkpoint_id,
                reason: e.to_string(),
            },
            (Write::Final(covered), Ok(state)) => Report::Finished {
                subtask,
                state,
                covered,
            },
            (Write::Final(_), Err(e)) => return Err(e),
        };
        let _ = reports.send(report).await;
    }
    Ok(())
}
