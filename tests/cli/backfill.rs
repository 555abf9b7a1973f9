//! `weir backfill`: a bounded job run once per date, each run replacing its date's
//! partition in one commit; killed half-way (an abort at a commit) and resumed, every
//! date's partition is committed exactly once; a failed date does not stop the others.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output};

use super::server::{events, http, ServerProcess};
use super::support::delta::query_text;

const DATES: [&str; 5] = [
    "2026-10-30",
    "2026-10-31",
    "2026-11-01",
    "2026-11-02",
    "2026-11-03",
];

/// A job reading `in/<date>.jsonl` into `lake/daily`, partitioned by date and replacing
/// its date's partition; each input holds 40 rows `{"n": day * 100 + i}`.
fn daily_job(dir: &Path) {
    std::fs::write(
        dir.join("job.yaml"),
        "name: daily\n\
         restart: {attempts: 2, initial_delay: 10ms, max_delay: 20ms}\n\
         checkpoints:\n  interval: 50ms\n  location: checkpoints\n\
         sources:\n  input:\n    type: file\n    path: in/${DATE}.jsonl\n    mode: bounded\n    \
         on_decode_error: fail\n    format: {type: json, columns: [{name: n, type: int64}]}\n\
         transforms:\n  dated:\n    type: project\n    inputs: [input]\n    columns:\n      - n\n      \
         - CAST('${DATE}' AS DATE) AS date\n\
         sinks:\n  table:\n    type: delta\n    inputs: [dated]\n    table: lake/daily\n    \
         partition_by: [date]\n    replace_partition:\n      date: ${DATE}\n",
    )
    .unwrap();
    std::fs::create_dir_all(dir.join("in")).unwrap();
    for (day, date) in DATES.iter().enumerate() {
        let rows: String = (0..40)
            .map(|i| format!("{{\"n\": {}}}\n", day as i64 * 100 + i))
            .collect();
        std::fs::write(dir.join(format!("in/{date}.jsonl")), rows).unwrap();
    }
}

fn backfill(dir: &Path, args: &[&str], failpoints: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_weir"))
        .args(["backfill", "job.yaml", "--from", DATES[0], "--to", DATES[4]])
        .args(args)
        .current_dir(dir)
        .env("WEIR_FAILPOINTS", failpoints)
        .output()
        .unwrap()
}

/// The table's rows per date: `date | rows | sum of n`, one line per date.
async fn per_date(dir: &Path) -> String {
    let table = dir.join("lake/daily").display().to_string();
    query_text(
        &[("t", &table)],
        "SELECT CAST(date AS VARCHAR) AS date, count(*) AS n, sum(n) AS s FROM t GROUP BY date ORDER BY date",
    )
    .await
}

fn expected_per_date() -> String {
    let mut text = String::from(
        "+------------+----+-------+\n| date       | n  | s     |\n+------------+----+-------+\n",
    );
    for (day, date) in DATES.iter().enumerate() {
        let sum: i64 = (0..40).map(|i| day as i64 * 100 + i).sum();
        text.push_str(&format!("| {date} | 40 | {sum:<5} |\n"));
    }
    text.push_str("+------------+----+-------+");
    text
}

/// For each date, how many commits of the table's log added files to its partition, and
/// how many removed files from it.
fn commits_per_date(dir: &Path) -> BTreeMap<String, (usize, usize)> {
    let mut counts: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let log = dir.join("lake/daily/_delta_log");
    for entry in std::fs::read_dir(log).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "json") {
            continue;
        }
        let mut added = std::collections::BTreeSet::new();
        let mut removed = std::collections::BTreeSet::new();
        for line in std::fs::read_to_string(&path).unwrap().lines() {
            let action: serde_json::Value = serde_json::from_str(line).unwrap();
            for (kind, dates) in [("add", &mut added), ("remove", &mut removed)] {
                if let Some(date) = action[kind]["partitionValues"]["date"].as_str() {
                    dates.insert(date.to_string());
                }
            }
        }
        for date in added {
            counts.entry(date).or_default().0 += 1;
        }
        for date in removed {
            counts.entry(date).or_default().1 += 1;
        }
    }
    counts
}

fn progress(dir: &Path) -> serde_json::Value {
    let path = dir.join(format!(
        "checkpoints/backfill/progress-{}_{}.json",
        DATES[0], DATES[4]
    ));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backfill_killed_half_way_resumes_and_writes_each_date_once() {
    for (failpoint, parallel) in [
        ("delta_after_commit:2", "1"),
        ("delta_before_commit:3", "2"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        daily_job(dir.path());
        let killed = backfill(dir.path(), &["--parallel", parallel], failpoint);
        assert!(!killed.status.success(), "{failpoint}: {killed:?}");
        let half = progress(dir.path());
        let done_before: Vec<&str> = DATES
            .iter()
            .copied()
            .filter(|d| half["dates"][*d]["state"] == "done")
            .collect();
        assert!(
            !done_before.is_empty() && done_before.len() < DATES.len(),
            "{failpoint}: {half}"
        );

        let resumed = backfill(dir.path(), &["--parallel", parallel], "");
        let stderr = String::from_utf8_lossy(&resumed.stderr);
        assert!(resumed.status.success(), "{failpoint}: {stderr}");
        assert!(
            stderr.contains(&format!("{} already done", done_before.len())),
            "{failpoint}: {stderr}"
        );
        for date in &done_before {
            assert!(
                !stderr.contains(&format!("weir: {date} running")),
                "{failpoint}: {date} ran again: {stderr}"
            );
        }
        let done = progress(dir.path());
        for date in DATES {
            assert_eq!(done["dates"][date]["state"], "done", "{failpoint}: {done}");
            // Each date started afresh once: the one interrupted continued its run.
            assert_eq!(done["dates"][date]["runs"], 1, "{failpoint}: {done}");
        }
        assert_eq!(
            per_date(dir.path()).await,
            expected_per_date(),
            "{failpoint}"
        );
        let once: BTreeMap<String, (usize, usize)> =
            DATES.iter().map(|d| (d.to_string(), (1, 0))).collect();
        assert_eq!(commits_per_date(dir.path()), once, "{failpoint}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn running_a_date_again_replaces_its_partition_and_a_failed_date_does_not_stop_the_others() {
    let dir = tempfile::tempdir().unwrap();
    daily_job(dir.path());
    let first = backfill(dir.path(), &["--parallel", "2"], "");
    assert!(first.status.success(), "{first:?}");
    assert_eq!(per_date(dir.path()).await, expected_per_date());

    // Again, every date: the same table, each partition replaced once more.
    let again = backfill(dir.path(), &["--fresh", "--json"], "");
    assert!(again.status.success(), "{again:?}");
    let json: serde_json::Value = serde_json::from_slice(&again.stdout).unwrap();
    assert_eq!(json["dates"]["2026-11-01"]["runs"], 2, "{json}");
    assert_eq!(per_date(dir.path()).await, expected_per_date());
    let twice: BTreeMap<String, (usize, usize)> =
        DATES.iter().map(|d| (d.to_string(), (2, 1))).collect();
    assert_eq!(commits_per_date(dir.path()), twice);

    // A date whose input is broken fails (after its restarts, none for a permanent
    // error) and is reported; the others are replaced.
    std::fs::write(
        dir.path().join("in/2026-11-01.jsonl"),
        "{\"n\": 1}\nnot json\n",
    )
    .unwrap();
    let broken = backfill(dir.path(), &["--fresh"], "");
    let stdout = String::from_utf8_lossy(&broken.stdout);
    let stderr = String::from_utf8_lossy(&broken.stderr);
    assert!(!broken.status.success(), "{stderr}");
    assert!(stdout.contains("2026-11-01  failed"), "{stdout}");
    assert!(stdout.contains("2026-11-02  done"), "{stdout}");
    assert!(stderr.contains("in/2026-11-01.jsonl:2"), "{stderr}");
    assert!(
        stderr.contains("weir: backfill of job 'daily': 4 done, 1 failed, 0 not finished"),
        "{stderr}"
    );
    // The failed date's partition is as the last good run left it.
    assert_eq!(per_date(dir.path()).await, expected_per_date());
}

#[test]
fn a_backfill_refuses_jobs_a_second_run_would_add_to() {
    let dir = tempfile::tempdir().unwrap();
    daily_job(dir.path());
    let text = std::fs::read_to_string(dir.path().join("job.yaml")).unwrap();
    std::fs::write(
        dir.path().join("job.yaml"),
        text.replace("    replace_partition:\n      date: ${DATE}\n", ""),
    )
    .unwrap();
    let refused = backfill(dir.path(), &[], "");
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success());
    assert!(
        stderr.contains(
            "job.yaml: sink 'table' writes Delta table lake/daily without `replace_partition`"
        ),
        "{stderr}"
    );
    std::fs::write(
        dir.path().join("job.yaml"),
        text.replace("${DATE}", "2026-11-01"),
    )
    .unwrap();
    let refused = backfill(dir.path(), &[], "");
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("a backfill needs a job that uses ${DATE}, ${DATE_START} or ${DATE_END}"),
        "{stderr}"
    );
    assert!(!dir.path().join("lake").exists());
}

/// Job `daily` as a server holds it: absolute paths, and `${DATE}` defaulting to
/// 2026-10-29 for the run the submission starts.
fn server_job(dir: &Path) -> String {
    daily_job(dir);
    std::fs::copy(
        dir.join(format!("in/{}.jsonl", DATES[0])),
        dir.join("in/2026-10-29.jsonl"),
    )
    .unwrap();
    let root = dir.display().to_string();
    std::fs::read_to_string(dir.join("job.yaml"))
        .unwrap()
        .replace("${DATE}", "${DATE:-2026-10-29}")
        .replace("in/", &format!("{root}/in/"))
        .replace("lake/daily", &format!("{root}/lake/daily"))
        .replace("  location: checkpoints\n", "")
}

/// The server's backfills of job `daily` once the first one is over.
fn wait_for_backfill(server: &ServerProcess) -> serde_json::Value {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let (status, body) = http(server.url(), "GET", "/api/v1/jobs/daily/backfills", "", &[]);
        assert_eq!(status, 200, "{body}");
        let backfills: serde_json::Value = serde_json::from_str(&body).unwrap();
        if backfills[0]["active"] == false && backfills[0]["done"] == DATES.len() {
            return backfills;
        }
        assert!(std::time::Instant::now() < deadline, "{backfills:#}");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_backfill_killed_half_way_resumes_when_the_server_starts_again() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    let job = server_job(dir.path());
    // The submitted run commits first; the second date of the backfill second, and the
    // server aborts right after that commit, before the date is recorded done.
    let server = ServerProcess::start_with_env(
        &lake,
        &["--insecure-no-auth"],
        &[("WEIR_FAILPOINTS", "delta_after_commit:3")],
    );
    let (status, body) = http(server.url(), "POST", "/api/v1/jobs", &job, &[]);
    assert_eq!(status, 201, "{body}");
    server.wait_for("daily", "finished", |_| true);
    let request = format!(
        r#"{{"from": "{}", "to": "{}", "parallel": 1}}"#,
        DATES[0], DATES[4]
    );
    let refused = http(
        server.url(),
        "POST",
        "/api/v1/jobs/daily/backfills",
        r#"{"from": "2026-11-01", "to": "2026-10-01"}"#,
        &[],
    );
    assert_eq!(refused.0, 400, "{}", refused.1);
    assert!(
        refused.1.contains("is before its first date"),
        "{}",
        refused.1
    );
    let unknown = http(
        server.url(),
        "POST",
        "/api/v1/jobs/daily/backfills",
        r#"{"from": "2026-11-01", "to": "2026-11-02", "dates": 3}"#,
        &[],
    );
    assert_eq!(unknown.0, 400, "{}", unknown.1);
    assert!(unknown.1.contains("unknown field `dates`"), "{}", unknown.1);
    let (status, body) = http(
        server.url(),
        "POST",
        "/api/v1/jobs/daily/backfills",
        &request,
        &[],
    );
    assert_eq!(status, 202, "{body}");
    server.wait_exit();

    let server = ServerProcess::start_with_env(&lake, &["--insecure-no-auth"], &[]);
    let backfills = wait_for_backfill(&server);
    for date in backfills[0]["dates"].as_array().unwrap() {
        assert_eq!(date["runs"], 1, "{backfills:#}");
    }
    let job = server.json(&["job", "daily"]);
    let history = events(&job);
    for event in [
        "backfill_started",
        "backfill_resumed",
        "backfill_date",
        "backfill_finished",
    ] {
        assert!(history.iter().any(|e| e == event), "{event}: {history:?}");
    }
    // The submitted run's date and every date of the backfill, each written once.
    let mut expected: BTreeMap<String, (usize, usize)> =
        DATES.iter().map(|d| (d.to_string(), (1, 0))).collect();
    expected.insert("2026-10-29".into(), (1, 0));
    assert_eq!(commits_per_date(dir.path()), expected);
    let per_date = per_date(dir.path()).await;
    assert!(
        per_date
            .ends_with(&expected_per_date()[expected_per_date().find("| 2026-10-30").unwrap()..]),
        "{per_date}"
    );
}
