//! `/metrics`: jobs in Prometheus' text format, read from their live counters at each
//! scrape (a `prometheus-client` collector). Per job: status, restarts, rows per second,
//! checkpoints (count, failures, last duration and size); per node: rows and bytes in and
//! out, dead letters, late and quarantined rows, watermark lag, backpressure; per Delta
//! sink: commits, commit time and table version; per Kafka source partition: consumer
//! lag; per compaction job: runs and files; per quality job: verdicts. Labels are job,
//! node and (for Kafka lag) topic and partition: bounded by the jobs' graphs, never by
//! keys. `weir server` serves it beside its API, `weir run --metrics-bind` on its own.

use std::sync::Arc;

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;
use weir_connectors::compaction::{
    COMPACTION_FILES_ADDED, COMPACTION_FILES_REMOVED, COMPACTION_RUNS,
};
use weir_connectors::delta::{DELTA_COMMITS, DELTA_COMMIT_MICROS, DELTA_VERSION, QUARANTINED_ROWS};
use weir_connectors::quality_check::{QUALITY_RULES_FAILED, QUALITY_RULES_PASSED};
use weir_engine::runtime::metrics::{CheckpointStats, NodeMetrics};
use weir_engine::JobMetrics;

use crate::view::{JobSummary, PartitionLag};

/// What `/metrics` reads at each scrape: every job's summary and live counters (none for
/// a job not running).
pub trait JobCounters: Send + Sync + std::fmt::Debug + 'static {
    fn counters(&self) -> Vec<(JobSummary, Option<Arc<JobMetrics>>)>;
}

/// Serves `GET /metrics` of `jobs` alone at `address` in the background (as `weir run
/// --metrics-bind` does); returns the address bound.
pub async fn serve(
    address: std::net::SocketAddr,
    jobs: Arc<dyn JobCounters>,
) -> std::io::Result<std::net::SocketAddr> {
    let listener = tokio::net::TcpListener::bind(address).await?;
    let bound = listener.local_addr()?;
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, router::<()>(jobs)).await {
            tracing::error!("serving metrics at {bound}: {e}");
        }
    });
    Ok(bound)
}

/// A router serving `GET /metrics` from `jobs`.
pub fn router<S: Clone + Send + Sync + 'static>(jobs: Arc<dyn JobCounters>) -> Router<S> {
    Router::new().route("/metrics", get(move || metrics(jobs.clone())))
}

/// Reads the jobs' counters at each scrape.
#[derive(Debug)]
struct JobsCollector(Arc<dyn JobCounters>);

type Labels<'a> = [(&'static str, &'a str)];

/// Encodes one metric family: `rows` of labels and value.
fn family<'a, M: EncodeMetric>(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    kind: MetricType,
    rows: impl IntoIterator<Item = (Vec<(&'static str, &'a str)>, M)>,
) -> Result<(), std::fmt::Error> {
    let mut metric = encoder.encode_descriptor(name, help, None, kind)?;
    for (labels, value) in rows {
        let labels: &Labels = &labels;
        value.encode(metric.encode_family(&labels)?)?;
    }
    Ok(())
}

impl Collector for JobsCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let jobs = self.0.counters();
        let now = crate::record::now_ms();
        family(
            &mut encoder,
            "weir_job_up",
            "1 for each job with its status as a label",
            MetricType::Gauge,
            jobs.iter().map(|(job, _)| {
                (
                    vec![
                        ("job", job.id.as_str()),
                        ("kind", job.kind.as_str()),
                        ("status", job.status.as_str()),
                    ],
                    ConstGauge::new(1i64),
                )
            }),
        )?;
        family(
            &mut encoder,
            "weir_job_restarts",
            "Restarts of the job's current run after failures",
            MetricType::Counter,
            jobs.iter().map(|(job, _)| {
                (
                    vec![("job", job.id.as_str())],
                    ConstCounter::new(u64::from(job.restarts)),
                )
            }),
        )?;
        family(
            &mut encoder,
            "weir_job_rows_per_second",
            "Rows the job's sources emit per second, over the last seconds",
            MetricType::Gauge,
            jobs.iter().map(|(job, _)| {
                (
                    vec![("job", job.id.as_str())],
                    ConstGauge::new(job.rows_per_second),
                )
            }),
        )?;
        let nodes: Vec<(&str, &NodeMetrics)> = jobs
            .iter()
            .filter_map(|(job, metrics)| Some((job.id.as_str(), metrics.as_ref()?)))
            .flat_map(|(id, metrics)| metrics.nodes.iter().map(move |n| (id, n.as_ref())))
            .collect();
        let per_node = |value: fn(&NodeMetrics) -> u64| {
            nodes
                .iter()
                .map(move |(id, node)| {
                    (
                        vec![("job", *id), ("node", node.name.as_str())],
                        ConstCounter::new(value(node)),
                    )
                })
                .collect::<Vec<_>>()
        };
        family(
            &mut encoder,
            "weir_node_rows_in",
            "Rows a node received",
            MetricType::Counter,
            per_node(|n| n.rows_in()),
        )?;
        family(
            &mut encoder,
            "weir_node_rows_out",
            "Rows a node emitted on connected outputs",
            MetricType::Counter,
            per_node(|n| n.rows_out()),
        )?;
        family(
            &mut encoder,
            "weir_node_bytes_in",
            "Arrow bytes of the rows a node received",
            MetricType::Counter,
            per_node(|n| n.bytes_in()),
        )?;
        family(
            &mut encoder,
            "weir_node_bytes_out",
            "Arrow bytes of the rows a node emitted on connected outputs",
            MetricType::Counter,
            per_node(|n| n.bytes_out()),
        )?;
        family(
            &mut encoder,
            "weir_node_dead_letters",
            "Rows a node sent to its dead_letters output",
            MetricType::Counter,
            per_node(|n| n.port_rows(weir_engine::DEAD_LETTER_PORT)),
        )?;
        family(
            &mut encoder,
            "weir_node_late_rows",
            "Rows a node sent to its late output",
            MetricType::Counter,
            per_node(|n| n.port_rows(weir_engine::LATE_PORT)),
        )?;
        family(
            &mut encoder,
            "weir_node_backpressure_seconds",
            "How long a node's subtasks waited on full output channels",
            MetricType::Counter,
            jobs.iter()
                .filter_map(|(job, metrics)| Some((job.id.as_str(), metrics.as_ref()?)))
                .flat_map(|(id, metrics)| {
                    metrics.nodes.iter().map(move |n| {
                        (
                            vec![("job", id), ("node", n.name.as_str())],
                            ConstCounter::new(metrics.blocked_sending(&n.name).as_secs_f64()),
                        )
                    })
                }),
        )?;
        family(
            &mut encoder,
            "weir_node_watermark_lag_seconds",
            "How far a node's event-time watermark is behind the wall clock",
            MetricType::Gauge,
            nodes.iter().filter_map(|(id, node)| {
                let watermark = node.watermark().filter(|w| *w != i64::MAX)?;
                Some((
                    vec![("job", *id), ("node", node.name.as_str())],
                    ConstGauge::new((now - watermark).max(0) as f64 / 1000.0),
                ))
            }),
        )?;
        figures(&mut encoder, &nodes)?;
        family(
            &mut encoder,
            "weir_job_checkpoint_failures",
            "Checkpoints of the job's current run that failed",
            MetricType::Counter,
            jobs.iter().filter_map(|(job, metrics)| {
                Some((
                    vec![("job", job.id.as_str())],
                    ConstCounter::new(metrics.as_ref()?.checkpoint_failures()),
                ))
            }),
        )?;
        let checkpoints: Vec<(&str, Vec<CheckpointStats>)> = jobs
            .iter()
            .filter_map(|(job, metrics)| Some((job.id.as_str(), metrics.as_ref()?.checkpoints())))
            .collect();
        family(
            &mut encoder,
            "weir_job_checkpoints",
            "Checkpoints the job's current run completed",
            MetricType::Counter,
            checkpoints
                .iter()
                .map(|(id, c)| (vec![("job", *id)], ConstCounter::new(c.len() as u64))),
        )?;
        family(
            &mut encoder,
            "weir_job_last_checkpoint_seconds",
            "How long the job's last checkpoint took",
            MetricType::Gauge,
            checkpoints.iter().filter_map(|(id, c)| {
                Some((
                    vec![("job", *id)],
                    ConstGauge::new(c.last()?.duration.as_secs_f64()),
                ))
            }),
        )?;
        family(
            &mut encoder,
            "weir_job_last_checkpoint_bytes",
            "Bytes of the state files of the job's last checkpoint",
            MetricType::Gauge,
            checkpoints.iter().filter_map(|(id, c)| {
                Some((
                    vec![("job", *id)],
                    ConstGauge::new(c.last()?.state_bytes as i64),
                ))
            }),
        )?;
        Ok(())
    }
}

/// The figures nodes report about themselves (see [`weir_engine::NodeGauges`]), as
/// metric families: counters, gauges and the Kafka lag per partition.
fn figures(encoder: &mut DescriptorEncoder, nodes: &[(&str, &NodeMetrics)]) -> std::fmt::Result {
    let figures: Vec<(&str, &str, std::collections::BTreeMap<String, i64>)> = nodes
        .iter()
        .map(|(job, node)| (*job, node.name.as_str(), node.gauges.values()))
        .filter(|(_, _, figures)| !figures.is_empty())
        .collect();
    let counters = [
        (
            QUARANTINED_ROWS,
            "weir_node_quarantined_rows",
            "Rows a Delta sink's quarantine rules sent to the quarantine table",
            1.0,
        ),
        (
            DELTA_COMMITS,
            "weir_delta_commits",
            "Commits a Delta sink made",
            1.0,
        ),
        (
            DELTA_COMMIT_MICROS,
            "weir_delta_commit_seconds",
            "Time a Delta sink's commits took",
            0.001,
        ),
        (
            COMPACTION_RUNS,
            "weir_compaction_runs",
            "Compactions a compaction job committed",
            1.0,
        ),
        (
            COMPACTION_FILES_REMOVED,
            "weir_compaction_files_removed",
            "Files compactions removed",
            1.0,
        ),
        (
            COMPACTION_FILES_ADDED,
            "weir_compaction_files_added",
            "Files compactions added",
            1.0,
        ),
    ];
    for (figure, name, help, scale) in counters {
        family(
            encoder,
            name,
            help,
            MetricType::Counter,
            figures.iter().filter_map(|(job, node, values)| {
                let value = *values.get(figure)? as f64 * scale;
                Some((
                    vec![("job", *job), ("node", *node)],
                    ConstCounter::new(value),
                ))
            }),
        )?;
    }
    family(
        encoder,
        "weir_delta_table_version",
        "The newest table version a Delta sink committed",
        MetricType::Gauge,
        figures.iter().filter_map(|(job, node, values)| {
            let version = *values.get(DELTA_VERSION)?;
            Some((
                vec![("job", *job), ("node", *node)],
                ConstGauge::new(version),
            ))
        }),
    )?;
    family(
        encoder,
        "weir_quality_verdicts",
        "Verdicts of a quality job's checks, by outcome",
        MetricType::Counter,
        figures.iter().flat_map(|(job, node, values)| {
            [
                ("passed", QUALITY_RULES_PASSED),
                ("failed", QUALITY_RULES_FAILED),
            ]
            .into_iter()
            .filter_map(move |(outcome, figure)| {
                let count = *values.get(figure)? as u64;
                Some((
                    vec![("job", *job), ("node", *node), ("outcome", outcome)],
                    ConstCounter::new(count),
                ))
            })
        }),
    )?;
    let lags: Vec<(&str, &str, PartitionLag, String)> = figures
        .iter()
        .flat_map(|(job, node, values)| {
            PartitionLag::from_figures(values)
                .into_iter()
                .map(move |lag| {
                    let partition = lag.partition.to_string();
                    (*job, *node, lag, partition)
                })
        })
        .collect();
    family(
        encoder,
        "weir_kafka_consumer_lag_messages",
        "Messages after the next one a Kafka source hands out, per partition (looked up every 5 s)",
        MetricType::Gauge,
        lags.iter().map(|(job, node, lag, partition)| {
            (
                vec![
                    ("job", *job),
                    ("node", *node),
                    ("topic", lag.topic.as_str()),
                    ("partition", partition.as_str()),
                ],
                ConstGauge::new(lag.lag),
            )
        }),
    )
}

/// The metrics of `jobs` in Prometheus' text format.
async fn metrics(jobs: Arc<dyn JobCounters>) -> Response {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(JobsCollector(jobs)));
    let mut text = String::new();
    match prometheus_client::encoding::prometheus_text::encode(&mut text, &registry) {
        Ok(()) => (
            [(
                header::CONTENT_TYPE,
                "text/plain; version=0.0.4; charset=utf-8",
            )],
            text,
        )
            .into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}
