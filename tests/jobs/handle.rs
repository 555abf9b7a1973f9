//! The job runner's handle, as `weir run`, `weir demo` and the server use it: status,
//! counters, checkpoints on demand, stop with a final checkpoint, cancel, and a second
//! start resuming where the first stopped.

use std::time::Duration;

use weir_engine::RestoreFrom;
use weir_jobs::{JobDefinition, JobHandle, JobOutcome, JobStatus, StartOptions};

use super::{sorted, strings, support};

/// A job following `input.txt` in `dir` into a Delta table; it never ends by itself.
fn following_job(dir: &std::path::Path) -> JobDefinition {
    let yaml = format!(
        "name: handle\n\
         checkpoints: {{interval: 1h, location: {dir}/checkpoints}}\n\
         sources:\n  input: {{type: file, path: {dir}/input.txt, mode: follow, discovery_interval: 20ms, poll_interval: 10ms, format: {{type: lines}}}}\n\
         sinks:\n  table: {{type: delta, inputs: [input], table: {dir}/lake/lines}}\n",
        dir = dir.display()
    );
    JobDefinition::from_yaml(&yaml, "handle.yaml", |_| None).unwrap()
}

async fn table(dir: &std::path::Path) -> Vec<String> {
    let table = dir.join("lake/lines").display().to_string();
    strings(&support::delta::query_table(&table, "SELECT line FROM t ORDER BY line").await)
}

/// Waits until the table holds exactly `lines`.
async fn committed(dir: &std::path::Path, lines: &[&str]) {
    let expected = sorted(lines);
    for _ in 0..500 {
        if dir.join("lake/lines/_delta_log").exists() && table(dir).await == expected {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(table(dir).await, expected);
}

/// Waits until the job's source read `rows` rows.
async fn read(handle: &JobHandle, rows: u64) {
    for _ in 0..1000 {
        let read = handle
            .metrics()
            .and_then(|m| m.node("input").map(|n| n.rows_in()))
            .unwrap_or(0);
        if read >= rows {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the job did not read {rows} rows");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handle_checkpoints_stops_and_a_second_start_resumes() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("input.txt"), "a\nb\n").unwrap();
    let handle = JobHandle::start(following_job(dir.path()), StartOptions::default());
    assert_eq!(handle.started().await.unwrap(), None);
    assert_eq!(handle.status(), JobStatus::Running);
    read(&handle, 2).await;
    // A checkpoint on demand commits what was read (the interval is an hour); the sink
    // commits once the checkpoint is complete, right after it returns.
    let first = handle.checkpoint().await.unwrap();
    assert_eq!(first, 1);
    committed(dir.path(), &["a", "b"]).await;

    std::fs::write(dir.path().join("input.txt"), "a\nb\nc\n").unwrap();
    read(&handle, 3).await;
    let JobOutcome::Stopped { checkpoint } = handle.stop().await else {
        panic!("not stopped: {:?}", handle.wait().await);
    };
    assert_eq!(checkpoint, 2);
    assert_eq!(handle.status(), JobStatus::Ended);
    assert_eq!(table(dir.path()).await, sorted(&["a", "b", "c"]));
    assert!(handle.checkpoint().await.is_err());

    std::fs::write(dir.path().join("input.txt"), "a\nb\nc\nd\n").unwrap();
    let again = JobHandle::start(following_job(dir.path()), StartOptions::default());
    let restored = again.started().await.unwrap().expect("restored");
    assert_eq!(restored.checkpoint_id, 2);
    read(&again, 1).await;
    again.cancel();
    assert!(matches!(again.wait().await, JobOutcome::Cancelled));
    // Cancelled: what it read after checkpoint 2 was not committed.
    assert_eq!(table(dir.path()).await, sorted(&["a", "b", "c"]));

    let fresh = StartOptions {
        restore_from: RestoreFrom::Latest,
    };
    let last = JobHandle::start(following_job(dir.path()), fresh);
    assert_eq!(last.started().await.unwrap().unwrap().checkpoint_id, 2);
    read(&last, 1).await;
    assert!(matches!(last.stop().await, JobOutcome::Stopped { .. }));
    assert_eq!(table(dir.path()).await, sorted(&["a", "b", "c", "d"]));
}
