//! The checkpoint coordinator: injects barriers at the sources, collects every subtask's
//! acknowledgement, writes the manifest, then tells every operator that the checkpoint
//! completed.
//!
//! A subtask that has finished (its inputs all ended) reports its final state once. Every
//! later checkpoint it has not acknowledged uses that state: everything the subtask will
//! ever process is already behind it. When every subtask has finished, one last checkpoint
//! is taken, so that the output of the end of the input is committed too.
//!
//! A stop is a checkpoint whose barrier also tells the sources to stop reading: nothing
//! follows it in any channel. The coordinator replies to a stop once every operator has
//! run `on_checkpoint_complete` for it (sinks have committed), and triggers nothing after.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::time::{interval_at, Instant, MissedTickBehavior};

use crate::checkpoint::{CheckpointStore, Manifest, NodeState, SubtaskState, TableSchema};
use crate::error::{EngineError, Result};
use crate::message::CheckpointBarrier;
use crate::runtime::metrics::{CheckpointStats, JobMetrics};

/// Tells a finished subtask the id of the first checkpoint that holds its final state.
pub(crate) type Covered = oneshot::Sender<Result<u64>>;

/// What a subtask tells the coordinator.
#[derive(Debug)]
pub(crate) enum Report {
    /// Subtask `subtask` (its index among all subtasks of the job) took its part of a
    /// checkpoint and wrote `state`.
    Acknowledged {
        subtask: usize,
        checkpoint_id: u64,
        state: SubtaskState,
        /// How long the subtask stopped processing to take its snapshot.
        pause: Duration,
    },
    /// A subtask could not write its part of a checkpoint.
    Declined { checkpoint_id: u64, reason: String },
    /// Subtask `subtask` has processed its last message; `state` is what it holds now.
    Finished {
        subtask: usize,
        state: SubtaskState,
        covered: Option<Covered>,
    },
}

/// A request for a checkpoint; with a savepoint store, the checkpoint is also copied there.
pub(crate) struct Request {
    pub savepoint: Option<CheckpointStore>,
    /// Whether the sources stop reading at this checkpoint's barrier.
    pub stop: bool,
    pub reply: oneshot::Sender<Result<u64>>,
}

/// A barrier for a source subtask; with `stop`, the source reads nothing after it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Injection {
    pub barrier: CheckpointBarrier,
    pub stop: bool,
}

/// Tells an operator subtask that a checkpoint completed; `done`, when present, hears
/// once the operator's `on_checkpoint_complete` for it returned successfully.
#[derive(Debug)]
pub(crate) struct Completion {
    pub checkpoint_id: u64,
    pub done: Option<oneshot::Sender<()>>,
}

/// One node of the job as the coordinator sees it.
pub(crate) struct NodeInfo {
    pub name: String,
    pub parallelism: usize,
    pub tables: Vec<TableSchema>,
}

/// The coordinator's ends of the channels to the subtasks.
pub(crate) struct CoordinatorLinks {
    pub requests: mpsc::Receiver<Request>,
    pub reports: mpsc::Receiver<Report>,
    /// Barrier injection, one per source subtask.
    pub sources: Vec<mpsc::Sender<Injection>>,
    /// Completion notices, one per operator subtask.
    pub operators: Vec<mpsc::Sender<Completion>>,
    /// The nodes, in the order of the subtasks' global indices.
    pub nodes: Vec<NodeInfo>,
    pub max_parallelism: usize,
    /// Where manifests go; without a store checkpoints only align and notify.
    pub store: Option<CheckpointStore>,
    /// How many complete checkpoints to keep.
    pub retained: usize,
    /// The id of the first checkpoint.
    pub first_id: u64,
    /// Where completed checkpoints are recorded.
    pub metrics: Arc<JobMetrics>,
}

struct Pending {
    id: u64,
    timestamp_ms: i64,
    started: Instant,
    max_pause: Duration,
    states: BTreeMap<usize, SubtaskState>,
    requests: Vec<Request>,
    /// Whether this checkpoint stops the job.
    stop: bool,
}

/// The coordinator's state between events.
struct Coordinator {
    links: CoordinatorLinks,
    next_id: u64,
    pending: Option<Pending>,
    queued: Vec<Request>,
    /// Final states of finished subtasks.
    finished: HashMap<usize, SubtaskState>,
    /// Finished subtasks waiting for a checkpoint that holds their final state.
    covered: Vec<(usize, Covered)>,
    /// Set once a stop checkpoint was triggered: no checkpoint is triggered after it.
    stopping: bool,
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

impl Coordinator {
    fn subtasks(&self) -> usize {
        self.links.nodes.iter().map(|n| n.parallelism).sum()
    }

    fn all_finished(&self) -> bool {
        self.finished.len() == self.subtasks()
    }

    /// Starts checkpoint `next_id`: barriers go to every source still running. It is a
    /// stop when a queued request asks for one.
    async fn trigger(&mut self) {
        let barrier = CheckpointBarrier {
            checkpoint_id: self.next_id,
            timestamp_ms: now_ms(),
        };
        self.next_id += 1;
        let stop = self.queued.iter().any(|r| r.stop);
        self.stopping = stop;
        for source in &self.links.sources {
            // A finished source has nothing left to put before the barrier.
            let _ = source.send(Injection { barrier, stop }).await;
        }
        self.pending = Some(Pending {
            id: barrier.checkpoint_id,
            timestamp_ms: barrier.timestamp_ms,
            started: Instant::now(),
            max_pause: Duration::ZERO,
            states: BTreeMap::new(),
            requests: std::mem::take(&mut self.queued),
            stop,
        });
    }

    /// Tells every operator that checkpoint `id` completed. For a stop, waits until each
    /// one ran `on_checkpoint_complete` for it; fails if one did not (it failed or was
    /// aborted; its own error is what the job reports).
    async fn notify_complete(&self, id: u64, stop: bool) -> Result<()> {
        let mut acknowledgements = Vec::new();
        for operator in &self.links.operators {
            let (done, acknowledged) = match stop {
                true => {
                    let (done, acknowledged) = oneshot::channel();
                    (Some(done), Some(acknowledged))
                }
                false => (None, None),
            };
            let completion = Completion {
                checkpoint_id: id,
                done,
            };
            // An operator that already stopped has committed everything it will.
            if operator.send(completion).await.is_ok() {
                acknowledgements.extend(acknowledged);
            }
        }
        for acknowledged in acknowledgements {
            acknowledged.await.map_err(|_| {
                EngineError::Checkpoint(format!(
                    "an operator did not finish completing checkpoint {id}"
                ))
            })?;
        }
        Ok(())
    }

    /// Completes the pending checkpoint if every subtask acknowledged it or has finished.
    async fn try_complete(&mut self) {
        let Some(p) = self.pending.take() else {
            return;
        };
        let total = self.subtasks();
        if !(0..total).all(|s| p.states.contains_key(&s) || self.finished.contains_key(&s)) {
            self.pending = Some(p);
            return;
        }
        let from_final: HashSet<usize> = (0..total).filter(|s| !p.states.contains_key(s)).collect();
        let result = self.commit(&p).await.map(|manifest| {
            let mut state_bytes = 0;
            let mut written_bytes = 0;
            let folder = format!("chk-{:010}/", p.id);
            for file in manifest.iter().flat_map(|m| m.files()) {
                state_bytes += file.bytes as u64;
                if file.path.starts_with(&folder) {
                    written_bytes += file.bytes as u64;
                }
            }
            if let Ok(mut done) = self.links.metrics.checkpoints.lock() {
                done.push(CheckpointStats {
                    checkpoint_id: p.id,
                    duration: p.started.elapsed(),
                    max_pause: p.max_pause,
                    state_bytes,
                    written_bytes,
                });
            }
        });
        // A failed checkpoint leaves finished subtasks waiting for the next one, unless
        // there will be no next one.
        let last_chance = self.all_finished();
        let (done, waiting): (Vec<_>, Vec<_>) = std::mem::take(&mut self.covered)
            .into_iter()
            .partition(|(s, _)| from_final.contains(s) && (result.is_ok() || last_chance));
        self.covered = waiting;
        let result = match result {
            Ok(()) => self.notify_complete(p.id, p.stop).await,
            Err(e) => Err(e),
        };
        if let Err(e) = &result {
            self.links
                .metrics
                .checkpoint_failures
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            tracing::error!(checkpoint = p.id, error = %e, "checkpoint failed");
        }
        let reply = |r: &Result<()>| match r {
            Ok(()) => Ok(p.id),
            Err(e) => Err(EngineError::Checkpoint(e.to_string())),
        };
        for request in p.requests {
            let _ = request.reply.send(reply(&result));
        }
        for (_, covered) in done {
            let _ = covered.send(reply(&result));
        }
    }

    /// Writes the manifest (and savepoint copies) of a checkpoint every subtask
    /// acknowledged, then applies retention. Returns the manifest, if there is a store.
    async fn commit(&self, pending: &Pending) -> Result<Option<Manifest>> {
        let Some(store) = &self.links.store else {
            return match pending.requests.iter().any(|r| r.savepoint.is_some()) {
                true => Err(EngineError::Checkpoint(
                    "a savepoint needs a checkpoint location".into(),
                )),
                false => Ok(None),
            };
        };
        let mut nodes = Vec::with_capacity(self.links.nodes.len());
        let mut global = 0;
        for node in &self.links.nodes {
            let subtasks = (global..global + node.parallelism)
                .map(|s| {
                    pending
                        .states
                        .get(&s)
                        .or_else(|| self.finished.get(&s))
                        .cloned()
                        .expect("every subtask acknowledged or finished")
                })
                .collect();
            global += node.parallelism;
            nodes.push(NodeState {
                name: node.name.clone(),
                parallelism: node.parallelism,
                tables: node.tables.clone(),
                subtasks,
            });
        }
        let manifest = Manifest {
            checkpoint_id: pending.id,
            timestamp_ms: pending.timestamp_ms,
            max_parallelism: self.links.max_parallelism,
            nodes,
        };
        store.write_manifest(&manifest).await?;
        for target in pending.requests.iter().filter_map(|r| r.savepoint.as_ref()) {
            store.copy_checkpoint(&manifest, target).await?;
        }
        store.retain(self.links.retained).await?;
        Ok(Some(manifest))
    }

    fn on_report(&mut self, report: Report) {
        match report {
            Report::Finished {
                subtask,
                state,
                covered,
            } => {
                self.finished.insert(subtask, state);
                if let Some(covered) = covered {
                    self.covered.push((subtask, covered));
                }
            }
            Report::Acknowledged {
                subtask,
                checkpoint_id,
                state,
                pause,
            } => {
                if let Some(p) = self.pending.as_mut().filter(|p| p.id == checkpoint_id) {
                    p.states.insert(subtask, state);
                    p.max_pause = p.max_pause.max(pause);
                }
            }
            Report::Declined {
                checkpoint_id,
                reason,
            } => {
                if let Some(p) = self.pending.take_if(|p| p.id == checkpoint_id) {
                    self.links
                        .metrics
                        .checkpoint_failures
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    tracing::error!(checkpoint = p.id, %reason, "checkpoint failed");
                    for request in p.requests {
                        let _ = request
                            .reply
                            .send(Err(EngineError::Checkpoint(reason.clone())));
                    }
                }
            }
        }
    }
}

pub(crate) async fn run_coordinator(
    links: CoordinatorLinks,
    every: Option<Duration>,
) -> Result<()> {
    let mut timer = every.map(|d| {
        let mut t = interval_at(Instant::now() + d, d);
        t.set_missed_tick_behavior(MissedTickBehavior::Delay);
        t
    });
    let mut c = Coordinator {
        next_id: links.first_id,
        links,
        pending: None,
        queued: Vec::new(),
        finished: HashMap::new(),
        covered: Vec::new(),
        stopping: false,
    };
    let mut requests_open = true;
    loop {
        let start = tokio::select! {
            report = c.links.reports.recv() => {
                match report {
                    None => break,
                    Some(report) => c.on_report(report),
                }
                false
            }
            request = c.links.requests.recv(), if requests_open => {
                match request {
                    None => requests_open = false,
                    Some(request) if c.stopping => {
                        let _ = request.reply.send(Err(EngineError::Checkpoint(
                            "the job is stopping".into(),
                        )));
                    }
                    Some(request) => c.queued.push(request),
                }
                true
            }
            _ = async { timer.as_mut().expect("guarded").tick().await }, if timer.is_some() => true,
        };
        c.try_complete().await;
        // The end of the input: one last checkpoint holds every subtask's final state.
        let final_due = c.all_finished() && !c.covered.is_empty();
        if c.pending.is_none() && !c.stopping && (start || !c.queued.is_empty() || final_due) {
            c.trigger().await;
            c.try_complete().await;
        }
    }
    let stopped = || {
        Err(EngineError::Checkpoint(
            "the job stopped before the checkpoint completed".into(),
        ))
    };
    for request in c
        .pending
        .into_iter()
        .flat_map(|p| p.requests)
        .chain(c.queued)
    {
        let _ = request.reply.send(stopped());
    }
    Ok(())
}
