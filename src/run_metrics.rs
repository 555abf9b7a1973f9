//! `weir run --metrics-bind ADDR`: the running job's counters at `http://ADDR/metrics`,
//! in the format and names of `weir server`'s `/metrics`.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result};
use weir_engine::JobMetrics;
use weir_jobs::{JobHandle, JobStatus};
use weir_server::prometheus::{self, JobCounters};
use weir_server::rates::Rates;
use weir_server::record::{now_ms, Desired};
use weir_server::view::{rfc3339, CheckpointView, JobSummary};

/// The counters of the one job `weir run` runs.
#[derive(Debug)]
struct RunCounters {
    handle: JobHandle,
    kind: String,
    started: String,
    /// Rates over the scrapes (each scrape samples the counters).
    rates: Mutex<Rates>,
}

impl JobCounters for RunCounters {
    fn counters(&self) -> Vec<(JobSummary, Option<Arc<JobMetrics>>)> {
        let metrics = self.handle.metrics();
        let job = self.handle.job();
        let rows_per_second = match &metrics {
            Some(metrics) => {
                let mut rates = self.rates.lock().unwrap_or_else(|e| e.into_inner());
                rates.sample(metrics);
                job.sources.keys().map(|s| rates.node(s).rows_out).sum()
            }
            None => 0.0,
        };
        let status = match self.handle.status() {
            JobStatus::Starting => "starting",
            JobStatus::Running => "running",
            JobStatus::Restarting { .. } => "restarting",
            JobStatus::Stopping | JobStatus::Ended => "stopping",
        };
        let summary = JobSummary {
            id: job.name.clone(),
            kind: self.kind.clone(),
            status: status.into(),
            desired: Desired::Running,
            rows_per_second,
            restarts: self.handle.restarts(),
            last_checkpoint: metrics
                .as_ref()
                .and_then(|m| m.checkpoints().last().map(CheckpointView::from)),
            submitted: self.started.clone(),
            next_run: None,
            watermark_lag_ms: metrics
                .as_deref()
                .and_then(weir_server::view::watermark_lag_ms),
            failure: None,
        };
        vec![(summary, metrics)]
    }
}

/// Serves `/metrics` of the job `handle` runs at `address` until the process ends.
pub async fn serve(address: SocketAddr, handle: JobHandle) -> Result<SocketAddr> {
    let counters = RunCounters {
        kind: weir_server::registry::kind_name(handle.job()),
        started: rfc3339(now_ms()),
        rates: Mutex::default(),
        handle,
    };
    prometheus::serve(address, Arc::new(counters))
        .await
        .with_context(|| format!("serving --metrics-bind {address}"))
}
