//! Counters of a running job: rows in and out per node, channel fill levels.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::channel::ChannelMetrics;

/// Counters of one node, summed over its subtasks.
#[derive(Debug, Default)]
pub struct NodeMetrics {
    pub name: String,
    rows_in: AtomicU64,
    rows_out: AtomicU64,
    rows_unconsumed: AtomicU64,
}

impl NodeMetrics {
    pub(crate) fn new(name: &str) -> Self {
        Self {
            name: name.to_string(),
            ..Default::default()
        }
    }
    pub(crate) fn add_in(&self, rows: usize) {
        self.rows_in.fetch_add(rows as u64, Ordering::Relaxed);
    }
    pub(crate) fn add_out(&self, rows: usize) {
        self.rows_out.fetch_add(rows as u64, Ordering::Relaxed);
    }
    pub(crate) fn add_unconsumed(&self, rows: usize) {
        self.rows_unconsumed
            .fetch_add(rows as u64, Ordering::Relaxed);
    }
    /// Rows received from inputs (for sources: rows read).
    pub fn rows_in(&self) -> u64 {
        self.rows_in.load(Ordering::Relaxed)
    }
    /// Rows emitted on connected outputs.
    pub fn rows_out(&self) -> u64 {
        self.rows_out.load(Ordering::Relaxed)
    }
    /// Rows emitted on an output port nothing reads (e.g. an unconnected late-data output);
    /// they are counted and logged, never silently lost.
    pub fn rows_unconsumed(&self) -> u64 {
        self.rows_unconsumed.load(Ordering::Relaxed)
    }
}

/// One channel between two subtasks.
#[derive(Debug)]
pub struct ChannelInfo {
    pub from: String,
    pub to: String,
    pub metrics: Arc<ChannelMetrics>,
}

/// All counters of a job.
#[derive(Debug, Default)]
pub struct JobMetrics {
    pub nodes: Vec<Arc<NodeMetrics>>,
    pub channels: Vec<ChannelInfo>,
}

impl JobMetrics {
    /// The counters of the node named `name`.
    pub fn node(&self, name: &str) -> Option<&NodeMetrics> {
        self.nodes
            .iter()
            .find(|n| n.name == name)
            .map(|n| n.as_ref())
    }
}
