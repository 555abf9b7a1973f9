//! One subtask of the Delta source: follows the table's log version by version and reads
//! the added files of its key groups (a file's key group is a hash of its path, so every
//! subtask agrees on its reader at any parallelism), batch by batch.
//!
//! Invariants: versions are read in order; a subtask finishes a version (all its files of
//! groups at that version) before it reads the next one; every group's version is at
//! least the version being read. Rows are counted when handed out, so a position taken
//! between two batches names exactly the rows emitted.

use std::collections::VecDeque;
use std::ops::Range;
use std::sync::Arc;

use async_trait::async_trait;
use deltalake::logstore::object_store::ObjectStoreExt as _;
use deltalake::Path;
use parquet::arrow::arrow_reader::{ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder};
use tokio::task::JoinSet;
use tokio::time::Instant;
use weir_engine::state::{key_group_range, StateChunk};
use weir_engine::{Source, SourceBatch, SubtaskInfo};

use super::source::TableFeed;
use super::source_log::{read_version, DataFile};
use super::source_positions::{self, key_group_of, FileProgress, Positions, Progress};
use super::source_rows::{table_rows, Origin};
use crate::error::{ConnectorError, Result};

/// A version's files this subtask still has to look at.
struct Reading {
    version: u64,
    files: VecDeque<(usize, DataFile)>,
}

/// The file being read.
struct OpenFile {
    group: usize,
    file: DataFile,
    reader: ParquetRecordBatchReader,
}

/// What a background task brings back.
enum Done {
    Version(u64, Result<Option<Vec<DataFile>>>),
    File(usize, DataFile, Result<ParquetRecordBatchReader>),
}

/// The reader of one subtask.
pub(super) struct DeltaReader {
    feed: Arc<TableFeed>,
    max_parallelism: usize,
    /// The key groups this subtask reads.
    groups: Range<usize>,
    /// Per owned group (index `group - groups.start`): the first version not fully read.
    versions: Vec<u64>,
    /// Started files of each group's current version.
    progress: Progress,
    reading: Option<Reading>,
    open: Option<OpenFile>,
    /// The log read or file fetch in progress (at most one); kept across dropped
    /// `next_batch` calls, aborted when the reader is dropped.
    pending: JoinSet<Done>,
    /// When to look at the log again after a version was not there yet.
    next_poll: Instant,
    /// The watermark partition: one per subtask and parallelism, so that a restore at the
    /// same parallelism gets back its event-time maximum and one at another starts afresh.
    partition: u32,
}

impl DeltaReader {
    pub(super) fn new(feed: Arc<TableFeed>, subtask: &SubtaskInfo) -> Self {
        let groups = key_group_range(subtask.index, subtask.parallelism, subtask.max_parallelism);
        Self {
            versions: vec![feed.start; groups.len()],
            feed,
            max_parallelism: subtask.max_parallelism,
            groups,
            progress: Progress::new(),
            reading: None,
            open: None,
            pending: JoinSet::new(),
            next_poll: Instant::now(),
            partition: ((subtask.parallelism as u32) << 16) | subtask.index as u32,
        }
    }

    /// The first version not fully read by every owned group.
    fn cursor(&self) -> Option<u64> {
        self.versions.iter().copied().min()
    }

    fn version_of(&self, group: usize) -> u64 {
        self.versions[group - self.groups.start]
    }

    /// Starts reading `version`: keeps the files of groups still at it, in log order.
    fn begin(&mut self, version: u64, files: Vec<DataFile>) {
        let files = files
            .into_iter()
            .filter_map(|file| {
                let group = key_group_of(&file.path, self.max_parallelism);
                let mine = self.groups.contains(&group) && self.version_of(group) == version;
                mine.then_some((group, file))
            })
            .collect();
        self.reading = Some(Reading { version, files });
    }

    /// Every owned group at `version` moves past it.
    fn finish(&mut self, version: u64) {
        for v in &mut self.versions {
            if *v <= version {
                *v = version + 1;
            }
        }
        self.progress.retain(|(v, _), _| *v > version);
        self.reading = None;
    }

    /// Fetches file `file` of group `group` and opens it after the rows already read.
    fn fetch(&mut self, group: usize, file: DataFile, skip: u64) {
        let store = self.feed.log_store.object_store(None);
        let (uri, batch_size) = (self.feed.uri.clone(), self.feed.batch_size);
        self.pending.spawn(async move {
            let failed = |e: &dyn std::fmt::Display| {
                ConnectorError::Delta(format!("reading file {} of table {uri}: {e}", file.path))
            };
            let opened = async {
                let location = Path::from_url_path(&file.path).map_err(|e| failed(&e))?;
                let bytes = store
                    .get(&location)
                    .await
                    .map_err(|e| failed(&e))?
                    .bytes()
                    .await
                    .map_err(|e| failed(&e))?;
                tokio::task::spawn_blocking(move || {
                    ParquetRecordBatchReaderBuilder::try_new(bytes)?
                        .with_batch_size(batch_size)
                        .with_offset(usize::try_from(skip).unwrap_or(usize::MAX))
                        .build()
                })
                .await
                .map_err(|e| failed(&e))?
                .map_err(|e| failed(&e))
            }
            .await;
            Done::File(group, file, opened)
        });
    }

    /// Reads the log at `version` in the background.
    fn look(&mut self, version: u64) {
        let feed = self.feed.clone();
        self.pending
            .spawn(async move { Done::Version(version, read_version(&feed, version).await) });
    }

    fn apply(&mut self, done: Done) -> Result<()> {
        match done {
            Done::Version(version, found) => match found? {
                Some(files) => self.begin(version, files),
                None => self.next_poll = Instant::now() + self.feed.poll_interval,
            },
            Done::File(group, file, reader) => {
                self.open = Some(OpenFile {
                    group,
                    file,
                    reader: reader?,
                })
            }
        }
        Ok(())
    }

    /// The next batch of the open file, or `None` when it is finished (and closed).
    fn read_open(&mut self) -> Result<Option<SourceBatch>> {
        let Some(open) = &mut self.open else {
            return Ok(None);
        };
        let version = self.reading.as_ref().map_or(0, |r| r.version);
        let key = (version, open.file.path.clone());
        let origin = Origin {
            table: &self.feed.uri,
            version,
            file: &open.file,
        };
        let progress = self.progress.entry(key).or_insert(FileProgress {
            group: open.group,
            rows: 0,
            finished: false,
        });
        match open.reader.next() {
            Some(Ok(batch)) => {
                let rows = table_rows(
                    &batch,
                    &self.feed.schema,
                    &self.feed.partition_columns,
                    &origin,
                )?;
                progress.rows += rows.num_rows() as u64;
                Ok(Some(SourceBatch::new(self.partition, rows)))
            }
            Some(Err(e)) => Err(origin.error(e.to_string())),
            None => {
                progress.finished = true;
                self.open = None;
                Ok(None)
            }
        }
    }

    /// Starts the next file of the version being read, skipping finished ones; `false`
    /// when the version has no file left.
    fn next_file(&mut self) -> bool {
        let Some(reading) = &mut self.reading else {
            return false;
        };
        while let Some((group, file)) = reading.files.pop_front() {
            let saved = self.progress.get(&(reading.version, file.path.clone()));
            match saved {
                Some(p) if p.finished => continue,
                _ => {
                    let skip = saved.map_or(0, |p| p.rows);
                    self.fetch(group, file, skip);
                    return true;
                }
            }
        }
        false
    }
}

#[async_trait]
impl Source for DeltaReader {
    fn partitions(&self) -> Vec<u32> {
        vec![self.partition]
    }

    async fn next_batch(&mut self) -> weir_engine::Result<Option<SourceBatch>> {
        loop {
            if !self.pending.is_empty() {
                // Cancel safe: the task stays in the set until its result is applied.
                if let Some(done) = self.pending.join_next().await {
                    let done = done.map_err(|e| {
                        ConnectorError::Delta(format!(
                            "reading table {} stopped: {e}",
                            self.feed.uri
                        ))
                    })?;
                    self.apply(done)?;
                }
                continue;
            }
            if self.open.is_some() {
                if let Some(batch) = self.read_open()? {
                    return Ok(Some(batch));
                }
                continue;
            }
            if let Some(version) = self.reading.as_ref().map(|r| r.version) {
                if !self.next_file() {
                    self.finish(version);
                }
                continue;
            }
            let Some(cursor) = self.cursor() else {
                // No key group (more subtasks than key groups): nothing to read.
                return Ok(None);
            };
            if self.feed.end.is_some_and(|end| cursor > end) {
                return Ok(None);
            }
            // Cancel safe: the deadline is kept.
            tokio::time::sleep_until(self.next_poll).await;
            self.look(cursor);
        }
    }

    fn snapshot(&mut self) -> weir_engine::Result<Vec<StateChunk>> {
        let positions = Positions {
            versions: self
                .groups
                .clone()
                .zip(self.versions.iter().copied())
                .collect(),
            files: self.progress.clone(),
        };
        source_positions::snapshot(&positions)
    }

    /// Takes the positions of this subtask's key groups, whichever subtasks saved them.
    fn restore(&mut self, chunks: Vec<StateChunk>) -> weir_engine::Result<()> {
        let groups = self.groups.clone();
        let saved = source_positions::restore(&chunks, |g| groups.contains(&g));
        for (group, version) in saved.versions {
            self.versions[group - self.groups.start] = version;
        }
        self.progress = saved.files;
        Ok(())
    }
}
