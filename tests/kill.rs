//! Exactly once through crashes of the whole process: `weir run` on a job file reading
//! Kafka into a Delta table is killed with SIGKILL at random moments and restarted (at
//! random parallelism), and aborted at each crash point of the Delta commit protocol; a
//! generator stream and a compaction job on the same table are killed at random moments
//! and restarted. The table must end up holding every event exactly once.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use arrow::array::{AsArray, RecordBatch};
use arrow::datatypes::Int64Type;
use support::delta::{live_files, query_table, query_text, rows_by_version};
use support::kafka::{brokers, create_topic, produce_batched, unique_topic};

const PARTITIONS: i32 = 3;
const KEYS: i64 = 99;

/// Event `i`: key `i % KEYS`, sequence number `i / KEYS` within its key; every key lives in
/// one partition (`key % PARTITIONS`), so its sequence is in order there.
fn event(i: i64) -> (i32, Vec<u8>) {
    let key = i % KEYS;
    let payload = format!(r#"{{"key":{key},"seq":{}}}"#, i / KEYS).into_bytes();
    ((key % PARTITIONS as i64) as i32, payload)
}

async fn produce_events(topic: &str, range: std::ops::Range<i64>) {
    let mut per_partition = vec![Vec::new(); PARTITIONS as usize];
    for i in range {
        let (partition, payload) = event(i);
        per_partition[partition as usize].push(payload);
    }
    for (partition, payloads) in per_partition.iter().enumerate() {
        produce_batched(topic, partition as i32, payloads).await;
    }
}

/// The job, as a user would write it; parallelism comes from the environment.
fn write_job(dir: &Path, topic: &str) -> PathBuf {
    let job = format!(
        r#"
name: kill-test
parallelism: ${{PARALLELISM:-2}}
checkpoints:
  interval: 1s
  location: {dir}/checkpoints
sources:
  events:
    type: kafka
    brokers: {brokers}
    topics: [{topic}]
    metadata_columns: true
    format:
      type: json
      columns:
        - {{name: key, type: int64, nullable: false}}
        - {{name: seq, type: int64, nullable: false}}
transforms:
  kept:
    type: project
    inputs: [events]
    columns: [key, seq, kafka_partition, kafka_offset]
sinks:
  lake:
    type: delta
    inputs: [kept]
    table: {dir}/table
"#,
        dir = dir.display(),
        brokers = brokers(),
    );
    let path = dir.join("job.yaml");
    std::fs::write(&path, job).unwrap();
    path
}

fn start(job: &Path, run: usize, parallelism: u64, failpoint: Option<&str>) -> Child {
    let log = std::fs::File::create(job.with_file_name(format!("run-{run}.log"))).unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_weir"));
    command
        .args(["run", "--progress", "0s"])
        .arg(job)
        .env("PARALLELISM", parallelism.to_string())
        .env_remove("WEIR_FAILPOINTS")
        .stdout(Stdio::null())
        .stderr(log);
    if let Some(point) = failpoint {
        command.env("WEIR_FAILPOINTS", point);
    }
    command.spawn().unwrap()
}

fn log_of(job: &Path, run: usize) -> String {
    std::fs::read_to_string(job.with_file_name(format!("run-{run}.log"))).unwrap_or_default()
}

fn single_i64(batches: &[RecordBatch]) -> i64 {
    batches[0].column(0).as_primitive::<Int64Type>().value(0)
}

async fn row_count(table: &str) -> i64 {
    if !Path::new(table).join("_delta_log").exists() {
        return 0;
    }
    single_i64(&query_table(table, "SELECT count(*) FROM t").await)
}

/// Runs the job until the table holds `expected` rows, then a little longer (two more
/// checkpoints) to see nothing more arrives, and stops it.
async fn run_to_completion(job: &Path, run: usize, table: &str, expected: i64) {
    let mut child = start(job, run, 2, None);
    let deadline = Instant::now() + Duration::from_secs(180);
    while row_count(table).await < expected {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the job stopped: {}",
            log_of(job, run)
        );
        assert!(
            Instant::now() < deadline,
            "the table has {} of {expected} rows after 3 minutes: {}",
            row_count(table).await,
            log_of(job, run)
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tokio::time::sleep(Duration::from_millis(2500)).await;
    child.kill().unwrap();
    child.wait().unwrap();
}

/// Every event exactly once: the count, no duplicate (partition, offset), and every key's
/// sequence complete.
async fn assert_exactly_once(table: &str, events: i64) {
    let counts = query_table(
        table,
        "SELECT count(*) AS n, (SELECT count(*) FROM (SELECT DISTINCT kafka_partition, kafka_offset FROM t)) AS d FROM t",
    )
    .await;
    let total = counts[0].column(0).as_primitive::<Int64Type>().value(0);
    let distinct = counts[0].column(1).as_primitive::<Int64Type>().value(0);
    assert_eq!(
        (total, distinct),
        (events, events),
        "rows, distinct offsets"
    );
    let keys = query_table(
        table,
        "SELECT key, count(*) AS n, count(DISTINCT seq) AS d, min(seq) AS lo, max(seq) AS hi \
         FROM t GROUP BY key ORDER BY key",
    )
    .await;
    let mut seen = 0;
    for batch in &keys {
        for row in 0..batch.num_rows() {
            let value = |c: usize| batch.column(c).as_primitive::<Int64Type>().value(row);
            let key = value(0);
            let expected = (events - key + KEYS - 1) / KEYS;
            assert_eq!(
                (value(1), value(2), value(3), value(4)),
                (expected, expected, 0, expected - 1),
                "key {key}: rows, distinct seqs, lowest, highest"
            );
            seen += 1;
        }
    }
    assert_eq!(seen, KEYS.min(events));
}

/// A tiny deterministic generator for kill moments and parallelisms.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafka_to_delta_exactly_once_through_sigkill() {
    const EVENTS: i64 = 200_000;
    const KILLS: usize = 12;
    let topic = unique_topic("kill");
    create_topic(&topic, PARTITIONS).await;
    let dir = tempfile::tempdir().unwrap();
    let job = write_job(dir.path(), &topic);
    let table = dir.path().join("table").display().to_string();

    // The events arrive while the job is being killed: a tenth before each of the first
    // ten runs.
    let mut rng = Lcg(0x5eed);
    let mut restored_runs = 0;
    for run in 0..KILLS {
        if run < 10 {
            let chunk = EVENTS / 10;
            produce_events(&topic, run as i64 * chunk..(run as i64 + 1) * chunk).await;
        }
        let parallelism = 1 + rng.below(3);
        let mut child = start(&job, run, parallelism, None);
        let lifetime = Duration::from_millis(300 + rng.below(2200));
        tokio::time::sleep(lifetime).await;
        assert!(
            child.try_wait().unwrap().is_none(),
            "run {run} stopped on its own: {}",
            log_of(&job, run)
        );
        child.kill().unwrap();
        child.wait().unwrap();
        if log_of(&job, run).contains("restored from checkpoint") {
            restored_runs += 1;
        }
        eprintln!(
            "run {run}: parallelism {parallelism}, killed after {lifetime:?}; the table has {} rows",
            row_count(&table).await
        );
    }
    assert!(
        restored_runs >= KILLS / 2,
        "only {restored_runs} of {KILLS} runs restored from a checkpoint"
    );
    run_to_completion(&job, KILLS, &table, EVENTS).await;
    assert_exactly_once(&table, EVENTS).await;
}

/// Aborts the job the first time it passes a crash point of the commit protocol (all
/// events are in the topic before it starts, so the first checkpoint has files), checks it
/// really crashed there, then lets a restarted job finish; `restores` says whether a
/// checkpoint had completed by then.
async fn crash_at(point: &str, restores: bool) {
    const EVENTS: i64 = 6_000;
    let topic = unique_topic(point);
    create_topic(&topic, PARTITIONS).await;
    produce_events(&topic, 0..EVENTS).await;
    let dir = tempfile::tempdir().unwrap();
    let job = write_job(dir.path(), &topic);
    let table = dir.path().join("table").display().to_string();

    let mut child = start(&job, 0, 2, Some(&format!("{point}:1")));
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "the job never reached {point}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(!status.success(), "{status}");
    assert!(
        log_of(&job, 0).contains(&format!("failpoint '{point}' reached")),
        "{}",
        log_of(&job, 0)
    );
    run_to_completion(&job, 1, &table, EVENTS).await;
    assert_eq!(
        log_of(&job, 1).contains("restored from checkpoint"),
        restores,
        "{}",
        log_of(&job, 1)
    );
    assert_exactly_once(&table, EVENTS).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_after_files_are_staged_before_the_checkpoint_completes() {
    crash_at("delta_files_staged", false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_after_the_checkpoint_completes_before_the_commit() {
    crash_at("delta_before_commit", true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_after_the_commit_before_the_next_checkpoint() {
    crash_at("delta_after_commit", true).await;
}

/// A job file generating `events` bids into `table` at `rate` a second (unlimited
/// without), checkpointing every second.
fn write_stream_job(
    dir: &Path,
    name: &str,
    table: &str,
    events: u64,
    rate: Option<u64>,
) -> PathBuf {
    let rate = rate.map_or(String::new(), |r| format!(", rate_limit: {r}"));
    let job = format!(
        "name: {name}\nparallelism: 2\n\
         checkpoints: {{interval: 1s, location: {dir}/checkpoints/{name}}}\n\
         sources:\n  bids: {{type: generator, kind: bids, events: {events}, batch_size: 250{rate}}}\n\
         sinks:\n  lake: {{type: delta, inputs: [bids], table: '{table}'}}\n",
        dir = dir.display()
    );
    let path = dir.join(format!("{name}.yaml"));
    std::fs::write(&path, job).unwrap();
    path
}

/// A job file compacting `table` every 2 seconds once 4 files are there to merge.
fn write_compaction_job(dir: &Path, table: &str) -> PathBuf {
    let job = format!(
        "name: compact-bids\nkind: compact\n\
         checkpoints: {{location: {dir}/checkpoints/compact}}\n\
         compact: {{table: '{table}', every: 2s, min_files: 4}}\n",
        dir = dir.display()
    );
    let path = dir.join("compact.yaml");
    std::fs::write(&path, job).unwrap();
    path
}

/// `weir run job`, its log in `<job>-<run>.log` beside the job file.
fn spawn_run(job: &Path, run: usize) -> Child {
    let log = std::fs::File::create(job.with_extension(format!("{run}.log"))).unwrap();
    Command::new(env!("CARGO_BIN_EXE_weir"))
        .args(["run", "--progress", "0s"])
        .arg(job)
        .env_remove("WEIR_FAILPOINTS")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap()
}

fn run_log(job: &Path, run: usize) -> String {
    std::fs::read_to_string(job.with_extension(format!("{run}.log"))).unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_and_its_compaction_job_exactly_once_through_sigkill() {
    const EVENTS: u64 = 24_000;
    const ROUNDS: usize = 8;
    let dir = tempfile::tempdir().unwrap();
    let table = dir.path().join("lake/bids").display().to_string();
    let reference = dir.path().join("lake/reference").display().to_string();
    // About 30 s of stream at 800 bids a second, killed while it runs.
    let stream = write_stream_job(dir.path(), "bids", &table, EVENTS, Some(800));
    let compaction = write_compaction_job(dir.path(), &table);

    let mut rng = Lcg(0xc0ffee);
    let (mut stream_runs, mut compaction_runs) = (0, 0);
    let mut streaming = spawn_run(&stream, stream_runs);
    let mut compacting = spawn_run(&compaction, compaction_runs);
    for round in 0..ROUNDS {
        tokio::time::sleep(Duration::from_millis(1500 + rng.below(2500))).await;
        // Kill the stream, the compaction or both, and start what was killed again.
        let which = rng.below(3);
        if which != 1 {
            assert!(
                streaming.try_wait().unwrap().is_none(),
                "the stream stopped on its own in round {round}: {}",
                run_log(&stream, stream_runs)
            );
            streaming.kill().unwrap();
            streaming.wait().unwrap();
            stream_runs += 1;
            streaming = spawn_run(&stream, stream_runs);
        }
        if which != 0 {
            assert!(
                compacting.try_wait().unwrap().is_none(),
                "the compaction stopped on its own in round {round}: {}",
                run_log(&compaction, compaction_runs)
            );
            compacting.kill().unwrap();
            compacting.wait().unwrap();
            compaction_runs += 1;
            compacting = spawn_run(&compaction, compaction_runs);
        }
        eprintln!(
            "round {round}: killed {}; the table has {} rows",
            ["the stream", "the compaction", "both"][which as usize],
            row_count(&table).await
        );
    }
    let finished = streaming.wait().unwrap();
    assert!(finished.success(), "{}", run_log(&stream, stream_runs));
    // One more compaction after the stream's last commit, then stop it.
    tokio::time::sleep(Duration::from_secs(3)).await;
    compacting.kill().unwrap();
    compacting.wait().unwrap();
    assert!(
        stream_runs >= 3 && compaction_runs >= 3,
        "{stream_runs} {compaction_runs}"
    );

    // The same bids, uninterrupted and uncompacted.
    let plain = write_stream_job(dir.path(), "reference", &reference, EVENTS, None);
    assert!(
        spawn_run(&plain, 0).wait().unwrap().success(),
        "{}",
        run_log(&plain, 0)
    );
    let per_channel = "SELECT channel, count(*) AS n, sum(price) AS total, \
                       count(DISTINCT (auction, bidder, event_time)) AS distinct_bids \
                       FROM t GROUP BY channel ORDER BY channel";
    assert_eq!(
        query_text(&[("t", &table)], per_channel).await,
        query_text(&[("t", &reference)], per_channel).await
    );
    assert_eq!(row_count(&table).await, EVENTS as i64);
    // Every version holds the rows the stream had committed by then, compacted or not.
    let versions = rows_by_version(&table).await;
    assert!(
        versions.iter().all(|v| v.rows == v.appended),
        "{versions:?}"
    );
    assert!(
        versions.iter().filter(|v| v.compaction).count() >= 3,
        "{versions:?}"
    );
    let appends = versions.iter().filter(|v| !v.compaction).count();
    let files = live_files(&table).await;
    eprintln!(
        "{appends} appends, {} compactions, {files} files left",
        versions.len() - appends
    );
    assert!(
        files * 3 <= appends,
        "{files} files left after {appends} appends"
    );
}
