//! `weir server`: hosts jobs behind the REST API of `weir_server` until SIGINT or
//! SIGTERM, which stop every job with a final checkpoint (they resume when the server
//! starts again); a second signal exits at once (code 130), the jobs then resuming from
//! their last completed checkpoints.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::Args;
use weir_server::{Server, ServerConfig};
use weir_sql::Limits;

use crate::sql::{lake_location, parse_bytes};
use crate::stop_signals::StopSignals;

#[derive(Debug, Args)]
pub struct ServerArgs {
    /// The lake's root: a folder, or a URL such as s3://bucket/prefix
    /// [default: $WEIR_LAKE, else ./lake].
    #[arg(long, value_name = "FOLDER_OR_URL")]
    lake: Option<String>,
    /// The address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    bind: SocketAddr,
    /// The folder the server keeps its jobs, their history and checkpoints in
    /// [default: <lake>/_server for a local lake].
    #[arg(long, value_name = "FOLDER")]
    state: Option<PathBuf>,
    /// A file holding the bearer token writes (submit, stop, ...) need [default:
    /// $WEIR_TOKEN, else none].
    #[arg(long, value_name = "FILE")]
    token_file: Option<PathBuf>,
    /// Serve a non-loopback address without a token.
    #[arg(long)]
    insecure_no_auth: bool,
    /// Memory a SQL query may hold at once (e.g. 512MiB, 2GiB).
    #[arg(long, default_value = "1GiB", value_parser = parse_bytes)]
    memory_limit: usize,
    /// Time a SQL statement may take before it is cancelled.
    #[arg(long, default_value = "60s", value_parser = humantime::parse_duration)]
    timeout: Duration,
}

/// The token from `file`, else `$WEIR_TOKEN`; never logged.
pub fn token(file: Option<&PathBuf>) -> Result<Option<String>> {
    let token = match file {
        Some(file) => Some(
            std::fs::read_to_string(file)
                .with_context(|| format!("reading the token file {}", file.display()))?,
        ),
        None => std::env::var("WEIR_TOKEN").ok(),
    };
    Ok(token
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty()))
}

/// The job `weir demo --serve` submits, so the console has something moving: generated
/// bids at 2,000 a second into `<lake>/live/bids`, judged by a quality gate.
const DEMO_LIVE_JOB: &str = "name: live-bids
parallelism: 2
checkpoints: {interval: 2s}
sources:
  bids: {type: generator, kind: bids, events: 1000000000, batch_size: 500, rate_limit: 2000}
sinks:
  lake:
    type: delta
    inputs: [bids]
    table: LAKE/live/bids
    quality:
      rules:
        - {name: has_bidder, severity: warn, completeness: {column: bidder, max_null_fraction: 0}}
";

/// `weir demo --serve`: `weir server` over the demo's lake at `address`, with a live job
/// submitted, until a signal stops it.
pub async fn serve_demo(lake: &std::path::Path, address: SocketAddr) -> Result<()> {
    let root = std::path::absolute(lake)?.display().to_string();
    let args = ServerArgs {
        lake: Some(root.clone()),
        bind: address,
        state: None,
        token_file: None,
        insecure_no_auth: false,
        memory_limit: 1 << 30,
        timeout: Duration::from_secs(60),
    };
    let job = DEMO_LIVE_JOB.replace("LAKE", &root);
    run_with(args, move |jobs| async move {
        if let Err(e) = jobs.submit(&job, "live-bids.yaml").await {
            eprintln!("weir demo: the live job was not submitted: {e}");
        }
    })
    .await
}

pub async fn run(args: ServerArgs) -> Result<()> {
    run_with(args, |_| async {}).await
}

/// Runs the server of `args`; `started` is called with its jobs once it listens.
async fn run_with<F: std::future::Future<Output = ()> + Send + 'static>(
    args: ServerArgs,
    started: impl FnOnce(std::sync::Arc<weir_server::registry::Jobs>) -> F,
) -> Result<()> {
    let lake = lake_location(args.lake);
    let state = match args.state {
        Some(state) => state,
        None if lake.contains("://") && !lake.starts_with("file://") => {
            bail!("a lake at {lake} keeps no server state: give --state FOLDER")
        }
        None => PathBuf::from(lake.trim_start_matches("file://")).join("_server"),
    };
    let mut signals = StopSignals::listen()?;
    let server = Server::start(ServerConfig {
        lake: lake.clone(),
        bind: args.bind,
        state: state.clone(),
        token: token(args.token_file.as_ref())?,
        insecure_no_auth: args.insecure_no_auth,
        limits: Limits {
            memory: args.memory_limit,
            timeout: args.timeout,
        },
    })
    .await?;
    eprintln!(
        "weir server: listening on http://{} (lake {lake}, state {}); the web console is at http://{}/",
        server.local_addr()?,
        state.display(),
        server.local_addr()?,
    );
    tokio::spawn(started(server.jobs()));
    let (stopping, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        signals.next().await;
        eprintln!("weir server: stopping every job with a final checkpoint (signal again to exit at once)");
        let _ = stopping.send(());
        signals.next().await;
        std::process::exit(130);
    });
    server
        .serve(async move {
            let _ = stopped.await;
        })
        .await?;
    eprintln!("weir server: stopped");
    Ok(())
}
