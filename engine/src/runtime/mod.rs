//! Runs a [`JobGraph`] on tokio: one task per subtask, row-bounded channels on every edge.

mod checkpoint;
mod control;
mod inputs;
pub mod metrics;
mod operator_task;
mod outputs;
mod router;
mod source_task;
mod task_link;

use std::sync::Arc;

use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

use crate::channel::channel;
use crate::checkpoint::{CheckpointStore, Manifest, Restored, SkippedCheckpoint, TableSchema};
use crate::error::{EngineError, Result};
use crate::graph::{JobGraph, NodeKind, Partitioning};
use crate::operator::SubtaskInfo;
use crate::state::redistribute;
use checkpoint::{CoordinatorLinks, NodeInfo, Report, Request};
use control::Ending;
pub use control::JobControl;
use inputs::{InputChannel, Inputs};
use metrics::{ChannelInfo, JobMetrics, NodeMetrics};
use outputs::Outputs;
use router::Router;
use task_link::TaskLink;

/// Settings of the runtime.
#[derive(Debug, Clone)]
pub struct RuntimeConfig {
    /// Rows one channel may hold before its sender waits (default 32,768).
    pub channel_rows: usize,
    /// Messages one channel may hold before its sender waits (default 1,024).
    pub channel_messages: usize,
    /// Take a checkpoint this often (default: only when asked, see [`RunningJob::checkpoint`]).
    pub checkpoint_interval: Option<Duration>,
    /// Where checkpoints are written (a directory, or an object store URL). When it holds a
    /// complete checkpoint, the job starts from the newest one. Without a location,
    /// checkpoints only align barriers and notify operators.
    pub checkpoint_location: Option<String>,
    /// How many complete checkpoints to keep (default 3).
    pub checkpoints_retained: usize,
    /// Which state the job starts from (default: the newest usable checkpoint at the
    /// checkpoint location, if any).
    pub restore_from: RestoreFrom,
}

/// Which state a job starts from.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum RestoreFrom {
    /// The newest usable checkpoint at the checkpoint location; a fresh start when none
    /// was ever completed there. Unusable newer checkpoints are skipped and reported.
    #[default]
    Latest,
    /// Exactly this checkpoint at the checkpoint location.
    Checkpoint(u64),
    /// The savepoint (or the newest usable checkpoint) at this location.
    Savepoint(String),
    /// A fresh start, whatever the checkpoint location holds.
    Nothing,
}

/// What a job was restored from.
#[derive(Debug, Clone, PartialEq)]
pub struct RestoreInfo {
    /// Where the checkpoint was read.
    pub location: String,
    pub checkpoint_id: u64,
    /// Newer checkpoints that could not be used, newest first, with the reason.
    pub skipped: Vec<SkippedCheckpoint>,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        Self {
            channel_rows: 32 * 1024,
            channel_messages: 1024,
            checkpoint_interval: None,
            checkpoint_location: None,
            checkpoints_retained: 3,
            restore_from: RestoreFrom::Latest,
        }
    }
}

/// A job whose tasks are running. Dropping it stops every task.
pub struct RunningJob {
    tasks: JoinSet<Result<()>>,
    metrics: Arc<JobMetrics>,
    control: JobControl,
    ending: watch::Receiver<Option<Ending>>,
    restored: Option<RestoreInfo>,
}

impl std::fmt::Debug for RunningJob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunningJob")
            .field("tasks", &self.tasks.len())
            .finish()
    }
}

impl RunningJob {
    /// Live counters of the job.
    pub fn metrics(&self) -> &Arc<JobMetrics> {
        &self.metrics
    }

    /// The checkpoint the job started from, if any.
    pub fn restored(&self) -> Option<&RestoreInfo> {
        self.restored.as_ref()
    }

    /// A handle that checkpoints, stops or cancels this job while another task awaits
    /// [`RunningJob::join`].
    pub fn control(&self) -> JobControl {
        self.control.clone()
    }

    /// See [`JobControl::checkpoint`].
    pub async fn checkpoint(&self) -> Result<u64> {
        self.control.checkpoint().await
    }

    /// See [`JobControl::savepoint`]. Resume it with [`RestoreFrom::Savepoint`].
    pub async fn savepoint(&self, location: &str) -> Result<u64> {
        self.control.savepoint(location).await
    }

    /// See [`JobControl::stop`].
    pub async fn stop(&self) -> Result<u64> {
        self.control.stop().await
    }

    /// See [`JobControl::cancel`].
    pub fn cancel(&self) {
        self.control.cancel()
    }

    /// Stops the job with a final checkpoint that is also a savepoint at `location` (see
    /// [`JobControl::stop_with_savepoint`]) and waits until every task stopped.
    pub async fn stop_with_savepoint(self, location: &str) -> Result<u64> {
        let id = self.control.stop_with_savepoint(location).await?;
        self.join().await?;
        Ok(id)
    }

    /// Waits until every task has finished, or the job was stopped (`Ok`) or cancelled
    /// ([`EngineError::Cancelled`]) through its [`JobControl`]. On the first failure the
    /// other tasks are stopped and the error that caused it is returned; the failures of
    /// tasks aborted by a stop or a cancellation are not errors.
    pub async fn join(mut self) -> Result<Arc<JobMetrics>> {
        let mut first_error: Option<EngineError> = None;
        let mut ending: Option<Ending> = None;
        loop {
            let joined = tokio::select! {
                joined = self.tasks.join_next() => match joined {
                    Some(joined) => joined,
                    None => break,
                },
                ended = self.ending.wait_for(Option::is_some), if ending.is_none() => {
                    // The control lives in `self`: the sender outlives this wait.
                    ending = ended.ok().and_then(|e| *e);
                    self.tasks.abort_all();
                    continue;
                }
            };
            let error = match joined {
                Ok(Ok(())) => continue,
                Ok(Err(_)) | Err(_) if ending.is_some() => continue,
                Ok(Err(error)) => error,
                Err(e) if e.is_cancelled() => continue,
                Err(e) => EngineError::Join(e.to_string()),
            };
            self.tasks.abort_all();
            // A task that failed because its downstream stopped is a symptom; keep the cause.
            match &first_error {
                None => first_error = Some(error),
                Some(existing) if is_disconnect(existing) && !is_disconnect(&error) => {
                    first_error = Some(error)
                }
                Some(_) => {}
            }
        }
        match (first_error, ending) {
            (Some(error), _) => Err(error),
            (None, Some(Ending::Cancelled)) => Err(EngineError::Cancelled),
            (None, _) => Ok(self.metrics),
        }
    }
}

fn is_disconnect(error: &EngineError) -> bool {
    matches!(error, EngineError::Task { source, .. } if matches!(**source, EngineError::Disconnected))
}

impl JobGraph {
    /// Starts every subtask on the current tokio runtime, from the newest complete
    /// checkpoint at the configured location if there is one.
    pub async fn start(self, config: &RuntimeConfig) -> Result<RunningJob> {
        let store = config
            .checkpoint_location
            .as_deref()
            .map(CheckpointStore::open)
            .transpose()?;
        let tables = self.state_tables()?;
        let restored = self.restore_point(config, store.as_ref()).await?;
        if let Some((_, restored)) = &restored {
            self.check_compatible(&restored.manifest, &tables)?;
            tracing::info!(
                checkpoint = restored.manifest.checkpoint_id,
                "restoring from checkpoint"
            );
        }
        // Never reuse an id at this location, even one of a checkpoint that never completed.
        let highest = match &store {
            Some(store) => store.highest_id().await?,
            None => None,
        };
        let restored_id = restored.as_ref().map(|(_, r)| r.manifest.checkpoint_id);
        let first_id = highest.max(restored_id).map_or(1, |id| id + 1);
        let node_metrics: Vec<Arc<NodeMetrics>> = self
            .nodes
            .iter()
            .map(|n| {
                let ports: Vec<String> = n.ports.iter().map(|p| p.name.clone()).collect();
                Arc::new(NodeMetrics::new(&n.name, &ports, n.parallelism))
            })
            .collect();
        let mut inputs: Vec<Vec<Vec<InputChannel>>> = self
            .nodes
            .iter()
            .map(|n| (0..n.parallelism).map(|_| Vec::new()).collect())
            .collect();
        let mut routers: Vec<Vec<Vec<Vec<Router>>>> = self
            .nodes
            .iter()
            .map(|n| {
                (0..n.parallelism)
                    .map(|_| (0..n.ports.len()).map(|_| Vec::new()).collect())
                    .collect()
            })
            .collect();
        let mut channels = Vec::new();

        for edge in &self.edges {
            let from = &self.nodes[edge.from.0];
            let to = &self.nodes[edge.to.0];
            for (u, subtask_routers) in routers[edge.from.0].iter_mut().enumerate() {
                let targets: Vec<usize> = match edge.partitioning {
                    Partitioning::Forward => vec![u],
                    _ => (0..to.parallelism).collect(),
                };
                let mut senders = Vec::with_capacity(targets.len());
                for d in targets {
                    let (tx, rx, metrics) = channel(config.channel_rows, config.channel_messages);
                    senders.push(tx);
                    inputs[edge.to.0][d].push(InputChannel {
                        rx,
                        input: edge.input,
                        blocked: false,
                        ended: false,
                    });
                    channels.push(ChannelInfo {
                        from: format!("{}[{u}]", from.name),
                        to: format!("{}[{d}]", to.name),
                        metrics,
                    });
                }
                subtask_routers[edge.port].push(Router::new(
                    edge.partitioning.clone(),
                    senders,
                    edge.key_columns.clone(),
                    self.max_parallelism,
                ));
            }
        }

        let metrics = Arc::new(JobMetrics {
            nodes: node_metrics.clone(),
            channels,
            checkpoints: Default::default(),
            checkpoint_failures: Default::default(),
        });
        let (report_tx, reports) = mpsc::channel::<Report>(1024);
        let (checkpoints, requests) = mpsc::channel::<Request>(16);
        let (control, ending) = JobControl::new(checkpoints);
        let mut links = CoordinatorLinks {
            requests,
            reports,
            sources: Vec::new(),
            operators: Vec::new(),
            nodes: self
                .nodes
                .iter()
                .zip(&tables)
                .map(|(n, tables)| NodeInfo {
                    name: n.name.clone(),
                    parallelism: n.parallelism,
                    tables: tables.clone(),
                })
                .collect(),
            max_parallelism: self.max_parallelism,
            store: store.clone(),
            retained: config.checkpoints_retained,
            first_id,
            metrics: metrics.clone(),
        };
        let (restored_info, restored_state) = match restored {
            Some((location, r)) => (
                Some(RestoreInfo {
                    location,
                    checkpoint_id: r.manifest.checkpoint_id,
                    skipped: r.skipped,
                }),
                Some(r.state),
            ),
            None => (None, None),
        };
        let mut tasks = JoinSet::new();
        let mut global_index = 0;
        for (n, node) in self.nodes.into_iter().enumerate() {
            let port_names: Vec<String> = node.ports.iter().map(|p| p.name.clone()).collect();
            let node_inputs = std::mem::take(&mut inputs[n]);
            let node_routers = std::mem::take(&mut routers[n]);
            for (index, (subtask_inputs, subtask_routers)) in
                node_inputs.into_iter().zip(node_routers).enumerate()
            {
                let info = SubtaskInfo {
                    gauges: node_metrics[n].gauges.clone(),
                    node: node.name.clone(),
                    index,
                    parallelism: node.parallelism,
                    max_parallelism: self.max_parallelism,
                };
                let outputs = Outputs::new(
                    subtask_routers,
                    port_names.clone(),
                    node_metrics[n].clone(),
                    node.name.clone(),
                    index,
                );
                let metrics = node_metrics[n].clone();
                let link = TaskLink::new(
                    global_index,
                    &node.name,
                    index,
                    store.as_ref(),
                    first_id,
                    report_tx.clone(),
                );
                let old_state = restored_state.as_ref().and_then(|s| s.get(&node.name));
                global_index += 1;
                let (task_node, task_index) = (info.node.clone(), info.index);
                let wrap = move |r: Result<()>| {
                    r.map_err(|e| EngineError::Task {
                        node: task_node,
                        subtask: task_index,
                        source: Box::new(e),
                    })
                };
                match &node.kind {
                    NodeKind::Source { plan, watermarks } => {
                        let mut source = plan.create(&info)?;
                        let mut restored_watermarks = Vec::new();
                        if let Some(old) = old_state {
                            let (chunks, watermarks) = source_task::split_source_state(old);
                            source.restore(chunks)?;
                            restored_watermarks = watermarks;
                        }
                        let watermarks = watermarks.clone();
                        let (barriers_tx, barriers) = mpsc::channel(16);
                        links.sources.push(barriers_tx);
                        tasks.spawn(async move {
                            let run = source_task::run_source(
                                source,
                                watermarks,
                                restored_watermarks,
                                outputs,
                                metrics,
                                barriers,
                                link,
                            );
                            wrap(run.await)
                        });
                    }
                    NodeKind::Operator { plan } => {
                        let mut operator = plan.create(&info)?;
                        if let Some(old) = old_state {
                            let mine =
                                redistribute(old, index, node.parallelism, self.max_parallelism)?;
                            operator.restore(mine).await?;
                        }
                        let inputs = Inputs::new(subtask_inputs);
                        let (completed_tx, completed) = mpsc::channel(16);
                        links.operators.push(completed_tx);
                        tasks.spawn(async move {
                            let run = operator_task::run_operator(
                                operator, inputs, outputs, metrics, completed, link,
                            );
                            wrap(run.await)
                        });
                    }
                }
            }
        }
        drop(report_tx);
        tasks.spawn(checkpoint::run_coordinator(
            links,
            config.checkpoint_interval,
        ));
        Ok(RunningJob {
            tasks,
            metrics,
            control,
            ending,
            restored: restored_info,
        })
    }

    /// Starts the job and waits for it to finish.
    pub async fn run(self, config: &RuntimeConfig) -> Result<Arc<JobMetrics>> {
        self.start(config).await?.join().await
    }

    /// The state tables each node declares, in node order (none for sources).
    fn state_tables(&self) -> Result<Vec<Vec<TableSchema>>> {
        self.nodes
            .iter()
            .map(|node| match &node.kind {
                NodeKind::Source { .. } => Ok(Vec::new()),
                NodeKind::Operator { plan } => {
                    let operator = plan.create(&SubtaskInfo {
                        gauges: Default::default(),
                        node: node.name.clone(),
                        index: 0,
                        parallelism: node.parallelism,
                        max_parallelism: self.max_parallelism,
                    })?;
                    Ok(operator.state_tables().iter().map(Into::into).collect())
                }
            })
            .collect()
    }

    /// Reads the checkpoint `config` says to start from, with the location it came from.
    async fn restore_point(
        &self,
        config: &RuntimeConfig,
        store: Option<&CheckpointStore>,
    ) -> Result<Option<(String, Restored)>> {
        let found = match (&config.restore_from, store) {
            (RestoreFrom::Nothing, _) | (RestoreFrom::Latest, None) => None,
            (RestoreFrom::Latest, Some(store)) => store
                .latest()
                .await?
                .map(|r| (store.location().to_string(), r)),
            (RestoreFrom::Checkpoint(id), Some(store)) => {
                Some((store.location().to_string(), store.checkpoint(*id).await?))
            }
            (RestoreFrom::Checkpoint(id), None) => {
                return Err(EngineError::Restore(format!(
                    "checkpoint {id} was asked for, but the job has no checkpoint location"
                )))
            }
            (RestoreFrom::Savepoint(location), _) => {
                let savepoint = CheckpointStore::open(location)?;
                let restored = savepoint.latest().await?.ok_or_else(|| {
                    EngineError::Restore(format!("no savepoint or checkpoint at {location}"))
                })?;
                Some((location.clone(), restored))
            }
        };
        Ok(found)
    }

    /// Refuses a checkpoint taken by a different job: other nodes, another number of key
    /// groups, or state tables that look different. Parallelism may differ; state is
    /// re-split by key group.
    fn check_compatible(&self, manifest: &Manifest, tables: &[Vec<TableSchema>]) -> Result<()> {
        let mut problems = Vec::new();
        if manifest.max_parallelism != self.max_parallelism {
            problems.push(format!(
                "max_parallelism was {}, is {}",
                manifest.max_parallelism, self.max_parallelism
            ));
        }
        for (node, tables) in self.nodes.iter().zip(tables) {
            let Some(old) = manifest.node(&node.name) else {
                problems.push(format!("node '{}' is new", node.name));
                continue;
            };
            for table in tables {
                match old.tables.iter().find(|t| t.name == table.name) {
                    None => problems.push(format!(
                        "node '{}': state table '{}' is new",
                        node.name, table.name
                    )),
                    Some(was) if was.columns != table.columns => problems.push(format!(
                        "node '{}': state table '{}' had columns [{}], now [{}]",
                        node.name,
                        table.name,
                        was.columns.join(", "),
                        table.columns.join(", ")
                    )),
                    Some(_) => {}
                }
            }
            for was in &old.tables {
                if !tables.iter().any(|t| t.name == was.name) {
                    problems.push(format!(
                        "node '{}': state table '{}' is gone",
                        node.name, was.name
                    ));
                }
            }
        }
        for old in &manifest.nodes {
            if !self.nodes.iter().any(|n| n.name == old.name) {
                problems.push(format!("node '{}' is gone", old.name));
            }
        }
        if problems.is_empty() {
            return Ok(());
        }
        Err(EngineError::Restore(format!(
            "checkpoint {} was taken by a different job: {}",
            manifest.checkpoint_id,
            problems.join("; ")
        )))
    }
}
