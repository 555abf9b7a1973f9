//! weir-server: a long-lived service hosting jobs of every kind (stream, compact,
//! quality) in one process, each with its own graph, checkpoints and restart strategy,
//! behind a REST API (`/api/v1`), with the lake's read-only SQL beside them and
//! Prometheus metrics at `/metrics`.
//!
//! Jobs, their status and history are kept in a [`store::JobStore`] folder, so a server
//! killed and started again resumes every job that was running from its newest
//! checkpoint (the sinks' exactly-once commits make that lossless and duplicate-free);
//! a server asked to stop stops every job with a final checkpoint first.

pub mod api;
pub mod backfills;
pub mod console;
pub mod error;
pub mod prometheus;
pub mod rates;
pub mod record;
pub mod registry;
pub mod sessions;
pub mod store;
pub mod view;

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

pub use error::{Result, ServerError};
use weir_sql::{Lake, Limits};

/// How often the jobs' counters are sampled for their rates, and schedules looked at.
const TICK_EVERY: Duration = Duration::from_secs(1);

/// How a server runs.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// The lake's root: a folder or an `s3://` URL.
    pub lake: String,
    pub bind: SocketAddr,
    /// The store's folder (jobs, their history, the checkpoints the server keeps).
    pub state: PathBuf,
    /// The bearer token writes need.
    pub token: Option<String>,
    /// Allows binding a non-loopback address without a token.
    pub insecure_no_auth: bool,
    /// The limits of each SQL statement.
    pub limits: Limits,
}

/// A server bound to its address, its jobs resumed.
#[derive(Debug)]
pub struct Server {
    listener: tokio::net::TcpListener,
    state: Arc<api::AppState>,
}

impl Server {
    /// Opens the store, binds the address and resumes the jobs that should run. Refuses
    /// a non-loopback address without a token unless `insecure_no_auth`.
    pub async fn start(config: ServerConfig) -> Result<Self> {
        if !config.bind.ip().is_loopback() && config.token.is_none() && !config.insecure_no_auth {
            return Err(ServerError::Startup(format!(
                "refusing to serve {} without a token: give --token-file (or WEIR_TOKEN), or --insecure-no-auth",
                config.bind
            )));
        }
        let lake = Lake::open(&config.lake)?;
        let jobs = registry::Jobs::open(store::JobStore::open(&config.state)?)?;
        let listener = tokio::net::TcpListener::bind(config.bind)
            .await
            .map_err(|e| ServerError::Startup(format!("binding {}: {e}", config.bind)))?;
        jobs.resume_all()?;
        let ticked = Arc::downgrade(&jobs);
        tokio::spawn(async move {
            let mut every = tokio::time::interval(TICK_EVERY);
            loop {
                every.tick().await;
                match ticked.upgrade() {
                    Some(jobs) => {
                        jobs.sample();
                        jobs.tick();
                    }
                    None => break,
                }
            }
        });
        Ok(Self {
            listener,
            state: Arc::new(api::AppState {
                jobs,
                sessions: sessions::SessionPool::new(lake, config.limits),
                token: config.token,
            }),
        })
    }

    /// The server's jobs.
    pub fn jobs(&self) -> Arc<registry::Jobs> {
        self.state.jobs.clone()
    }

    /// The address the server listens on (the port chosen when it bound port 0).
    pub fn local_addr(&self) -> Result<SocketAddr> {
        self.listener
            .local_addr()
            .map_err(|e| ServerError::Startup(e.to_string()))
    }

    /// Serves requests until `shutdown` completes, then stops every running job with a
    /// final checkpoint (they resume when the server starts again) and returns.
    pub async fn serve(self, shutdown: impl Future<Output = ()> + Send + 'static) -> Result<()> {
        let jobs = self.state.jobs.clone();
        let router = api::router(self.state);
        axum::serve(self.listener, router)
            .with_graceful_shutdown(shutdown)
            .await
            .map_err(|e| ServerError::Startup(format!("serving: {e}")))?;
        jobs.shutdown().await;
        Ok(())
    }
}
