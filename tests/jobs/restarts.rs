//! Restarts: a job that fails on a transient error starts again from its last completed
//! checkpoint, with nothing lost and nothing twice; a permanent error fails it at once;
//! restarts in a row run out after the strategy's attempts.

use std::path::PathBuf;
use std::process::{Command, Output};

use super::{sorted, strings, support};

/// A job reading `input.txt` once into a Delta table and Parquet files, restarting after
/// at most 20 ms; `failpoints` arms `WEIR_FAILPOINTS`.
struct RestartingJob {
    dir: tempfile::TempDir,
}

impl RestartingJob {
    fn new(format: &str, attempts: u32, lines: &[&str]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("job.yaml"),
            format!(
                "name: restarts\n\
                 restart: {{attempts: {attempts}, initial_delay: 10ms, max_delay: 20ms}}\n\
                 checkpoints: {{interval: 50ms, location: checkpoints}}\n\
                 sources:\n  input: {{type: file, path: input.txt, mode: bounded, on_decode_error: fail, format: {format}}}\n\
                 sinks:\n  table: {{type: delta, inputs: [input], table: lake/lines}}\n  \
                 files: {{type: parquet, inputs: [input], path: parquet}}\n"
            ),
        )
        .unwrap();
        std::fs::write(dir.path().join("input.txt"), lines.join("\n") + "\n").unwrap();
        Self { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn run(&self, failpoints: &str) -> (Output, String) {
        let output = Command::new(env!("CARGO_BIN_EXE_weir"))
            .args(["run", "--progress", "0s", "job.yaml"])
            .current_dir(self.dir.path())
            .env("WEIR_FAILPOINTS", failpoints)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr).to_string();
        (output, stderr)
    }

    async fn table(&self, column: &str) -> Vec<String> {
        let table = self.path("lake/lines").display().to_string();
        let sql = format!("SELECT CAST({column} AS VARCHAR) FROM t ORDER BY 1");
        strings(&support::delta::query_table(&table, &sql).await)
    }
}

fn restarts_logged(stderr: &str) -> usize {
    stderr.matches("; restarting from ").count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_commit_restarts_from_the_checkpoint_and_commits_each_row_once() {
    let lines = ["a", "b", "c", "d", "e", "f"];
    let job = RestartingJob::new("{type: lines}", 3, &lines);
    let (output, stderr) = job.run("delta_before_commit:1:error");
    assert!(output.status.success(), "{stderr}");
    assert_eq!(restarts_logged(&stderr), 1, "{stderr}");
    assert!(
        stderr.contains("failpoint 'delta_before_commit': an injected transient failure; restarting from checkpoint "),
        "{stderr}"
    );
    assert!(
        stderr.contains("weir: job 'restarts' finished after 1 restarts"),
        "{stderr}"
    );
    assert_eq!(job.table("line").await, sorted(&lines));
    let mut files = strings(&support::parquet::read_committed(&job.path("parquet")));
    files.sort();
    assert_eq!(files, sorted(&lines));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restarts_in_a_row_run_out_after_the_attempts() {
    let job = RestartingJob::new("{type: lines}", 2, &["a", "b"]);
    let (output, stderr) = job.run("delta_before_commit:1+:error");
    assert!(!output.status.success(), "{stderr}");
    assert_eq!(restarts_logged(&stderr), 2, "{stderr}");
    assert!(
        stderr.contains("(restart 2 of at most 2 in a row)"),
        "{stderr}"
    );
    assert!(
        stderr.contains("error: job 'restarts' failed after 2 restarts: "),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_permanent_failure_fails_the_job_without_restarting() {
    let job = RestartingJob::new(
        "{type: json, columns: [{name: n, type: int64}]}",
        3,
        &["{\"n\": 1}", "not json"],
    );
    let (output, stderr) = job.run("");
    assert!(!output.status.success(), "{stderr}");
    assert_eq!(restarts_logged(&stderr), 0, "{stderr}");
    assert!(
        stderr.contains("error: job 'restarts' failed: "),
        "{stderr}"
    );
    assert!(stderr.contains("input.txt:2"), "{stderr}");
}
