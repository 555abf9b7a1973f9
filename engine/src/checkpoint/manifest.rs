//! The manifest: the list of state files that make up one complete checkpoint.
//!
//! A checkpoint exists exactly when its manifest does; the manifest is written after every
//! subtask has written its files and acknowledged.

use serde::{Deserialize, Serialize};

/// One complete checkpoint of a job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub checkpoint_id: u64,
    /// Wall-clock time the checkpoint was triggered, milliseconds since the Unix epoch.
    pub timestamp_ms: i64,
    pub max_parallelism: usize,
    pub nodes: Vec<NodeState>,
}

/// The state of one node, per subtask at the parallelism it ran with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeState {
    pub name: String,
    pub parallelism: usize,
    /// The state tables the node declared, to refuse restoring into an operator whose
    /// state looks different.
    #[serde(default)]
    pub tables: Vec<TableSchema>,
    pub subtasks: Vec<SubtaskState>,
}

/// The columns of one state table, as `name: type` strings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TableSchema {
    pub name: String,
    pub columns: Vec<String>,
}

impl From<&crate::state::StateTable> for TableSchema {
    fn from(table: &crate::state::StateTable) -> Self {
        Self {
            name: table.name.clone(),
            columns: table
                .schema
                .fields()
                .iter()
                .map(|f| format!("{}: {}", f.name(), f.data_type()))
                .collect(),
        }
    }
}

/// What one subtask wrote.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct SubtaskState {
    pub subtask: usize,
    /// The event-time watermark the subtask had reached.
    pub watermark: Option<i64>,
    pub files: Vec<StateFile>,
}

/// One Arrow IPC file holding rows of one state table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StateFile {
    pub table: String,
    /// Path relative to the checkpoint location.
    pub path: String,
    pub rows: usize,
    pub bytes: usize,
}

impl Manifest {
    /// The state of the node named `name`.
    pub fn node(&self, name: &str) -> Option<&NodeState> {
        self.nodes.iter().find(|n| n.name == name)
    }

    /// Every state file the checkpoint consists of.
    pub fn files(&self) -> impl Iterator<Item = &StateFile> {
        self.nodes
            .iter()
            .flat_map(|n| n.subtasks.iter())
            .flat_map(|s| s.files.iter())
    }
}
