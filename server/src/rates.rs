//! Rows per second of a job's nodes, from their counters sampled every second: the
//! rate over the last few seconds for the job's status, and the job's rows per second
//! over the last minutes for charts. A restart starts the counters over; a sample lower
//! than the one before counts from zero.

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

use weir_engine::JobMetrics;

/// How many samples are kept (one a second: five minutes).
const KEPT: usize = 300;
/// The window the current rate is measured over.
const WINDOW: Duration = Duration::from_secs(5);

/// One node's counters at a sample.
#[derive(Debug, Clone, Copy, Default)]
struct Counters {
    rows_in: u64,
    rows_out: u64,
    /// Nanoseconds its subtasks waited on full output channels.
    blocked_ns: u64,
}

#[derive(Debug, Clone)]
struct Sample {
    at: Instant,
    time_ms: i64,
    nodes: BTreeMap<String, Counters>,
}

/// The samples of one job.
#[derive(Debug, Default)]
pub struct Rates {
    samples: VecDeque<Sample>,
}

/// A node's rows per second, in and out, and the seconds per second its subtasks
/// waited on full output channels (summed over them).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct NodeRate {
    pub rows_in: f64,
    pub rows_out: f64,
    pub blocked: f64,
}

fn per_second(newer: u64, older: u64, seconds: f64) -> f64 {
    // A restart starts the counters over: the rows since then.
    let rows = if newer >= older { newer - older } else { newer };
    rows as f64 / seconds
}

impl Rates {
    /// Takes a sample of `metrics` now.
    pub fn sample(&mut self, metrics: &JobMetrics) {
        let nodes = metrics
            .nodes
            .iter()
            .map(|n| {
                (
                    n.name.clone(),
                    Counters {
                        rows_in: n.rows_in(),
                        rows_out: n.rows_out(),
                        blocked_ns: metrics.blocked_sending(&n.name).as_nanos() as u64,
                    },
                )
            })
            .collect();
        self.samples.push_back(Sample {
            at: Instant::now(),
            time_ms: crate::record::now_ms(),
            nodes,
        });
        if self.samples.len() > KEPT {
            self.samples.pop_front();
        }
    }

    /// The rows per second of node `name` over the last few seconds.
    pub fn node(&self, name: &str) -> NodeRate {
        let Some(newest) = self.samples.back() else {
            return NodeRate::default();
        };
        let Some(older) = self
            .samples
            .iter()
            .find(|s| newest.at.duration_since(s.at) <= WINDOW && s.at < newest.at)
        else {
            return NodeRate::default();
        };
        let seconds = newest.at.duration_since(older.at).as_secs_f64();
        let (Some(new), Some(old)) = (newest.nodes.get(name), older.nodes.get(name)) else {
            return NodeRate::default();
        };
        NodeRate {
            rows_in: per_second(new.rows_in, old.rows_in, seconds),
            rows_out: per_second(new.rows_out, old.rows_out, seconds),
            blocked: per_second(new.blocked_ns, old.blocked_ns, seconds) / 1e9,
        }
    }

    /// The rows per second the nodes `sources` emitted between consecutive samples,
    /// oldest first, with the time (ms since the Unix epoch) of each.
    pub fn history(&self, sources: &[String]) -> Vec<(i64, f64)> {
        self.samples
            .iter()
            .zip(self.samples.iter().skip(1))
            .map(|(old, new)| {
                let seconds = new.at.duration_since(old.at).as_secs_f64().max(1e-3);
                let rate = sources
                    .iter()
                    .filter_map(|s| Some((new.nodes.get(s)?, old.nodes.get(s)?)))
                    .map(|(n, o)| per_second(n.rows_out, o.rows_out, seconds))
                    .sum();
                (new.time_ms, rate)
            })
            .collect()
    }
}
