//! What the API answers about jobs: a summary per job for lists, and the details of one
//! (its graph with per-node counters, checkpoints, history and rate over time).

use serde::Serialize;
use std::collections::BTreeMap;
use utoipa::ToSchema;

use weir_connectors::delta::{DELTA_COMMITS, DELTA_VERSION, QUARANTINED_ROWS};
use weir_connectors::kafka::source::KAFKA_LAG_PREFIX;
use weir_engine::gauges::PARTITION_WATERMARK_PREFIX;
use weir_engine::runtime::metrics::{CheckpointStats, NodeMetrics};
use weir_engine::{JobMetrics, DEAD_LETTER_PORT, LATE_PORT};

use crate::rates::Rates;
use crate::record::{Desired, GraphEdge, JobEvent, JobRecord};

/// A completed checkpoint.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CheckpointView {
    pub id: u64,
    /// From its trigger to its manifest being written.
    pub duration_ms: f64,
    /// The longest time one subtask stopped processing for it.
    pub max_pause_ms: f64,
    /// Bytes of all the state files it consists of.
    pub state_bytes: u64,
    /// Bytes it wrote (the rest are shared with earlier checkpoints).
    pub written_bytes: u64,
}

impl From<&CheckpointStats> for CheckpointView {
    fn from(c: &CheckpointStats) -> Self {
        Self {
            id: c.checkpoint_id,
            duration_ms: c.duration.as_secs_f64() * 1000.0,
            max_pause_ms: c.max_pause.as_secs_f64() * 1000.0,
            state_bytes: c.state_bytes,
            written_bytes: c.written_bytes,
        }
    }
}

/// One job in a list.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct JobSummary {
    pub id: String,
    /// `stream`, `compact` or `quality`.
    pub kind: String,
    /// `starting`, `running`, `restarting`, `stopping`, `finished`, `stopped`,
    /// `cancelled` or `failed`; `scheduled` for a scheduled job waiting for its next run.
    pub status: String,
    /// Whether the server runs it again when it starts.
    pub desired: Desired,
    /// Rows its sources emit per second, over the last seconds.
    pub rows_per_second: f64,
    /// Restarts after failures in its current run.
    pub restarts: u32,
    pub last_checkpoint: Option<CheckpointView>,
    /// When it was submitted (RFC 3339).
    pub submitted: String,
    /// A scheduled job's next run (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_run: Option<String>,
    /// How far its lowest event-time watermark is behind the wall clock, in ms (none
    /// before a watermark, or once the input ended).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub watermark_lag_ms: Option<i64>,
    /// Why it failed, when it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
}

/// A node of a running job, with its counters summed over its subtasks.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct NodeView {
    pub name: String,
    /// `source`, `transform` or `sink`.
    pub role: String,
    pub kind: String,
    pub parallelism: usize,
    pub rows_in: u64,
    pub rows_out: u64,
    pub rows_in_per_second: f64,
    pub rows_out_per_second: f64,
    /// Arrow bytes of the rows received and emitted.
    pub bytes_in: u64,
    pub bytes_out: u64,
    /// Rows sent to its `dead_letters` output.
    pub dead_letters: u64,
    /// Rows sent to its `late` output.
    pub late_rows: u64,
    /// Rows emitted on an output nothing reads (counted, logged, never silently lost).
    pub unconsumed_rows: u64,
    /// How long its subtasks waited on full output channels, in all (ms).
    pub backpressure_ms: u64,
    /// The share of the last seconds its subtasks spent waiting on full output channels
    /// (0 to 1): near 1, what is downstream is the bottleneck.
    pub backpressure: f64,
    /// The lowest event-time watermark its subtasks sent (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub watermark: Option<String>,
    /// How far the watermark is behind the wall clock, in ms.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub watermark_lag_ms: Option<i64>,
    /// Rows its `quarantine` rules sent to the quarantine table (a Delta sink).
    pub quarantined_rows: u64,
    /// The newest table version it committed and its commits in this run (a Delta sink).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delta_version: Option<i64>,
    pub delta_commits: u64,
    /// Messages behind the end of each partition it reads (a Kafka source; looked up
    /// every 5 s).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub kafka_lag: Vec<PartitionLag>,
    /// The watermark each partition of a source allows alone, and its lag behind the wall
    /// clock (a source with `watermark:`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub partition_watermarks: Vec<PartitionWatermark>,
    /// Every figure the node reports about itself, by name (the above and others, such
    /// as a compaction's runs and files or a quality check's verdicts).
    pub figures: BTreeMap<String, i64>,
}

/// The watermark one source partition allows.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PartitionWatermark {
    /// `topic/3` for Kafka; the partition's number otherwise.
    pub partition: String,
    /// RFC 3339.
    pub watermark: String,
    pub lag_ms: i64,
}

impl PartitionWatermark {
    /// The partitions' watermarks among a node's `figures`, as of `now` (ms).
    fn from_figures(figures: &BTreeMap<String, i64>, now: i64) -> Vec<Self> {
        figures
            .iter()
            .filter_map(|(name, watermark)| {
                Some(Self {
                    partition: name.strip_prefix(PARTITION_WATERMARK_PREFIX)?.to_string(),
                    watermark: rfc3339(*watermark),
                    lag_ms: (now - watermark).max(0),
                })
            })
            .collect()
    }
}

/// The consumer lag of one Kafka partition.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PartitionLag {
    pub topic: String,
    pub partition: i32,
    pub lag: i64,
}

impl PartitionLag {
    /// The lags among a node's `figures`.
    pub fn from_figures(figures: &BTreeMap<String, i64>) -> Vec<Self> {
        figures
            .iter()
            .filter_map(|(name, lag)| {
                let (topic, partition) = name.strip_prefix(KAFKA_LAG_PREFIX)?.rsplit_once('/')?;
                Some(Self {
                    topic: topic.to_string(),
                    partition: partition.parse().ok()?,
                    lag: *lag,
                })
            })
            .collect()
    }
}

/// The engine nodes a job file's node runs as: itself, or a sink's writer and committer.
pub fn parts<'a>(metrics: &'a JobMetrics, name: &str) -> Vec<&'a NodeMetrics> {
    if let Some(node) = metrics.node(name) {
        return vec![node];
    }
    [
        weir_connectors::writer_node(name),
        format!("{name}_committer"),
    ]
    .iter()
    .filter_map(|part| metrics.node(part))
    .collect()
}

/// Rows per second at a time.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RatePoint {
    /// ms since the Unix epoch.
    pub time_ms: i64,
    pub rows_per_second: f64,
}

/// One job in full.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct JobDetail {
    #[serde(flatten)]
    pub summary: JobSummary,
    pub nodes: Vec<NodeView>,
    pub edges: Vec<GraphEdge>,
    /// The completed checkpoints of its current run, oldest first.
    pub checkpoints: Vec<CheckpointView>,
    /// Its history, oldest first.
    pub events: Vec<JobEvent>,
    /// Rows per second of its sources over the last minutes, one point a second.
    pub rows_per_second_history: Vec<RatePoint>,
    /// The job file as submitted.
    pub definition: String,
    /// The lake table each Delta sink writes, by sink (sinks writing outside the lake are
    /// left out), for the console to query samples of.
    pub sink_tables: BTreeMap<String, String>,
}

/// `ms` since the Unix epoch as an RFC 3339 time in UTC, to the millisecond.
pub fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_default()
}

/// The names of the record's source nodes.
pub(crate) fn sources(record: &JobRecord) -> Vec<String> {
    record
        .graph
        .nodes
        .iter()
        .filter(|n| n.role == "source")
        .map(|n| n.name.clone())
        .collect()
}

pub(crate) fn summary(
    record: &JobRecord,
    status: String,
    next_run_ms: Option<i64>,
    metrics: Option<&JobMetrics>,
    restarts: u32,
    rates: &Rates,
) -> JobSummary {
    let failure = match &record.ended {
        Some(crate::record::Ended::Failed { cause, .. }) => Some(cause.clone()),
        _ => None,
    };
    JobSummary {
        id: record.id.clone(),
        kind: record.kind.clone(),
        status,
        desired: record.desired,
        rows_per_second: sources(record).iter().map(|s| rates.node(s).rows_out).sum(),
        restarts,
        last_checkpoint: metrics.and_then(|m| m.checkpoints().last().map(CheckpointView::from)),
        submitted: rfc3339(record.submitted_ms),
        next_run: next_run_ms.map(rfc3339),
        watermark_lag_ms: metrics.and_then(watermark_lag_ms),
        failure,
    }
}

/// How far the lowest watermark any node of the job sent is behind the wall clock.
pub fn watermark_lag_ms(metrics: &JobMetrics) -> Option<i64> {
    let lowest = metrics
        .nodes
        .iter()
        .filter_map(|n| n.watermark())
        .filter(|w| *w != i64::MAX)
        .min()?;
    Some((crate::record::now_ms() - lowest).max(0))
}

pub(crate) fn nodes(
    record: &JobRecord,
    metrics: Option<&JobMetrics>,
    rates: &Rates,
) -> Vec<NodeView> {
    let now = crate::record::now_ms();
    record
        .graph
        .nodes
        .iter()
        .map(|n| {
            let parts = metrics.map(|m| parts(m, &n.name)).unwrap_or_default();
            // The part rows enter by (a sink's writer), and the figures of all parts.
            let counters = parts.first().copied();
            let figures: BTreeMap<String, i64> =
                parts.iter().flat_map(|p| p.gauges.values()).collect();
            let figure = |name: &str| figures.get(name).copied();
            // A sink's rates and backpressure are its writer's (the part rows enter by).
            let engine_name = counters.map_or(n.name.as_str(), |c| c.name.as_str());
            let rate = rates.node(engine_name);
            let watermark = counters
                .and_then(|c| c.watermark())
                .filter(|w| *w != i64::MAX);
            NodeView {
                name: n.name.clone(),
                role: n.role.clone(),
                kind: n.kind.clone(),
                parallelism: n.parallelism,
                rows_in: counters.map_or(0, |c| c.rows_in()),
                rows_out: counters.map_or(0, |c| c.rows_out()),
                rows_in_per_second: rate.rows_in,
                rows_out_per_second: rate.rows_out,
                bytes_in: counters.map_or(0, |c| c.bytes_in()),
                bytes_out: counters.map_or(0, |c| c.bytes_out()),
                dead_letters: counters.map_or(0, |c| c.port_rows(DEAD_LETTER_PORT)),
                late_rows: counters.map_or(0, |c| c.port_rows(LATE_PORT)),
                unconsumed_rows: counters.map_or(0, |c| c.rows_unconsumed()),
                backpressure_ms: metrics
                    .map_or(0, |m| m.blocked_sending(engine_name).as_millis() as u64),
                backpressure: (rate.blocked / n.parallelism.max(1) as f64).clamp(0.0, 1.0),
                watermark: watermark.map(rfc3339),
                watermark_lag_ms: watermark.map(|w| (now - w).max(0)),
                quarantined_rows: figure(QUARANTINED_ROWS).unwrap_or(0) as u64,
                delta_version: figure(DELTA_VERSION),
                delta_commits: figure(DELTA_COMMITS).unwrap_or(0) as u64,
                kafka_lag: PartitionLag::from_figures(&figures),
                partition_watermarks: PartitionWatermark::from_figures(&figures, now),
                figures,
            }
        })
        .collect()
}

pub(crate) fn history(record: &JobRecord, rates: &Rates) -> Vec<RatePoint> {
    rates
        .history(&sources(record))
        .into_iter()
        .map(|(time_ms, rows_per_second)| RatePoint {
            time_ms,
            rows_per_second,
        })
        .collect()
}
