//! Durable checkpoints: subtask state files plus a manifest written last.

pub mod manifest;
pub mod store;

pub use manifest::{Manifest, NodeState, StateFile, SubtaskState, TableSchema};
pub use store::{CheckpointStore, Restored, SkippedCheckpoint, SubtaskWriter};
