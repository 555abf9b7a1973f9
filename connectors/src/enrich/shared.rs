//! The dimension table one process shares between the subtasks of an `enrich` node, and
//! its reloads.
//!
//! Every subtask reads the same [`LookupTable`] through an `Arc`. On the batch path a
//! subtask looks, at most once per `reload_interval` for the whole node, whether the table
//! changed; the look (a `stat`, or a Delta version listing) and any reload run as a
//! background task owned by the [`Dimension`] (aborted when it is dropped), so a batch
//! never waits for I/O. A finished reload is swapped in by the next batch. A reload that
//! fails keeps the version loaded before, logs a warning naming the table and the error,
//! and counts in [`Dimension::failed_reloads`]; the same broken version is not tried
//! again until its stamp changes.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use tokio::sync::Mutex;
use tokio::task::{JoinError, JoinSet};

use super::dimension::{DimensionSource, Stamp};
use super::lookup::{LookupTable, Shape};
use crate::error::{ConnectorError, Result};

/// What one background check found.
enum Checked {
    Unchanged,
    Loaded(LookupTable),
    Failed {
        /// The stamp of the version that failed, if it could be read.
        stamp: Option<Stamp>,
        error: ConnectorError,
    },
}

struct Reload {
    last_check: Instant,
    /// The stamp of the newest version looked at (loaded or failed).
    seen: Stamp,
    tasks: JoinSet<Checked>,
}

/// A dimension table shared by the subtasks of one `enrich` node in this process.
pub struct Dimension {
    source: DimensionSource,
    shape: Shape,
    interval: Duration,
    current: RwLock<Arc<LookupTable>>,
    reload: Mutex<Reload>,
    reloads: AtomicU64,
    failed_reloads: AtomicU64,
}

impl std::fmt::Debug for Dimension {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dimension")
            .field("source", &self.source)
            .field("reloads", &self.reloads())
            .field("failed_reloads", &self.failed_reloads())
            .finish()
    }
}

impl Dimension {
    /// A shared table starting from `table`, checked for changes every `interval`.
    pub fn new(
        source: DimensionSource,
        shape: Shape,
        interval: Duration,
        table: LookupTable,
    ) -> Self {
        Self {
            source,
            shape,
            interval,
            reload: Mutex::new(Reload {
                last_check: Instant::now(),
                seen: table.stamp.clone(),
                tasks: JoinSet::new(),
            }),
            current: RwLock::new(Arc::new(table)),
            reloads: AtomicU64::new(0),
            failed_reloads: AtomicU64::new(0),
        }
    }

    /// The version lookups use now.
    pub fn current(&self) -> Arc<LookupTable> {
        self.current
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// Reloads that replaced the table since the job started.
    pub fn reloads(&self) -> u64 {
        self.reloads.load(Ordering::Relaxed)
    }

    /// Reloads that failed (the table kept its previous version).
    pub fn failed_reloads(&self) -> u64 {
        self.failed_reloads.load(Ordering::Relaxed)
    }

    /// Swaps in a finished reload and starts a check when one is due. Never waits: when
    /// another subtask is doing this, it returns at once.
    pub fn poll_reload(&self) {
        let Ok(mut reload) = self.reload.try_lock() else {
            return;
        };
        while let Some(done) = reload.tasks.try_join_next() {
            self.apply(&mut reload, done);
        }
        if reload.tasks.is_empty() && reload.last_check.elapsed() >= self.interval {
            reload.last_check = Instant::now();
            let source = self.source.clone();
            let shape = self.shape.clone();
            let seen = reload.seen.clone();
            reload.tasks.spawn(check(source, shape, seen));
        }
    }

    /// Waits for the check running in the background, if any, and swaps in its result.
    pub async fn wait_for_reload(&self) {
        let mut reload = self.reload.lock().await;
        while let Some(done) = reload.tasks.join_next().await {
            self.apply(&mut reload, done);
        }
    }

    fn apply(&self, reload: &mut Reload, done: std::result::Result<Checked, JoinError>) {
        let (stamp, error) = match done {
            Ok(Checked::Unchanged) => return,
            Ok(Checked::Loaded(table)) => {
                reload.seen = table.stamp.clone();
                *self
                    .current
                    .write()
                    .unwrap_or_else(|poisoned| poisoned.into_inner()) = Arc::new(table);
                self.reloads.fetch_add(1, Ordering::Relaxed);
                tracing::info!(table = %self.source.path, "enrich: reloaded the dimension table");
                return;
            }
            Ok(Checked::Failed { stamp, error }) => (stamp, error.to_string()),
            Err(e) => (None, e.to_string()),
        };
        if let Some(stamp) = stamp {
            reload.seen = stamp;
        }
        let failed = self.failed_reloads.fetch_add(1, Ordering::Relaxed) + 1;
        tracing::warn!(
            table = %self.source.path,
            error = %error,
            failed_reloads = failed,
            "enrich: reloading the dimension table failed; keeping the version loaded before"
        );
    }
}

/// Loads the table again if its stamp is no longer `seen`.
async fn check(source: DimensionSource, shape: Shape, seen: Stamp) -> Checked {
    let stamp = match source.stamp().await {
        Ok(stamp) if stamp == seen => return Checked::Unchanged,
        Ok(stamp) => stamp,
        Err(error) => return Checked::Failed { stamp: None, error },
    };
    let loaded: Result<LookupTable> = async {
        let (batch, stamp) = source.read().await?;
        LookupTable::build(&batch, &shape, stamp, &source.path)
    }
    .await;
    match loaded {
        Ok(table) => Checked::Loaded(table),
        Err(error) => Checked::Failed {
            stamp: Some(stamp),
            error,
        },
    }
}
