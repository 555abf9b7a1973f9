//! Backfills: a bounded job run once per date, oldest first, with `${DATE}` (and
//! `${DATE_START}`, `${DATE_END}`: the date's first instant and the next date's, in UTC)
//! set, each run replacing exactly its date's partition of every Delta table it writes
//! (`replace_partition` on the sink), so running a date again is idempotent.
//!
//! Each date's run has its own checkpoints (`<base>/<date>/run-<n>`) and restart
//! strategy; the dates' states are kept in a progress file (see [`progress`]) after every
//! change. Resuming a backfill runs only the dates not done: a date that was running
//! continues from its last checkpoint (its replacing commit is made once, at the end), a
//! failed one is tried afresh. A failed date does not stop the others.

pub mod progress;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use chrono::{Duration as Days, NaiveDate};
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::definition::JobDefinition;
use crate::error::{JobError, Result};
use crate::interpolate::referenced_variables;
use crate::runner::{JobHandle, JobOutcome, StartOptions};
use crate::sinks::SinkConfig;
pub use progress::{BackfillProgress, DateProgress, DateState};

/// The most dates one backfill covers (ten years).
pub const MAX_DATES: usize = 3_660;
/// The variables a backfill sets for each date.
pub const DATE_VARIABLES: [&str; 3] = ["DATE", "DATE_START", "DATE_END"];

/// Looks up the job file's other variables (the environment, usually).
pub type Variables = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// How a date's state changed, for whoever watches the backfill (a log, a job history).
pub type DateReport = Arc<dyn Fn(&str, &DateProgress) + Send + Sync>;

/// The dates from `from` to `to` (`YYYY-MM-DD`, both included), oldest first.
pub fn dates(from: &str, to: &str) -> Result<Vec<String>> {
    let parse = |what: &str, text: &str| {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|e| {
            JobError::Runner(format!(
                "the backfill's {what} date '{text}' is not a date as 2026-11-01: {e}"
            ))
        })
    };
    let (first, last) = (parse("first", from)?, parse("last", to)?);
    if last < first {
        return Err(JobError::Runner(format!(
            "the backfill's last date {to} is before its first date {from}"
        )));
    }
    let count = (last - first).num_days() as usize + 1;
    if count > MAX_DATES {
        return Err(JobError::Runner(format!(
            "a backfill covers at most {MAX_DATES} dates; {from} to {to} is {count}"
        )));
    }
    Ok(first
        .iter_days()
        .take(count)
        .map(|d| d.format("%Y-%m-%d").to_string())
        .collect())
}

/// The variables of `date`: `DATE`, `DATE_START` and `DATE_END`.
fn variables(date: &str) -> HashMap<&'static str, String> {
    let day = NaiveDate::parse_from_str(date, "%Y-%m-%d").unwrap_or_default();
    let instant = |d: NaiveDate| format!("{}T00:00:00Z", d.format("%Y-%m-%d"));
    HashMap::from([
        ("DATE", date.to_string()),
        ("DATE_START", instant(day)),
        ("DATE_END", instant(day + Days::days(1))),
    ])
}

/// A backfill of one job file over a range of dates.
#[derive(Clone)]
pub struct Backfill {
    text: Arc<str>,
    file: String,
    job: String,
    dates: Vec<String>,
    parallel: usize,
    checkpoints: String,
    progress: PathBuf,
    env: Variables,
}

impl Backfill {
    /// A backfill of the job file `text` (named `file` in errors) from `from` to `to`,
    /// `parallel` dates at a time, with `env` for the file's other variables. Refuses, before
    /// anything runs, a job file that does not use a date variable and a job with a sink
    /// a second run of a date would add to instead of replace: a Delta sink without
    /// `replace_partition`, or a Parquet or Kafka sink.
    ///
    /// Checkpoints default to `<the job's checkpoint location>/backfill`, the progress
    /// file to `progress-<from>_<to>.json` there (a local path is then needed).
    pub fn new(
        text: &str,
        file: &str,
        from: &str,
        to: &str,
        parallel: usize,
        env: Variables,
    ) -> Result<Self> {
        let dates = dates(from, to)?;
        let refuse = |message: String| JobError::Definition {
            location: file.to_string(),
            message,
        };
        if parallel == 0 {
            return Err(JobError::Runner(
                "a backfill runs at least 1 date at a time".into(),
            ));
        }
        let known = |name: &str| DATE_VARIABLES.contains(&name).then(String::new);
        if referenced_variables(text, known).is_empty() {
            return Err(refuse(
                "a backfill needs a job that uses ${DATE}, ${DATE_START} or ${DATE_END}; \
                 this one would do the same for every date"
                    .into(),
            ));
        }
        let mut backfill = Self {
            text: text.into(),
            file: file.to_string(),
            job: String::new(),
            dates,
            parallel,
            checkpoints: String::new(),
            progress: PathBuf::new(),
            env,
        };
        let first = backfill.job_for(&backfill.dates[0].clone())?;
        for (name, sink) in &first.sinks {
            let problem = match &sink.connector {
                SinkConfig::Delta(config) if config.replace_partition.is_empty() => Some(format!(
                    "writes Delta table {} without `replace_partition` (add `replace_partition:` \
                     with `date: ${{DATE}}` on the next line, in block style, so each date's run \
                     replaces its partition)",
                    config.table
                )),
                SinkConfig::Parquet(_) | SinkConfig::Kafka(_) => Some(format!(
                    "writes {}, which a second run of a date would add to (a backfill replaces \
                     partitions of Delta tables)",
                    sink.connector.output()
                )),
                _ => None,
            };
            if let Some(problem) = problem {
                return Err(refuse(format!("sink '{name}' {problem}")));
            }
        }
        backfill.job = first.name.clone();
        let base = first
            .checkpoints
            .location
            .clone()
            .unwrap_or_else(|| format!("checkpoints/{}", first.name));
        backfill.checkpoints = format!("{}/backfill", base.trim_end_matches('/'));
        backfill.progress = PathBuf::from(&backfill.checkpoints).join(format!(
            "progress-{}_{}.json",
            backfill.dates[0],
            backfill.dates[backfill.dates.len() - 1]
        ));
        Ok(backfill)
    }

    /// Keeps each date's checkpoints under `base` instead (`<base>/<date>/run-<n>`).
    pub fn with_checkpoints(mut self, base: &str) -> Self {
        self.checkpoints = base.trim_end_matches('/').to_string();
        self
    }

    /// Keeps the progress in the file at `path` instead.
    pub fn with_progress_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.progress = path.into();
        self
    }

    /// The job's name.
    pub fn job(&self) -> &str {
        &self.job
    }

    /// The dates, oldest first.
    pub fn dates(&self) -> &[String] {
        &self.dates
    }

    /// Where the progress is kept.
    pub fn progress_file(&self) -> &Path {
        &self.progress
    }

    /// The job of `date`: the file read with the date's variables, each Delta sink writing
    /// as its own application (`<app id or job name>-<date>`, so dates running side by side
    /// never share epochs).
    pub fn job_for(&self, date: &str) -> Result<JobDefinition> {
        let variables = variables(date);
        let env = self.env.clone();
        let mut job = JobDefinition::from_yaml(&self.text, &self.file, |name| {
            variables.get(name).cloned().or_else(|| env(name))
        })?;
        for sink in job.sinks.values_mut() {
            if let SinkConfig::Delta(config) = &mut sink.connector {
                let app = if config.app_id.is_empty() {
                    job.name.clone()
                } else {
                    config.app_id.clone()
                };
                config.app_id = format!("{app}-{date}");
            }
        }
        Ok(job)
    }

    /// The progress as kept, or a new one; `fresh` forgets what was done (every date runs
    /// again).
    pub fn load_progress(&self, fresh: bool) -> Result<BackfillProgress> {
        let mut progress = match BackfillProgress::load(&self.progress)? {
            Some(kept) if kept.dates.keys().eq(self.dates.iter()) => kept,
            _ => BackfillProgress::new(&self.job, &self.dates, self.parallel),
        };
        progress.parallel = self.parallel;
        if fresh {
            for date in progress.dates.values_mut() {
                date.state = DateState::Pending;
            }
        }
        Ok(progress)
    }

    /// Runs the dates not done, oldest first, `parallel` at a time, until all are done or
    /// failed, or `stop` turns true (the running dates then stop with a final checkpoint
    /// and stay `running`, to be continued). `report` hears of every change of a date.
    pub async fn run(
        &self,
        fresh: bool,
        mut stop: watch::Receiver<bool>,
        report: DateReport,
    ) -> Result<BackfillProgress> {
        let progress = Arc::new(Mutex::new(self.load_progress(fresh)?));
        let todo: Vec<String> = {
            let progress = lock(&progress);
            progress.save(&self.progress)?;
            progress
                .dates
                .iter()
                .filter(|(_, d)| d.state != DateState::Done)
                .map(|(date, _)| date.clone())
                .collect()
        };
        let mut todo = todo.into_iter();
        let mut running = JoinSet::new();
        loop {
            while running.len() < self.parallel && !*stop.borrow() {
                let Some(date) = todo.next() else { break };
                let backfill = self.clone();
                let (progress, report, stop) = (progress.clone(), report.clone(), stop.clone());
                running
                    .spawn(async move { backfill.run_date(&date, progress, report, stop).await });
            }
            if running.is_empty() {
                break;
            }
            tokio::select! {
                Some(joined) = running.join_next() => {
                    joined.map_err(|e| JobError::Runner(format!("a backfill date's task: {e}")))??;
                }
                _ = stop.changed() => {}
            }
        }
        let done = lock(&progress).clone();
        Ok(done)
    }

    /// Runs `date` to its end (or until `stop`), recording its state before and after.
    async fn run_date(
        &self,
        date: &str,
        progress: Arc<Mutex<BackfillProgress>>,
        report: DateReport,
        mut stop: watch::Receiver<bool>,
    ) -> Result<()> {
        let update = |change: &dyn Fn(&mut DateProgress)| -> Result<DateProgress> {
            let mut progress = lock(&progress);
            let entry = progress
                .dates
                .get_mut(date)
                .ok_or_else(|| JobError::Runner(format!("no date {date} in the backfill")))?;
            change(entry);
            let entry = entry.clone();
            progress.save(&self.progress)?;
            report(date, &entry);
            Ok(entry)
        };
        let runs = update(&|entry| {
            if entry.state != DateState::Running {
                entry.runs += 1;
            }
            entry.state = DateState::Running;
            entry.error = None;
        })?
        .runs;
        let run_checkpoints = format!("{}/{date}/run-{runs}", self.checkpoints);
        let mut job = match self.job_for(date) {
            Ok(job) => job,
            Err(e) => {
                let cause = e.to_string();
                return update(&|entry| failed(entry, &cause, 0)).map(drop);
            }
        };
        job.checkpoints.location = Some(run_checkpoints);
        let handle = JobHandle::start(job, StartOptions::default());
        let stopped = tokio::select! {
            outcome = handle.wait() => Some(outcome),
            _ = stop.wait_for(|stop| *stop) => None,
        };
        let outcome = match stopped {
            Some(outcome) => outcome,
            None => handle.stop().await,
        };
        match outcome {
            JobOutcome::Finished => {
                let restarts = handle.restarts();
                update(&|entry| {
                    entry.state = DateState::Done;
                    entry.restarts = restarts;
                    entry.ended_ms = Some(chrono::Utc::now().timestamp_millis());
                })?;
                let folder = Path::new(&self.checkpoints).join(date);
                if !self.checkpoints.contains("://") && folder.is_dir() {
                    // Best effort: a finished date's checkpoints are never read again.
                    let _ = std::fs::remove_dir_all(folder);
                }
                Ok(())
            }
            JobOutcome::Failed { error, restarts } => {
                let cause = error.to_string();
                update(&|entry| failed(entry, &cause, restarts)).map(drop)
            }
            JobOutcome::Stopped { .. } | JobOutcome::Cancelled => Ok(()),
        }
    }
}

fn failed(entry: &mut DateProgress, cause: &str, restarts: u32) {
    entry.state = DateState::Failed;
    entry.error = Some(cause.to_string());
    entry.restarts = restarts;
    entry.ended_ms = Some(chrono::Utc::now().timestamp_millis());
}

fn lock(progress: &Mutex<BackfillProgress>) -> std::sync::MutexGuard<'_, BackfillProgress> {
    progress.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_run_oldest_first_across_a_month_end() {
        assert_eq!(
            dates("2026-10-30", "2026-11-02").unwrap(),
            ["2026-10-30", "2026-10-31", "2026-11-01", "2026-11-02"]
        );
        assert_eq!(
            variables("2026-10-31"),
            HashMap::from([
                ("DATE", "2026-10-31".to_string()),
                ("DATE_START", "2026-10-31T00:00:00Z".to_string()),
                ("DATE_END", "2026-11-01T00:00:00Z".to_string()),
            ])
        );
        let backwards = dates("2026-11-02", "2026-11-01").unwrap_err().to_string();
        assert!(backwards.contains("last date 2026-11-01 is before its first date 2026-11-02"));
        let wrong = dates("2026-11-31", "2026-12-01").unwrap_err().to_string();
        assert!(wrong.contains("'2026-11-31' is not a date"), "{wrong}");
    }
}
