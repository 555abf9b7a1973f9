//! A `kind: compact` job beside a streaming job appending to the same table: no row lost
//! or doubled, every version consistent, the file count kept down; the compaction job
//! stops and restarts like any job.

use std::path::Path;
use std::time::Duration;

use super::support::delta::{live_files, query_text, rows_by_version};
use weir_jobs::{JobDefinition, JobHandle, JobOutcome, StartOptions};

const EVENTS: u64 = 20_000;

/// Generated bids into `table`, checkpointing (so committing a file per writer) every
/// 100 ms, at 8,000 bids a second in batches of 250.
fn stream_job(dir: &Path, name: &str, table: &str) -> JobDefinition {
    let yaml = format!(
        "name: {name}\nparallelism: 2\n\
         checkpoints: {{interval: 100ms, location: {dir}/checkpoints/{name}}}\n\
         sources:\n  bids: {{type: generator, kind: bids, events: {EVENTS}, batch_size: 250, rate_limit: 8000}}\n\
         sinks:\n  lake: {{type: delta, inputs: [bids], table: '{table}'}}\n",
        dir = dir.display()
    );
    JobDefinition::from_yaml(&yaml, &format!("{name}.yaml"), |_| None).unwrap()
}

fn compact_job(dir: &Path, table: &str) -> JobDefinition {
    let yaml = format!(
        "name: compact-bids\nkind: compact\n\
         checkpoints: {{location: {dir}/checkpoints/compact}}\n\
         compact: {{table: '{table}', every: 200ms, min_files: 4}}\n",
        dir = dir.display()
    );
    JobDefinition::from_yaml(&yaml, "compact.yaml", |_| None).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_compaction_job_beside_a_stream_keeps_every_row_once_and_the_files_few() {
    let dir = tempfile::tempdir().unwrap();
    let compacted = dir.path().join("lake/bids").display().to_string();
    let reference = dir.path().join("lake/reference").display().to_string();
    let stream = JobHandle::start(
        stream_job(dir.path(), "bids", &compacted),
        StartOptions::default(),
    );
    let plain = JobHandle::start(
        stream_job(dir.path(), "reference", &reference),
        StartOptions::default(),
    );
    let compaction = JobHandle::start(compact_job(dir.path(), &compacted), StartOptions::default());
    compaction.started().await.unwrap();
    // The compaction job stops and starts again while the stream runs.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert!(matches!(
        compaction.stop().await,
        JobOutcome::Stopped { .. }
    ));
    let compaction = JobHandle::start(compact_job(dir.path(), &compacted), StartOptions::default());
    for job in [&stream, &plain] {
        assert!(
            matches!(job.wait().await, JobOutcome::Finished),
            "{:?}",
            job.wait().await
        );
    }
    // One more check after the stream's last commit, then stop it.
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(matches!(
        compaction.stop().await,
        JobOutcome::Stopped { .. }
    ));

    let per_channel = "SELECT channel, count(*) AS n, sum(price) AS total, \
                       count(DISTINCT (auction, bidder, event_time)) AS distinct_bids \
                       FROM t GROUP BY channel ORDER BY channel";
    let expected = query_text(&[("t", &reference)], per_channel).await;
    assert_eq!(
        query_text(&[("t", &compacted)], per_channel).await,
        expected
    );
    assert_eq!(
        query_text(&[("t", &compacted)], "SELECT count(*) AS n FROM t").await,
        format!("+-------+\n| n     |\n+-------+\n| {EVENTS} |\n+-------+")
    );
    // Every version holds the rows the stream had committed by then, compacted or not.
    let versions = rows_by_version(&compacted).await;
    assert!(
        versions.iter().all(|v| v.rows == v.appended),
        "{versions:?}"
    );
    let compactions = versions.iter().filter(|v| v.compaction).count();
    assert!(compactions >= 2, "{versions:?}");
    let (kept, written) = (live_files(&compacted).await, live_files(&reference).await);
    assert!(
        kept * 4 <= written,
        "{kept} files kept of {written} written"
    );
}
