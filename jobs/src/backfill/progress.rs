//! How far a backfill got: one state per date, kept in a JSON file replaced atomically
//! after every change, so a backfill killed at any point resumes with the dates not yet
//! done.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{JobError, Result};

/// Where one date of a backfill is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DateState {
    /// Not started yet.
    Pending,
    /// Started and not finished: a resumed backfill continues it from its checkpoint.
    Running,
    /// Its run finished: the date's partitions hold its output.
    Done,
    /// Its run failed after the restart strategy's restarts; a resumed backfill runs it
    /// again.
    Failed,
}

impl DateState {
    /// The state's name, as the progress file, the API and the history say it.
    pub fn name(self) -> &'static str {
        match self {
            DateState::Pending => "pending",
            DateState::Running => "running",
            DateState::Done => "done",
            DateState::Failed => "failed",
        }
    }
}

/// One date of a backfill.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DateProgress {
    pub state: DateState,
    /// How many times the date was started afresh (each start has its own checkpoints;
    /// resuming a `running` date continues the last one).
    pub runs: u32,
    /// Restarts of the date's last run after transient failures.
    pub restarts: u32,
    /// Why its last run failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// When its last run ended (milliseconds since the epoch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_ms: Option<i64>,
}

impl DateProgress {
    /// The date's state in a line: `2026-11-01 done (run 1, 0 restarts)`, or with the
    /// error of a failed run.
    pub fn describe(&self, date: &str) -> String {
        let state = self.state.name();
        match &self.error {
            Some(error) => format!("{date} {state} (run {}): {error}", self.runs),
            None => format!(
                "{date} {state} (run {}, {} restarts)",
                self.runs, self.restarts
            ),
        }
    }

    fn pending() -> Self {
        Self {
            state: DateState::Pending,
            runs: 0,
            restarts: 0,
            error: None,
            ended_ms: None,
        }
    }
}

/// A backfill's progress. Invariant: `dates` holds every date from `from` to `to`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BackfillProgress {
    pub job: String,
    /// The first and last date (`YYYY-MM-DD`, inclusive).
    pub from: String,
    pub to: String,
    /// How many dates run at a time.
    #[serde(default = "one")]
    pub parallel: usize,
    /// By date (`YYYY-MM-DD`, so in date order).
    pub dates: BTreeMap<String, DateProgress>,
}

impl BackfillProgress {
    /// A backfill of `job` over `dates`, `parallel` at a time, with nothing done.
    pub fn new(job: &str, dates: &[String], parallel: usize) -> Self {
        Self {
            job: job.to_string(),
            parallel,
            from: dates.first().cloned().unwrap_or_default(),
            to: dates.last().cloned().unwrap_or_default(),
            dates: dates
                .iter()
                .map(|d| (d.clone(), DateProgress::pending()))
                .collect(),
        }
    }

    /// The progress kept at `path`, or `None` when there is no file.
    pub fn load(path: &Path) -> Result<Option<Self>> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(failed(path, "reading", e)),
        };
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| failed(path, "reading", e))
    }

    /// Writes the progress to `path` (a temporary file renamed over it).
    pub fn save(&self, path: &Path) -> Result<()> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| failed(path, "writing", e))?;
        }
        let json = serde_json::to_vec_pretty(self).map_err(|e| failed(path, "writing", e))?;
        let temporary = path.with_extension("json.tmp");
        std::fs::write(&temporary, json)
            .and_then(|()| std::fs::rename(&temporary, path))
            .map_err(|e| failed(path, "writing", e))
    }

    /// Counts of dates by state: (done, failed, running, pending).
    pub fn counts(&self) -> (usize, usize, usize, usize) {
        let count = |state| self.dates.values().filter(|d| d.state == state).count();
        (
            count(DateState::Done),
            count(DateState::Failed),
            count(DateState::Running),
            count(DateState::Pending),
        )
    }

    /// Whether every date is done or failed.
    pub fn is_over(&self) -> bool {
        self.dates
            .values()
            .all(|d| matches!(d.state, DateState::Done | DateState::Failed))
    }
}

fn one() -> usize {
    1
}

fn failed(path: &Path, doing: &str, e: impl std::fmt::Display) -> JobError {
    JobError::Runner(format!(
        "{doing} the backfill progress {}: {e}",
        path.display()
    ))
}
