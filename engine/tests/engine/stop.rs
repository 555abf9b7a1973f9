//! Stopping a job without draining it: the final checkpoint covers everything the sources
//! read, its commits are done when `stop` returns, windows still open stay open (in the
//! checkpoint), and a job restored from it ends exactly like an uninterrupted run.

use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use async_trait::async_trait;
use tokio::sync::watch;
use weir_engine::state::{state_batch, StateChunk, StateTable};
use weir_engine::{
    EngineError, GraphBuilder, JobGraph, RestoreFrom, RuntimeConfig, Source, SourceBatch,
    SourcePlan, SubtaskInfo, WatermarkStrategy, WindowAggregateConfig, WindowSpec,
};

use super::common::{row_batches, schema};

// The two-phase-commit sink of the workspace's recovery tests, shared rather than copied.
#[path = "../../../tests/support/committing_sink.rs"]
mod committing_sink;

use committing_sink::{lines, Committed, CommittingSink};

/// Batches read one at a time, as far as the test released them; its position is
/// checkpointed. It ends after the last batch.
struct GatedSource {
    batches: Vec<RecordBatch>,
    released: watch::Receiver<usize>,
}

struct GatedReader {
    batches: Vec<RecordBatch>,
    released: watch::Receiver<usize>,
    next: usize,
}

fn positions() -> StateTable {
    StateTable::new(
        "next",
        [Arc::new(arrow::datatypes::Field::new(
            "next",
            arrow::datatypes::DataType::UInt64,
            false,
        ))],
    )
}

impl SourcePlan for GatedSource {
    fn schema(&self) -> SchemaRef {
        schema()
    }
    fn create(&self, _: &SubtaskInfo) -> weir_engine::Result<Box<dyn Source>> {
        Ok(Box::new(GatedReader {
            batches: self.batches.clone(),
            released: self.released.clone(),
            next: 0,
        }))
    }
}

#[async_trait]
impl Source for GatedReader {
    fn partitions(&self) -> Vec<u32> {
        vec![0]
    }
    async fn next_batch(&mut self) -> weir_engine::Result<Option<SourceBatch>> {
        if self.next == self.batches.len() {
            return Ok(None);
        }
        let next = self.next;
        self.released
            .wait_for(|released| *released > next)
            .await
            .map_err(|_| EngineError::Disconnected)?;
        self.next += 1;
        Ok(Some(SourceBatch::new(0, self.batches[next].clone())))
    }
    fn snapshot(&mut self) -> weir_engine::Result<Vec<StateChunk>> {
        let shard = Arc::new(arrow::array::UInt32Array::from(vec![0]));
        let next = Arc::new(arrow::array::UInt64Array::from(vec![self.next as u64]));
        Ok(vec![StateChunk::new(
            "next",
            state_batch(&positions(), shard, vec![next])?,
        )])
    }
    fn restore(&mut self, chunks: Vec<StateChunk>) -> weir_engine::Result<()> {
        use arrow::array::AsArray;
        for chunk in chunks.iter().filter(|c| c.table == "next") {
            let next = chunk
                .batch
                .column(1)
                .as_primitive::<arrow::datatypes::UInt64Type>();
            self.next = next.value(0) as usize;
        }
        Ok(())
    }
}

/// One row per batch, watermarks right behind the rows: [0 s, 1 s) fires at the third
/// row; [1 s, 2 s) is open after the fourth.
fn rows() -> Vec<RecordBatch> {
    row_batches(&[
        ("a", 100, 1),
        ("b", 200, 2),
        ("a", 1_100, 3),
        ("b", 1_500, 4),
        ("a", 2_100, 5),
        ("b", 2_500, 6),
        ("a", 3_100, 7),
    ])
}

/// Source -> keyed tumbling 1 s windows (2 subtasks) -> committing sink.
fn graph(released: &watch::Receiver<usize>, out: &Committed) -> JobGraph {
    let mut g = GraphBuilder::new();
    let source = GatedSource {
        batches: rows(),
        released: released.clone(),
    };
    let source = g
        .source(
            "rows",
            Arc::new(source),
            1,
            Some(WatermarkStrategy::bounded("ts", Duration::ZERO)),
        )
        .unwrap();
    let window = WindowAggregateConfig {
        key: vec!["key".into()],
        event_time: "ts".into(),
        window: WindowSpec::Tumbling {
            size: Duration::from_secs(1),
        },
        aggregates: vec!["count(*) AS n".into(), "sum(value) AS total".into()],
        allowed_lateness: Duration::ZERO,
    };
    let window = g
        .operator("window", &window, vec![source.main().hash(["key"])], 2)
        .unwrap();
    g.operator(
        "sink",
        &CommittingSink::new(out),
        vec![window.main().rebalance()],
        1,
    )
    .unwrap();
    g.build().unwrap()
}

fn checkpointed(dir: &tempfile::TempDir) -> RuntimeConfig {
    RuntimeConfig {
        checkpoint_location: Some(dir.path().to_str().unwrap().to_string()),
        ..RuntimeConfig::default()
    }
}

/// Waits (at most 60 s) until the window node has read `rows` rows.
async fn until_window_read(job: &weir_engine::RunningJob, rows: u64) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while job.metrics().node("window").unwrap().rows_in() < rows {
        assert!(
            Instant::now() < deadline,
            "the window never read {rows} rows"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

fn all_released() -> watch::Receiver<usize> {
    watch::channel(usize::MAX).1
}

/// What the job commits when it runs through all rows without a stop.
async fn straight_run() -> Vec<String> {
    let straight = Committed::default();
    graph(&all_released(), &straight)
        .run(&RuntimeConfig::default())
        .await
        .unwrap();
    lines(&straight)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_job_commits_its_final_checkpoint_and_resumes_like_a_straight_run() {
    let expected = straight_run().await;
    assert_eq!(expected.len(), 7, "{expected:?}");

    let dir = tempfile::tempdir().unwrap();
    let out = Committed::default();
    let (release, released) = watch::channel(4);
    let job = graph(&released, &out)
        .start(&checkpointed(&dir))
        .await
        .unwrap();
    until_window_read(&job, 4).await;
    let control = job.control();
    let joined = tokio::spawn(job.join());
    let id = control.stop().await.unwrap();
    assert_eq!(id, 1);
    joined.await.unwrap().unwrap();

    // Committed when `stop` returned: the window that fired; [1 s, 2 s) is still open.
    let stopped = lines(&out);
    assert_eq!(
        stopped,
        [
            "a|1970-01-01T00:00:00|1970-01-01T00:00:01|1|1",
            "b|1970-01-01T00:00:00|1970-01-01T00:00:01|1|2",
        ]
    );
    // Releasing more rows reaches nothing: the stopped job read nothing after its stop.
    release.send(usize::MAX).unwrap();

    let job = graph(&all_released(), &out)
        .start(&checkpointed(&dir))
        .await
        .unwrap();
    assert_eq!(job.restored().unwrap().checkpoint_id, id);
    job.join().await.unwrap();
    assert_eq!(lines(&out), expected);
    assert!(stopped.iter().all(|l| expected.contains(l)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_without_a_checkpoint_location_stops_too() {
    let out = Committed::default();
    let (_release, released) = watch::channel(2);
    let job = graph(&released, &out)
        .start(&RuntimeConfig::default())
        .await
        .unwrap();
    until_window_read(&job, 2).await;
    assert_eq!(job.stop().await.unwrap(), 1);
    job.join().await.unwrap();
    // Nothing fired: the stop is no end of the input.
    assert_eq!(lines(&out), Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_job_ends_at_once_and_resumes_from_its_last_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let out = Committed::default();
    let (_release, released) = watch::channel(4);
    let job = graph(&released, &out)
        .start(&checkpointed(&dir))
        .await
        .unwrap();
    until_window_read(&job, 4).await;
    assert_eq!(job.checkpoint().await.unwrap(), 1);
    let control = job.control();
    let joined = tokio::spawn(job.join());
    control.cancel();
    assert!(matches!(joined.await.unwrap(), Err(EngineError::Cancelled)));
    assert!(control.stop().await.is_err(), "a cancelled job cannot stop");

    let job = graph(&all_released(), &out)
        .start(&RuntimeConfig {
            restore_from: RestoreFrom::Latest,
            ..checkpointed(&dir)
        })
        .await
        .unwrap();
    assert_eq!(job.restored().unwrap().checkpoint_id, 1);
    job.join().await.unwrap();
    assert_eq!(lines(&out), straight_run().await);
}
