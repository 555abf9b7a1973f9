//! Follow mode: files that grow (also by halves of lines), rotate (rename + new file) and
//! get truncated in place (copytruncate), through a kill and a restore at another
//! parallelism; every line written is committed exactly once.

use std::path::Path;
use std::time::Duration;

use weir_connectors::files::{FileMode, FileSource, FileSourceConfig};
use weir_engine::{GraphBuilder, RunningJob, RuntimeConfig};

use super::common::{append, config, line, lines_of, wait_for_rows};
use crate::committing_sink::{lines, Committed, CommittingSink};

/// Follows `pattern` with quick discovery and polling.
fn follow(pattern: &str) -> FileSourceConfig {
    FileSourceConfig {
        mode: FileMode::Follow,
        discovery_interval: Duration::from_millis(50),
        poll_interval: Duration::from_millis(10),
        batch_size: 100,
        metadata_columns: true,
        ..config(Path::new(pattern))
    }
}

async fn start(
    pattern: &str,
    parallelism: usize,
    runtime: &RuntimeConfig,
    out: &Committed,
) -> RunningJob {
    let plan = FileSource::new(follow(pattern)).await.unwrap();
    let mut g = GraphBuilder::new();
    let files = g.source("files", plan, parallelism, None).unwrap();
    g.operator(
        "sink",
        &CommittingSink::new(out),
        vec![files.main().rebalance()],
        1,
    )
    .unwrap();
    g.build().unwrap().start(runtime).await.unwrap()
}

fn runtime(checkpoints: &tempfile::TempDir) -> RuntimeConfig {
    RuntimeConfig {
        checkpoint_interval: Some(Duration::from_millis(30)),
        checkpoint_location: Some(checkpoints.path().to_str().unwrap().to_string()),
        ..RuntimeConfig::default()
    }
}

/// Appends lines `seqs` in pieces of 40, the line at each piece's end split in two writes
/// with a pause between them (so a reader sees a half line).
async fn append_in_pieces(path: &Path, seqs: std::ops::Range<i64>) {
    let all: Vec<i64> = seqs.collect();
    for piece in all.chunks(40) {
        let (last, rest) = piece.split_last().unwrap();
        append(path, &lines_of(rest.iter().copied()));
        let text = line(*last);
        let (head, tail) = text.split_at(text.len() / 2);
        append(path, head);
        tokio::time::sleep(Duration::from_millis(15)).await;
        append(path, tail);
    }
}

/// Every committed sequence number exactly once, and nothing else.
fn assert_exactly(seqs: &[i64], expected: std::ops::Range<i64>) {
    assert_eq!(seqs, expected.collect::<Vec<_>>().as_slice());
}

/// The committed row of `seq` (all columns, `|`-separated).
fn row_of(out: &Committed, seq: i64) -> String {
    let prefix = format!("{seq}|");
    lines(out)
        .into_iter()
        .find(|l| l.starts_with(&prefix))
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn growing_rotating_files_through_a_kill_are_read_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let checkpoints = tempfile::tempdir().unwrap();
    let runtime = runtime(&checkpoints);
    let (a, b, c) = (
        dir.path().join("a.log"),
        dir.path().join("b.log"),
        dir.path().join("c.log"),
    );
    let pattern = format!("{}/*.log", dir.path().display());
    append(&a, &lines_of(0..500));
    append(&b, &lines_of(500..1000));
    let out = Committed::default();

    let job = start(&pattern, 2, &runtime, &out).await;
    // Lines appended while running, half lines included.
    append_in_pieces(&a, 1000..1400).await;
    assert_exactly(&wait_for_rows(&out, 1400).await, 0..1400);

    // Rotation: a.log is renamed (out of the pattern) and still written to once, then a
    // new a.log starts.
    let rotated = dir.path().join("a.log.1");
    std::fs::rename(&a, &rotated).unwrap();
    append(&rotated, &lines_of(1400..1500));
    append(&a, &lines_of(1500..1600));
    assert_exactly(&wait_for_rows(&out, 1600).await, 0..1600);

    // Lines keep coming; the job is killed right after a checkpoint, while more arrive.
    append_in_pieces(&b, 1600..1800).await;
    job.checkpoint().await.unwrap();
    append(&b, &lines_of(1800..1900));
    drop(job);

    // While the job is down: more lines, and a new file.
    append(&a, &lines_of(1900..2000));
    append(&c, &lines_of(2000..2100));

    let job = start(&pattern, 3, &runtime, &out).await;
    assert!(job.restored().is_some());
    append_in_pieces(&c, 2100..2200).await;
    wait_for_rows(&out, 2200).await;
    // One more checkpoint: nothing arrives twice later either.
    job.checkpoint().await.unwrap();
    job.checkpoint().await.unwrap();
    let committed = super::common::committed_seqs(&out);
    assert_exactly(&committed, 0..2200);

    // Origins: the new a.log counts its lines from 1.
    assert_eq!(
        row_of(&out, 1500),
        format!("1500|line 1500|{}|1", a.display())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_copytruncated_file_is_read_again_from_its_start() {
    let dir = tempfile::tempdir().unwrap();
    let checkpoints = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.log");
    append(&path, &lines_of(0..300));
    let out = Committed::default();
    let pattern = format!("{}/*.log", dir.path().display());
    let job = start(&pattern, 1, &runtime(&checkpoints), &out).await;
    assert_exactly(&wait_for_rows(&out, 300).await, 0..300);

    // copytruncate: copy away, then cut the file to nothing and keep writing.
    std::fs::copy(&path, dir.path().join("app.log.1")).unwrap();
    std::fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(&path)
        .unwrap();
    append(&path, &lines_of(300..350));
    assert_exactly(&wait_for_rows(&out, 350).await, 0..350);
    job.checkpoint().await.unwrap();
    assert_exactly(&super::common::committed_seqs(&out), 0..350);
    assert_eq!(
        row_of(&out, 300),
        format!("300|line 300|{}|1", path.display())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_rotated_within_the_pattern_keeps_its_position_by_inode() {
    let dir = tempfile::tempdir().unwrap();
    let checkpoints = tempfile::tempdir().unwrap();
    let runtime = runtime(&checkpoints);
    let log = |name: &str| dir.path().join(name);
    let pattern = format!("{}/app.log*", dir.path().display());
    append(&log("app.log"), &lines_of(0..200));
    let out = Committed::default();

    let job = start(&pattern, 2, &runtime, &out).await;
    assert_exactly(&wait_for_rows(&out, 200).await, 0..200);
    job.checkpoint().await.unwrap();
    drop(job);

    // Rotated while the job is down: the restored job finds the file by its inode under
    // its new name and continues after line 200; the new app.log starts at line 1.
    std::fs::rename(log("app.log"), log("app.log.1")).unwrap();
    append(&log("app.log.1"), &lines_of(200..300));
    append(&log("app.log"), &lines_of(300..400));
    let job = start(&pattern, 1, &runtime, &out).await;
    assert!(job.restored().is_some());
    assert_exactly(&wait_for_rows(&out, 400).await, 0..400);
    let rotated = log("app.log.1").display().to_string();
    assert_eq!(row_of(&out, 200), format!("200|line 200|{rotated}|201"));
    let new = log("app.log").display().to_string();
    assert_eq!(row_of(&out, 300), format!("300|line 300|{new}|1"));

    // Rotated again while running.
    std::fs::rename(log("app.log.1"), log("app.log.2")).unwrap();
    std::fs::rename(log("app.log"), log("app.log.1")).unwrap();
    append(&log("app.log.1"), &lines_of(400..450));
    append(&log("app.log"), &lines_of(450..500));
    wait_for_rows(&out, 500).await;
    job.checkpoint().await.unwrap();
    assert_exactly(&super::common::committed_seqs(&out), 0..500);
    assert!(row_of(&out, 400).ends_with("|101"), "{}", row_of(&out, 400));
    assert_eq!(row_of(&out, 450), format!("450|line 450|{new}|1"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_line_written_in_pieces_is_a_dead_letter_while_following() {
    use arrow::array::AsArray;
    use weir_engine::sinks::CollectSink;
    use weir_engine::DEAD_LETTER_PORT;

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.log");
    append(&path, &lines_of(0..3));
    let plan = FileSource::new(FileSourceConfig {
        max_record_bytes: 50,
        ..follow(path.to_str().unwrap())
    })
    .await
    .unwrap();
    let mut g = GraphBuilder::new();
    let files = g.source("files", plan, 1, None).unwrap();
    let (rows, dead) = (CollectSink::new(), CollectSink::new());
    g.operator("rows", &rows, vec![files.main().forward()], 1)
        .unwrap();
    let letters = files.port(DEAD_LETTER_PORT).unwrap().forward();
    g.operator("dead", &dead, vec![letters], 1).unwrap();
    let job = g
        .build()
        .unwrap()
        .start(&RuntimeConfig::default())
        .await
        .unwrap();

    // 120 bytes in three writes, the reader looking in between, then a good line.
    for _ in 0..3 {
        append(&path, &"x".repeat(40));
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    append(&path, &format!("\n{}", line(3)));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let count = |sink: &CollectSink| sink.batches().iter().map(|b| b.num_rows()).sum::<usize>();
    while count(&rows) < 4 || count(&dead) < 1 {
        assert!(tokio::time::Instant::now() < deadline, "timed out");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    drop(job);
    assert_eq!(super::common::seqs(&rows.batches()), vec![0, 1, 2, 3]);
    let letters = dead.concat().unwrap();
    assert_eq!(letters.num_rows(), 1);
    assert_eq!(
        letters.column(1).as_string::<i32>().value(0),
        format!("{}:4", path.display())
    );
    assert_eq!(
        letters.column(2).as_string::<i32>().value(0),
        "line of 120 bytes is longer than the maximum of 50 bytes"
    );
}
