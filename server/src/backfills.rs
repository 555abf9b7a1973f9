//! Backfills a server runs for its jobs (`POST /jobs/{id}/backfills`): the job's stored
//! file run once per date (see `weir_jobs::backfill`), each backfill's progress in the
//! job's folder of the store (`backfills/<from>_<to>.json`), so a server killed or
//! stopped mid-backfill resumes it, with only the dates not done, when it starts again.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use utoipa::ToSchema;
use weir_jobs::backfill::{Backfill, BackfillProgress, DateReport};

use crate::error::{Result, ServerError};

/// What `POST /jobs/{id}/backfills` asks for.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BackfillRequest {
    /// The first date (YYYY-MM-DD).
    pub from: String,
    /// The last date (YYYY-MM-DD), included.
    pub to: String,
    /// How many dates run at a time (default 1).
    #[serde(default = "one")]
    pub parallel: usize,
    /// Run every date again, whatever was done before (default false).
    #[serde(default)]
    pub fresh: bool,
}

fn one() -> usize {
    1
}

/// One date of a backfill.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BackfillDateView {
    pub date: String,
    /// `pending`, `running`, `done` or `failed`.
    pub state: String,
    pub runs: u32,
    pub restarts: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A backfill and how far it got.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BackfillView {
    pub from: String,
    pub to: String,
    pub parallel: usize,
    /// Whether the server is running it now.
    pub active: bool,
    pub done: usize,
    pub failed: usize,
    pub running: usize,
    pub pending: usize,
    /// Oldest first.
    pub dates: Vec<BackfillDateView>,
}

impl BackfillView {
    fn new(progress: &BackfillProgress, active: bool) -> Self {
        let (done, failed, running, pending) = progress.counts();
        Self {
            from: progress.from.clone(),
            to: progress.to.clone(),
            parallel: progress.parallel,
            active,
            done,
            failed,
            running,
            pending,
            dates: progress
                .dates
                .iter()
                .map(|(date, p)| BackfillDateView {
                    date: date.clone(),
                    state: p.state.name().into(),
                    runs: p.runs,
                    restarts: p.restarts,
                    error: p.error.clone(),
                })
                .collect(),
        }
    }
}

/// The backfills running in a server. Invariant: `active` holds the progress file of
/// every backfill whose task has not ended.
#[derive(Debug)]
pub struct Backfills {
    active: Arc<Mutex<BTreeSet<PathBuf>>>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
    stop: watch::Sender<bool>,
}

impl Default for Backfills {
    fn default() -> Self {
        Self {
            active: Arc::default(),
            tasks: Mutex::default(),
            stop: watch::channel(false).0,
        }
    }
}

/// The progress file of the backfill of `from`..`to` in the job folder `backfills`.
pub fn progress_file(backfills: &Path, from: &str, to: &str) -> PathBuf {
    backfills.join(format!("{from}_{to}.json"))
}

impl Backfills {
    fn active(&self) -> MutexGuard<'_, BTreeSet<PathBuf>> {
        self.active.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts `backfill` (its progress file set) in the background; `finished` is told
    /// how it ended. Refuses a second run of the same backfill while one is going.
    pub fn start(
        &self,
        backfill: Backfill,
        fresh: bool,
        report: DateReport,
        finished: Box<dyn FnOnce(std::result::Result<BackfillProgress, String>) + Send>,
    ) -> Result<BackfillView> {
        let file = backfill.progress_file().to_path_buf();
        if !self.active().insert(file.clone()) {
            return Err(ServerError::Conflict(format!(
                "the backfill of job '{}' from {} to {} is running",
                backfill.job(),
                backfill.dates()[0],
                backfill.dates()[backfill.dates().len() - 1]
            )));
        }
        let view = match backfill.load_progress(fresh) {
            Ok(progress) => BackfillView::new(&progress, true),
            Err(e) => {
                self.active().remove(&file);
                return Err(ServerError::BadRequest(e.to_string()));
            }
        };
        let active = self.active.clone();
        let stop = self.stop.subscribe();
        let task = tokio::spawn(async move {
            let outcome = backfill.run(fresh, stop, report).await;
            active
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&file);
            finished(outcome.map_err(|e| e.to_string()));
        });
        self.tasks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(task);
        Ok(view)
    }

    /// Whether any backfill kept in the folder `backfills` is running.
    pub fn any_active_in(&self, backfills: &Path) -> bool {
        self.active().iter().any(|file| file.starts_with(backfills))
    }

    /// The backfills kept in the folder `backfills`, oldest range first.
    pub fn list(&self, backfills: &Path) -> Result<Vec<BackfillView>> {
        let mut views = Vec::new();
        for file in progress_files(backfills)? {
            if let Some(progress) =
                BackfillProgress::load(&file).map_err(|e| ServerError::Store(e.to_string()))?
            {
                views.push(BackfillView::new(&progress, self.active().contains(&file)));
            }
        }
        Ok(views)
    }

    /// Stops every running backfill: their running dates stop with a final checkpoint and
    /// stay `running`, continued when the server starts again.
    pub async fn shutdown(&self) {
        let _ = self.stop.send(true);
        let tasks = std::mem::take(&mut *self.tasks.lock().unwrap_or_else(|e| e.into_inner()));
        futures::future::join_all(tasks).await;
    }
}

/// The progress files in the folder `backfills`, by name (none when it is missing).
pub fn progress_files(backfills: &Path) -> Result<Vec<PathBuf>> {
    let entries = match std::fs::read_dir(backfills) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => {
            return Err(ServerError::Store(format!(
                "listing {}: {e}",
                backfills.display()
            )))
        }
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    Ok(files)
}
