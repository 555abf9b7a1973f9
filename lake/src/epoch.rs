//! The exactly-once epoch commit of a streaming writer, at a cost that does not grow with
//! the table.
//!
//! An [`EpochCommitter`] is opened once from a loaded table and then keeps its own view of
//! the log: the newest version it knows, the table's protocol and metadata as of that
//! version, and the newest epoch of its application. Before each commit it reads only the
//! commits written since (by compactions, other jobs or a zombie of itself), so a commit
//! costs the same at 10 versions as at 100,000 and never replays the table's file list.
//! Every `delta.checkpointInterval` versions (100 by default) it writes a log checkpoint,
//! and right after a checkpoint it deletes log files older than
//! `delta.logRetentionDuration` (30 days by default) that the checkpoint makes
//! unnecessary, unless `delta.enableExpiredLogCleanup` is false.

use std::collections::HashMap;
use std::time::Duration;

use arrow::datatypes::SchemaRef;
use bytes::Bytes;
use delta_kernel::table_properties::TableProperties;
use deltalake::kernel::transaction::{CommitData, TransactionError};
use deltalake::kernel::{Action, Add, Metadata, MetadataExt as _, Remove, StructType, Transaction};
use deltalake::logstore::{CommitOrBytes, LogStoreRef};
use deltalake::protocol::{DeltaOperation, SaveMode};
use deltalake::DeltaTable;
use object_store::path::Path;
use object_store::ObjectStoreExt as _;
use serde_json::Value;

use crate::error::{LakeError, Result};
use crate::replace::PartitionReplace;
use crate::schema::new_columns;

/// How often a commit is tried again after losing its version to a concurrent writer.
const COMMIT_ATTEMPTS: usize = 10;
const DEFAULT_CHECKPOINT_INTERVAL: u64 = 100;
const DEFAULT_LOG_RETENTION: Duration = Duration::from_secs(30 * 24 * 3600);

/// Writer features an append of new files with an application transaction honours.
/// Tables needing any other (column mapping, row tracking, in-commit timestamps, identity
/// or generated columns, check constraints) are refused rather than written wrongly.
const WRITABLE_FEATURES: &[&str] = &[
    "appendOnly",
    "invariants",
    "changeDataFeed",
    "domainMetadata",
    "deletionVectors",
    "timestampNtz",
    "typeWidening",
    "typeWidening-preview",
    "v2Checkpoint",
    "vacuumProtocolCheck",
];

/// Commits the epochs of one application (`app_id`) to one table. Invariants: `version`
/// is a version the log holds, `metadata` and `protocol` are the table's as of it, and
/// `epoch` is the newest epoch of `app_id` in any version up to it.
pub struct EpochCommitter {
    uri: String,
    log_store: LogStoreRef,
    app_id: String,
    version: u64,
    metadata: Metadata,
    protocol: Value,
    epoch: Option<i64>,
}

impl EpochCommitter {
    /// A committer for `app_id` on `table`, starting from the version `table` has loaded.
    pub async fn open(table: &DeltaTable, app_id: &str) -> Result<Self> {
        let uri = table.table_url().to_string();
        let delta = |what: String| {
            let uri = uri.clone();
            move |e: deltalake::DeltaTableError| LakeError::Delta(format!("{what} {uri}: {e}"))
        };
        let snapshot = table
            .snapshot()
            .map_err(delta("reading the state of".into()))?;
        let epoch = snapshot
            .transaction_version(table.log_store().as_ref(), app_id)
            .await
            .map_err(delta(format!("reading the epoch of '{app_id}' in")))?;
        let protocol = serde_json::to_value(snapshot.protocol())
            .map_err(|e| LakeError::Delta(format!("the protocol of {uri}: {e}")))?;
        let committer = Self {
            log_store: table.log_store(),
            app_id: app_id.to_string(),
            version: snapshot.version(),
            metadata: snapshot.metadata().clone(),
            protocol,
            epoch,
            uri,
        };
        committer.check_writable()?;
        Ok(committer)
    }

    /// The newest epoch of the application the table held when last looked at.
    pub fn committed_epoch(&self) -> Option<i64> {
        self.epoch
    }

    /// The newest table version this committer knows of.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// Reads the commits written since the last look; returns the newest epoch of the
    /// application the table holds. Reads the versions after the newest one known until
    /// one is missing, without listing the log (a listing costs as much as the log is
    /// long). Versions are contiguous, so the first missing one is the next to write,
    /// unless expired log cleanup removed it: then the newest known version is gone too,
    /// which is checked, and the committer refuses to go on (reopening the table from
    /// its newest checkpoint starts a new one).
    pub async fn refresh(&mut self) -> Result<Option<i64>> {
        let known = self.version;
        loop {
            let next = self.version + 1;
            let entry = self
                .log_store
                .read_commit_entry(next)
                .await
                .map_err(|e| self.delta_error(&format!("reading version {next} of"), e))?;
            let Some(entry) = entry else { break };
            self.apply(next, &entry)?;
            self.version = next;
        }
        if self.version == known {
            self.check_still_in_log().await?;
        }
        self.check_writable()?;
        Ok(self.epoch)
    }

    /// Fails when the log no longer holds the newest version this committer knows of.
    async fn check_still_in_log(&self) -> Result<()> {
        let version = self.version;
        let path = Path::from_iter(["_delta_log", &format!("{version:020}.json")]);
        match self.log_store.object_store(None).head(&path).await {
            Ok(_) => Ok(()),
            Err(object_store::Error::NotFound { .. }) => Err(LakeError::Delta(format!(
                "the log of {} no longer holds version {version}, the newest this writer \
                 knew of (expired log files were cleaned while it was idle); the table \
                 must be opened again",
                self.uri
            ))),
            Err(e) => Err(LakeError::Delta(format!(
                "looking for version {version} of {}: {e}",
                self.uri
            ))),
        }
    }

    /// Commits `adds` as epoch `epoch` of the application, in one transaction that also
    /// records the epoch, unless the table holds that epoch (or a later one) already.
    /// Appends never conflict with other writers' commits (a compaction removes only files
    /// it read); losing a version to one means reading it and trying the next. Returns the
    /// new version, or `None` when there was nothing to do.
    ///
    /// With `evolve_to` (the stream's schema, when schema evolution is on), columns of the
    /// stream the table lacks are added to it, as nullable columns, in the same commit.
    pub async fn commit(
        &mut self,
        epoch: i64,
        adds: Vec<Add>,
        evolve_to: Option<&SchemaRef>,
    ) -> Result<Option<u64>> {
        self.commit_with_info(epoch, adds, evolve_to, HashMap::new())
            .await
    }

    /// [`EpochCommitter::commit`], with `info` added to the commit's commit info (each
    /// key a field of it, as `weir.quality` holds the epoch's verdicts).
    pub async fn commit_with_info(
        &mut self,
        epoch: i64,
        adds: Vec<Add>,
        evolve_to: Option<&SchemaRef>,
        info: HashMap<String, Value>,
    ) -> Result<Option<u64>> {
        self.commit_epoch(epoch, adds, None, evolve_to, info).await
    }

    /// Commits `epoch` as one transaction that removes every file of the partition
    /// `replace` the table holds and adds `adds` (all of which must belong to that
    /// partition), so the partition then holds exactly the new files: Delta's
    /// `replaceWhere` on partition columns. `None` when the table already holds the epoch.
    /// The partition's files are listed again on every attempt, so files a concurrent
    /// writer added to it before the commit are removed too.
    pub async fn commit_replacing(
        &mut self,
        epoch: i64,
        adds: Vec<Add>,
        replace: &PartitionReplace,
        info: HashMap<String, Value>,
    ) -> Result<Option<u64>> {
        replace.check(self.metadata.partition_columns(), &adds, &self.uri)?;
        self.commit_epoch(epoch, adds, Some(replace), None, info)
            .await
    }

    async fn commit_epoch(
        &mut self,
        epoch: i64,
        adds: Vec<Add>,
        replace: Option<&PartitionReplace>,
        evolve_to: Option<&SchemaRef>,
        info: HashMap<String, Value>,
    ) -> Result<Option<u64>> {
        for attempt in 1..=COMMIT_ATTEMPTS {
            if self.refresh().await?.is_some_and(|done| done >= epoch) {
                return Ok(None);
            }
            let removes = match replace {
                Some(replace) => {
                    replace
                        .removes(self.log_store.clone(), self.version)
                        .await?
                }
                None => Vec::new(),
            };
            let (bytes, metadata) =
                self.commit_bytes(epoch, &adds, removes, replace, evolve_to, info.clone())?;
            let version = self.version + 1;
            match self.write_entry(version, bytes).await {
                Ok(()) => {
                    self.version = version;
                    self.epoch = Some(epoch);
                    if let Some(metadata) = metadata {
                        self.metadata = metadata;
                    }
                    self.after_commit(version).await;
                    return Ok(Some(version));
                }
                Err(TransactionError::VersionAlreadyExists(_)) => {
                    tracing::debug!(
                        table = %self.uri,
                        app_id = %self.app_id,
                        epoch,
                        attempt,
                        "version {version} was taken by another writer; trying the next"
                    );
                }
                Err(e) => {
                    return Err(LakeError::Delta(format!(
                        "committing epoch {epoch} of application '{}' to {}: {e}",
                        self.app_id, self.uri
                    )))
                }
            }
        }
        Err(LakeError::Delta(format!(
            "committing epoch {epoch} of application '{}' to {}: lost {COMMIT_ATTEMPTS} \
             versions in a row to other writers",
            self.app_id, self.uri
        )))
    }

    /// The log entry of the commit, and the table's new metadata when the commit widens
    /// its schema. With `replace`, the commit is an overwrite of that partition.
    fn commit_bytes(
        &self,
        epoch: i64,
        adds: &[Add],
        removes: Vec<Remove>,
        replace: Option<&PartitionReplace>,
        evolve_to: Option<&SchemaRef>,
        info: HashMap<String, Value>,
    ) -> Result<(Bytes, Option<Metadata>)> {
        let partition_columns = self.metadata.partition_columns().to_vec();
        let operation = DeltaOperation::Write {
            mode: match replace {
                Some(_) => SaveMode::Overwrite,
                None => SaveMode::Append,
            },
            partition_by: (!partition_columns.is_empty()).then_some(partition_columns),
            predicate: replace.map(PartitionReplace::predicate),
        };
        let mut actions: Vec<Action> = removes.into_iter().map(Action::Remove).collect();
        actions.extend(adds.iter().cloned().map(Action::Add));
        let widened = match evolve_to {
            Some(stream) => self.widened_metadata(stream)?,
            None => None,
        };
        if let Some(metadata) = &widened {
            actions.push(Action::Metadata(metadata.clone()));
        }
        let txn = Transaction::new(&self.app_id, epoch);
        let bytes = CommitData::new(actions, operation, info, vec![txn])
            .get_bytes()
            .map_err(|e| LakeError::Delta(format!("writing the commit of {}: {e}", self.uri)))?;
        Ok((bytes, widened))
    }

    /// The table's metadata with the stream's columns it lacks added, or `None` when it
    /// has them all.
    fn widened_metadata(&self, stream: &SchemaRef) -> Result<Option<Metadata>> {
        let widening = |e: &dyn std::fmt::Display| {
            LakeError::Delta(format!("widening the schema of {}: {e}", self.uri))
        };
        let current = self.metadata.parse_schema().map_err(|e| widening(&e))?;
        let added = new_columns(stream, &current, &self.uri)?;
        if added.is_empty() {
            return Ok(None);
        }
        let merged = StructType::try_new(current.fields().cloned().chain(added))
            .map_err(|e| widening(&e))?;
        let metadata = self
            .metadata
            .clone()
            .with_schema(&merged)
            .map_err(|e| widening(&e))?;
        Ok(Some(metadata))
    }

    /// Writes the log entry of `version`, failing with `VersionAlreadyExists` when another
    /// writer has it. Stores with an atomic "create if absent" take the entry directly;
    /// the others through a temporary file renamed into place (as deltalake does).
    async fn write_entry(&self, version: u64, bytes: Bytes) -> Result<(), TransactionError> {
        let operation = uuid::Uuid::new_v4();
        let entry = if ["DefaultLogStore", "LakeFSLogStore"]
            .contains(&self.log_store.name().as_str())
        {
            CommitOrBytes::LogBytes(bytes)
        } else {
            let path = Path::from_iter(["_delta_log", &format!("_commit_{operation}.json.tmp")]);
            self.log_store
                .object_store(Some(operation))
                .put(&path, bytes.into())
                .await?;
            CommitOrBytes::TmpCommit(path)
        };
        let written = self
            .log_store
            .write_commit_entry(version, entry.clone(), operation)
            .await;
        if written.is_err() {
            if let CommitOrBytes::TmpCommit(_) = entry {
                // Best effort: a leftover temporary file is only log clutter.
                let _ = self
                    .log_store
                    .abort_commit_entry(version, entry, operation)
                    .await;
            }
        }
        written
    }

    /// Applies the actions of the log entry of `version` to this view of the table.
    fn apply(&mut self, version: u64, entry: &[u8]) -> Result<()> {
        for line in entry
            .split(|b| *b == b'\n')
            .filter(|l| !l.trim_ascii().is_empty())
        {
            let action: Value = serde_json::from_slice(line)
                .map_err(|e| LakeError::Delta(format!("version {version} of {}: {e}", self.uri)))?;
            if let Some(txn) = action.get("txn") {
                if txn.get("appId").and_then(Value::as_str) == Some(self.app_id.as_str()) {
                    let epoch = txn.get("version").and_then(Value::as_i64);
                    self.epoch = self.epoch.max(epoch);
                }
            } else if let Some(metadata) = action.get("metaData") {
                self.metadata = serde_json::from_value(metadata.clone()).map_err(|e| {
                    LakeError::Delta(format!(
                        "the metadata in version {version} of {}: {e}",
                        self.uri
                    ))
                })?;
            } else if let Some(protocol) = action.get("protocol") {
                self.protocol = protocol.clone();
            }
        }
        Ok(())
    }

    /// Refuses tables whose protocol asks more of a writer than appending files.
    fn check_writable(&self) -> Result<()> {
        let writer_version = self
            .protocol
            .get("minWriterVersion")
            .and_then(Value::as_i64)
            .unwrap_or(0);
        let unsupported: Vec<&str> = match writer_version {
            0..=2 => Vec::new(),
            7 => self
                .protocol
                .get("writerFeatures")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .filter(|feature| !WRITABLE_FEATURES.contains(feature))
                .collect(),
            _ => {
                return Err(LakeError::Invalid(format!(
                    "table {} needs writer version {writer_version} (check constraints, \
                     generated or identity columns, column mapping), which weir's epoch \
                     commit does not write",
                    self.uri
                )))
            }
        };
        if unsupported.is_empty() {
            Ok(())
        } else {
            Err(LakeError::Invalid(format!(
                "table {} needs writer features weir's epoch commit does not write: {}",
                self.uri,
                unsupported.join(", ")
            )))
        }
    }

    /// The log's upkeep after committing `version`: a checkpoint every
    /// `delta.checkpointInterval` versions, then the expired log files it makes
    /// unnecessary. Failing either loses nothing (the commit stands; readers replay more
    /// of the log), so it is logged, not returned.
    async fn after_commit(&self, version: u64) {
        let properties = TableProperties::from(self.metadata.configuration().iter());
        let interval = properties
            .checkpoint_interval
            .map_or(DEFAULT_CHECKPOINT_INTERVAL, |n| n.get());
        if !(version + 1).is_multiple_of(interval) {
            return;
        }
        if let Err(e) = self.checkpoint(version).await {
            tracing::warn!(table = %self.uri, version, "writing a log checkpoint failed: {e}");
            return;
        }
        if properties.enable_expired_log_cleanup == Some(false) {
            return;
        }
        let retention = properties
            .log_retention_duration
            .unwrap_or(DEFAULT_LOG_RETENTION);
        let cutoff = chrono::Utc::now().timestamp_millis() - retention.as_millis() as i64;
        match deltalake::checkpoints::cleanup_expired_logs_for(
            version,
            self.log_store.as_ref(),
            cutoff,
            None,
        )
        .await
        {
            Ok(0) => {}
            Ok(deleted) => tracing::info!(table = %self.uri, deleted, "deleted expired log files"),
            Err(e) => tracing::warn!(table = %self.uri, "deleting expired log files failed: {e}"),
        }
    }

    /// Writes the log checkpoint of `version`, from the previous checkpoint and the
    /// commits since (the Delta kernel's checkpoint writer; no file list is kept here).
    async fn checkpoint(&self, version: u64) -> Result<()> {
        let engine = self.log_store.engine(None);
        let root = self.log_store.root_url().to_string();
        tokio::task::spawn_blocking(move || {
            let snapshot = delta_kernel::Snapshot::builder_for(root)
                .at_version(version)
                .build(engine.as_ref())?;
            snapshot.checkpoint(engine.as_ref(), None).map(|_| ())
        })
        .await
        .map_err(|e| LakeError::Delta(format!("checkpointing {}: {e}", self.uri)))?
        .map_err(|e| {
            LakeError::Delta(format!(
                "checkpointing {} at version {version}: {e}",
                self.uri
            ))
        })
    }

    fn delta_error(&self, what: &str, e: deltalake::DeltaTableError) -> LakeError {
        LakeError::Delta(format!("{what} {}: {e}", self.uri))
    }
}

#[cfg(test)]
#[path = "epoch_tests.rs"]
mod tests;
