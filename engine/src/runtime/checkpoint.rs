//! The checkpoint coordinator: injects barriers at the sources, collects every subtask's
//! acknowledgement, then tells every operator that the checkpoint completed.
//!
//! A subtask that has finished (its inputs all ended) counts as having acknowledged every
//! later checkpoint: everything it will ever process is already behind it.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::time::{interval_at, Instant, MissedTickBehavior};

use crate::checkpoint::{CheckpointStore, Manifest, NodeState, SubtaskState};
use crate::error::{EngineError, Result};
use crate::message::CheckpointBarrier;

/// What a subtask tells the coordinator.
#[derive(Debug, Clone)]
pub(crate) enum Report {
    /// Subtask `subtask` (its index among all subtasks of the job) took its part of a
    /// checkpoint and wrote `state`.
    Acknowledged {
        subtask: usize,
        checkpoint_id: u64,
        state: SubtaskState,
    },
    /// Subtask `subtask` has processed its last message.
    Finished { subtask: usize },
}

/// Someone waiting for the next checkpoint to complete.
pub(crate) type Waiter = oneshot::Sender<Result<u64>>;

/// The coordinator's ends of the channels to the subtasks.
pub(crate) struct CoordinatorLinks {
    pub requests: mpsc::Receiver<Waiter>,
    pub reports: mpsc::Receiver<Report>,
    /// Barrier injection, one per source subtask.
    pub sources: Vec<mpsc::Sender<CheckpointBarrier>>,
    /// Completion notices, one per operator subtask.
    pub operators: Vec<mpsc::Sender<u64>>,
    /// Node name and parallelism, in the order of the subtasks' global indices.
    pub nodes: Vec<(String, usize)>,
    pub max_parallelism: usize,
    /// Where manifests go; without a store checkpoints only align and notify.
    pub store: Option<CheckpointStore>,
    /// How many complete checkpoints to keep.
    pub retained: usize,
    /// The id of the first checkpoint (one past the restored one).
    pub first_id: u64,
}

impl CoordinatorLinks {
    fn subtasks(&self) -> usize {
        self.nodes.iter().map(|(_, p)| p).sum()
    }

    /// Writes the manifest of a checkpoint every subtask acknowledged, then applies retention.
    async fn commit(&self, pending: &Pending) -> Result<()> {
        let Some(store) = &self.store else {
            return Ok(());
        };
        let mut nodes = Vec::with_capacity(self.nodes.len());
        let mut global = 0;
        for (name, parallelism) in &self.nodes {
            let subtasks = (0..*parallelism)
                .map(|i| {
                    let state = pending.states.get(&(global + i)).cloned();
                    state.unwrap_or(SubtaskState {
                        subtask: i,
                        ..SubtaskState::default()
                    })
                })
                .collect();
            global += parallelism;
            nodes.push(NodeState {
                name: name.clone(),
                parallelism: *parallelism,
                subtasks,
            });
        }
        store
            .write_manifest(&Manifest {
                checkpoint_id: pending.id,
                timestamp_ms: pending.timestamp_ms,
                max_parallelism: self.max_parallelism,
                nodes,
            })
            .await?;
        store.retain(self.retained).await
    }
}

struct Pending {
    id: u64,
    timestamp_ms: i64,
    done: HashSet<usize>,
    states: BTreeMap<usize, SubtaskState>,
    waiters: Vec<Waiter>,
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

pub(crate) async fn run_coordinator(
    mut links: CoordinatorLinks,
    every: Option<Duration>,
) -> Result<()> {
    let mut next_id = links.first_id;
    let mut finished = HashSet::new();
    let mut pending: Option<Pending> = None;
    let mut queued: Vec<Waiter> = Vec::new();
    let mut requests_open = true;
    let mut timer = every.map(|d| {
        let mut t = interval_at(Instant::now() + d, d);
        t.set_missed_tick_behavior(MissedTickBehavior::Delay);
        t
    });
    loop {
        let start = tokio::select! {
            report = links.reports.recv() => {
                match report {
                    None => break,
                    Some(Report::Finished { subtask }) => {
                        finished.insert(subtask);
                    }
                    Some(Report::Acknowledged { subtask, checkpoint_id, state }) => {
                        if let Some(p) = pending.as_mut().filter(|p| p.id == checkpoint_id) {
                            p.done.insert(subtask);
                            p.states.insert(subtask, state);
                        }
                    }
                }
                false
            }
            request = links.requests.recv(), if requests_open => {
                match request {
                    None => requests_open = false,
                    Some(waiter) => queued.push(waiter),
                }
                pending.is_none()
            }
            _ = async { timer.as_mut().expect("guarded").tick().await }, if timer.is_some() => pending.is_none(),
        };
        if let Some(p) = pending.take() {
            if (0..links.subtasks()).all(|s| p.done.contains(&s) || finished.contains(&s)) {
                if let Err(e) = links.commit(&p).await {
                    tracing::error!(checkpoint = p.id, error = %e, "checkpoint failed");
                    let message = e.to_string();
                    for waiter in p.waiters {
                        let _ = waiter.send(Err(EngineError::Checkpoint(message.clone())));
                    }
                    continue;
                }
                for operator in &links.operators {
                    // A stopped operator needs no notice.
                    let _ = operator.send(p.id).await;
                }
                for waiter in p.waiters {
                    let _ = waiter.send(Ok(p.id));
                }
            } else {
                pending = Some(p);
            }
        }
        if pending.is_none() && (start || !queued.is_empty()) {
            let barrier = CheckpointBarrier {
                checkpoint_id: next_id,
                timestamp_ms: now_ms(),
            };
            next_id += 1;
            for source in &links.sources {
                // A finished source has nothing left to put before the barrier.
                let _ = source.send(barrier).await;
            }
            pending = Some(Pending {
                id: barrier.checkpoint_id,
                timestamp_ms: barrier.timestamp_ms,
                done: HashSet::new(),
                states: BTreeMap::new(),
                waiters: std::mem::take(&mut queued),
            });
        }
    }
    let stopped = || {
        Err(EngineError::Checkpoint(
            "the job finished before the checkpoint completed".into(),
        ))
    };
    for waiter in pending.into_iter().flat_map(|p| p.waiters).chain(queued) {
        let _ = waiter.send(stopped());
    }
    Ok(())
}
