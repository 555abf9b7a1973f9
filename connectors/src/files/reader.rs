//! One subtask of the file source: reads its files in turns, one blocking operation at a
//! time, and keeps their positions.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use arrow::array::{ArrayRef, Int64Array, StringArray};
use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use async_trait::async_trait;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use weir_engine::state::StateChunk;
use weir_engine::{Source, SourceBatch, SubtaskInfo};

use super::deal::Deal;
use super::discovery::{FilePattern, Found};
use super::identity::FileId;
use super::line_file::{LineFile, ReadDone, ReadFailure};
use super::parquet_file::{ParquetDone, ParquetFile};
use super::positions::{self, Position};
use super::{FileFormat, FileMode, FileSourceConfig};
use crate::error::{ConnectorError, Result};
use crate::format::dead_letter::DeadLetters;
use crate::format::{DecodeErrorPolicy, Decoder};

fn stopped(error: tokio::task::JoinError) -> ConnectorError {
    ConnectorError::Files(format!("a blocking file operation stopped: {error}"))
}

/// How far a file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// May have data to read.
    Readable,
    /// The last read found nothing new; looked at again from this instant on.
    Idle(Instant),
    /// Read to its end for good.
    Done,
}

/// What is being read from a file.
#[derive(Debug)]
enum Content {
    Lines(LineFile),
    Parquet(ParquetFile),
}

/// One file this subtask reads.
#[derive(Debug)]
struct Tracked {
    path: PathBuf,
    /// `path` as text, for origins and metadata columns.
    name: String,
    id: FileId,
    size: u64,
    content: Content,
    phase: Phase,
    /// Listings in a row that did not find the file (follow mode).
    missed: u32,
}

impl Tracked {
    /// Byte offset (rows for Parquet) and lines before it.
    fn position(&self) -> (u64, u64) {
        match &self.content {
            Content::Lines(file) => file.position(),
            Content::Parquet(file) => (file.rows(), file.rows()),
        }
    }

    /// Whether a file of `size` bytes must have been truncated since it was read up to
    /// the current position (Parquet files are replaced, never appended to).
    fn truncated(&self, size: u64) -> bool {
        matches!(&self.content, Content::Lines(file) if size < file.position().0)
    }

    fn rename(&mut self, path: PathBuf) {
        self.name = path.display().to_string();
        self.path = path;
    }
}

/// The blocking operation in progress; kept across dropped `next_batch` calls so that
/// nothing is lost or done twice.
enum Pending {
    Listing(JoinHandle<Result<Vec<Found>>>),
    Lines(usize, JoinHandle<ReadDone>),
    Parquet(usize, JoinHandle<ParquetDone>),
}

/// Listings that must miss a file before it counts as removed (one listing may race a
/// rename).
const MISSED_LISTINGS: u32 = 2;

/// The reader of one subtask.
pub(super) struct FileReader {
    config: Arc<FileSourceConfig>,
    pattern: Arc<FilePattern>,
    schema: SchemaRef,
    decoded_schema: SchemaRef,
    decoder: Option<Box<dyn Decoder>>,
    header_lines: usize,
    /// This subtask's index.
    subtask: usize,
    /// Who reads which file, shared with the other subtasks.
    deal: Arc<Mutex<Deal>>,
    /// The files of this subtask, in the order they were found.
    files: Vec<Tracked>,
    /// The file to look at first (round robin).
    turn: usize,
    pending: Option<Pending>,
    next_discovery: Instant,
    /// Lines dropped under the `drop` policy.
    dropped: u64,
}

impl FileReader {
    /// The reader of `subtask`, starting with its share in `deal` of the files found at
    /// plan time (`initial`); `schemas` are the output schema and that of the decoded
    /// columns.
    pub(super) fn new(
        config: Arc<FileSourceConfig>,
        pattern: Arc<FilePattern>,
        schemas: (SchemaRef, SchemaRef),
        subtask: &SubtaskInfo,
        deal: Arc<Mutex<Deal>>,
        initial: &[Found],
    ) -> Result<Self> {
        let (decoder, header_lines) = match &config.format {
            Some(format) => (
                Some(format.decoder(config.max_record_bytes)?),
                format.header_lines(),
            ),
            None => (None, 0),
        };
        let mut reader = FileReader {
            next_discovery: Instant::now() + config.discovery_interval,
            config,
            pattern,
            schema: schemas.0,
            decoded_schema: schemas.1,
            decoder,
            header_lines,
            subtask: subtask.index,
            deal,
            files: Vec::new(),
            turn: 0,
            pending: None,
            dropped: 0,
        };
        for found in initial {
            if reader.owns(found.id) {
                reader.track(found, 0, 0);
            }
        }
        Ok(reader)
    }

    fn deal(&self) -> MutexGuard<'_, Deal> {
        self.deal.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn owns(&self, id: FileId) -> bool {
        self.deal().subtask_of(id) == Some(self.subtask)
    }

    fn follow(&self) -> bool {
        self.config.mode == FileMode::Follow
    }

    /// Starts reading `found` at `offset` after `line` lines (rows for Parquet).
    fn track(&mut self, found: &Found, offset: u64, line: u64) {
        let content = match self.config.file_format {
            FileFormat::Lines => Content::Lines(LineFile::new(
                offset,
                line,
                self.config.max_record_bytes,
                self.header_lines,
            )),
            FileFormat::Parquet => Content::Parquet(ParquetFile::new(offset)),
        };
        self.files.push(Tracked {
            path: found.path.clone(),
            name: found.path.display().to_string(),
            id: found.id,
            size: found.size,
            content,
            phase: Phase::Readable,
            missed: 0,
        });
    }

    /// Applies a follow-mode listing: new files (dealt to a subtask unless another
    /// subtask's listing dealt them already), renamed ones, truncated ones, removed ones.
    fn apply_listing(&mut self, found: Vec<Found>) {
        self.deal().place(&found);
        let mut seen = HashSet::new();
        for f in found {
            if !self.owns(f.id) || !seen.insert(f.id) {
                continue;
            }
            let Some(t) = self.files.iter_mut().find(|t| t.id == f.id) else {
                tracing::info!(path = %f.path.display(), "reading a new file from its beginning");
                self.track(&f, 0, 0);
                continue;
            };
            t.missed = 0;
            t.size = f.size;
            if t.path != f.path {
                tracing::info!(from = %t.name, to = %f.path.display(), "a file being read was renamed");
                t.rename(f.path);
            }
            if t.truncated(f.size) {
                tracing::warn!(path = %t.name, size = f.size, position = t.position().0, "file shrank below the read position (truncated): reading it again from the start");
                match &mut t.content {
                    Content::Lines(file) => file.reset(),
                    Content::Parquet(file) => *file = ParquetFile::new(0),
                }
                t.phase = Phase::Readable;
            }
        }
        for t in &mut self.files {
            if !seen.contains(&t.id) {
                if t.missed == 0 {
                    tracing::info!(path = %t.name, "file no longer matches (rotated or removed): reading it to its end");
                }
                t.missed += 1;
            }
        }
    }

    /// Whether a file that has no more data is finished: always in bounded mode; in
    /// follow mode once it is gone from the listings.
    fn finished_at_end(&self, i: usize) -> bool {
        !self.follow() || self.files[i].missed >= MISSED_LISTINGS
    }

    /// Applies the result of a read of line file `i`; a batch if the file ended with a
    /// last line without newline.
    fn apply_lines_read(&mut self, i: usize, mut done: ReadDone) -> Result<Option<SourceBatch>> {
        let finished = self.finished_at_end(i);
        let t = &mut self.files[i];
        let Content::Lines(file) = &mut t.content else {
            unreachable!("line reads are for line files")
        };
        file.finish_read(&mut done);
        match done.result {
            Ok(0) if finished => {
                t.phase = Phase::Done;
                self.emit_lines(i, true)
            }
            Ok(0) => {
                t.phase = Phase::Idle(Instant::now() + self.config.poll_interval);
                Ok(None)
            }
            Ok(_) => Ok(None),
            Err(failure) => {
                self.read_failed(i, failure)?;
                Ok(None)
            }
        }
    }

    /// Applies the result of a batch read of Parquet file `i`.
    fn apply_parquet_read(
        &mut self,
        i: usize,
        mut done: ParquetDone,
    ) -> Result<Option<SourceBatch>> {
        let finished = self.finished_at_end(i);
        let t = &mut self.files[i];
        let Content::Parquet(file) = &mut t.content else {
            unreachable!("Parquet reads are for Parquet files")
        };
        let before = file.rows();
        file.finish_read(&mut done);
        match done.result {
            Ok(Ok(Some(batch))) => {
                let lines = (before + 1..=before + batch.num_rows() as u64).collect();
                let batch = self.with_metadata(i, batch, lines)?;
                Ok(Some(SourceBatch::new(
                    self.files[i].id.partition_id(),
                    batch,
                )))
            }
            Ok(Ok(None)) => {
                t.phase = if finished {
                    Phase::Done
                } else {
                    Phase::Idle(Instant::now() + self.config.poll_interval)
                };
                Ok(None)
            }
            Ok(Err(e)) => Err(e),
            Err(failure) => {
                self.read_failed(i, failure)?;
                Ok(None)
            }
        }
    }

    /// A file could not be read: an error, or (when it was moved before it was opened)
    /// left to the next listing to find again.
    fn read_failed(&mut self, i: usize, failure: ReadFailure) -> Result<()> {
        let finished = self.finished_at_end(i);
        let t = &mut self.files[i];
        match failure {
            ReadFailure::Moved if finished => {
                tracing::warn!(path = %t.name, "file was moved or removed before it could be read: skipping it");
                t.phase = Phase::Done;
                Ok(())
            }
            ReadFailure::Moved => {
                t.phase = Phase::Idle(Instant::now() + self.config.poll_interval);
                Ok(())
            }
            ReadFailure::Io(e) => Err(ConnectorError::Files(format!("reading {}: {e}", t.name))),
        }
    }

    /// Decodes the next lines of file `i` into a batch; `None` when it needs more bytes.
    fn emit_lines(&mut self, i: usize, at_end: bool) -> Result<Option<SourceBatch>> {
        let decoder = self
            .decoder
            .as_deref_mut()
            .expect("line files have a decoder");
        let t = &mut self.files[i];
        let Content::Lines(file) = &mut t.content else {
            unreachable!("lines come from line files")
        };
        let mut dead = DeadLetters::default();
        loop {
            let Some((batch, lines)) =
                file.decode(&t.name, self.config.batch_size, at_end, decoder, &mut dead)?
            else {
                return Ok(None);
            };
            if batch.num_rows() == 0 && dead.is_empty() {
                continue;
            }
            let dead_letters = self.settle(i, &mut dead)?;
            let batch = self.with_metadata(i, batch, lines)?;
            return Ok(Some(SourceBatch {
                partition: self.files[i].id.partition_id(),
                batch,
                dead_letters,
            }));
        }
    }

    /// Applies the decode-error policy to the dead letters of a read of file `i`.
    fn settle(&mut self, i: usize, dead: &mut DeadLetters) -> Result<Option<RecordBatch>> {
        match self.config.on_decode_error {
            DecodeErrorPolicy::DeadLetter => dead.finish(),
            DecodeErrorPolicy::Drop => {
                if !dead.is_empty() {
                    self.dropped += dead.len() as u64;
                    tracing::warn!(path = %self.files[i].name, dropped = dead.len(), total = self.dropped, "dropped lines that do not decode");
                }
                Ok(None)
            }
            DecodeErrorPolicy::Fail => match dead.finish()? {
                Some(letters) => {
                    use arrow::array::AsArray;
                    Err(ConnectorError::Decode(format!(
                        "{}: {}",
                        letters.column(1).as_string::<i32>().value(0),
                        letters.column(2).as_string::<i32>().value(0)
                    )))
                }
                None => Ok(None),
            },
        }
    }

    /// Appends `file_path` and `file_line` when configured.
    fn with_metadata(&self, i: usize, batch: RecordBatch, lines: Vec<u64>) -> Result<RecordBatch> {
        if !self.config.metadata_columns {
            return Ok(batch);
        }
        let rows = batch.num_rows();
        let name = self.files[i].name.as_str();
        let mut columns = batch.columns().to_vec();
        columns.extend([
            Arc::new(StringArray::from_iter_values(std::iter::repeat_n(
                name, rows,
            ))) as ArrayRef,
            Arc::new(Int64Array::from_iter_values(
                lines.into_iter().map(|l| l as i64),
            )),
        ]);
        debug_assert_eq!(
            batch.num_columns(),
            self.decoded_schema.fields().len(),
            "decoded rows have the decoded schema"
        );
        Ok(RecordBatch::try_new(self.schema.clone(), columns)?)
    }

    /// Finishes the blocking operation in progress.
    async fn complete_pending(&mut self) -> Result<Option<SourceBatch>> {
        let Some(pending) = &mut self.pending else {
            return Ok(None);
        };
        // Cancel safety: the handle stays in `self` until its result is applied.
        let batch = match pending {
            Pending::Listing(handle) => {
                let found = handle.await.map_err(stopped);
                self.pending = None;
                self.apply_listing(found??);
                None
            }
            Pending::Lines(i, handle) => {
                let (i, done) = (*i, handle.await.map_err(stopped));
                self.pending = None;
                self.apply_lines_read(i, done?)?
            }
            Pending::Parquet(i, handle) => {
                let (i, done) = (*i, handle.await.map_err(stopped));
                self.pending = None;
                self.apply_parquet_read(i, done?)?
            }
        };
        Ok(batch)
    }

    /// Emits buffered lines of the next readable file, or starts a read of it.
    fn step(&mut self) -> Result<Step> {
        let now = Instant::now();
        for t in &mut self.files {
            if matches!(t.phase, Phase::Idle(until) if until <= now) {
                t.phase = Phase::Readable;
            }
        }
        let n = self.files.len();
        for k in 0..n {
            let i = (self.turn + k) % n;
            if self.files[i].phase != Phase::Readable {
                continue;
            }
            if matches!(self.files[i].content, Content::Lines(_)) {
                if let Some(batch) = self.emit_lines(i, false)? {
                    self.turn = i + 1;
                    return Ok(Step::Batch(batch));
                }
            }
            self.turn = i;
            let t = &mut self.files[i];
            self.pending = Some(match &mut t.content {
                Content::Lines(file) => {
                    let job = file.start_read(&t.path, t.id);
                    Pending::Lines(i, tokio::task::spawn_blocking(move || job.run()))
                }
                Content::Parquet(file) => {
                    let job = file.start_read(
                        &t.path,
                        t.id,
                        self.config.batch_size,
                        &self.decoded_schema,
                    );
                    Pending::Parquet(i, tokio::task::spawn_blocking(move || job.run()))
                }
            });
            return Ok(Step::Started);
        }
        Ok(Step::Nothing)
    }

    /// Drops follow-mode files that are finished (they no longer match).
    fn forget_finished(&mut self) {
        if self.follow() && self.pending.is_none() {
            let mut deal = self.deal.lock().unwrap_or_else(PoisonError::into_inner);
            self.files.retain(|t| {
                let keep = t.phase != Phase::Done;
                if !keep {
                    tracing::info!(path = %t.name, "finished a file that no longer matches");
                    deal.finished(t.id);
                }
                keep
            });
        }
    }
}

/// What [`FileReader::step`] did.
enum Step {
    Batch(SourceBatch),
    Started,
    Nothing,
}

#[async_trait]
impl Source for FileReader {
    fn partitions(&self) -> Vec<u32> {
        self.files.iter().map(|t| t.id.partition_id()).collect()
    }

    async fn next_batch(&mut self) -> weir_engine::Result<Option<SourceBatch>> {
        loop {
            if self.pending.is_some() {
                if let Some(batch) = self.complete_pending().await? {
                    return Ok(Some(batch));
                }
                continue;
            }
            self.forget_finished();
            let now = Instant::now();
            if self.follow() && now >= self.next_discovery {
                self.next_discovery = now + self.config.discovery_interval;
                let pattern = self.pattern.clone();
                self.pending = Some(Pending::Listing(tokio::task::spawn_blocking(move || {
                    pattern.list()
                })));
                continue;
            }
            match self.step()? {
                Step::Batch(batch) => return Ok(Some(batch)),
                Step::Started => continue,
                Step::Nothing if !self.follow() => return Ok(None),
                Step::Nothing => {}
            }
            // Nothing to read now: wait for the first idle file's turn or the next
            // listing (cancel safe: the deadlines are kept).
            let wake = self
                .files
                .iter()
                .filter_map(|t| match t.phase {
                    Phase::Idle(until) => Some(until),
                    _ => None,
                })
                .fold(self.next_discovery, Instant::min);
            tokio::time::sleep_until(wake).await;
        }
    }

    fn snapshot(&mut self) -> weir_engine::Result<Vec<StateChunk>> {
        let positions: Vec<Position> = self
            .files
            .iter()
            .map(|t| {
                let (offset, line) = t.position();
                Position {
                    path: t.name.clone(),
                    id: t.id,
                    offset,
                    line,
                }
            })
            .collect();
        positions::snapshot(&positions)
    }

    /// Takes the positions of the files dealt to this subtask. A checkpointed file found
    /// by no one is reported once, by subtask 0.
    fn restore(&mut self, chunks: Vec<StateChunk>) -> weir_engine::Result<()> {
        let saved: Vec<Position> = positions::restore(&chunks)
            .into_iter()
            .filter(|p| match self.deal().subtask_of(p.id) {
                Some(subtask) => subtask == self.subtask,
                None => self.subtask == 0,
            })
            .collect();
        for p in saved {
            let Some(i) = self.files.iter().position(|t| t.id == p.id) else {
                tracing::warn!(path = %p.path, offset = p.offset, "a checkpointed file is no longer found: lines after its position are lost");
                continue;
            };
            let t = &self.files[i];
            let shrank = matches!(self.config.file_format, FileFormat::Lines) && p.offset > t.size;
            let (offset, line) = if shrank {
                tracing::warn!(path = %t.name, size = t.size, position = p.offset, "file shrank below its checkpointed position (truncated): reading it again from the start");
                (0, 0)
            } else {
                (p.offset, p.line)
            };
            let found = Found {
                path: t.path.clone(),
                id: t.id,
                size: t.size,
            };
            self.files.remove(i);
            self.track(&found, offset, line);
        }
        Ok(())
    }
}
