//! Figures a node reports about itself beyond rows and watermarks: a Delta sink's newest
//! table version and its commits, a Kafka source's lag per partition, rows quarantined.
//! Shared by the node's subtasks and read by whoever watches the job (the server's job
//! view, `/metrics`). Values are per run of the job, as the row counters are.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

/// The prefix of a source's figures of the watermark each partition allows alone (ms since
/// the epoch), named by [`crate::Source::partition_name`]: `watermark/topic/3`.
pub const PARTITION_WATERMARK_PREFIX: &str = "watermark/";

/// A node's named figures. Clones share the same values.
#[derive(Debug, Clone, Default)]
pub struct NodeGauges(Arc<Mutex<BTreeMap<String, i64>>>);

impl NodeGauges {
    fn values_mut(&self) -> MutexGuard<'_, BTreeMap<String, i64>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sets figure `name` to `value`. Called per batch by sources: a known name costs no
    /// allocation.
    pub fn set(&self, name: &str, value: i64) {
        *slot(&mut self.values_mut(), name) = value;
    }

    /// Adds `value` to figure `name` (a counter; a missing figure counts from 0).
    pub fn add(&self, name: &str, value: i64) {
        *slot(&mut self.values_mut(), name) += value;
    }

    /// Every figure, by name.
    pub fn values(&self) -> BTreeMap<String, i64> {
        self.values_mut().clone()
    }
}

/// The value of `name` in `values`, made 0 when missing.
fn slot<'a>(values: &'a mut BTreeMap<String, i64>, name: &str) -> &'a mut i64 {
    if !values.contains_key(name) {
        values.insert(name.to_string(), 0);
    }
    values.get_mut(name).expect("inserted above")
}
