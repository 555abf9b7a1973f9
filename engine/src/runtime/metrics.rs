//! Counters of a running job: rows in and out per node, channel fill levels, completed
//! checkpoints.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arrow::array::Array as _;
use arrow::record_batch::RecordBatch;

use crate::channel::ChannelMetrics;

/// Counters of one node, summed over its subtasks.
#[derive(Debug, Default)]
pub struct NodeMetrics {
    pub name: String,
    rows_in: AtomicU64,
    rows_out: AtomicU64,
    /// Arrow bytes of the rows in and out (see [`batch_bytes`]).
    bytes_in: AtomicU64,
    bytes_out: AtomicU64,
    rows_unconsumed: AtomicU64,
    /// Rows emitted per output port (connected or not), in the order the plan declared
    /// the ports: the main output first, then side outputs (`dead_letters`, `late`, ...).
    port_rows: Vec<(String, AtomicU64)>,
    /// The event-time watermark each subtask last sent downstream, in ms since the epoch
    /// (`i64::MIN`: none yet).
    watermarks: Vec<AtomicI64>,
    /// Figures the node's subtasks report about themselves.
    pub gauges: crate::gauges::NodeGauges,
}

impl NodeMetrics {
    pub(crate) fn new(name: &str, ports: &[String], parallelism: usize) -> Self {
        Self {
            name: name.to_string(),
            port_rows: ports
                .iter()
                .map(|p| (p.clone(), AtomicU64::new(0)))
                .collect(),
            watermarks: (0..parallelism).map(|_| AtomicI64::new(i64::MIN)).collect(),
            ..Default::default()
        }
    }
    pub(crate) fn set_watermark(&self, subtask: usize, watermark: i64) {
        if let Some(slot) = self.watermarks.get(subtask) {
            slot.store(watermark, Ordering::Relaxed);
        }
    }
    /// The lowest event-time watermark the node's subtasks sent downstream, in ms since
    /// the epoch, over the subtasks that sent one (`i64::MAX` once the input ended);
    /// `None` before any did.
    pub fn watermark(&self) -> Option<i64> {
        self.watermarks
            .iter()
            .map(|w| w.load(Ordering::Relaxed))
            .filter(|w| *w != i64::MIN)
            .min()
    }
    pub(crate) fn add_port(&self, port: usize, rows: usize) {
        if let Some((_, count)) = self.port_rows.get(port) {
            count.fetch_add(rows as u64, Ordering::Relaxed);
        }
    }
    /// Rows emitted on output port `port` (e.g. `dead_letters`, `late`), whether anything
    /// reads it or not; 0 for a port the node does not have.
    pub fn port_rows(&self, port: &str) -> u64 {
        self.port_rows
            .iter()
            .find(|(name, _)| name == port)
            .map_or(0, |(_, count)| count.load(Ordering::Relaxed))
    }
    pub(crate) fn add_in(&self, batch: &RecordBatch) {
        self.rows_in
            .fetch_add(batch.num_rows() as u64, Ordering::Relaxed);
        self.bytes_in
            .fetch_add(batch_bytes(batch), Ordering::Relaxed);
    }
    pub(crate) fn add_out(&self, batch: &RecordBatch) {
        self.rows_out
            .fetch_add(batch.num_rows() as u64, Ordering::Relaxed);
        self.bytes_out
            .fetch_add(batch_bytes(batch), Ordering::Relaxed);
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
    /// Arrow bytes of the rows received (for sources: read).
    pub fn bytes_in(&self) -> u64 {
        self.bytes_in.load(Ordering::Relaxed)
    }
    /// Arrow bytes of the rows emitted on connected outputs.
    pub fn bytes_out(&self) -> u64 {
        self.bytes_out.load(Ordering::Relaxed)
    }
    /// Rows emitted on an output port nothing reads (e.g. an unconnected late-data output);
    /// they are counted and logged, never silently lost.
    pub fn rows_unconsumed(&self) -> u64 {
        self.rows_unconsumed.load(Ordering::Relaxed)
    }
}

/// The bytes of `batch`'s rows in Arrow's memory layout: its columns' buffers as far as
/// the batch's slice reaches (a slice of a larger batch counts its own rows only).
pub fn batch_bytes(batch: &RecordBatch) -> u64 {
    batch
        .columns()
        .iter()
        .map(|column| {
            let data = column.to_data();
            data.get_slice_memory_size()
                .unwrap_or_else(|_| column.get_array_memory_size()) as u64
        })
        .sum()
}

/// One channel between two subtasks.
#[derive(Debug)]
pub struct ChannelInfo {
    pub from: String,
    pub to: String,
    pub metrics: Arc<ChannelMetrics>,
}

/// One completed checkpoint.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckpointStats {
    pub checkpoint_id: u64,
    /// From triggering to the manifest being written.
    pub duration: Duration,
    /// The longest time one subtask stopped processing for it: barrier alignment is not
    /// counted, taking the in-memory snapshot is (files are written in the background).
    pub max_pause: Duration,
    /// Bytes of all state files the checkpoint consists of.
    pub state_bytes: u64,
    /// Bytes of the files this checkpoint wrote (the rest are referenced from earlier ones).
    pub written_bytes: u64,
}

/// All counters of a job.
#[derive(Debug, Default)]
pub struct JobMetrics {
    pub nodes: Vec<Arc<NodeMetrics>>,
    pub channels: Vec<ChannelInfo>,
    pub(crate) checkpoints: Mutex<Vec<CheckpointStats>>,
    pub(crate) checkpoint_failures: AtomicU64,
}

impl JobMetrics {
    /// The counters of the node named `name`.
    pub fn node(&self, name: &str) -> Option<&NodeMetrics> {
        self.nodes
            .iter()
            .find(|n| n.name == name)
            .map(|n| n.as_ref())
    }

    /// How long the subtasks of node `name` waited on full output channels, summed
    /// (backpressure from downstream).
    pub fn blocked_sending(&self, name: &str) -> Duration {
        let prefix = format!("{name}[");
        self.channels
            .iter()
            .filter(|c| c.from.starts_with(&prefix))
            .map(|c| c.metrics.blocked())
            .sum()
    }

    /// Checkpoints that failed (declined by a subtask, or their files or completion
    /// failed).
    pub fn checkpoint_failures(&self) -> u64 {
        self.checkpoint_failures.load(Ordering::Relaxed)
    }

    /// Every checkpoint completed so far, oldest first.
    pub fn checkpoints(&self) -> Vec<CheckpointStats> {
        self.checkpoints
            .lock()
            .map(|c| c.clone())
            .unwrap_or_default()
    }
}
