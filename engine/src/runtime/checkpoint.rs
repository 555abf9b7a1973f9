//! The checkpoint coordinator: injects barriers at the sources, collects every subtask's
//! acknowledgement, then tells every operator that the checkpoint completed.
//!
//! A subtask that has finished (its inputs all ended) counts as having acknowledged every
//! later checkpoint: everything it will ever process is already behind it.

use std::collections::HashSet;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::time::{interval_at, Instant, MissedTickBehavior};

use crate::error::{EngineError, Result};
use crate::message::CheckpointBarrier;

/// What a subtask tells the coordinator.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Report {
    /// Subtask `subtask` (its index among all subtasks of the job) took its part of a checkpoint.
    Acknowledged { subtask: usize, checkpoint_id: u64 },
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
    /// Number of subtasks in the job.
    pub subtasks: usize,
}

struct Pending {
    id: u64,
    done: HashSet<usize>,
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
    let mut next_id = 1u64;
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
                    Some(Report::Acknowledged { subtask, checkpoint_id }) => {
                        if let Some(p) = pending.as_mut().filter(|p| p.id == checkpoint_id) {
                            p.done.insert(subtask);
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
            if (0..links.subtasks).all(|s| p.done.contains(&s) || finished.contains(&s)) {
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
                done: HashSet::new(),
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
