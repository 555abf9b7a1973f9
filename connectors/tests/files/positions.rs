//! Positions in checkpoints: a snapshot taken part way is restored at another parallelism
//! and reading continues without a gap or a duplicate, directly through the source API and
//! through kills and restores of a running job.

use std::time::Duration;

use weir_connectors::files::{FileSource, FileSourceConfig};
use weir_engine::state::StateChunk;
use weir_engine::{GraphBuilder, RuntimeConfig, SourcePlan, SubtaskInfo};

use super::common::{append, committed_seqs, config, lines_of, seqs};
use crate::committing_sink::{Committed, CommittingSink};

fn subtask(index: usize, parallelism: usize) -> SubtaskInfo {
    SubtaskInfo {
        node: "files".into(),
        index,
        parallelism,
        max_parallelism: 128,
    }
}

/// Six files of 1,000 lines each, sequence numbers 0..6,000.
fn six_files() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for f in 0..6i64 {
        let path = dir.path().join(format!("part-{f}.jsonl"));
        append(&path, &lines_of(f * 1000..(f + 1) * 1000));
    }
    dir
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn positions_restored_at_another_parallelism_continue_without_gaps_or_duplicates() {
    let dir = six_files();
    let plan = FileSource::new(FileSourceConfig {
        batch_size: 150,
        ..config(dir.path())
    })
    .await
    .unwrap();

    // Two subtasks read three batches each, then checkpoint.
    let mut batches = Vec::new();
    let mut chunks: Vec<StateChunk> = Vec::new();
    for index in 0..2 {
        let mut reader = plan.create(&subtask(index, 2)).unwrap();
        for _ in 0..3 {
            if let Some(b) = reader.next_batch().await.unwrap() {
                batches.push(b.batch);
            }
        }
        chunks.extend(reader.snapshot().unwrap());
    }
    let before = seqs(&batches).len();
    assert!((300..=900).contains(&before), "{before} rows before");

    // Three subtasks continue from the checkpoint, each taking its files' positions.
    for index in 0..3 {
        let mut reader = plan.create(&subtask(index, 3)).unwrap();
        reader.restore(chunks.clone()).unwrap();
        while let Some(b) = reader.next_batch().await.unwrap() {
            batches.push(b.batch);
        }
    }
    assert_eq!(seqs(&batches), (0..6000).collect::<Vec<_>>());
}

fn graph(
    plan: std::sync::Arc<FileSource>,
    parallelism: usize,
    out: &Committed,
) -> weir_engine::JobGraph {
    let mut g = GraphBuilder::new();
    let files = g.source("files", plan, parallelism, None).unwrap();
    g.operator(
        "sink",
        &CommittingSink::new(out),
        vec![files.main().rebalance()],
        1,
    )
    .unwrap();
    g.build().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_and_rescaled_jobs_read_every_line_once() {
    let dir = six_files();
    let checkpoints = tempfile::tempdir().unwrap();
    let runtime = RuntimeConfig {
        checkpoint_interval: Some(Duration::from_millis(10)),
        checkpoint_location: Some(checkpoints.path().to_str().unwrap().to_string()),
        ..RuntimeConfig::default()
    };
    let plan = || {
        FileSource::new(FileSourceConfig {
            batch_size: 20,
            ..config(dir.path())
        })
    };
    let out: Committed = Default::default();
    let (mut restored, mut killed) = (Vec::new(), Vec::new());
    for parallelism in [2usize, 3, 1] {
        let job = graph(plan().await.unwrap(), parallelism, &out)
            .start(&runtime)
            .await
            .unwrap();
        restored.push(job.restored().map(|r| r.checkpoint_id));
        let run = tokio::time::timeout(Duration::from_millis(40), job.join()).await;
        killed.push(run.is_err());
    }
    graph(plan().await.unwrap(), 2, &out)
        .run(&runtime)
        .await
        .unwrap();
    assert!(restored[1..].iter().all(Option::is_some), "{restored:?}");
    assert!(killed[0], "the first run was killed before its end");
    assert_eq!(committed_seqs(&out), (0..6000).collect::<Vec<_>>());
}
