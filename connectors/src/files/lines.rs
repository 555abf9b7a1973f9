//! Splitting a line file into records as its bytes arrive in chunks, without copying
//! lines and without ever holding a line longer than the maximum.

use std::ops::Range;

/// How much of a refused line its dead letter keeps.
pub const KEEP_BYTES: usize = 64 * 1024;

/// The unconsumed bytes of one line file and where they sit in it.
///
/// Invariants: `buf` holds the file's bytes from offset `start`; `buf[..consumed]` was
/// handed out; `line` lines were handed out (or skipped) before offset
/// [`LineBuffer::position`]. Bytes leave `buf` only in [`LineBuffer::lend`], so the ranges
/// of a [`Taken`] stay valid until the next read. While an over-long line is being
/// skipped, its bytes count as consumed as they arrive (the next read drops them) and the
/// position stays at its start until its newline is found.
#[derive(Debug)]
pub struct LineBuffer {
    buf: Vec<u8>,
    start: u64,
    consumed: usize,
    line: u64,
    overlong: Option<Overlong>,
    max_record_bytes: usize,
    header_lines: u64,
}

/// An over-long line being skipped.
#[derive(Debug)]
struct Overlong {
    start: u64,
    line: u64,
    /// Its first bytes, up to [`KEEP_BYTES`].
    head: Vec<u8>,
    /// Bytes skipped so far.
    len: u64,
    /// Whether the last byte skipped is a CR (not part of the line if its newline follows,
    /// or if the file ends there).
    ends_in_cr: bool,
}

impl Overlong {
    /// Adds the start of `bytes`, the next ones of the line, to its head, up to
    /// [`KEEP_BYTES`] in all.
    fn keep(&mut self, bytes: &[u8]) {
        let room = KEEP_BYTES.saturating_sub(self.head.len());
        self.head.extend_from_slice(&bytes[..bytes.len().min(room)]);
    }
}

/// Lines taken out of the buffer together: records to decode and refused lines.
#[derive(Debug, Default)]
pub struct Taken {
    /// Where each record sits in the buffer (valid until the next read).
    pub ranges: Vec<Range<usize>>,
    /// The 1-based line number of each record.
    pub lines: Vec<u64>,
    pub refused: Vec<Refused>,
}

/// A line longer than the maximum.
#[derive(Debug, PartialEq, Eq)]
pub struct Refused {
    pub line: u64,
    /// Its first [`KEEP_BYTES`] bytes.
    pub head: Vec<u8>,
    /// Its length without the line end.
    pub len: u64,
}

impl LineBuffer {
    /// A buffer continuing after `line` lines at byte `offset`; the first `header_lines`
    /// lines of the file are skipped.
    pub fn new(offset: u64, line: u64, max_record_bytes: usize, header_lines: usize) -> Self {
        Self {
            buf: Vec::new(),
            start: offset,
            consumed: 0,
            line,
            overlong: None,
            max_record_bytes,
            header_lines: header_lines as u64,
        }
    }

    /// Byte offset after the last line handed out, and the number of lines before it.
    pub fn position(&self) -> (u64, u64) {
        match &self.overlong {
            Some(o) => (o.start, self.line),
            None => (self.start + self.consumed as u64, self.line),
        }
    }

    /// The longest line accepted.
    pub fn max_record_bytes(&self) -> usize {
        self.max_record_bytes
    }

    /// Starts over at the beginning of the file (it was truncated).
    pub fn reset(&mut self) {
        *self = Self::new(0, 0, self.max_record_bytes, self.header_lines as usize);
    }

    /// Drops what was handed out and lends the buffer out for a read; returns it with the
    /// file offset at which the read must append. Give it back with [`Self::filled`].
    pub fn lend(&mut self) -> (Vec<u8>, u64) {
        self.buf.drain(..self.consumed);
        self.start += self.consumed as u64;
        self.consumed = 0;
        let offset = self.start + self.buf.len() as u64;
        (std::mem::take(&mut self.buf), offset)
    }

    /// Takes back the buffer lent by [`Self::lend`], with the bytes read appended.
    pub fn filled(&mut self, buf: Vec<u8>) {
        self.buf = buf;
    }

    /// The bytes of a record of the last [`Self::take`].
    pub fn bytes(&self, range: Range<usize>) -> &[u8] {
        &self.buf[range]
    }

    /// Takes up to `max` complete lines (refused ones included). At the end of a file
    /// (`at_end`), a last line without newline counts as complete. `None` when nothing
    /// was consumed: more bytes are needed.
    pub fn take(&mut self, max: usize, at_end: bool) -> Option<Taken> {
        let mut taken = Taken::default();
        let mut progressed = false;
        while taken.ranges.len() + taken.refused.len() < max.max(1) {
            let rest = &self.buf[self.consumed..];
            if let Some(n) = memchr::memchr(b'\n', rest) {
                let from = self.consumed;
                self.consumed += n + 1;
                progressed = true;
                match self.overlong.take() {
                    Some(o) => self.refuse(o, from..from + n, &mut taken),
                    None => self.complete(from, from + n, &mut taken),
                }
                continue;
            }
            let partial = rest.len();
            if self.overlong.is_none() && partial > self.max_record_bytes.saturating_add(1) {
                // No newline within the maximum (plus a `\r` that may be dropped): skip
                // the line while streaming.
                self.overlong = Some(Overlong {
                    start: self.start + self.consumed as u64,
                    line: self.line + 1,
                    head: Vec::new(),
                    len: 0,
                    ends_in_cr: false,
                });
            }
            if let Some(o) = &mut self.overlong {
                if partial > 0 {
                    o.keep(rest);
                    o.len += partial as u64;
                    o.ends_in_cr = rest[partial - 1] == b'\r';
                    self.consumed = self.buf.len();
                    progressed = true;
                }
                if at_end {
                    let o = self.overlong.take().expect("checked");
                    let end = self.buf.len();
                    self.refuse(o, end..end, &mut taken);
                    progressed = true;
                }
            } else if at_end && partial > 0 {
                let from = self.consumed;
                self.consumed = self.buf.len();
                progressed = true;
                self.complete(from, self.buf.len(), &mut taken);
            }
            break;
        }
        progressed.then_some(taken)
    }

    /// A complete line at `buf[from..to]` (its `\n` excluded).
    fn complete(&mut self, from: usize, to: usize, taken: &mut Taken) {
        self.line += 1;
        let end = if to > from && self.buf[to - 1] == b'\r' {
            to - 1
        } else {
            to
        };
        if self.line <= self.header_lines {
            return;
        }
        if end - from > self.max_record_bytes {
            taken.refused.push(Refused {
                line: self.line,
                head: self.buf[from..from + (end - from).min(KEEP_BYTES)].to_vec(),
                len: (end - from) as u64,
            });
            return;
        }
        taken.ranges.push(from..end);
        taken.lines.push(self.line);
    }

    /// The end of an over-long line: its last bytes, after those already skipped, are
    /// `buf[last]` (its `\n` excluded).
    fn refuse(&mut self, mut overlong: Overlong, last: Range<usize>, taken: &mut Taken) {
        self.line = overlong.line;
        overlong.keep(&self.buf[last.clone()]);
        let ends_in_cr = if last.is_empty() {
            overlong.ends_in_cr
        } else {
            self.buf[last.end - 1] == b'\r'
        };
        let len = overlong.len + last.len() as u64 - u64::from(ends_in_cr);
        if overlong.line > self.header_lines {
            let mut head = overlong.head;
            head.truncate(usize::try_from(len).unwrap_or(usize::MAX));
            taken.refused.push(Refused {
                line: overlong.line,
                head,
                len,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Records with their line numbers, refused lines as (line, len, head length), and the
    /// final position.
    type Split = (Vec<(u64, String)>, Vec<(u64, u64, usize)>, (u64, u64));

    /// Feeds `chunks` one by one, taking lines after each.
    fn split(chunks: &[&[u8]], max: usize, header: usize, at_end: bool) -> Split {
        let mut buffer = LineBuffer::new(0, 0, max, header);
        let (mut records, mut refused) = (Vec::new(), Vec::new());
        for (i, chunk) in chunks.iter().enumerate() {
            let (mut buf, _) = buffer.lend();
            buf.extend_from_slice(chunk);
            buffer.filled(buf);
            let last = at_end && i + 1 == chunks.len();
            while let Some(taken) = buffer.take(2, last) {
                for (range, line) in taken.ranges.iter().zip(&taken.lines) {
                    let text = String::from_utf8_lossy(buffer.bytes(range.clone()));
                    records.push((*line, text.into_owned()));
                }
                for r in taken.refused {
                    refused.push((r.line, r.len, r.head.len()));
                }
            }
        }
        (records, refused, buffer.position())
    }

    #[test]
    fn lines_split_across_chunks_with_crlf_and_headers() {
        let (records, refused, position) =
            split(&[b"head\r\na\r\nbb", b"b\n\nc", b"cc\nd"], 10, 1, false);
        let expected = [(2, "a"), (3, "bbb"), (4, ""), (5, "ccc")];
        assert_eq!(records, expected.map(|(l, t)| (l, t.to_string())).to_vec());
        assert!(refused.is_empty());
        // The partial "d" waits for its newline.
        assert_eq!(position, (18, 5));

        let (records, _, position) = split(&[b"a\nb"], 10, 0, true);
        assert_eq!(records, [(1, "a".to_string()), (2, "b".to_string())]);
        assert_eq!(position, (3, 2));
    }

    #[test]
    fn overlong_lines_are_refused_while_streaming() {
        let long = vec![b'x'; 25];
        let first = [&b"ok\n"[..], &long, b"\nshort\n"].concat();
        // Complete in one chunk; streamed over three chunks; unfinished at the end.
        let chunks: Vec<&[u8]> = vec![&first, &long[..12], &long[..12], b"yy\n", b"fine\n", &long];
        let (records, refused, position) = split(&chunks, 10, 0, true);
        assert_eq!(
            records,
            [
                (1, "ok".to_string()),
                (3, "short".to_string()),
                (5, "fine".to_string())
            ]
        );
        assert_eq!(refused, [(2, 25, 25), (4, 26, 26), (6, 25, 25)]);
        assert_eq!(position, (3 + 26 + 6 + 27 + 5 + 25, 6));

        // While a line is skipped, the position stays at its start.
        let (_, refused, position) = split(&[b"ok\n", &long], 10, 0, false);
        assert!(refused.is_empty());
        assert_eq!(position, (3, 1));
    }
}
