//! What the server keeps about a job across its own restarts: the job file as submitted,
//! what the job should be doing, how its last run ended, its graph, and its history of
//! events.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// What a job should be doing: a server started again resumes the jobs that should run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Desired {
    Running,
    Stopped,
}

/// How a job's last run ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum Ended {
    /// Its sources ended and every sink committed everything.
    Finished,
    /// Stopped with a final checkpoint.
    Stopped { checkpoint: u64 },
    /// Cancelled; it resumes from its last completed checkpoint.
    Cancelled,
    /// Failed, after `restarts` restarts.
    Failed { cause: String, restarts: u32 },
}

/// A node of a job's graph.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct GraphNode {
    pub name: String,
    /// `source`, `transform` or `sink`.
    pub role: String,
    /// Its `type:`.
    pub kind: String,
    pub parallelism: usize,
}

/// An edge of a job's graph: `from` (`node` or `node.port`) into `to`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct GraphEdge {
    pub from: String,
    pub to: String,
    /// `forward`, `rebalance`, `broadcast` or `hash(columns)`.
    pub partitioning: String,
}

/// A job's graph, as `weir validate` outlines it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Graph {
    pub nodes: Vec<GraphNode>,
    pub edges: Vec<GraphEdge>,
}

impl From<&weir_jobs::Outline> for Graph {
    fn from(outline: &weir_jobs::Outline) -> Self {
        Self {
            nodes: outline
                .nodes
                .iter()
                .map(|n| GraphNode {
                    name: n.name.clone(),
                    role: n.role.to_string(),
                    kind: n.kind.clone(),
                    parallelism: n.parallelism,
                })
                .collect(),
            edges: outline
                .edges
                .iter()
                .map(|e| GraphEdge {
                    from: e.from.clone(),
                    to: e.to.clone(),
                    partitioning: e.partitioning.clone(),
                })
                .collect(),
        }
    }
}

/// The server's record of one job. Invariant: `id` is the job's name, which job files
/// restrict to letters, digits, `_` and `-`, so it is safe as a folder name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobRecord {
    pub id: String,
    /// `stream`, `compact` or `quality`.
    pub kind: String,
    /// When it was submitted, in ms since the Unix epoch.
    pub submitted_ms: i64,
    pub desired: Desired,
    /// How its last run ended; `None` while it runs or before it first ran.
    pub ended: Option<Ended>,
    /// Where its checkpoints are.
    pub checkpoint_location: String,
    /// Whether the server chose the checkpoint location (the job file named none): the
    /// checkpoints are then deleted with the job.
    pub server_checkpoints: bool,
    pub graph: Graph,
    /// For a scheduled job: the newest run time the scheduler handled (ran, queued or
    /// skipped), in ms since the Unix epoch; the runs missed while the server was down
    /// are the ones after it.
    #[serde(default)]
    pub last_due_ms: Option<i64>,
}

/// Something that happened to a job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct JobEvent {
    /// When, in ms since the Unix epoch.
    pub time_ms: i64,
    /// `submitted`, `started`, `restored`, `restarting`, `finished`, `stopped`,
    /// `cancelled`, `failed`, `resumed`, `server_stopped`, and for scheduled jobs
    /// `scheduled`, `scheduled_run`, `skipped` and `missed`; for backfills `backfill_started`,
    /// `backfill_date`, `backfill_finished`, `backfill_stopped`, `backfill_resumed` and
    /// `backfill_failed`.
    pub event: String,
    /// The cause, checkpoint or location, where there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// The time now in ms since the Unix epoch.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

impl JobEvent {
    pub fn new(event: &str, detail: Option<String>) -> Self {
        Self {
            time_ms: now_ms(),
            event: event.to_string(),
            detail,
        }
    }
}
