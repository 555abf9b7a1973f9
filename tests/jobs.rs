//! Job files run by the `weir` binary as a user runs them: the example jobs' results are
//! checked against the same aggregation done in one batch by DataFusion SQL, at
//! parallelism 1 and 3.

#[path = "jobs/handle.rs"]
mod handle;
#[path = "jobs/restarts.rs"]
mod restarts;
mod support;

#[path = "jobs/analytics.rs"]
mod analytics;
#[path = "jobs/compaction.rs"]
mod compaction;
#[path = "jobs/delta_source.rs"]
mod delta_source;
#[path = "jobs/log_pipeline.rs"]
mod log_pipeline;
#[path = "jobs/quality_gate.rs"]
mod quality_gate;

use std::path::Path;
use std::process::Command;

use support::delta::query_text;

/// Runs an example job file to its end with its lake at `lake`; returns its stderr.
fn run_job(job: &str, lake: &Path, env: &[(&str, &str)]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_weir"))
        .args(["run", "--progress", "0s", job])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("LAKE", lake)
        .envs(env.iter().copied())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).to_string();
    assert!(output.status.success(), "{stderr}");
    stderr
}

/// `sql` over every table of the lake at `lake`, as an aligned text table.
async fn lake_text(lake: &Path, sql: &str) -> String {
    let ctx = weir_sql::Lake::new(lake).unwrap().session().await.unwrap();
    let batches = ctx.sql(sql).await.unwrap().collect().await.unwrap();
    arrow::util::pretty::pretty_format_batches(&batches)
        .unwrap()
        .to_string()
}

/// The single integer `sql` returns over the lake at `lake`.
async fn lake_count(lake: &Path, sql: &str) -> i64 {
    let ctx = weir_sql::Lake::new(lake).unwrap().session().await.unwrap();
    let batches = ctx.sql(sql).await.unwrap().collect().await.unwrap();
    batches[0]
        .column(0)
        .as_any()
        .downcast_ref::<arrow::array::Int64Array>()
        .unwrap()
        .value(0)
}

/// The windows table next to the same aggregation over the raw bids table.
async fn windows_and_reference(lake: &Path) -> (String, String) {
    let windows = lake.join("bid_windows").display().to_string();
    let bids = lake.join("bids").display().to_string();
    let tables = [("windows", windows.as_str()), ("bids", bids.as_str())];
    let streamed = query_text(
        &tables,
        "SELECT channel, CAST(window_start AS VARCHAR) AS window_start, \
                CAST(window_end AS VARCHAR) AS window_end, bids, auctions, max_price, total_price \
         FROM windows ORDER BY window_start, channel",
    )
    .await;
    let reference = query_text(
        &tables,
        "SELECT channel, CAST(date_bin(INTERVAL '10 seconds', event_time) AS VARCHAR) AS window_start, \
                CAST(date_bin(INTERVAL '10 seconds', event_time) + INTERVAL '10 seconds' AS VARCHAR) AS window_end, \
                count(*) AS bids, count(DISTINCT auction) AS auctions, max(price) AS max_price, \
                sum(price) AS total_price \
         FROM bids GROUP BY 1, 2, 3 ORDER BY window_start, channel",
    )
    .await;
    (streamed, reference)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bids_example_job_matches_a_batch_aggregation_at_any_parallelism() {
    let mut results = Vec::new();
    for parallelism in ["1", "3"] {
        let lake = tempfile::tempdir().unwrap();
        let stderr = run_job(
            "examples/jobs/bids_to_lake.yaml",
            lake.path(),
            &[("PARALLELISM", parallelism), ("EVENTS", "200000")],
        );
        assert!(stderr.contains("started fresh"), "{stderr}");
        assert!(
            stderr.contains("finished: bids read 200000 rows"),
            "{stderr}"
        );
        let (streamed, reference) = windows_and_reference(lake.path()).await;
        assert_eq!(streamed, reference, "parallelism {parallelism}");
        // 2 s of event time plus the rows moved back before the start: 2 windows per channel.
        assert_eq!(streamed.lines().count(), 4 + 8, "{streamed}");
        results.push(streamed);
    }
    assert_eq!(results[0], results[1]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_kafka_example_job_writes_events_and_dead_letters() {
    use support::delta::query_table;
    use support::kafka::{brokers, create_topic, produce, unique_topic};
    let topic = unique_topic("example");
    create_topic(&topic, 1).await;
    let mut messages: Vec<Vec<u8>> = (0..10)
        .map(|i| {
            format!(
                r#"{{"ts":"2026-01-01T00:00:0{i}Z","service":"api","level":"{}","latency_ms":{i}}}"#,
                if i % 3 == 0 { "error" } else { "info" }
            )
            .into_bytes()
        })
        .collect();
    messages.insert(4, b"{\"ts\": oops".to_vec());
    messages.push(br#"{"service":"api"}"#.to_vec());
    produce(&topic, 0, &messages).await;

    let lake = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_weir"))
        .args([
            "run",
            "--progress",
            "0s",
            "examples/jobs/kafka_to_lake.yaml",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("LAKE", lake.path())
        .env("KAFKA_BROKERS", brokers())
        .env("TOPIC", &topic)
        .env("CHECKPOINT_INTERVAL", "200ms")
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let events = lake.path().join("events").display().to_string();
    let dead = lake
        .path()
        .join("events_dead_letters")
        .display()
        .to_string();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let count = |table: String| async move {
        if !std::path::Path::new(&table).join("_delta_log").exists() {
            return 0;
        }
        let batches = query_table(&table, "SELECT count(*) FROM t").await;
        batches[0]
            .column(0)
            .as_any()
            .downcast_ref::<arrow::array::Int64Array>()
            .unwrap()
            .value(0)
    };
    while count(events.clone()).await < 10 || count(dead.clone()).await < 2 {
        assert!(
            std::time::Instant::now() < deadline,
            "tables incomplete after 60 s"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let rows = support::delta::query_text(
        &[("t", events.as_str())],
        "SELECT count(*) AS n, sum(latency_ms) AS latency, count(*) FILTER (WHERE level = 'error') AS errors, min(kafka_offset) AS first, max(kafka_offset) AS last FROM t",
    )
    .await;
    assert_eq!(
        rows.lines().nth(3).unwrap(),
        "| 10 | 45      | 4      | 0     | 10   |",
        "{rows}"
    );
    let letters = query_table(&dead, "SELECT origin, reason FROM t ORDER BY origin").await;
    let text = arrow::util::pretty::pretty_format_batches(&letters)
        .unwrap()
        .to_string();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 6, "{text}");
    assert!(lines[3].contains(&format!("{topic}/0/11 ")), "{text}");
    assert!(
        lines[3].contains("required field 'ts' is missing or null"),
        "{text}"
    );
    assert!(lines[4].contains(&format!("{topic}/0/4 ")), "{text}");
    assert!(lines[4].contains("invalid JSON"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_access_log_example_job_parses_logs_into_the_lake() {
    let lake = tempfile::tempdir().unwrap();
    run_job("examples/jobs/access_logs_to_lake.yaml", lake.path(), &[]);
    let text = |sql: &'static str| lake_text(lake.path(), sql);
    assert_eq!(
        text("SELECT status_class, count(*) AS n FROM access.requests GROUP BY 1 ORDER BY 1").await,
        "+--------------+----+\n\
         | status_class | n  |\n\
         +--------------+----+\n\
         | 2xx          | 26 |\n\
         | 3xx          | 4  |\n\
         | 4xx          | 5  |\n\
         | 5xx          | 5  |\n\
         +--------------+----+"
    );
    assert_eq!(
        text("SELECT sum(requests) AS n FROM access.per_minute").await,
        "+----+\n| n  |\n+----+\n| 40 |\n+----+"
    );
    let letters = text("SELECT origin, reason FROM access.dead_letters ORDER BY origin").await;
    let lines: Vec<&str> = letters.lines().collect();
    assert_eq!(lines.len(), 7, "{letters}");
    assert!(
        lines[3].contains("examples/data/access.log:11 "),
        "{letters}"
    );
    assert!(
        lines[3].contains("is not 'METHOD PATH PROTOCOL'"),
        "{letters}"
    );
    assert!(
        lines[4].contains("examples/data/access.log:26 "),
        "{letters}"
    );
    assert!(
        lines[5].contains("examples/data/access.log:34 "),
        "{letters}"
    );
}

/// The two jobs of the docker compose demo, without docker: one produces generated bids
/// into a topic, the other reads them into the lake.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_docker_demo_jobs_move_bids_through_kafka_into_the_lake() {
    use support::kafka::{brokers, create_topic, unique_topic};
    let topic = unique_topic("docker-demo");
    create_topic(&topic, 3).await;
    let dir = tempfile::tempdir().unwrap();
    let weir = |job: &str| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_weir"));
        command
            .args(["run", "--progress", "0s"])
            .arg(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(job))
            .current_dir(dir.path())
            .env("KAFKA_BROKERS", brokers())
            .env("TOPIC", &topic)
            .env("EVENTS", "5000");
        command
    };
    let produced = weir("docker/jobs/produce_bids.yaml").output().unwrap();
    assert!(
        produced.status.success(),
        "{}",
        String::from_utf8_lossy(&produced.stderr)
    );
    let mut consumer = weir("docker/jobs/bids_from_kafka.yaml")
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let bids = dir.path().join("lake/bids").display().to_string();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let count = || async {
        if !std::path::Path::new(&bids).join("_delta_log").exists() {
            return "0".to_string();
        }
        support::delta::query_text(&[("t", bids.as_str())], "SELECT count(*) AS n FROM t")
            .await
            .lines()
            .nth(3)
            .unwrap()
            .trim_matches(|c| c == '|' || c == ' ')
            .to_string()
    };
    while count().await != "5000" {
        assert!(
            std::time::Instant::now() < deadline,
            "{} of 5000 bids",
            count().await
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    consumer.kill().unwrap();
    consumer.wait().unwrap();
    let check = support::delta::query_text(
        &[("t", bids.as_str())],
        "SELECT (SELECT count(*) FROM (SELECT DISTINCT kafka_partition, kafka_offset FROM t)) AS offsets, \
         sum(price) > 0 AS priced, count(DISTINCT channel) AS channels FROM t",
    )
    .await;
    assert!(check.contains("| 5000    | true   | 4        |"), "{check}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_app_log_example_job_parses_generated_lines_and_keeps_the_bad_ones() {
    let lake = tempfile::tempdir().unwrap();
    run_job(
        "examples/jobs/app_logs_to_lake.yaml",
        lake.path(),
        &[("EVENTS", "20000")],
    );
    let count = |sql: &'static str| lake_count(lake.path(), sql);
    let parsed = count("SELECT count(*) FROM app.requests").await;
    let dead = count("SELECT count(*) FROM app.dead_letters").await;
    // Every line is either a row or a dead letter; about 2% are damaged.
    assert_eq!(parsed + dead, 20_000);
    assert!((300..=500).contains(&dead), "{dead} dead letters");
    let windowed = count("SELECT CAST(sum(requests) AS BIGINT) FROM app.per_minute").await;
    // The late table exists even when no row was late.
    let late = count("SELECT count(*) FROM app.late_requests").await;
    assert_eq!(
        windowed + late,
        parsed,
        "every parsed row is in a window or late"
    );
    assert_eq!(
        count(
            "SELECT count(*) FROM app.dead_letters WHERE origin NOT LIKE 'parsed:%' OR reason = ''"
        )
        .await,
        0
    );
}

/// A file job writing each line to a Delta table and to a Parquet directory, run by the
/// binary in `dir` (which holds the job file, its input, lake and checkpoints).
struct LinesJob {
    dir: tempfile::TempDir,
}

impl LinesJob {
    /// The job reading its input once, to its end.
    fn new() -> Self {
        Self::with_source("mode: bounded")
    }

    /// The job following its input as it grows; it never ends by itself.
    fn following() -> Self {
        Self::with_source("mode: follow, discovery_interval: 50ms, poll_interval: 20ms")
    }

    fn with_source(settings: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("job.yaml"),
            format!(
                "name: epochs\n\
                 parallelism: 1\n\
                 checkpoints: {{interval: 50ms, location: checkpoints}}\n\
                 sources:\n  input: {{type: file, path: input.txt, {settings}, format: {{type: lines}}}}\n\
                 sinks:\n  table: {{type: delta, inputs: [input], table: lake/lines}}\n  \
                 files: {{type: parquet, inputs: [input], path: parquet}}\n"
            ),
        )
        .unwrap();
        Self { dir }
    }

    fn path(&self, name: &str) -> std::path::PathBuf {
        self.dir.path().join(name)
    }

    fn write_input(&self, lines: &[&str]) {
        std::fs::write(self.path("input.txt"), lines.join("\n") + "\n").unwrap();
    }

    fn append_input(&self, lines: &[&str]) {
        use std::io::Write as _;
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(self.path("input.txt"))
            .unwrap();
        file.write_all((lines.join("\n") + "\n").as_bytes())
            .unwrap();
    }

    /// Runs the job to its end with `args` after `weir run`; returns its stderr.
    fn run(&self, args: &[&str]) -> String {
        let output = Command::new(env!("CARGO_BIN_EXE_weir"))
            .args(["run", "--progress", "0s"])
            .args(args)
            .arg("job.yaml")
            .current_dir(self.dir.path())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr).to_string();
        assert!(output.status.success(), "{stderr}");
        stderr
    }

    /// Starts the job in the background, its stderr captured.
    fn spawn(&self) -> std::process::Child {
        Command::new(env!("CARGO_BIN_EXE_weir"))
            .args(["run", "--progress", "0s", "job.yaml"])
            .current_dir(self.dir.path())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    }

    /// Sends `signal` (`TERM`, `INT`) to the running job and waits for it to exit; it must
    /// exit 0. Returns its stderr.
    fn signal(&self, child: std::process::Child, signal: &str) -> String {
        let sent = Command::new("kill")
            .args([format!("-{signal}"), child.id().to_string()])
            .status()
            .unwrap();
        assert!(sent.success());
        let output = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr).to_string();
        assert!(output.status.success(), "{:?}: {stderr}", output.status);
        stderr
    }

    /// Waits (at most 60 s) until the Delta table holds at least `rows` lines.
    async fn until_table_holds(&self, rows: usize) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        loop {
            let committed = match self.path("lake/lines/_delta_log").exists() {
                true => self.table().await.len(),
                false => 0,
            };
            if committed >= rows {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{committed} of {rows} lines committed after 60 s"
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }

    /// The Delta table's lines, sorted (repeats kept).
    async fn table(&self) -> Vec<String> {
        let table = self.path("lake/lines").display().to_string();
        let batches = support::delta::query_table(&table, "SELECT line FROM t ORDER BY line").await;
        strings(&batches)
    }

    /// The Parquet sink's committed lines, sorted (repeats kept).
    fn files(&self) -> Vec<String> {
        let mut lines = strings(&support::parquet::read_committed(&self.path("parquet")));
        lines.sort();
        lines
    }
}

fn strings(batches: &[arrow::record_batch::RecordBatch]) -> Vec<String> {
    use arrow::array::AsArray as _;
    let mut out = Vec::new();
    for batch in batches {
        let column =
            arrow::compute::cast(batch.column(0), &arrow::datatypes::DataType::Utf8).unwrap();
        out.extend(
            column
                .as_string::<i32>()
                .iter()
                .map(|v| v.unwrap().to_string()),
        );
    }
    out
}

fn sorted(lines: &[&str]) -> Vec<String> {
    let mut out: Vec<String> = lines.iter().map(|s| s.to_string()).collect();
    out.sort();
    out
}

/// A fresh start over a table that already holds epochs of the job's app id continues
/// after them: nothing it reads is taken for an epoch already committed (issue: rows read
/// after `--fresh` used to sit in unreferenced files for good).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fresh_start_commits_every_row_after_the_tables_epochs() {
    let job = LinesJob::new();
    job.write_input(&["a", "b", "c"]);
    job.run(&[]);
    assert_eq!(job.table().await, sorted(&["a", "b", "c"]));

    job.write_input(&["d", "e", "f", "g"]);
    let stderr = job.run(&["--fresh"]);
    assert!(
        stderr.contains("the table holds epochs of this app up to"),
        "{stderr}"
    );
    assert!(!stderr.contains("not committed again"), "{stderr}");
    let expected = sorted(&["a", "b", "c", "d", "e", "f", "g"]);
    assert_eq!(job.table().await, expected);
    assert_eq!(job.files(), expected);

    job.append_input(&["h"]);
    let stderr = job.run(&[]);
    assert!(stderr.contains("restored from checkpoint"), "{stderr}");
    let expected = sorted(&["a", "b", "c", "d", "e", "f", "g", "h"]);
    assert_eq!(job.table().await, expected);
    assert_eq!(job.files(), expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_checkpoint_folder_starts_over_without_losing_rows() {
    let job = LinesJob::new();
    job.write_input(&["a", "b"]);
    job.run(&[]);
    std::fs::remove_dir_all(job.path("checkpoints")).unwrap();
    job.write_input(&["c", "d"]);
    let stderr = job.run(&[]);
    assert!(stderr.contains("started fresh"), "{stderr}");
    let expected = sorted(&["a", "b", "c", "d"]);
    assert_eq!(job.table().await, expected);
    assert_eq!(job.files(), expected);
}

/// Two runs in a row: the second resumes where the first ended (reading nothing new);
/// a third with `--fresh` reads the file again, and commits it again, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_in_a_row_resume_or_start_over_as_asked() {
    let job = LinesJob::new();
    job.write_input(&["a", "b", "c"]);
    job.run(&[]);
    let stderr = job.run(&[]);
    assert!(stderr.contains("restored from checkpoint"), "{stderr}");
    assert_eq!(job.table().await, sorted(&["a", "b", "c"]));
    // Restored from a checkpoint of a run that read nothing new (nothing staged): the
    // table is not ahead of it, so nothing to warn about.
    let stderr = job.run(&[]);
    assert!(!stderr.contains("the table holds epochs"), "{stderr}");
    job.run(&["--fresh"]);
    let twice = sorted(&["a", "b", "c", "a", "b", "c"]);
    assert_eq!(job.table().await, twice);
    assert_eq!(job.files(), twice);
}

/// Restoring a savepoint after the job went on and committed newer epochs: the rows read
/// after the savepoint are committed again, as new epochs, next to what the table held.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_savepoint_restored_after_newer_commits_commits_what_it_reads() {
    let job = LinesJob::new();
    job.write_input(&["a", "b"]);
    job.run(&[]);
    let savepoint = job.path("savepoint");
    let copied = Command::new("cp")
        .arg("-r")
        .arg(job.path("checkpoints"))
        .arg(&savepoint)
        .status()
        .unwrap();
    assert!(copied.success());
    job.append_input(&["c", "d"]);
    job.run(&[]);
    job.append_input(&["e"]);
    job.run(&[]);
    assert_eq!(job.table().await, sorted(&["a", "b", "c", "d", "e"]));

    let stderr = job.run(&["--from-savepoint", savepoint.to_str().unwrap()]);
    assert!(
        stderr.contains("the table holds epochs of this app up to"),
        "{stderr}"
    );
    // The savepoint's position is after "b": c, d and e are read again.
    assert_eq!(
        job.table().await,
        sorted(&["a", "b", "c", "d", "e", "c", "d", "e"])
    );
    assert_eq!(
        job.files(),
        sorted(&["a", "b", "c", "d", "e", "c", "d", "e"])
    );
}

/// A job whose every line is a dead letter says so in its summary; a warning logged once
/// per source is shown three times, then summed up in one line.
#[test]
fn the_summary_counts_dead_letters_and_repeated_warnings_are_summed_up() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("bad.jsonl"), "not json\n{\"a\": oops}\n").unwrap();
    let mut job = String::from("name: all-bad\nsources:\n");
    let mut sinks = String::from("sinks:\n");
    for i in 0..6 {
        job += &format!(
            "  s{i}: {{type: file, path: bad.jsonl, format: {{type: json, columns: [{{name: a, type: int64}}]}}}}\n"
        );
        sinks += &format!("  out{i}: {{type: discard, inputs: [s{i}]}}\n");
    }
    std::fs::write(dir.path().join("job.yaml"), job + &sinks).unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_weir"))
        .args(["run", "--progress", "0s", "job.yaml"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(
        stderr.contains("s0 read 0 rows (0/s), 2 dead letters;"),
        "{stderr}"
    );
    assert!(stderr.contains("out5 committed 0 rows;"), "{stderr}");
    let unread = "rows emitted on an output nothing reads";
    assert_eq!(stderr.matches(unread).count(), 4, "{stderr}");
    assert!(
        stderr.contains(&format!("weir: the warning \"{unread}; they are counted as unconsumed\" repeated 3 more times (not shown)")),
        "{stderr}"
    );
    assert!(
        !stderr.contains('\u{1b}'),
        "no colour codes off a terminal: {stderr}"
    );
}

/// The rows the source read, as the stopped job's summary line says.
fn rows_read(stderr: &str) -> usize {
    let (_, rest) = stderr.split_once("input read ").expect(stderr);
    rest.split(' ').next().unwrap().parse().unwrap()
}

/// A job following a growing file stops gracefully on SIGTERM, and again on SIGINT:
/// each time it exits 0 with every line it read committed, and the next run reads on
/// from there, so that every line is in the table (and the Parquet files) exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_following_job_stops_on_sigterm_or_sigint_and_resumes_where_it_stopped() {
    let job = LinesJob::following();
    job.write_input(&["a", "b", "c"]);
    let child = job.spawn();
    job.until_table_holds(3).await;
    // Lines the job may or may not read before the stop: either way it commits them all.
    job.append_input(&["d", "e"]);
    let stderr = job.signal(child, "TERM");
    assert!(
        stderr.contains(
            "weir: stopping job 'epochs': taking a final checkpoint (press Ctrl-C again to cancel at once)"
        ),
        "{stderr}"
    );
    let (_, stopped) = stderr
        .split_once("weir: job 'epochs' stopped at checkpoint ")
        .expect(&stderr);
    let (checkpoint, summary) = stopped
        .split_once("; `weir run` resumes from it: ")
        .unwrap();
    let read = rows_read(summary);
    assert!(
        summary.contains(&format!("table committed {read} rows")),
        "{summary}"
    );
    let all = ["a", "b", "c", "d", "e", "f", "g"];
    assert_eq!(job.table().await, sorted(&all[..read]));
    assert_eq!(job.files(), sorted(&all[..read]));

    job.append_input(&["f", "g"]);
    let child = job.spawn();
    job.until_table_holds(all.len()).await;
    let stderr = job.signal(child, "INT");
    assert!(
        stderr.contains(&format!("restored from checkpoint {checkpoint} ")),
        "{stderr}"
    );
    assert!(
        stderr.contains("weir: job 'epochs' stopped at checkpoint "),
        "{stderr}"
    );
    assert_eq!(rows_read(&stderr), all.len() - read, "{stderr}");
    assert_eq!(job.table().await, sorted(&all));
    assert_eq!(job.files(), sorted(&all));
}
