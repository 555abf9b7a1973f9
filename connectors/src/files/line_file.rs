//! Reading one line file: positional reads of big chunks on a blocking thread, records
//! decoded straight out of the read buffer.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::record_batch::RecordBatch;

use super::identity::FileId;
use super::lines::{LineBuffer, KEEP_BYTES};
use crate::error::Result;
use crate::format::dead_letter::DeadLetters;
use crate::format::Decoder;

/// Bytes asked for by one read.
const CHUNK_BYTES: usize = 4 * 1024 * 1024;

/// A line file being read. Its position only moves when lines are handed out, so a read
/// whose result is dropped costs nothing but the read.
#[derive(Debug)]
pub(super) struct LineFile {
    /// Opened at the first read; kept open so a renamed or removed file can be finished.
    file: Option<Arc<File>>,
    buffer: LineBuffer,
}

/// One read, run on a blocking thread: opens the file if needed (checking that the path
/// still names the same file) and appends up to a chunk at the buffer's offset.
pub(super) struct ReadJob {
    file: Option<Arc<File>>,
    path: PathBuf,
    id: FileId,
    buf: Vec<u8>,
    offset: u64,
}

/// What a read brought back.
pub(super) struct ReadDone {
    file: Option<Arc<File>>,
    buf: Vec<u8>,
    /// Bytes appended, or why nothing could be read.
    pub result: Result<usize, ReadFailure>,
}

/// Why a read found nothing.
#[derive(Debug)]
pub(super) enum ReadFailure {
    /// The path no longer names the file (it was rotated or removed before it was opened).
    Moved,
    Io(std::io::Error),
}

impl LineFile {
    /// A file to read from `offset`, after `line` lines.
    pub fn new(offset: u64, line: u64, max_record_bytes: usize, header_lines: usize) -> Self {
        Self {
            file: None,
            buffer: LineBuffer::new(offset, line, max_record_bytes, header_lines),
        }
    }

    /// Byte offset after the last line handed out, and lines before it.
    pub fn position(&self) -> (u64, u64) {
        self.buffer.position()
    }

    /// Starts over at the beginning (the file was truncated).
    pub fn reset(&mut self) {
        self.buffer.reset();
    }

    /// The read to run next; give its result to [`Self::finish_read`].
    pub fn start_read(&mut self, path: &Path, id: FileId) -> ReadJob {
        let (buf, offset) = self.buffer.lend();
        ReadJob {
            file: self.file.clone(),
            path: path.to_path_buf(),
            id,
            buf,
            offset,
        }
    }

    /// Takes back the buffer of a read (and the file, if the read opened it). A file with
    /// nothing new keeps only the memory its partial line needs.
    pub fn finish_read(&mut self, done: &mut ReadDone) {
        let mut buf = std::mem::take(&mut done.buf);
        if matches!(done.result, Ok(0)) {
            buf.shrink_to_fit();
        }
        self.buffer.filled(buf);
        if self.file.is_none() {
            self.file = done.file.take();
        }
    }

    /// Decodes the next complete lines (up to `max`; at the end of the file, a last line
    /// without newline too). Refused lines go to `dead` with `path:line` origins. `None`
    /// when more bytes are needed; otherwise the rows with each row's line number.
    pub fn decode(
        &mut self,
        path: &str,
        max: usize,
        at_end: bool,
        decoder: &mut dyn Decoder,
        dead: &mut DeadLetters,
    ) -> Result<Option<(RecordBatch, Vec<u64>)>> {
        let Some(taken) = self.buffer.take(max, at_end) else {
            return Ok(None);
        };
        for refused in &taken.refused {
            let reason = format!(
                "line of {} bytes is longer than the maximum of {} bytes",
                refused.len,
                self.buffer.max_record_bytes()
            );
            dead.push(
                &refused.head,
                KEEP_BYTES,
                &format!("{path}:{}", refused.line),
                &reason,
            );
        }
        let records: Vec<&[u8]> = taken
            .ranges
            .iter()
            .map(|r| self.buffer.bytes(r.clone()))
            .collect();
        let lines = &taken.lines;
        let origin = |i: usize| format!("{path}:{}", lines[i]);
        let decoded = decoder.decode(&records, &origin, dead)?;
        let kept = match decoded.kept {
            Some(kept) => kept.iter().map(|&i| lines[i as usize]).collect(),
            None => taken.lines,
        };
        Ok(Some((decoded.batch, kept)))
    }
}

impl ReadJob {
    /// Runs the read (blocking).
    pub fn run(mut self) -> ReadDone {
        let mut opened = None;
        let result = match self.file.take() {
            Some(file) => read_at(&file, &mut self.buf, self.offset),
            None => match open(&self.path, self.id) {
                Ok(file) => {
                    let file = Arc::new(file);
                    let read = read_at(&file, &mut self.buf, self.offset);
                    opened = Some(file);
                    read
                }
                Err(failure) => Err(failure),
            },
        };
        ReadDone {
            file: opened,
            buf: self.buf,
            result,
        }
    }
}

/// Opens `path` if it still is the file `id`.
fn open(path: &Path, id: FileId) -> Result<File, ReadFailure> {
    let file = match File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(ReadFailure::Moved),
        Err(e) => return Err(ReadFailure::Io(e)),
    };
    let metadata = file.metadata().map_err(ReadFailure::Io)?;
    if FileId::of(&metadata, path) != id {
        return Err(ReadFailure::Moved);
    }
    Ok(file)
}

/// Appends what the file holds from `offset` on, up to a chunk, to `buf`.
fn read_at(file: &File, buf: &mut Vec<u8>, offset: u64) -> Result<usize, ReadFailure> {
    let size = file.metadata().map_err(ReadFailure::Io)?.len();
    let want = size.saturating_sub(offset).min(CHUNK_BYTES as u64) as usize;
    if want == 0 {
        return Ok(0);
    }
    let old = buf.len();
    buf.resize(old + want, 0);
    let read = positional_read(file, &mut buf[old..], offset);
    buf.truncate(old + *read.as_ref().unwrap_or(&0));
    read.map_err(ReadFailure::Io)
}

#[cfg(unix)]
fn positional_read(file: &File, buf: &mut [u8], offset: u64) -> std::io::Result<usize> {
    use std::os::unix::fs::FileExt;
    let mut filled = 0;
    while filled < buf.len() {
        match file.read_at(&mut buf[filled..], offset + filled as u64) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

#[cfg(not(unix))]
fn positional_read(file: &File, buf: &mut [u8], offset: u64) -> std::io::Result<usize> {
    use std::io::{Read, Seek, SeekFrom};
    let mut file = file;
    file.seek(SeekFrom::Start(offset))?;
    let mut filled = 0;
    while filled < buf.len() {
        match file.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}
