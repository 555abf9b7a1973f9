//! The exactly-once Parquet file sink on disk: generated bids land in `channel=...`
//! directories exactly as generated (read back file by file and by DataFusion), also
//! through in-process kills and restores and through process crashes at the commit
//! protocol's crash points of `weir run` on a job file; partition values that look like
//! paths stay inside the sink's directory.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::array::{Array, AsArray, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Int64Type, Schema, TimestampMillisecondType};
use datafusion::parquet::basic::Compression;
use datafusion::parquet::file::reader::{FileReader, SerializedFileReader};
use datafusion::prelude::{ParquetReadOptions, SessionContext};
use support::parquet::{committed_files, in_progress_files, read_committed};
use weir_connectors::generator::{BidGenerator, BidGeneratorConfig};
use weir_connectors::parquet_sink::{
    add_parquet_sink, ParquetCompression, ParquetSinkConfig, NULL_PARTITION,
};
use weir_engine::sources::MemorySource;
use weir_engine::{GraphBuilder, JobGraph, RuntimeConfig};

/// A bid as `(channel, auction, bidder, price, event time in ms)`.
type Row = (String, i64, i64, i64, i64);

fn generator_config(events: u64) -> BidGeneratorConfig {
    BidGeneratorConfig {
        events: Some(events),
        batch_size: 500,
        rate_limit: Some(300_000),
        ..Default::default()
    }
}

/// What the generator produces, sorted.
fn generated(config: &BidGeneratorConfig) -> Vec<Row> {
    let mut rows: Vec<Row> = (0..config.events.unwrap())
        .map(|i| {
            let b = config.bid(i);
            let channel = b.channel.to_string();
            (channel, b.auction, b.bidder, b.price, b.event_time_ms)
        })
        .collect();
    rows.sort();
    rows
}

/// The committed rows under `root`, sorted.
fn committed_rows(root: &Path) -> Vec<Row> {
    let mut rows = Vec::new();
    for batch in read_committed(root) {
        let int = |name: &str| {
            batch
                .column_by_name(name)
                .unwrap()
                .as_primitive::<Int64Type>()
        };
        let (auction, bidder, price) = (int("auction"), int("bidder"), int("price"));
        let time = batch
            .column_by_name("event_time")
            .unwrap()
            .as_primitive::<TimestampMillisecondType>();
        let channel = batch.column_by_name("channel").unwrap().as_string::<i32>();
        for r in 0..batch.num_rows() {
            rows.push((
                channel.value(r).to_string(),
                auction.value(r),
                bidder.value(r),
                price.value(r),
                time.value(r),
            ));
        }
    }
    rows.sort();
    rows
}

fn sink_config(root: &Path) -> ParquetSinkConfig {
    ParquetSinkConfig {
        partition_by: vec!["channel".into()],
        // Small enough that writers roll over to new files between checkpoints.
        target_file_size: 64 * 1024,
        ..ParquetSinkConfig::new(root.to_str().unwrap())
    }
}

fn bids_job(config: &BidGeneratorConfig, root: &Path, parallelism: usize) -> JobGraph {
    let mut g = GraphBuilder::new();
    let bids = g
        .source(
            "bids",
            BidGenerator::new(config.clone()).unwrap(),
            parallelism,
            None,
        )
        .unwrap();
    add_parquet_sink(
        &mut g,
        "files",
        sink_config(root),
        bids.main().forward(),
        parallelism,
    )
    .unwrap();
    g.build().unwrap()
}

/// `(channel, rows, sum of prices)` per channel, by DataFusion over the directory with
/// `channel` as a partition column.
async fn per_channel_by_datafusion(root: &Path) -> Vec<(String, i64, i64)> {
    let ctx = SessionContext::new();
    let options = ParquetReadOptions::default()
        .table_partition_cols(vec![("channel".to_string(), DataType::Utf8)]);
    ctx.register_parquet("t", root.to_str().unwrap(), options)
        .await
        .unwrap();
    let batches = ctx
        .sql("SELECT channel, count(*), sum(price) FROM t GROUP BY 1 ORDER BY 1")
        .await
        .unwrap()
        .collect()
        .await
        .unwrap();
    let mut out = Vec::new();
    for b in &batches {
        let channels = arrow::compute::cast(b.column(0), &DataType::Utf8).unwrap();
        for r in 0..b.num_rows() {
            out.push((
                channels.as_string::<i32>().value(r).to_string(),
                b.column(1).as_primitive::<Int64Type>().value(r),
                b.column(2).as_primitive::<Int64Type>().value(r),
            ));
        }
    }
    out
}

fn per_channel(rows: &[Row]) -> Vec<(String, i64, i64)> {
    let mut out: Vec<(String, i64, i64)> = Vec::new();
    for (channel, _, _, price, _) in rows {
        match out.iter_mut().find(|(c, _, _)| c == channel) {
            Some(entry) => {
                entry.1 += 1;
                entry.2 += price;
            }
            None => out.push((channel.clone(), 1, *price)),
        }
    }
    out.sort();
    out
}

/// Every file is `channel=<name>/part-*.parquet`; nothing is left in progress.
fn assert_clean_layout(root: &Path) {
    for file in committed_files(root) {
        let relative = file
            .strip_prefix(root)
            .unwrap()
            .to_str()
            .unwrap()
            .to_string();
        let (dir, name) = relative.split_once('/').unwrap();
        assert!(dir.starts_with("channel="), "{relative}");
        assert!(
            name.starts_with("part-") && !name.contains('/'),
            "{relative}"
        );
    }
    assert_eq!(in_progress_files(root), Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generated_bids_are_committed_exactly_at_parallelism_1_and_3() {
    let config = generator_config(40_000);
    let expected = generated(&config);
    for parallelism in [1, 3] {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("bids");
        let runtime = RuntimeConfig {
            checkpoint_interval: Some(Duration::from_millis(20)),
            ..RuntimeConfig::default()
        };
        bids_job(&config, &root, parallelism)
            .run(&runtime)
            .await
            .unwrap();

        let got = committed_rows(&root);
        assert_eq!(got.len(), expected.len(), "parallelism {parallelism}");
        assert!(got == expected, "parallelism {parallelism}: rows differ");
        assert_eq!(
            per_channel_by_datafusion(&root).await,
            per_channel(&expected),
            "parallelism {parallelism}"
        );
        assert_clean_layout(&root);
        assert!(
            committed_files(&root).len() > 4,
            "files roll over within a partition"
        );
    }
}

/// DataFusion reads the same rows as [`committed_rows`] while in-progress files lie
/// around. A killed job's aborted tasks stop at their next await, so the files may still
/// change for a moment: it reads until nothing changed around DataFusion's read.
async fn assert_readers_see_committed_files_only(root: &Path) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let before = per_channel(&committed_rows(root));
        let by_datafusion = per_channel_by_datafusion(root).await;
        if per_channel(&committed_rows(root)) == before {
            assert_eq!(by_datafusion, before);
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the committed files keep changing"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_jobs_commit_every_row_exactly_once() {
    let config = BidGeneratorConfig {
        rate_limit: Some(150_000),
        ..generator_config(60_000)
    };
    let expected = generated(&config);
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("bids");
    let runtime = RuntimeConfig {
        checkpoint_interval: Some(Duration::from_millis(25)),
        checkpoint_location: Some(dir.path().join("checkpoints").to_str().unwrap().to_string()),
        ..RuntimeConfig::default()
    };
    let (mut restored, mut seen_in_progress) = (0, false);
    for (after_ms, parallelism) in [(60u64, 2usize), (45, 3), (70, 1), (50, 2), (55, 3)] {
        let job = bids_job(&config, &root, parallelism)
            .start(&runtime)
            .await
            .unwrap();
        restored += usize::from(job.restored().is_some());
        // A checkpoint completes in every run, so that the next one restores; the kill
        // comes at a moment the interval checkpoints do not know of.
        let _ = tokio::time::timeout(Duration::from_secs(30), job.checkpoint()).await;
        let _ = tokio::time::timeout(Duration::from_millis(after_ms), job.join()).await;
        assert_readers_see_committed_files_only(&root).await;
        seen_in_progress |= !in_progress_files(&root).is_empty();
    }
    assert!(seen_in_progress, "no run was killed with files in progress");
    assert_eq!(restored, 4, "runs restored from a checkpoint");
    bids_job(&config, &root, 2).run(&runtime).await.unwrap();

    let got = committed_rows(&root);
    assert_eq!(got.len(), expected.len(), "rows committed");
    assert!(
        got == expected,
        "the committed rows differ from the generated ones"
    );
    assert_clean_layout(&root);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partition_values_stay_inside_the_directory_and_read_back_unchanged() {
    let values: Vec<Option<&str>> = vec![
        Some("a/b"),
        Some(".."),
        Some("../../outside"),
        Some("x=y"),
        Some("100%"),
        Some("line\nbreak"),
        Some("."),
        Some("_hidden"),
        None,
        Some("plain"),
    ];
    let schema = Arc::new(Schema::new(vec![
        Field::new("v", DataType::Int64, false),
        Field::new("k", DataType::Utf8, true),
    ]));
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(Int64Array::from_iter_values(0..values.len() as i64)),
            Arc::new(StringArray::from(values.clone())),
        ],
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("out");
    let mut g = GraphBuilder::new();
    let rows = g
        .source(
            "rows",
            MemorySource::new(schema, vec![vec![batch]]).unwrap(),
            1,
            None,
        )
        .unwrap();
    let config = ParquetSinkConfig {
        partition_by: vec!["k".into()],
        ..ParquetSinkConfig::new(root.to_str().unwrap())
    };
    add_parquet_sink(&mut g, "files", config, rows.main().forward(), 1).unwrap();
    g.build()
        .unwrap()
        .run(&RuntimeConfig::default())
        .await
        .unwrap();

    // Nothing was written next to the sink's directory.
    let siblings: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(siblings, ["out"]);
    // Each value is one directory right under the root, named k=<escaped value>.
    let mut dirs: Vec<String> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name != ".inprogress")
        .collect();
    dirs.sort();
    assert_eq!(
        dirs,
        [
            "k=.".to_string(),
            "k=..".into(),
            "k=..%2F..%2Foutside".into(),
            "k=100%25".into(),
            format!("k={NULL_PARTITION}"),
            "k=_hidden".into(),
            "k=a%2Fb".into(),
            "k=line%0Abreak".into(),
            "k=plain".into(),
            "k=x%3Dy".into(),
        ]
    );

    let mut got: Vec<(i64, Option<String>)> = Vec::new();
    for batch in read_committed(&root) {
        let v = batch.column(0).as_primitive::<Int64Type>();
        let k = batch.column(1).as_string::<i32>();
        for r in 0..batch.num_rows() {
            got.push((v.value(r), k.is_valid(r).then(|| k.value(r).to_string())));
        }
    }
    got.sort();
    let expected: Vec<(i64, Option<String>)> = values
        .iter()
        .enumerate()
        .map(|(i, v)| (i as i64, v.map(str::to_string)))
        .collect();
    assert_eq!(got, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_open_longer_than_the_rollover_interval_close_with_the_next_rows() {
    let schema = Arc::new(Schema::new(vec![Field::new("v", DataType::Int64, false)]));
    let batches: Vec<RecordBatch> = (0..5)
        .map(|i| {
            let values = Int64Array::from_iter_values(i * 100..(i + 1) * 100);
            RecordBatch::try_new(schema.clone(), vec![Arc::new(values)]).unwrap()
        })
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("out");
    let mut g = GraphBuilder::new();
    let rows = g
        .source(
            "rows",
            MemorySource::new(schema, vec![batches]).unwrap(),
            1,
            None,
        )
        .unwrap();
    let config = ParquetSinkConfig {
        rollover_interval: Some(Duration::from_nanos(1)),
        compression: ParquetCompression::Zstd,
        ..ParquetSinkConfig::new(root.to_str().unwrap())
    };
    add_parquet_sink(&mut g, "files", config, rows.main().forward(), 1).unwrap();
    // No checkpoints: the files are committed at the end of the input.
    g.build()
        .unwrap()
        .run(&RuntimeConfig::default())
        .await
        .unwrap();

    let files = committed_files(&root);
    assert_eq!(files.len(), 5, "one file per batch: {files:?}");
    for (i, file) in files.iter().enumerate() {
        let name = file.file_name().unwrap().to_str().unwrap();
        assert!(
            name.starts_with(&format!("part-000001-000-{i:05}-")),
            "{name}"
        );
        let reader = SerializedFileReader::new(std::fs::File::open(file).unwrap()).unwrap();
        let metadata = reader.metadata();
        assert_eq!(metadata.file_metadata().num_rows(), 100);
        assert!(matches!(
            metadata.row_group(0).column(0).compression(),
            Compression::ZSTD(_)
        ));
    }
    let values: Vec<i64> = read_committed(&root)
        .iter()
        .flat_map(|b| b.column(0).as_primitive::<Int64Type>().values().to_vec())
        .collect();
    assert_eq!(values, (0..500).collect::<Vec<_>>());
}

/// The job file: generated bids into a Parquet sink, checkpointed.
fn write_job(dir: &Path, events: u64) -> PathBuf {
    let job = format!(
        r#"
name: parquet-test
parallelism: 2
checkpoints:
  interval: 100ms
  location: {dir}/checkpoints
sources:
  bids:
    type: generator
    kind: bids
    events: {events}
    batch_size: 500
    rate_limit: 20000
sinks:
  files:
    type: parquet
    inputs: [bids]
    path: {dir}/out
    partition_by: [channel]
    target_file_size: 65536
    rollover_interval: 50ms
    compression: zstd
"#,
        dir = dir.display(),
    );
    let path = dir.join("job.yaml");
    std::fs::write(&path, job).unwrap();
    path
}

/// Runs `weir run job` (with a crash point armed, if any) until it exits; returns its
/// status and its log.
async fn run_weir(job: &Path, run: usize, failpoint: Option<&str>) -> (ExitStatus, String) {
    let log_path = job.with_file_name(format!("run-{run}.log"));
    let mut command = Command::new(env!("CARGO_BIN_EXE_weir"));
    command
        .args(["run", "--progress", "0s"])
        .arg(job)
        .env_remove("WEIR_FAILPOINTS")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log_path).unwrap());
    if let Some(point) = failpoint {
        command.env("WEIR_FAILPOINTS", point);
    }
    let mut child = command.spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            child.kill().unwrap();
            panic!(
                "run {run} did not finish: {}",
                std::fs::read_to_string(&log_path).unwrap()
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    (status, std::fs::read_to_string(&log_path).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_file_crashing_at_each_commit_point_commits_every_row_once() {
    const EVENTS: u64 = 30_000;
    let dir = tempfile::tempdir().unwrap();
    let job = write_job(dir.path(), EVENTS);
    let root = dir.path().join("out");

    // Crash once files are staged for the third checkpoint (which never completes); then
    // at the second commit, before renaming; then while renaming the restored
    // checkpoint's files again during the restore, after renaming (before the job has
    // started, so before it says it was restored); then after a later commit.
    let crashes = [
        "parquet_files_staged:3",
        "parquet_before_commit:2",
        "parquet_after_commit:1",
        "parquet_after_commit:3",
    ];
    for (run, point) in crashes.iter().enumerate() {
        let (status, log) = run_weir(&job, run, Some(point)).await;
        assert!(!status.success(), "run {run}: {log}");
        let name = point.split(':').next().unwrap();
        assert!(
            log.contains(&format!("failpoint '{name}' reached")),
            "run {run}: {log}"
        );
        if run != 2 {
            assert_eq!(log.contains("restored from checkpoint"), run > 0, "{log}");
        }
    }
    let (status, log) = run_weir(&job, crashes.len(), None).await;
    assert!(status.success(), "{log}");
    assert!(log.contains("restored from checkpoint"), "{log}");

    let config = BidGeneratorConfig {
        events: Some(EVENTS),
        ..Default::default()
    };
    let got = committed_rows(&root);
    assert_eq!(got.len(), EVENTS as usize, "rows committed");
    assert!(got == generated(&config), "the committed rows differ");
    assert_clean_layout(&root);
}
