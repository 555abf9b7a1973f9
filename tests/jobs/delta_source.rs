//! Jobs chained through the lake: a `type: delta` source reading the versions of a table
//! another writer appends to, copied by the binary into another Delta table.

use std::ops::Range;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::sync::Arc;

use arrow::array::{Int64Array, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use arrow::record_batch::RecordBatch;
use deltalake::operations::write::SchemaMode;
use deltalake::DeltaTable;

use super::{rows_read, strings};

/// A job copying the Delta table `src` (partitioned by `part`) into `out`, in a folder of
/// its own that also holds its checkpoints.
struct LakeJob {
    dir: tempfile::TempDir,
}

impl LakeJob {
    fn new() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Writes the job file: the source with `settings`, at `parallelism`.
    fn job(&self, parallelism: usize, settings: &str) {
        std::fs::write(
            self.path("job.yaml"),
            format!(
                "name: chain\n\
                 parallelism: {parallelism}\n\
                 checkpoints: {{interval: 50ms, location: checkpoints}}\n\
                 sources:\n  input: {{type: delta, table: src, {settings}}}\n\
                 sinks:\n  copy: {{type: delta, inputs: [input], table: out}}\n"
            ),
        )
        .unwrap();
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_weir"));
        command
            .args(["run", "--progress", "0s"])
            .args(args)
            .arg("job.yaml")
            .current_dir(self.dir.path());
        command
    }

    /// Runs the job to its end; returns whether it succeeded and its stderr.
    fn run(&self, args: &[&str]) -> (bool, String) {
        let output = self.command(args).output().unwrap();
        (
            output.status.success(),
            String::from_utf8_lossy(&output.stderr).to_string(),
        )
    }

    /// Runs the job from scratch (no output table, no checkpoint) to a successful end.
    fn run_afresh(&self) {
        for folder in ["out", "checkpoints"] {
            let _ = std::fs::remove_dir_all(self.path(folder));
        }
        let (ok, stderr) = self.run(&[]);
        assert!(ok, "{stderr}");
    }

    fn spawn(&self) -> Child {
        self.command(&[]).stderr(Stdio::piped()).spawn().unwrap()
    }

    /// Sends SIGTERM and waits for the job's exit, which must be 0; returns its stderr.
    fn terminate(&self, child: Child) -> String {
        let sent = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(sent.success());
        let Output { status, stderr, .. } = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&stderr).to_string();
        assert!(status.success(), "{status:?}: {stderr}");
        stderr
    }

    async fn table(&self, name: &str) -> DeltaTable {
        std::fs::create_dir_all(self.path(name)).unwrap();
        let url = deltalake::ensure_table_uri(self.path(name).display().to_string()).unwrap();
        DeltaTable::try_from_url(url).await.unwrap()
    }

    /// Appends the rows `ids` to `src` as one version (one file per partition).
    async fn append(&self, ids: Range<i64>) {
        self.table("src")
            .await
            .write([rows(ids, false)])
            .with_partition_columns(["part"])
            .await
            .unwrap();
    }

    /// The ids in `out`, sorted (repeats kept).
    async fn ids(&self) -> Vec<i64> {
        let out = self.path("out").display().to_string();
        let batches =
            super::support::delta::query_table(&out, "SELECT id FROM t ORDER BY id").await;
        strings(&batches)
            .iter()
            .map(|id| id.parse().unwrap())
            .collect()
    }

    /// Waits (at most 60 s) until `out` exists and holds at least `rows` rows.
    async fn until_out_holds(&self, rows: usize) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        loop {
            let held = match self.path("out/_delta_log").exists() {
                true => Some(self.ids().await.len()),
                false => None,
            };
            if held.is_some_and(|held| held >= rows) {
                return;
            }
            let held = held.unwrap_or(0);
            assert!(
                std::time::Instant::now() < deadline,
                "{held} of {rows} rows in the table after 60 s"
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }
}

/// Rows `id, part` (`part` = id % 3 as a letter), with a `note` column if `noted`.
fn rows(ids: Range<i64>, noted: bool) -> RecordBatch {
    let mut fields = vec![
        Field::new("id", DataType::Int64, false),
        Field::new("part", DataType::Utf8, false),
    ];
    let parts = ["a", "b", "c"];
    let mut columns: Vec<arrow::array::ArrayRef> = vec![
        Arc::new(Int64Array::from_iter_values(ids.clone())),
        Arc::new(StringArray::from_iter_values(
            ids.clone().map(|i| parts[i as usize % 3]),
        )),
    ];
    if noted {
        fields.push(Field::new("note", DataType::Utf8, true));
        columns.push(Arc::new(StringArray::from_iter_values(
            ids.map(|i| format!("n{i}")),
        )));
    }
    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).unwrap()
}

/// Bounded runs read the versions from where they start to the version current at start,
/// each added row once at any parallelism; a compaction version adds nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bounded_delta_source_reads_each_added_row_once_from_its_start() {
    let job = LakeJob::new();
    job.job(1, "bounded: true");
    let (ok, stderr) = job.run(&[]);
    assert!(!ok);
    assert!(
        stderr.contains(
            "invalid delta source configuration: table src does not exist (no Delta log there)"
        ),
        "{stderr}"
    );

    job.append(0..6).await; // version 0
    job.append(6..12).await; // version 1
    let (compacted, metrics) = job.table("src").await.optimize().await.unwrap();
    assert_eq!(
        (compacted.version(), metrics.num_files_removed),
        (Some(2), 6)
    );
    job.append(12..15).await; // version 3

    for (parallelism, start, expected) in [
        (1, "earliest", 0..15),
        (3, "earliest", 0..15),
        (2, "1", 6..15),
        (3, "2", 12..15),
        (1, "latest", 0..0),
    ] {
        job.job(
            parallelism,
            &format!("start: {start}, bounded: true, batch_size: 2"),
        );
        job.run_afresh();
        assert_eq!(
            job.ids().await,
            expected.collect::<Vec<_>>(),
            "start {start} at parallelism {parallelism}"
        );
    }
    job.job(1, "start: 4, bounded: true");
    let (ok, stderr) = job.run(&["--fresh"]);
    assert!(!ok);
    assert!(
        stderr.contains("start version 4 is after the current version 3 of table src"),
        "{stderr}"
    );
}

/// A version that deletes rows stops the job naming it; with `ignore_changes` its removes
/// are skipped and the file it rewrote is read again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_version_that_deletes_rows_fails_naming_it_unless_changes_are_ignored() {
    let job = LakeJob::new();
    job.append(0..6).await; // version 0: partition a holds 0 and 3
    let (_, metrics) = job
        .table("src")
        .await
        .delete()
        .with_predicate("id = 3")
        .await
        .unwrap();
    assert_eq!(metrics.num_deleted_rows, Some(1));

    job.job(2, "bounded: true");
    let (ok, stderr) = job.run(&[]);
    assert!(!ok);
    assert!(
        stderr.contains("version 1 of table src removes data (1 files: a delete, update, merge or overwrite); the Delta source reads appended rows only: set `ignore_changes: true`"),
        "{stderr}"
    );

    // Version 0 added 0..6; version 1 rewrote the file holding 0 and 3 as one holding 0,
    // which is read again.
    job.job(2, "bounded: true, ignore_changes: true");
    job.run_afresh();
    assert_eq!(job.ids().await, [0, 0, 1, 2, 3, 4, 5]);
}

/// A following job sees only the versions after the one current when it started
/// (`start: latest`), stops on SIGTERM with every row it read committed, and a bounded run
/// restored at parallelism 3 reads on from the checkpoint: every row once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_following_delta_source_stops_on_sigterm_and_resumes_at_another_parallelism() {
    let job = LakeJob::new();
    job.append(0..30).await; // version 0, never read
    job.job(1, "start: latest, poll_interval: 20ms, batch_size: 4");
    let child = job.spawn();
    // The sink creates its table at the first checkpoint, after the source's plan.
    job.until_out_holds(0).await;
    job.append(30..60).await; // version 1
    job.until_out_holds(30).await;
    job.append(60..90).await; // version 2: read in part, whole, or not before the stop
    let stderr = job.terminate(child);
    let read = rows_read(&stderr);
    let ids = job.ids().await;
    assert_eq!(ids.len(), read, "{stderr}");
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
    assert!((30..60).all(|id| ids.contains(&id)), "{ids:?}");
    assert!(ids.iter().all(|id| (30..90).contains(id)), "{ids:?}");

    job.append(90..120).await; // version 3
                               // The positions come from the checkpoint: `start` only applies without one.
    job.job(3, "start: earliest, bounded: true, batch_size: 4");
    let (ok, stderr) = job.run(&[]);
    assert!(ok, "{stderr}");
    assert!(stderr.contains("restored from checkpoint "), "{stderr}");
    assert_eq!(rows_read(&stderr), 120 - 30 - read, "{stderr}");
    assert_eq!(job.ids().await, (30..120).collect::<Vec<_>>());
}

/// A version that changes the table's schema after the job started stops it, naming the
/// version.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_version_that_changes_the_schema_stops_a_following_job_naming_it() {
    let job = LakeJob::new();
    job.append(0..3).await;
    job.job(1, "poll_interval: 20ms");
    let child = job.spawn();
    job.until_out_holds(3).await;
    job.table("src")
        .await
        .write([rows(3..6, true)])
        .with_partition_columns(["part"])
        .with_schema_mode(SchemaMode::Merge)
        .await
        .unwrap();
    let Output { status, stderr, .. } = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&stderr);
    assert!(!status.success(), "{stderr}");
    assert!(
        stderr.contains("version 1 of table src changes the schema or the partition columns; the source reads the schema of version 0"),
        "{stderr}"
    );
    assert_eq!(job.ids().await, [0, 1, 2]);
}

/// The example job chained after `app_logs_to_lake.yaml`: its per-minute counts per level
/// equal the same aggregation over the requests table, at parallelism 1 and 3.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lake_chain_example_aggregates_the_app_requests_table() {
    let lake = tempfile::tempdir().unwrap();
    super::run_job(
        "examples/jobs/app_logs_to_lake.yaml",
        lake.path(),
        &[("EVENTS", "3000")],
    );
    let reference = super::lake_text(
        lake.path(),
        "SELECT level, CAST(date_bin(INTERVAL '1 minute', \"timestamp\") AS VARCHAR) AS minute, \
                count(*) AS requests, sum(CASE WHEN status >= 500 THEN 1 ELSE 0 END) AS errors, \
                max(latency_ms) AS max_latency_ms \
         FROM app.requests GROUP BY 1, 2 ORDER BY 2, 1",
    )
    .await;
    for parallelism in ["1", "3"] {
        let stderr = super::run_job(
            "examples/jobs/lake_requests_per_level.yaml",
            lake.path(),
            &[("PARALLELISM", parallelism)],
        );
        assert!(stderr.contains("started fresh"), "{stderr}");
        let streamed = super::lake_text(
            lake.path(),
            "SELECT level, CAST(window_start AS VARCHAR) AS minute, requests, errors, max_latency_ms \
             FROM app.requests_per_level ORDER BY 2, 1",
        )
        .await;
        assert_eq!(streamed, reference, "parallelism {parallelism}");
        std::fs::remove_dir_all(lake.path().join("app/requests_per_level")).unwrap();
        std::fs::remove_dir_all(lake.path().join("_checkpoints/requests-per-level")).unwrap();
    }
}
