//! What `weir run` says about a job while it runs and when it ends: per source the rows
//! read and the dead letters, per transform its dead letters and late rows, per sink the
//! rows it wrote, and the last checkpoint.

use std::time::Duration;

use weir_engine::JobMetrics;
use weir_jobs::JobDefinition;

/// Whether the sinks' rows are all committed (the job finished) or only written so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SinkRows {
    Written,
    Committed,
}

/// One line of counts for `job` after running for `elapsed`.
pub fn summary(
    job: &JobDefinition,
    metrics: &JobMetrics,
    elapsed: Duration,
    sink_rows: SinkRows,
) -> String {
    let seconds = elapsed.as_secs_f64().max(1e-9);
    let mut parts = Vec::new();
    for name in job.sources.keys() {
        let (rows, dead) = metrics
            .node(name)
            .map_or((0, 0), |n| (n.rows_in(), n.port_rows(DEAD_LETTERS)));
        parts.push(format!(
            "{name} read {rows} rows ({:.0}/s), {dead} dead letters",
            rows as f64 / seconds
        ));
    }
    for name in job.transforms.keys() {
        let Some(node) = metrics.node(name) else {
            continue;
        };
        let counts: Vec<String> = [(DEAD_LETTERS, "dead letters"), (LATE, "late rows")]
            .iter()
            .map(|(port, what)| (node.port_rows(port), what))
            .filter(|(rows, _)| *rows > 0)
            .map(|(rows, what)| format!("{rows} {what}"))
            .collect();
        if !counts.is_empty() {
            parts.push(format!("{name}: {}", counts.join(", ")));
        }
    }
    let verb = match sink_rows {
        SinkRows::Written => "wrote",
        SinkRows::Committed => "committed",
    };
    for (name, sink) in &job.sinks {
        let rows = metrics
            .node(&sink.connector.entry_node(name))
            .map_or(0, |n| n.rows_in());
        parts.push(format!("{name} {verb} {rows} rows"));
    }
    let checkpoint = metrics
        .checkpoints()
        .last()
        .map_or("no checkpoint yet".to_string(), |c| {
            format!("checkpoint {} took {:?}", c.checkpoint_id, c.duration)
        });
    parts.push(checkpoint);
    parts.join("; ")
}

const DEAD_LETTERS: &str = "dead_letters";
const LATE: &str = "late";
