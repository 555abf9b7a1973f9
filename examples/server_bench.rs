//! What `weir server` costs, as Markdown tables.
//!
//! 1. Overhead: the same streaming job (generated bids, no rate limit, into a Delta table)
//!    run `--rounds` times each way, alternating: under `weir run`'s lifecycle (a
//!    `JobHandle` in this process) and submitted to a `weir server` in this process over
//!    loopback HTTP, timed from the submission until the job view says `finished`
//!    (polled every 10 ms). Reports events/s of each and the ratio.
//! 2. Requests: with a job running on the server, `GET /api/v1/jobs/{id}` and a small
//!    `POST /api/v1/sql` (an aggregate over a 10,000-row table) under 50 concurrent
//!    connections for `--seconds` each, driven by `wrk` (Debian's package; the part is
//!    skipped when it is missing): requests/s and p50/p99 latency.
//!
//! `cargo run --release --example server_bench [-- --events N --rounds N --seconds N]`

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use weir_jobs::{JobDefinition, JobHandle, JobOutcome, StartOptions};
use weir_server::{Server, ServerConfig};

#[path = "support/process.rs"]
mod process;
use process::{cpu_seconds, peak_mib, reset_peak};

/// A bids job named `name` writing `events` rows (at `rate` per second, 0: unlimited)
/// into the table `table`.
fn job(name: &str, table: &Path, events: u64, rate: u64) -> String {
    let rate = if rate == 0 {
        String::new()
    } else {
        format!(", rate_limit: {rate}")
    };
    format!(
        "name: {name}\nparallelism: 2\ncheckpoints: {{interval: 10s}}\n\
         sources:\n  bids: {{type: generator, kind: bids, events: {events}, batch_size: 8192{rate}}}\n\
         sinks:\n  lake:\n    type: delta\n    inputs: [bids]\n    table: '{}'\n",
        table.display()
    )
}

fn arg(args: &[String], name: &str, default: u64) -> u64 {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Runs the job in this process as `weir run` does; its wall time.
async fn under_run(text: &str, checkpoints: &Path) -> Duration {
    let mut job = JobDefinition::from_yaml(text, "bench.yaml", |_| None).unwrap();
    job.checkpoints.location = Some(checkpoints.display().to_string());
    let started = Instant::now();
    let outcome = JobHandle::start(job, StartOptions::default()).wait().await;
    assert!(matches!(outcome, JobOutcome::Finished), "{outcome:?}");
    started.elapsed()
}

/// Submits the job to the server at `url` and waits until it finished; its wall time.
async fn under_server(client: &reqwest::Client, url: &str, name: &str, text: &str) -> Duration {
    let started = Instant::now();
    let submitted = client
        .post(format!("{url}/api/v1/jobs"))
        .body(text.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(
        submitted.status(),
        201,
        "{}",
        submitted.text().await.unwrap()
    );
    loop {
        let body = client
            .get(format!("{url}/api/v1/jobs/{name}"))
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        let job: serde_json::Value = serde_json::from_slice(&body).unwrap();
        match job["status"].as_str() {
            Some("finished") => return started.elapsed(),
            Some("failed") => panic!("{job:#}"),
            _ => tokio::time::sleep(Duration::from_millis(10)).await,
        }
    }
}

/// `wrk` with 2 threads and 50 connections against `url` for `seconds`, with `script`
/// (a Lua file) when given: requests/s, p50 and p99 as wrk prints them.
fn wrk(url: &str, seconds: u64, script: Option<&Path>) -> Option<(String, String, String)> {
    let mut command = std::process::Command::new("wrk");
    command.args(["-t2", "-c50", &format!("-d{seconds}s"), "--latency"]);
    if let Some(script) = script {
        command.arg("-s").arg(script);
    }
    let output = command.arg(url).output().ok()?;
    let text = String::from_utf8_lossy(&output.stdout).to_string();
    let field = |prefix: &str| {
        text.lines()
            .map(str::trim)
            .find(|l| l.starts_with(prefix))
            .and_then(|l| l.split_whitespace().nth(1))
            .unwrap_or("?")
            .to_string()
    };
    let errors = text
        .lines()
        .find(|l| l.contains("Non-2xx") || l.contains("Socket errors"));
    if let Some(errors) = errors {
        eprintln!("wrk {url}: {}", errors.trim());
    }
    Some((field("Requests/sec:"), field("50%"), field("99%")))
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let events = arg(&args, "--events", 4_000_000);
    let rounds = arg(&args, "--rounds", 3);
    let seconds = arg(&args, "--seconds", 10);
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    let server = Server::start(ServerConfig {
        lake: lake.display().to_string(),
        bind: SocketAddr::from(([127, 0, 0, 1], 0)),
        state: dir.path().join("state"),
        token: None,
        insecure_no_auth: false,
        limits: weir_sql::Limits::default(),
    })
    .await
    .unwrap();
    let url = format!("http://{}", server.local_addr().unwrap());
    tokio::spawn(server.serve(std::future::pending()));
    let client = reqwest::Client::new();

    println!("## weir run vs weir server: {events} bids into Delta, parallelism 2\n");
    println!("| round | weir run (events/s) | weir server (events/s) | server / run | CPU s run / server |");
    println!("|---|---|---|---|---|");
    reset_peak();
    let (mut run_total, mut server_total) = (Duration::ZERO, Duration::ZERO);
    for round in 1..=rounds {
        let ran = job(
            &format!("run{round}"),
            &lake.join(format!("run{round}")),
            events,
            0,
        );
        let cpu = cpu_seconds();
        let run = under_run(&ran, &dir.path().join(format!("cp-run{round}"))).await;
        let run_cpu = cpu_seconds() - cpu;
        let name = format!("served{round}");
        let served = job(&name, &lake.join(&name), events, 0);
        let cpu = cpu_seconds();
        let serve = under_server(&client, &url, &name, &served).await;
        let serve_cpu = cpu_seconds() - cpu;
        run_total += run;
        server_total += serve;
        let rate = |d: Duration| events as f64 / d.as_secs_f64();
        println!(
            "| {round} | {:.0} | {:.0} | {:.3} | {run_cpu:.1} / {serve_cpu:.1} |",
            rate(run),
            rate(serve),
            rate(serve) / rate(run)
        );
    }
    println!(
        "\nIn all: weir run {:.2} s, weir server {:.2} s: the server's overhead is {:+.1}%.\n",
        run_total.as_secs_f64(),
        server_total.as_secs_f64(),
        (server_total.as_secs_f64() / run_total.as_secs_f64() - 1.0) * 100.0
    );

    // A small table for the query, and a job that keeps running for the job view.
    let small = job("small", &lake.join("small"), 10_000, 0);
    under_server(&client, &url, "small", &small).await;
    let live = job("live", &lake.join("live"), 1_000_000_000, 2_000);
    let submitted = client
        .post(format!("{url}/api/v1/jobs"))
        .body(live)
        .send()
        .await
        .unwrap();
    assert_eq!(submitted.status(), 201);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let script = dir.path().join("sql.lua");
    std::fs::write(
        &script,
        "wrk.method = \"POST\"\nwrk.headers[\"Content-Type\"] = \"application/json\"\n\
         wrk.body = '{\"query\": \"SELECT count(*) AS bids, max(price) AS top FROM small\"}'\n",
    )
    .unwrap();
    println!("## Requests under 50 concurrent connections ({seconds} s each, wrk -t2 -c50)\n");
    println!("| request | requests/s | p50 | p99 |");
    println!("|---|---|---|---|");
    let detail = format!("{url}/api/v1/jobs/live");
    let sql = format!("{url}/api/v1/sql");
    let wrk_in_blocking = |target: String, script: Option<std::path::PathBuf>| {
        tokio::task::spawn_blocking(move || wrk(&target, seconds, script.as_deref()))
    };
    match wrk_in_blocking(detail, None).await.unwrap() {
        Some((rps, p50, p99)) => println!("| GET /api/v1/jobs/{{id}} | {rps} | {p50} | {p99} |"),
        None => println!("| (wrk is not installed: `apt-get install wrk`) | | | |"),
    }
    if let Some((rps, p50, p99)) = wrk_in_blocking(sql, Some(script)).await.unwrap() {
        println!("| POST /api/v1/sql (count, max over 10,000 rows) | {rps} | {p50} | {p99} |");
    }
    println!(
        "\nPeak memory of this process (server, jobs and all): {:.0} MiB",
        peak_mib()
    );
    // The live job is still running: end the process without tearing its tasks down.
    std::process::exit(0);
}
