//! The jobs a server hosts. Each job is a [`JobHandle`] (the lifecycle `weir run` uses:
//! restarts, stop with a final checkpoint, cancel) plus a record in the [`JobStore`]; a
//! watcher task per run writes how the run went (started, restored, restarting, ended)
//! into the record and the job's history. The record says whether the job should run,
//! so a server started again resumes exactly the jobs that were running, each from its
//! newest checkpoint.
//!
//! A job with a `schedule:` runs at its times instead of at once: the server ticks every
//! second, starts a run when one is due and none is going (a due time during a run is
//! recorded as `skipped`, never queued), and on start reports the runs missed while it
//! was down and runs them per the schedule's `catch_up`. Its record keeps the newest due
//! time handled.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::watch;
use weir_engine::JobMetrics;
use weir_jobs::schedule::{CatchUp, Schedule};
use weir_jobs::{JobDefinition, JobHandle, JobOutcome, JobStatus, StartOptions};

use weir_jobs::backfill::{Backfill, BackfillProgress, DateReport};

use crate::backfills::{self, BackfillRequest, BackfillView, Backfills};
use crate::error::{MistakeView, Result, ServerError};
use crate::prometheus::JobCounters;
use crate::rates::Rates;
use crate::record::{Desired, Ended, Graph, JobEvent, JobRecord};
use crate::store::JobStore;
use crate::view::{self, CheckpointView, JobDetail, JobSummary};

/// How often a watcher looks for restarts.
const RESTART_POLL: Duration = Duration::from_millis(250);
/// The most missed runs a restarted server counts for one scheduled job.
const MISSED_COUNTED: usize = 10_000;

/// The jobs of a server.
#[derive(Debug)]
pub struct Jobs {
    store: JobStore,
    /// Where the checkpoints of jobs whose file names no location go, one folder each.
    checkpoints: PathBuf,
    entries: Mutex<BTreeMap<String, Entry>>,
    /// Set once the server stops: runs ending now end because of it, and the jobs stay
    /// to be resumed.
    shutting_down: AtomicBool,
    backfills: Backfills,
}

#[derive(Debug)]
struct Entry {
    record: JobRecord,
    definition: String,
    /// The newest run, if the job ran since the server started.
    handle: Option<JobHandle>,
    /// Counts the runs; a watcher writes only while its run is the newest.
    run: u64,
    /// Becomes true once the newest run's watcher wrote how it ended.
    recorded: watch::Receiver<bool>,
    rates: Rates,
    /// The job's schedule, when it has one.
    schedule: Option<Schedule>,
    /// A scheduled job's next run time, while its schedule is active.
    next_due: Option<DateTime<Utc>>,
    /// Runs owed to a scheduled job (missed ones to catch up, a due one), started one at
    /// a time.
    pending_runs: usize,
}

impl Entry {
    fn is_running(&self) -> bool {
        self.handle
            .as_ref()
            .is_some_and(|h| h.status() != JobStatus::Ended)
            || !*self.recorded.borrow()
    }

    fn status(&self) -> String {
        let ended = || match &self.record.ended {
            Some(Ended::Finished) => "finished",
            Some(Ended::Stopped { .. }) | None => "stopped",
            Some(Ended::Cancelled) => "cancelled",
            Some(Ended::Failed { .. }) => "failed",
        };
        let idle = self
            .handle
            .as_ref()
            .is_none_or(|h| h.status() == JobStatus::Ended)
            && *self.recorded.borrow();
        if idle && self.schedule.is_some() {
            // Between runs: waiting for the next, or paused.
            return match self.record.desired {
                Desired::Running => "scheduled",
                Desired::Stopped => "stopped",
            }
            .into();
        }
        let Some(handle) = &self.handle else {
            return ended().into();
        };
        match handle.status() {
            JobStatus::Starting => "starting",
            JobStatus::Running => "running",
            JobStatus::Restarting { .. } => "restarting",
            JobStatus::Stopping => "stopping",
            JobStatus::Ended if *self.recorded.borrow() => ended(),
            JobStatus::Ended => "stopping",
        }
        .into()
    }

    fn metrics(&self) -> Option<Arc<JobMetrics>> {
        self.handle.as_ref().and_then(JobHandle::metrics)
    }

    fn summary(&self) -> JobSummary {
        let metrics = self.metrics();
        let restarts = self.handle.as_ref().map_or(0, JobHandle::restarts);
        view::summary(
            &self.record,
            self.status(),
            self.next_due.map(|d| d.timestamp_millis()),
            metrics.as_deref(),
            restarts,
            &self.rates,
        )
    }
}

impl Entry {
    /// A job not running yet.
    fn new(record: JobRecord, definition: String) -> Self {
        let (_, recorded) = watch::channel(true);
        let schedule = JobDefinition::from_yaml(&definition, &format!("{}.yaml", record.id), env)
            .ok()
            .and_then(|job| job.schedule);
        Self {
            record,
            definition,
            handle: None,
            run: 0,
            recorded,
            rates: Rates::default(),
            schedule,
            next_due: None,
            pending_runs: 0,
        }
    }
}

/// The environment `${VAR}` in job files reads: the server's.
fn env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

impl Jobs {
    /// The jobs kept in `store`, not started yet (see [`Jobs::resume_all`]).
    pub fn open(store: JobStore) -> Result<Arc<Self>> {
        let checkpoints = store.root().join("checkpoints");
        let mut entries = BTreeMap::new();
        for (record, definition) in store.load()? {
            entries.insert(record.id.clone(), Entry::new(record, definition));
        }
        Ok(Arc::new(Self {
            store,
            checkpoints,
            entries: Mutex::new(entries),
            shutting_down: AtomicBool::new(false),
            backfills: Backfills::default(),
        }))
    }

    fn entries(&self) -> MutexGuard<'_, BTreeMap<String, Entry>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn event(&self, id: &str, event: &str, detail: Option<String>) {
        if let Err(e) = self.store.append_event(id, &JobEvent::new(event, detail)) {
            tracing::error!(job = id, "{e}");
        }
    }

    fn save(&self, record: &JobRecord) {
        if let Err(e) = self.store.save(record) {
            tracing::error!(job = %record.id, "{e}");
        }
    }

    /// Starts every job that should run (it was running when the server last stopped or
    /// was killed), each from its newest checkpoint; a scheduled job's missed runs are
    /// reported and owed per its `catch_up`.
    pub fn resume_all(self: &Arc<Self>) -> Result<()> {
        let now = Utc::now();
        let mut resumed = Vec::new();
        let mut missed = Vec::new();
        {
            let mut entries = self.entries();
            for entry in entries.values_mut() {
                if entry.record.desired != Desired::Running {
                    continue;
                }
                let Some(schedule) = entry.schedule.clone() else {
                    resumed.push(entry.record.id.clone());
                    continue;
                };
                let since = entry
                    .record
                    .last_due_ms
                    .unwrap_or(entry.record.submitted_ms);
                let since = DateTime::from_timestamp_millis(since).unwrap_or(now);
                let due = schedule.due_between(since, now, MISSED_COUNTED);
                if let (Some(first), Some(last)) = (due.first(), due.last()) {
                    entry.pending_runs = match schedule.catch_up {
                        CatchUp::Latest => 1,
                        CatchUp::All => due.len(),
                        CatchUp::None => 0,
                    };
                    entry.record.last_due_ms = Some(last.timestamp_millis());
                    self.save(&entry.record);
                    missed.push((
                        entry.record.id.clone(),
                        format!(
                            "{} runs missed while the server was down ({first} to {last}); running {}",
                            due.len(),
                            entry.pending_runs
                        ),
                    ));
                }
                entry.next_due = schedule.next_after(now);
            }
        }
        for (id, detail) in missed {
            self.event(&id, "missed", Some(detail));
        }
        for id in resumed {
            self.event(&id, "resumed", Some("the server started".into()));
            self.launch(&id)?;
        }
        self.resume_backfills()
    }

    /// Starts again every backfill a stop or a kill interrupted.
    fn resume_backfills(self: &Arc<Self>) -> Result<()> {
        let ids: Vec<String> = self.entries().keys().cloned().collect();
        for id in ids {
            for file in backfills::progress_files(&self.store.backfills(&id))? {
                let progress =
                    BackfillProgress::load(&file).map_err(|e| ServerError::Store(e.to_string()))?;
                let Some(progress) = progress.filter(|p| !p.is_over()) else {
                    continue;
                };
                let request = BackfillRequest {
                    from: progress.from,
                    to: progress.to,
                    parallel: progress.parallel,
                    fresh: false,
                };
                self.event(
                    &id,
                    "backfill_resumed",
                    Some(format!(
                        "{} to {}: the server started",
                        request.from, request.to
                    )),
                );
                if let Err(e) = self.backfill(&id, request) {
                    self.event(&id, "backfill_failed", Some(e.to_string()));
                }
            }
        }
        Ok(())
    }

    /// Starts a backfill of job `id`'s file over the dates of `request` (see
    /// [`weir_jobs::backfill`]); its dates' changes go into the job's history.
    pub fn backfill(self: &Arc<Self>, id: &str, request: BackfillRequest) -> Result<BackfillView> {
        let (text, checkpoints) = {
            let entries = self.entries();
            let entry = entries
                .get(id)
                .ok_or_else(|| ServerError::NoSuchJob(id.into()))?;
            (
                entry.definition.clone(),
                entry.record.checkpoint_location.clone(),
            )
        };
        let backfill = Backfill::new(
            &text,
            &format!("{id}.yaml"),
            &request.from,
            &request.to,
            request.parallel,
            Arc::new(env),
        )
        .map_err(|e| ServerError::BadRequest(e.to_string()))?;
        let dates = backfill.dates();
        let file = backfills::progress_file(
            &self.store.backfills(id),
            &dates[0],
            &dates[dates.len() - 1],
        );
        let backfill = backfill
            .with_checkpoints(&format!("{}/backfill", checkpoints.trim_end_matches('/')))
            .with_progress_file(file);
        let range = format!("{} to {}", request.from, request.to);
        let jobs = Arc::downgrade(self);
        let job = id.to_string();
        let report: DateReport = Arc::new(move |date, progress| {
            if let Some(jobs) = jobs.upgrade() {
                jobs.event(&job, "backfill_date", Some(progress.describe(date)));
            }
        });
        let jobs = Arc::downgrade(self);
        let job = id.to_string();
        let finished_range = range.clone();
        let finished = Box::new(
            move |outcome: std::result::Result<BackfillProgress, String>| {
                let Some(jobs) = jobs.upgrade() else { return };
                match outcome {
                    Ok(progress) => {
                        let (done, failed, running, pending) = progress.counts();
                        let event = if progress.is_over() {
                            "backfill_finished"
                        } else {
                            "backfill_stopped"
                        };
                        jobs.event(
                            &job,
                            event,
                            Some(format!(
                                "{finished_range}: {done} done, {failed} failed, {} not finished",
                                running + pending
                            )),
                        );
                    }
                    Err(e) => jobs.event(
                        &job,
                        "backfill_failed",
                        Some(format!("{finished_range}: {e}")),
                    ),
                }
            },
        );
        let view = self
            .backfills
            .start(backfill, request.fresh, report, finished)?;
        self.event(
            id,
            "backfill_started",
            Some(format!("{range}, {} at a time", request.parallel)),
        );
        Ok(view)
    }

    /// Job `id`'s backfills with their progress.
    pub fn backfills(&self, id: &str) -> Result<Vec<BackfillView>> {
        if !self.entries().contains_key(id) {
            return Err(ServerError::NoSuchJob(id.into()));
        }
        self.backfills.list(&self.store.backfills(id))
    }

    /// Starts the runs of scheduled jobs that are due (one at a time per job; a due time
    /// during a run is skipped). Called every second.
    pub fn tick(self: &Arc<Self>) {
        if self.shutting_down.load(Ordering::Relaxed) {
            return;
        }
        let now = Utc::now();
        let mut skipped = Vec::new();
        let mut due = Vec::new();
        {
            let mut entries = self.entries();
            for entry in entries.values_mut() {
                let Some(schedule) = entry.schedule.clone() else {
                    continue;
                };
                if entry.record.desired != Desired::Running {
                    continue;
                }
                if let Some(at) = entry.next_due.filter(|at| *at <= now) {
                    entry.next_due = schedule.next_after(now);
                    entry.record.last_due_ms = Some(at.timestamp_millis());
                    self.save(&entry.record);
                    if entry.is_running() {
                        skipped.push((entry.record.id.clone(), at));
                    } else {
                        entry.pending_runs += 1;
                    }
                }
                if entry.pending_runs > 0 && !entry.is_running() {
                    entry.pending_runs -= 1;
                    due.push(entry.record.id.clone());
                }
            }
        }
        for (id, at) in skipped {
            self.event(
                &id,
                "skipped",
                Some(format!(
                    "the run due at {at} was skipped: the previous run is still going"
                )),
            );
        }
        for id in due {
            self.event(&id, "scheduled_run", None);
            if let Err(e) = self.launch(&id) {
                tracing::error!(job = %id, "a scheduled run did not start: {e}");
            }
        }
    }

    /// Validates the job file `text` (named `file` in mistakes), stores it and starts it.
    pub async fn submit(self: &Arc<Self>, text: &str, file: &str) -> Result<JobDetail> {
        let outline = weir_jobs::validate(text, file, env)
            .await
            .map_err(|mistakes| {
                ServerError::Invalid(
                    mistakes
                        .into_iter()
                        .map(|m| MistakeView {
                            location: m.location,
                            message: m.message,
                        })
                        .collect(),
                )
            })?;
        let job = JobDefinition::from_yaml(text, file, env)?;
        let id = job.name.clone();
        let server_checkpoints = job.checkpoints.location.is_none();
        let checkpoint_location = match &job.checkpoints.location {
            Some(location) => location.clone(),
            None => self.checkpoints.join(&id).display().to_string(),
        };
        let record = JobRecord {
            id: id.clone(),
            kind: kind_name(&job),
            submitted_ms: crate::record::now_ms(),
            desired: Desired::Running,
            ended: None,
            checkpoint_location,
            server_checkpoints,
            graph: Graph::from(&outline),
            last_due_ms: None,
        };
        let first_run = {
            let mut entries = self.entries();
            if entries.contains_key(&id) {
                return Err(ServerError::Conflict(format!(
                    "a job named '{id}' exists: stop and delete it first, or rename the job"
                )));
            }
            self.store.create(&record, text)?;
            let mut entry = Entry::new(record, text.to_string());
            // An interval runs at once, a cron pattern at its next time.
            entry.next_due = match &entry.schedule {
                Some(schedule) if schedule.every.is_some() => Some(Utc::now()),
                Some(schedule) => schedule.next_after(Utc::now()),
                None => None,
            };
            let first_run = entry.schedule.as_ref().map(|_| entry.next_due);
            entries.insert(id.clone(), entry);
            first_run
        };
        self.event(&id, "submitted", None);
        match first_run {
            Some(next) => {
                let next = next.map_or("never".into(), |at| at.to_string());
                self.event(&id, "scheduled", Some(format!("first run at {next}")));
                self.tick();
            }
            None => self.launch(&id)?,
        }
        self.detail(&id)
    }

    /// Starts a run of job `id` from its newest checkpoint, with a watcher.
    fn launch(self: &Arc<Self>, id: &str) -> Result<()> {
        let mut entries = self.entries();
        let entry = entries
            .get_mut(id)
            .ok_or_else(|| ServerError::NoSuchJob(id.into()))?;
        let mut job = JobDefinition::from_yaml(&entry.definition, &format!("{id}.yaml"), env)?;
        job.checkpoints.location = Some(entry.record.checkpoint_location.clone());
        let handle = JobHandle::start(job, StartOptions::default());
        let (recorded_tx, recorded) = watch::channel(false);
        entry.run += 1;
        entry.handle = Some(handle.clone());
        entry.recorded = recorded;
        entry.record.ended = None;
        entry.record.desired = Desired::Running;
        self.save(&entry.record);
        tokio::spawn(
            self.clone()
                .watch(id.to_string(), entry.run, handle, recorded_tx),
        );
        Ok(())
    }

    /// Writes how run `run` of job `id` goes into its record and history.
    async fn watch(
        self: Arc<Self>,
        id: String,
        run: u64,
        handle: JobHandle,
        recorded: watch::Sender<bool>,
    ) {
        match handle.started().await {
            Ok(Some(restored)) => self.event(
                &id,
                "restored",
                Some(format!(
                    "checkpoint {} at {}",
                    restored.checkpoint_id, restored.location
                )),
            ),
            Ok(None) => self.event(&id, "started", None),
            Err(_) => {}
        }
        let mut restarts = 0;
        let outcome = loop {
            tokio::select! {
                outcome = handle.wait() => break outcome,
                () = tokio::time::sleep(RESTART_POLL) => {
                    if handle.restarts() > restarts {
                        restarts = handle.restarts();
                        if let JobStatus::Restarting { cause, delay, .. } = handle.status() {
                            self.event(&id, "restarting", Some(format!("in {delay:?} after: {cause}")));
                        }
                    }
                }
            }
        };
        let (event, detail, ended) = match outcome {
            JobOutcome::Finished => ("finished", None, Ended::Finished),
            JobOutcome::Stopped { checkpoint } => (
                "stopped",
                Some(format!("final checkpoint {checkpoint}")),
                Ended::Stopped { checkpoint },
            ),
            JobOutcome::Cancelled => ("cancelled", None, Ended::Cancelled),
            JobOutcome::Failed { error, restarts } => {
                let cause = error.to_string();
                (
                    "failed",
                    Some(cause.clone()),
                    Ended::Failed { cause, restarts },
                )
            }
        };
        {
            let mut entries = self.entries();
            if let Some(entry) = entries.get_mut(&id).filter(|e| e.run == run) {
                // A job that finished or failed is not run again (a scheduled one runs
                // at its next time); one stopped by the server's own stop is, when it
                // starts again.
                if entry.schedule.is_none()
                    && matches!(ended, Ended::Finished | Ended::Failed { .. })
                {
                    entry.record.desired = Desired::Stopped;
                }
                entry.record.ended = Some(ended);
                self.save(&entry.record);
            }
        }
        let event = if self.shutting_down.load(Ordering::Relaxed) && event == "stopped" {
            "server_stopped"
        } else {
            event
        };
        self.event(&id, event, detail);
        let _ = recorded.send(true);
    }

    /// Every job, by id.
    pub fn list(&self) -> Vec<JobSummary> {
        self.entries().values().map(Entry::summary).collect()
    }

    /// Job `id` in full.
    pub fn detail(&self, id: &str) -> Result<JobDetail> {
        let entries = self.entries();
        let entry = entries
            .get(id)
            .ok_or_else(|| ServerError::NoSuchJob(id.into()))?;
        let metrics = entry.metrics();
        Ok(JobDetail {
            summary: entry.summary(),
            nodes: view::nodes(&entry.record, metrics.as_deref(), &entry.rates),
            edges: entry.record.graph.edges.clone(),
            checkpoints: metrics
                .map(|m| m.checkpoints().iter().map(CheckpointView::from).collect())
                .unwrap_or_default(),
            events: self.store.events(id)?,
            rows_per_second_history: view::history(&entry.record, &entry.rates),
            definition: entry.definition.clone(),
            sink_tables: Default::default(),
        })
    }

    /// The completed checkpoints of job `id`'s current run.
    pub fn checkpoints(&self, id: &str) -> Result<Vec<CheckpointView>> {
        Ok(self.detail(id)?.checkpoints)
    }

    /// Marks job `id` as not to run (a scheduled job's schedule paused); its running
    /// handle, if a run is going, with the receiver that tells when its end is recorded.
    /// A conflict when an unscheduled job is not running.
    fn halt(&self, id: &str) -> Result<Option<(JobHandle, watch::Receiver<bool>)>> {
        let mut entries = self.entries();
        let entry = entries
            .get_mut(id)
            .ok_or_else(|| ServerError::NoSuchJob(id.into()))?;
        let handle = entry
            .handle
            .clone()
            .filter(|h| h.status() != JobStatus::Ended);
        let paused = entry.schedule.is_some() && entry.record.desired == Desired::Running;
        if handle.is_none() && !paused {
            return Err(ServerError::Conflict(format!("job '{id}' is not running")));
        }
        entry.record.desired = Desired::Stopped;
        entry.next_due = None;
        entry.pending_runs = 0;
        self.save(&entry.record);
        Ok(handle.map(|h| (h, entry.recorded.clone())))
    }

    /// Stops job `id` with a final checkpoint (also copied to `savepoint` when given),
    /// and a scheduled job's schedule; returns once its end is recorded.
    pub async fn stop(&self, id: &str, savepoint: Option<&str>) -> Result<JobDetail> {
        if let Some((handle, mut recorded)) = self.halt(id)? {
            match savepoint {
                Some(location) => handle.stop_with_savepoint(location).await,
                None => handle.stop().await,
            };
            let _ = recorded.wait_for(|done| *done).await;
        } else {
            self.event(id, "stopped", Some("the schedule is paused".into()));
        }
        self.detail(id)
    }

    /// Cancels job `id` at once (and a scheduled job's schedule); it resumes from its
    /// last completed checkpoint.
    pub async fn cancel(&self, id: &str) -> Result<JobDetail> {
        if let Some((handle, mut recorded)) = self.halt(id)? {
            handle.cancel();
            handle.wait().await;
            let _ = recorded.wait_for(|done| *done).await;
        } else {
            self.event(id, "cancelled", Some("the schedule is paused".into()));
        }
        self.detail(id)
    }

    /// Starts job `id` again (stopped, cancelled, failed or finished) from its newest
    /// checkpoint; a scheduled job's schedule starts again with a run now.
    pub async fn resume(self: &Arc<Self>, id: &str) -> Result<JobDetail> {
        let scheduled = {
            let mut entries = self.entries();
            let entry = entries
                .get_mut(id)
                .ok_or_else(|| ServerError::NoSuchJob(id.into()))?;
            if entry.is_running() {
                return Err(ServerError::Conflict(format!("job '{id}' is running")));
            }
            if entry.schedule.is_some() {
                entry.record.desired = Desired::Running;
                entry.next_due = Some(Utc::now());
                self.save(&entry.record);
            }
            entry.schedule.is_some()
        };
        self.event(id, "resumed", None);
        if scheduled {
            self.tick();
        } else {
            self.launch(id)?;
        }
        self.detail(id)
    }

    /// Forgets job `id`, which must not be running; the checkpoints the server kept for
    /// it go too (a location the job file named is left alone).
    pub fn delete(&self, id: &str) -> Result<()> {
        let mut entries = self.entries();
        let entry = entries
            .get(id)
            .ok_or_else(|| ServerError::NoSuchJob(id.into()))?;
        if entry.is_running() {
            return Err(ServerError::Conflict(format!(
                "job '{id}' is running: stop or cancel it first"
            )));
        }
        if self.backfills.any_active_in(&self.store.backfills(id)) {
            return Err(ServerError::Conflict(format!(
                "a backfill of job '{id}' is running: wait for it to end"
            )));
        }
        let checkpoints = entry
            .record
            .server_checkpoints
            .then(|| PathBuf::from(&entry.record.checkpoint_location));
        self.store.remove(id)?;
        entries.remove(id);
        if let Some(folder) = checkpoints.filter(|f| Path::new(f).exists()) {
            std::fs::remove_dir_all(&folder)
                .map_err(|e| ServerError::Store(format!("removing {}: {e}", folder.display())))?;
        }
        Ok(())
    }

    /// Samples every running job's counters, for rates.
    pub fn sample(&self) {
        for entry in self.entries().values_mut() {
            if let Some(metrics) = entry.metrics() {
                entry.rates.sample(&metrics);
            }
        }
    }

    /// Stops every running job with a final checkpoint, side by side, leaving them to be
    /// resumed when the server starts again.
    pub async fn shutdown(&self) {
        self.shutting_down.store(true, Ordering::Relaxed);
        let running: Vec<(JobHandle, watch::Receiver<bool>)> = self
            .entries()
            .values()
            .filter_map(|e| {
                let handle = e.handle.clone()?;
                (handle.status() != JobStatus::Ended).then(|| (handle, e.recorded.clone()))
            })
            .collect();
        let stops = running
            .into_iter()
            .map(|(handle, mut recorded)| async move {
                handle.stop().await;
                let _ = recorded.wait_for(|done| *done).await;
            });
        futures::future::join(futures::future::join_all(stops), self.backfills.shutdown()).await;
    }
}

impl JobCounters for Jobs {
    /// Each job's id, kind, status, restarts and counters.
    fn counters(&self) -> Vec<(JobSummary, Option<Arc<JobMetrics>>)> {
        self.entries()
            .values()
            .map(|e| (e.summary(), e.metrics()))
            .collect()
    }
}

/// A job's kind as the API names it: `stream`, `compact` or `quality`.
pub fn kind_name(job: &JobDefinition) -> String {
    match job.kind {
        weir_jobs::JobKind::Stream => "stream",
        weir_jobs::JobKind::Compact => "compact",
        weir_jobs::JobKind::Quality => "quality",
    }
    .into()
}
