//! `/metrics`: the server's jobs in Prometheus' text format, read from the jobs' live
//! counters at each scrape (a `prometheus-client` collector): per job its status,
//! restarts and rows per second; per node rows in and out, dead letters, late rows and
//! watermark lag; per job its last checkpoint's duration and size and the checkpoints
//! completed.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;

use super::AppState;
use crate::registry::Jobs;

/// Reads the jobs' counters at each scrape.
#[derive(Debug)]
struct JobsCollector(Arc<Jobs>);

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
        let nodes: Vec<(&str, &weir_engine::runtime::metrics::NodeMetrics)> = jobs
            .iter()
            .filter_map(|(job, metrics)| Some((job.id.as_str(), metrics.as_ref()?)))
            .flat_map(|(id, metrics)| metrics.nodes.iter().map(move |n| (id, n.as_ref())))
            .collect();
        let per_node = |value: fn(&weir_engine::runtime::metrics::NodeMetrics) -> u64| {
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
        let checkpoints: Vec<(&str, Vec<weir_engine::runtime::metrics::CheckpointStats>)> = jobs
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

/// The metrics in Prometheus' text format.
pub async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(JobsCollector(state.jobs.clone())));
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
