//! Vacuum: deletes the data files no version within the retention references, as
//! deltalake's vacuum does, in two passes with two ages:
//!
//! 1. files removed by a commit (compaction, overwrite) longer ago than the retention;
//! 2. files no commit ever referenced (a writer's staged files, a failed compaction's
//!    output) only once older than the table's `delta.deletedFileRetentionDuration`
//!    (default 7 days), whatever the retention asked: a streaming writer's staged files
//!    are referenced only when its checkpoint's epoch commits, which a restored job does
//!    from its checkpoint, possibly long after they were written.
//!
//! A retention below `delta.deletedFileRetentionDuration` is refused unless asked for
//! explicitly: readers of versions within it (time travel, a Delta source behind) would
//! miss files.

use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::time::Duration;

use deltalake::operations::vacuum::VacuumMode;
use deltalake::table::config::TablePropertiesExt as _;
use deltalake::DeltaTable;

use crate::error::{LakeError, Result};
use crate::table::open_existing;

/// Vacuums the Delta table at a location; awaited, returns what it deleted (or would).
#[derive(Debug, Clone)]
pub struct Vacuum {
    uri: String,
    retain: Option<Duration>,
    dry_run: bool,
    allow_unsafe_retention: bool,
}

/// What a vacuum deleted, or would delete in a dry run.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct VacuumMetrics {
    pub dry_run: bool,
    /// The retention applied to removed files.
    pub retain: Duration,
    /// Files removed by a commit longer ago than the retention, relative to the table.
    pub removed: Vec<String>,
    /// Files no commit referenced, older than `delta.deletedFileRetentionDuration`.
    pub never_committed: Vec<String>,
}

impl Vacuum {
    /// A vacuum of the table at `uri` with the table's own retention.
    pub fn new(uri: impl Into<String>) -> Self {
        Self {
            uri: uri.into(),
            retain: None,
            dry_run: false,
            allow_unsafe_retention: false,
        }
    }

    /// Keeps the files versions younger than `retain` need.
    pub fn with_retain(mut self, retain: Duration) -> Self {
        self.retain = Some(retain);
        self
    }

    /// Lists what would be deleted; deletes nothing.
    pub fn with_dry_run(mut self, dry_run: bool) -> Self {
        self.dry_run = dry_run;
        self
    }

    /// Allows a retention below the table's `delta.deletedFileRetentionDuration`.
    pub fn with_allow_unsafe_retention(mut self, allow: bool) -> Self {
        self.allow_unsafe_retention = allow;
        self
    }

    async fn run(self) -> Result<VacuumMetrics> {
        let uri = &self.uri;
        let table = open_existing(uri)
            .await?
            .ok_or_else(|| LakeError::NoTable(uri.clone()))?;
        let floor = table
            .snapshot()
            .map_err(|e| LakeError::Delta(format!("reading table {uri}: {e}")))?
            .table_config()
            .deleted_file_retention_duration();
        let retain = self.retain.unwrap_or(floor);
        if retain < floor && !self.allow_unsafe_retention {
            return Err(LakeError::Invalid(format!(
                "--retain {} is shorter than the table's delta.deletedFileRetentionDuration ({}): \
                 readers of the versions in between would miss files; \
                 --allow-unsafe-retention to vacuum anyway",
                hours(retain),
                hours(floor)
            )));
        }
        let (table, removed) = self.pass(table, VacuumMode::Lite, retain).await?;
        let (_, never_committed) = self
            .pass(table, VacuumMode::Full, retain.max(floor))
            .await?;
        let never_committed = never_committed
            .into_iter()
            .filter(|f| !removed.contains(f))
            .collect();
        Ok(VacuumMetrics {
            dry_run: self.dry_run,
            retain,
            removed,
            never_committed,
        })
    }

    /// One deltalake vacuum: `Lite` deletes expired removed files, `Full` also files no
    /// commit references, both older than `age`.
    async fn pass(
        &self,
        table: DeltaTable,
        mode: VacuumMode,
        age: Duration,
    ) -> Result<(DeltaTable, Vec<String>)> {
        let age = chrono::Duration::from_std(age)
            .map_err(|e| LakeError::Invalid(format!("--retain: {e}")))?;
        let (table, metrics) = table
            .vacuum()
            .with_mode(mode)
            .with_retention_period(age)
            .with_enforce_retention_duration(false)
            .with_dry_run(self.dry_run)
            .await
            .map_err(|e| LakeError::Delta(format!("vacuuming {}: {e}", self.uri)))?;
        let mut files = metrics.files_deleted;
        files.sort();
        Ok((table, files))
    }
}

/// A duration in hours, as Delta's retention settings are usually read.
fn hours(duration: Duration) -> String {
    let hours = duration.as_secs_f64() / 3600.0;
    if hours.fract() == 0.0 {
        format!("{hours:.0}h")
    } else {
        format!("{hours:.2}h")
    }
}

#[cfg(test)]
#[path = "vacuum_tests.rs"]
mod tests;

impl IntoFuture for Vacuum {
    type Output = Result<VacuumMetrics>;
    type IntoFuture = Pin<Box<dyn Future<Output = Self::Output> + Send>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.run())
    }
}
