//! The commands that speak to a running `weir server`: `weir submit job.yaml`, `weir
//! jobs`, `weir job ID`, `weir stop ID [--savepoint DIR]`, `weir cancel ID` and `weir
//! resume ID`. Each prints a table for people, or the server's JSON with `--json`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{anyhow, Context, Result};
use clap::Args;
use serde_json::Value;

use crate::terminal::aligned;

/// Where the server is.
#[derive(Debug, Args)]
pub struct Connection {
    /// The server's URL [default: $WEIR_SERVER, else http://127.0.0.1:8080].
    #[arg(long, value_name = "URL")]
    server: Option<String>,
    /// A file holding the server's bearer token [default: $WEIR_TOKEN].
    #[arg(long, value_name = "FILE")]
    token_file: Option<PathBuf>,
    /// Print the server's answer as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub struct SubmitArgs {
    /// The job file (YAML).
    job: PathBuf,
    #[command(flatten)]
    connection: Connection,
}

#[derive(Debug, Args)]
pub struct JobsArgs {
    #[command(flatten)]
    connection: Connection,
}

#[derive(Debug, Args)]
pub struct JobArgs {
    /// The job's id (its name).
    id: String,
    #[command(flatten)]
    connection: Connection,
}

#[derive(Debug, Args)]
pub struct StopArgs {
    /// The job's id (its name).
    id: String,
    /// Also copy the final checkpoint to this savepoint location.
    #[arg(long, value_name = "DIR")]
    savepoint: Option<String>,
    #[command(flatten)]
    connection: Connection,
}

impl Connection {
    fn url(&self, path: &str) -> String {
        let base = self
            .server
            .clone()
            .or_else(|| std::env::var("WEIR_SERVER").ok())
            .unwrap_or_else(|| "http://127.0.0.1:8080".into());
        format!("{}/api/v1{path}", base.trim_end_matches('/'))
    }

    /// Sends a request; the JSON answer, or the server's error (with a job file's
    /// mistakes one per line).
    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<String>,
    ) -> Result<Value> {
        let url = self.url(path);
        let mut request = reqwest::Client::new().request(method, &url);
        if let Some(token) = crate::server::token(self.token_file.as_ref())? {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        if let Some(body) = body {
            request = request
                .header("content-type", "application/yaml")
                .body(body);
        }
        let response = request.send().await.with_context(|| {
            format!("no answer from the server at {url} (is `weir server` running?)")
        })?;
        let status = response.status();
        let text = response.text().await?;
        let value: Value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text)
                .with_context(|| format!("the server at {url} answered {status}: {text}"))?
        };
        if status.is_success() {
            return Ok(value);
        }
        let mut message = value["error"].as_str().unwrap_or(&text).to_string();
        for mistake in value["mistakes"].as_array().into_iter().flatten() {
            message.push_str(&format!(
                "\n{}: {}",
                mistake["location"].as_str().unwrap_or_default(),
                mistake["message"].as_str().unwrap_or_default()
            ));
        }
        Err(anyhow!(message))
    }
}

fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => "-".into(),
        Value::Number(n) => match n.as_f64() {
            Some(f) if n.is_f64() => format!("{f:.1}"),
            _ => n.to_string(),
        },
        other => other.to_string(),
    }
}

fn summary_row(job: &Value) -> Vec<String> {
    let checkpoint = &job["last_checkpoint"];
    vec![
        text(&job["id"]),
        text(&job["kind"]),
        text(&job["status"]),
        format!("{:.0}", job["rows_per_second"].as_f64().unwrap_or(0.0)),
        text(&job["restarts"]),
        if checkpoint.is_null() {
            "-".into()
        } else {
            format!(
                "{} ({:.0} ms)",
                text(&checkpoint["id"]),
                checkpoint["duration_ms"].as_f64().unwrap_or(0.0)
            )
        },
    ]
}

const SUMMARY: [&str; 6] = [
    "id",
    "kind",
    "status",
    "rows/s",
    "restarts",
    "last checkpoint",
];

fn print_detail(job: &Value) {
    print!("{}", aligned(&SUMMARY, &[summary_row(job)]));
    if let Some(failure) = job["failure"].as_str() {
        println!("failure: {failure}");
    }
    let nodes: Vec<Vec<String>> = job["nodes"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|n| {
            vec![
                text(&n["name"]),
                text(&n["role"]),
                text(&n["kind"]),
                text(&n["parallelism"]),
                text(&n["rows_in"]),
                text(&n["rows_out"]),
                format!("{:.0}", n["rows_out_per_second"].as_f64().unwrap_or(0.0)),
                text(&n["dead_letters"]),
                text(&n["late_rows"]),
                format!("{:.0}%", 100.0 * n["backpressure"].as_f64().unwrap_or(0.0)),
                n["watermark_lag_ms"]
                    .as_i64()
                    .map_or("-".into(), |ms| format!("{:.1}s", ms as f64 / 1000.0)),
            ]
        })
        .collect();
    println!();
    print!(
        "{}",
        aligned(
            &[
                "node",
                "role",
                "type",
                "parallelism",
                "rows in",
                "rows out",
                "out/s",
                "dead letters",
                "late",
                "watermark lag"
            ],
            &nodes
        )
    );
    let events: Vec<Vec<String>> = job["events"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| {
            let time = e["time_ms"].as_i64().map(clock).unwrap_or_default();
            vec![
                time,
                text(&e["event"]),
                e["detail"].as_str().unwrap_or("").to_string(),
            ]
        })
        .collect();
    println!();
    print!("{}", aligned(&["time", "event", "detail"], &events));
}

/// `ms` since the Unix epoch as `HH:MM:SS` UTC.
fn clock(ms: i64) -> String {
    let seconds = ms.div_euclid(1000).rem_euclid(86_400);
    format!(
        "{:02}:{:02}:{:02}",
        seconds / 3600,
        seconds / 60 % 60,
        seconds % 60
    )
}

/// `text` percent-encoded for a URL's query.
fn percent(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'/' => {
                (b as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

pub async fn submit(args: SubmitArgs) -> Result<ExitCode> {
    let definition = std::fs::read_to_string(&args.job)
        .with_context(|| format!("reading {}", args.job.display()))?;
    let file = percent(&args.job.display().to_string());
    let job = args
        .connection
        .send(
            reqwest::Method::POST,
            &format!("/jobs?file={file}"),
            Some(definition),
        )
        .await?;
    if args.connection.json {
        println!("{job}");
    } else {
        println!(
            "submitted job '{}': {}",
            text(&job["id"]),
            text(&job["status"])
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn jobs(args: JobsArgs) -> Result<ExitCode> {
    let jobs = args
        .connection
        .send(reqwest::Method::GET, "/jobs", None)
        .await?;
    if args.connection.json {
        println!("{jobs}");
    } else {
        let rows: Vec<Vec<String>> = jobs
            .as_array()
            .into_iter()
            .flatten()
            .map(summary_row)
            .collect();
        print!("{}", aligned(&SUMMARY, &rows));
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn job(args: JobArgs) -> Result<ExitCode> {
    let job = args
        .connection
        .send(reqwest::Method::GET, &format!("/jobs/{}", args.id), None)
        .await?;
    if args.connection.json {
        println!("{job}");
    } else {
        print_detail(&job);
    }
    Ok(ExitCode::SUCCESS)
}

/// Prints the job a lifecycle request answered with.
fn ended(connection: &Connection, job: &Value) {
    if connection.json {
        println!("{job}");
        return;
    }
    let detail = job["events"]
        .as_array()
        .and_then(|e| e.last())
        .and_then(|e| e["detail"].as_str())
        .map(|d| format!(" ({d})"))
        .unwrap_or_default();
    println!(
        "job '{}': {}{detail}",
        text(&job["id"]),
        text(&job["status"])
    );
}

pub async fn stop(args: StopArgs) -> Result<ExitCode> {
    let path = match &args.savepoint {
        Some(location) => format!("/jobs/{}/stop?savepoint={}", args.id, percent(location)),
        None => format!("/jobs/{}/stop", args.id),
    };
    post(&args.connection, &path).await
}

/// `weir cancel ID` or `weir resume ID`: `action` is the request's last path segment.
pub async fn act(args: JobArgs, action: &str) -> Result<ExitCode> {
    post(&args.connection, &format!("/jobs/{}/{action}", args.id)).await
}

/// POSTs to the job at `path` and says how it is now.
async fn post(connection: &Connection, path: &str) -> Result<ExitCode> {
    let job = connection.send(reqwest::Method::POST, path, None).await?;
    ended(connection, &job);
    Ok(ExitCode::SUCCESS)
}
