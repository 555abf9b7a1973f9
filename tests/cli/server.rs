//! `weir server` and the commands that speak to it: jobs submitted, watched, stopped,
//! cancelled, resumed and deleted; a server killed with SIGKILL resumes its jobs from
//! their checkpoints with nothing lost or doubled; SIGTERM stops every job with a final
//! checkpoint; requests that cannot be served get a 4xx saying why.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::delta::query_text;

/// A `weir server` process and what it wrote to stderr.
pub(crate) struct ServerProcess {
    child: Child,
    url: String,
    stderr: Arc<Mutex<String>>,
}

impl ServerProcess {
    /// Starts `weir server` on a free port with `args`; waits until it listens.
    pub(crate) fn start(lake: &Path, args: &[&str]) -> Self {
        Self::start_with_env(lake, args, &[])
    }

    /// [`ServerProcess::start`] with the variables `env` set for the server.
    pub(crate) fn start_with_env(lake: &Path, args: &[&str], env: &[(&str, &str)]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_weir"))
            .args(["server", "--bind", "127.0.0.1:0", "--lake"])
            .arg(lake)
            .args(args)
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = Arc::new(Mutex::new(String::new()));
        let (found, url) = std::sync::mpsc::channel();
        let mut lines = BufReader::new(child.stderr.take().unwrap());
        let written = stderr.clone();
        std::thread::spawn(move || {
            let mut line = String::new();
            while lines.read_line(&mut line).unwrap_or(0) > 0 {
                if let Some(rest) = line.split("listening on ").nth(1) {
                    let _ = found.send(rest.split_whitespace().next().unwrap().to_string());
                }
                written.lock().unwrap().push_str(&line);
                line.clear();
            }
        });
        let url = url
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|_| panic!("the server did not start: {}", stderr.lock().unwrap()));
        Self { child, url, stderr }
    }

    /// Runs a `weir` command against this server.
    pub(crate) fn weir(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_weir"))
            .args(args)
            .args(["--server", &self.url])
            .output()
            .unwrap()
    }

    /// A successful `weir ... --json` answer.
    pub(crate) fn json(&self, args: &[&str]) -> Value {
        let mut all = args.to_vec();
        all.push("--json");
        let output = self.weir(&all);
        assert!(output.status.success(), "{args:?}: {output:?}");
        serde_json::from_slice(&output.stdout).unwrap()
    }

    /// Waits until job `id` has `status` (and `also` holds), returning it.
    pub(crate) fn wait_for(&self, id: &str, status: &str, also: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let job = self.json(&["job", id]);
            if job["status"] == status && also(&job) {
                return job;
            }
            assert!(
                Instant::now() < deadline,
                "{id} never got {status}: {job:#}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn kill(self) {
        drop(self);
    }

    /// The server's address, `http://host:port`.
    pub(crate) fn url(&self) -> &str {
        &self.url
    }

    /// Waits for the server to exit by itself (an aborting failpoint).
    pub(crate) fn wait_exit(mut self) {
        let _ = self.child.wait();
    }

    /// Sends SIGTERM and waits for the exit; the exit code and stderr.
    fn terminate(mut self) -> (Option<i32>, String) {
        let killed = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(killed.success());
        let status = self.child.wait().unwrap();
        // The reader thread ends with the pipe.
        std::thread::sleep(Duration::from_millis(100));
        let stderr = self.stderr.lock().unwrap().clone();
        (status.code(), stderr)
    }
}

impl Drop for ServerProcess {
    /// A server is killed with the test, whatever happened in it.
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A request to `url` (`http://host:port`): the status and the body.
pub(crate) fn http(
    url: &str,
    method: &str,
    path: &str,
    body: &str,
    headers: &[&str],
) -> (u16, String) {
    let address = url.trim_start_matches("http://");
    let mut stream = TcpStream::connect(address).unwrap();
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nhost: {address}\r\nconnection: close\r\ncontent-length: {}\r\n",
        body.len()
    );
    for header in headers {
        request.push_str(header);
        request.push_str("\r\n");
    }
    request.push_str("\r\n");
    request.push_str(body);
    stream.write_all(request.as_bytes()).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let status = answer[9..12].parse().unwrap();
    let body = answer
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

/// A generated-bids job into the Delta table `table`, checkpointing every 200 ms.
pub(crate) fn bids_job(
    dir: &Path,
    name: &str,
    table: &Path,
    events: u64,
    rate: u64,
) -> std::path::PathBuf {
    let path = dir.join(format!("{name}.yaml"));
    std::fs::write(
        &path,
        format!(
            "name: {name}\nparallelism: 2\ncheckpoints: {{interval: 200ms}}\n\
             sources:\n  bids: {{type: generator, kind: bids, events: {events}, batch_size: 500, rate_limit: {rate}}}\n\
             sinks:\n  lake:\n    type: delta\n    inputs: [bids]\n    table: '{}'\n",
            table.display()
        ),
    )
    .unwrap();
    path
}

/// `/metrics` of the server at `url`, parsed as Prometheus text: each sample's name with
/// its labels, and its value. Every line must be a comment or a sample.
pub(crate) fn scrape(url: &str) -> std::collections::BTreeMap<String, f64> {
    let (status, text) = http(url, "GET", "/metrics", "", &[]);
    assert_eq!(status, 200, "{text}");
    text.lines()
        .filter(|line| !line.starts_with('#') && !line.is_empty())
        .map(|line| {
            let (name, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("{line}"));
            (
                name.to_string(),
                value.parse().unwrap_or_else(|_| panic!("{line}")),
            )
        })
        .collect()
}

fn has_checkpoint(job: &Value) -> bool {
    !job["last_checkpoint"].is_null()
}

pub(crate) fn events(job: &Value) -> Vec<String> {
    job["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_keeps_its_jobs_through_sigkill_and_sigterm() {
    const EVENTS: u64 = 60_000;
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    let table = lake.join("bids");
    let job = bids_job(dir.path(), "bids", &table, EVENTS, 10_000);

    let server = ServerProcess::start(&lake, &[]);
    let submitted = server.weir(&["submit", job.to_str().unwrap()]);
    assert!(submitted.status.success(), "{submitted:?}");
    assert!(
        String::from_utf8_lossy(&submitted.stdout).starts_with("submitted job 'bids': "),
        "{submitted:?}"
    );
    let running = server.wait_for("bids", "running", has_checkpoint);
    assert_eq!(running["kind"], "stream");
    let nodes: Vec<&str> = running["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["name"].as_str().unwrap())
        .collect();
    assert_eq!(nodes, ["bids", "lake"]);
    for node in running["nodes"].as_array().unwrap() {
        assert!(node["backpressure_ms"].is_u64(), "{node}");
        assert!(
            (0.0..=1.0).contains(&node["backpressure"].as_f64().unwrap()),
            "{node}"
        );
    }
    let listed = server.weir(&["jobs"]);
    let table_text = String::from_utf8_lossy(&listed.stdout);
    assert!(
        table_text.starts_with("id    kind    status   rows/s"),
        "{table_text}"
    );
    // The sink's own figures: its commits and table version, with bytes through it.
    let committed = server.wait_for("bids", "running", |job| {
        job["nodes"][1]["delta_commits"].as_u64() >= Some(2)
    });
    let sink = &committed["nodes"][1];
    assert!(sink["delta_version"].as_i64() >= Some(2), "{sink}");
    assert!(sink["bytes_in"].as_u64() > Some(0), "{sink}");
    assert!(sink["rows_in"].as_u64() > Some(0), "{sink}");

    // Prometheus text whose counters move between scrapes.
    let first = scrape(&server.url);
    std::thread::sleep(Duration::from_millis(600));
    let second = scrape(&server.url);
    let source_rows = r#"weir_node_rows_out_total{job="bids",node="bids"}"#;
    assert!(
        second[source_rows] > first[source_rows],
        "{first:?}\n{second:?}"
    );
    for name in [
        r#"weir_node_bytes_in_total{job="bids",node="lake_writer"}"#,
        r#"weir_delta_commits_total{job="bids",node="lake_committer"}"#,
        r#"weir_delta_table_version{job="bids",node="lake_committer"}"#,
        r#"weir_job_checkpoints_total{job="bids"}"#,
    ] {
        assert!(
            second.get(name).is_some_and(|v| *v > 0.0),
            "{name}: {second:?}"
        );
    }
    assert_eq!(
        second[r#"weir_job_checkpoint_failures_total{job="bids"}"#],
        0.0
    );

    // Killed mid-stream: started again, it resumes the job from its newest checkpoint.
    server.kill();
    let server = ServerProcess::start(&lake, &[]);
    let finished = server.wait_for("bids", "finished", |_| true);
    let history = events(&finished);
    assert_eq!(
        history[..2],
        ["submitted".to_string(), "started".to_string()],
        "{history:?}"
    );
    assert!(
        history.ends_with(&["resumed".into(), "restored".into(), "finished".into()]),
        "{history:?}"
    );
    assert_eq!(
        query_text(
            &[("t", table.to_str().unwrap())],
            "SELECT count(*) AS n, count(DISTINCT (auction, bidder, event_time)) AS d FROM t"
        )
        .await,
        format!(
            "+-------+-------+\n| n     | d     |\n+-------+-------+\n| {EVENTS} | {EVENTS} |\n+-------+-------+"
        )
    );

    // SIGTERM: every job stops with a final checkpoint, and runs again with the server.
    let endless = bids_job(
        dir.path(),
        "endless",
        &lake.join("endless"),
        1_000_000_000,
        2_000,
    );
    assert!(server
        .weir(&["submit", endless.to_str().unwrap()])
        .status
        .success());
    server.wait_for("endless", "running", has_checkpoint);
    let (code, stderr) = server.terminate();
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stderr.contains("weir server: stopped"), "{stderr}");
    let server = ServerProcess::start(&lake, &[]);
    let resumed = server.wait_for("endless", "running", has_checkpoint);
    assert!(
        events(&resumed).ends_with(&["server_stopped".into(), "resumed".into(), "restored".into()]),
        "{resumed:#}"
    );
    // The finished job stays finished.
    assert_eq!(server.json(&["job", "bids"])["status"], "finished");

    // Stop, resume, cancel, delete.
    let stopped = server.weir(&["stop", "endless"]);
    assert!(stopped.status.success(), "{stopped:?}");
    let text = String::from_utf8_lossy(&stopped.stdout);
    assert!(
        text.starts_with("job 'endless': stopped (final checkpoint "),
        "{text}"
    );
    let again = server.weir(&["stop", "endless"]);
    assert_eq!(again.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("job 'endless' is not running"),
        "{again:?}"
    );
    assert!(server.weir(&["resume", "endless"]).status.success());
    server.wait_for("endless", "running", has_checkpoint);
    let cancelled = server.json(&["cancel", "endless"]);
    assert_eq!(cancelled["status"], "cancelled");
    let (status, _) = http(&server.url, "DELETE", "/api/v1/jobs/endless", "", &[]);
    assert_eq!(status, 204);
    let ids: Vec<Value> = server
        .json(&["jobs"])
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["id"].clone())
        .collect();
    assert_eq!(ids, ["bids"]);
    server.kill();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_refuses_what_it_cannot_serve_and_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    crate::support::lake_fixture::lake(&lake).await;
    let token = dir.path().join("token");
    std::fs::write(&token, "s3cret\n").unwrap();
    let server = ServerProcess::start(&lake, &["--token-file", token.to_str().unwrap()]);
    let job = bids_job(dir.path(), "bids", &lake.join("more"), 1000, 1000);

    // Writes need the token; reads do not.
    let refused = server.weir(&["submit", job.to_str().unwrap()]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("needs the server's token"),
        "{refused:?}"
    );
    assert_eq!(server.json(&["jobs"]), serde_json::json!([]));

    // A job file with mistakes: every one at its line and column, as `weir validate` says.
    let broken = dir.path().join("broken.yaml");
    std::fs::write(
        &broken,
        "name: broken\nsources:\n  bids: {type: generator, kind: bidz}\nsinks:\n  out: {type: stdout, inputs: [nope]}\n",
    )
    .unwrap();
    let output = server.weir(&[
        "submit",
        broken.to_str().unwrap(),
        "--token-file",
        token.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    let validated = Command::new(env!("CARGO_BIN_EXE_weir"))
        .args(["validate", broken.to_str().unwrap()])
        .output()
        .unwrap();
    let first = String::from_utf8_lossy(&validated.stderr)
        .lines()
        .next()
        .unwrap()
        .to_string();
    assert!(
        first.starts_with(&format!("{}:3:", broken.display())),
        "{first}"
    );
    assert!(stderr.contains(&first), "{stderr}\n---\n{first}");

    // SQL: rows for a query, a 400 with the reason for anything else.
    let (status, body) = http(
        &server.url,
        "POST",
        "/api/v1/sql",
        r#"{"query": "SELECT count(*) AS n FROM bids"}"#,
        &[],
    );
    assert_eq!(status, 200, "{body}");
    let answer: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(answer["rows"], serde_json::json!([{"n": 5}]));
    assert_eq!(answer["columns"][0]["name"], "n");
    // Sessions are kept between requests: a version committed since is seen, and a
    // request's SET is not seen by the next one.
    {
        use crate::support::lake_fixture::{bids, bids_schema};
        let path = lake.join("bids").display().to_string();
        let mut table = weir_lake::table::open_or_create(&path, &bids_schema(), &[])
            .await
            .unwrap();
        let mut writer = deltalake::writer::RecordBatchWriter::for_table(&table).unwrap();
        deltalake::writer::DeltaWriter::write(
            &mut writer,
            bids(&[(9, 900, "later"), (9, 901, "later")]),
        )
        .await
        .unwrap();
        let adds = deltalake::writer::DeltaWriter::flush(&mut writer)
            .await
            .unwrap();
        weir_lake::table::commit_epoch(&mut table, "more", 1, adds, None)
            .await
            .unwrap();
    }
    let query = |sql: &str| {
        let (status, body) = http(
            &server.url,
            "POST",
            "/api/v1/sql",
            &serde_json::json!({ "query": sql }).to_string(),
            &[],
        );
        assert_eq!(status, 200, "{sql}: {body}");
        serde_json::from_str::<Value>(&body).unwrap()["rows"].clone()
    };
    assert_eq!(
        query("SELECT count(*) AS n FROM bids"),
        serde_json::json!([{"n": 7}])
    );
    query("SET datafusion.execution.batch_size = 17; SELECT 1 AS one");
    let shown = query("SHOW datafusion.execution.batch_size");
    assert_eq!(shown[0]["value"], "8192", "{shown}");
    let (status, body) = http(
        &server.url,
        "POST",
        "/api/v1/sql",
        r#"{"query": "DROP TABLE bids"}"#,
        &[],
    );
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("DROP"), "{body}");
    let (status, body) = http(
        &server.url,
        "POST",
        "/api/v1/sql",
        r#"{"query": "SELECT 1", "limit": 3}"#,
        &[],
    );
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("unknown field `limit`"), "{body}");
    let (status, body) = http(&server.url, "POST", "/api/v1/sql", "{nope", &[]);
    assert_eq!(status, 400, "{body}");

    // Tables with their details and history; unknown things are 404s.
    let (status, body) = http(&server.url, "GET", "/api/v1/tables/bids", "", &[]);
    assert_eq!(status, 200, "{body}");
    let bids: Value = serde_json::from_str(&body).unwrap();
    // The fixture's versions 0 to 3 and the commit above.
    assert_eq!(bids["history"].as_array().unwrap().len(), 5, "{bids:#}");
    assert_eq!(bids["details"]["version"], 4, "{bids:#}");
    assert_eq!(
        http(&server.url, "GET", "/api/v1/tables/nope", "", &[]).0,
        404
    );
    assert_eq!(
        http(&server.url, "GET", "/api/v1/jobs/nope", "", &[]).0,
        404
    );

    // The OpenAPI document lists the API.
    let (status, body) = http(&server.url, "GET", "/api/v1/openapi.json", "", &[]);
    assert_eq!(status, 200);
    let document: Value = serde_json::from_str(&body).unwrap();
    for path in [
        "/api/v1/jobs",
        "/api/v1/jobs/{id}/stop",
        "/api/v1/sql",
        "/api/v1/tables/{name}",
    ] {
        assert!(document["paths"][path].is_object(), "{path}: {body}");
    }
    server.kill();

    // Another address than loopback needs a token.
    let output = Command::new(env!("CARGO_BIN_EXE_weir"))
        .args(["server", "--bind", "0.0.0.0:0", "--lake"])
        .arg(&lake)
        .env_remove("WEIR_TOKEN")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("without a token"),
        "{output:?}"
    );
}

/// How many of `job`'s events are `event`.
fn count(job: &Value, event: &str) -> usize {
    events(job).iter().filter(|e| *e == event).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scheduled_jobs_run_at_their_times_skip_overlaps_and_catch_up() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    crate::support::lake_fixture::lake(&lake).await;
    let checks = dir.path().join("checks.yaml");
    std::fs::write(
        &checks,
        format!(
            "name: checks\nkind: quality\nschedule: {{every: 1s}}\n\
             quality:\n  lake: '{}'\n  table: bids\n  rules:\n    - {{name: priced, range: {{column: price, min: 1}}}}\n",
            lake.display()
        ),
    )
    .unwrap();
    // A run of 3 s, due every second.
    let slow = bids_job(dir.path(), "slow", &lake.join("slow"), 6_000, 2_000);
    let text = std::fs::read_to_string(&slow).unwrap();
    std::fs::write(&slow, format!("{text}schedule: {{every: 1s}}\n")).unwrap();

    let server = ServerProcess::start(&lake, &[]);
    for job in [&checks, &slow] {
        let submitted = server.weir(&["submit", job.to_str().unwrap()]);
        assert!(submitted.status.success(), "{submitted:?}");
    }
    let checked = server.wait_for("checks", "scheduled", |j| count(j, "finished") >= 3);
    assert!(checked["next_run"].is_string(), "{checked:#}");
    let slow_job = server.wait_for("slow", "scheduled", |j| count(j, "finished") >= 1);
    assert!(count(&slow_job, "skipped") >= 1, "{slow_job:#}");
    let quality = lake.join("_quality");
    let evaluations = query_text(
        &[("q", quality.to_str().unwrap())],
        "SELECT count(DISTINCT time) >= 3 AS runs FROM q WHERE \"table\" = 'bids'",
    )
    .await;
    assert!(evaluations.contains("| true |"), "{evaluations}");

    // Down for 3 s: the missed runs are reported, and one runs (catch_up: latest).
    server.kill();
    std::thread::sleep(Duration::from_secs(3));
    let server = ServerProcess::start(&lake, &[]);
    let caught_up = server.wait_for("checks", "scheduled", |j| {
        events(j)
            .iter()
            .rev()
            .take_while(|e| *e != "missed")
            .any(|e| e == "finished")
    });
    let missed = caught_up["events"]
        .as_array()
        .unwrap()
        .iter()
        .rfind(|e| e["event"] == "missed")
        .unwrap()["detail"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        missed.contains("runs missed while the server was down") && missed.ends_with("running 1"),
        "{missed}"
    );

    // Stopping pauses the schedule; resuming runs it again at once.
    let stopped = server.json(&["stop", "checks"]);
    assert_eq!(stopped["status"], "stopped", "{stopped:#}");
    let runs = count(&stopped, "finished");
    std::thread::sleep(Duration::from_millis(2_500));
    assert_eq!(count(&server.json(&["job", "checks"]), "finished"), runs);
    server.json(&["resume", "checks"]);
    server.wait_for("checks", "scheduled", |j| count(j, "finished") > runs);
}

#[test]
fn weir_run_serves_the_servers_metrics_with_metrics_bind() {
    let dir = tempfile::tempdir().unwrap();
    let job = bids_job(
        dir.path(),
        "solo",
        &dir.path().join("lake/bids"),
        40_000,
        10_000,
    );
    let mut child = Command::new(env!("CARGO_BIN_EXE_weir"))
        .args(["run", "--progress", "0s", "--metrics-bind", "127.0.0.1:0"])
        .arg(&job)
        .current_dir(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    let url = loop {
        line.clear();
        assert!(
            lines.read_line(&mut line).unwrap() > 0,
            "no metrics address"
        );
        if let Some(rest) = line.split(" at http://").nth(1) {
            break format!("http://{}", rest.trim().trim_end_matches("/metrics"));
        }
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    let metrics = loop {
        let metrics = scrape(&url);
        let commits = r#"weir_delta_commits_total{job="solo",node="lake_committer"}"#;
        if metrics.get(commits).is_some_and(|c| *c >= 1.0) {
            break metrics;
        }
        assert!(Instant::now() < deadline, "{metrics:?}");
        std::thread::sleep(Duration::from_millis(100));
    };
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(
        metrics[r#"weir_job_up{job="solo",kind="stream",status="running"}"#],
        1.0
    );
    assert!(metrics[r#"weir_node_rows_in_total{job="solo",node="lake_writer"}"#] > 0.0);
    assert!(metrics[r#"weir_node_bytes_out_total{job="solo",node="bids"}"#] > 0.0);
}
