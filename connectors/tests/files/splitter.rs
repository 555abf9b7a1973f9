//! The line splitter against a reference (the file's bytes cut at each `\n`, a trailing CR
//! dropped): every line is exactly one record or one refused line with its exact number
//! and length, and the reported position is always the end of a line handed out, whatever
//! the line lengths around the read size and the maximum, with or without a final
//! newline, with CRLF line ends and header lines.

use proptest::prelude::*;
use weir_connectors::files::lines::{LineBuffer, Taken, KEEP_BYTES};

/// What became of one line: its number, and its bytes (a record) or its length and kept
/// head (refused).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Line {
    Record(u64, Vec<u8>),
    Refused(u64, u64, Vec<u8>),
}

/// The lines of `data` as the splitter must hand them out, and the byte offset after each
/// line end (`ends[k]` after line `k`, `ends[0] == 0`).
fn reference(data: &[u8], max: usize, header: u64, at_end: bool) -> (Vec<Line>, Vec<u64>) {
    let mut lines = Vec::new();
    let mut ends = vec![0];
    let mut start = 0;
    let mut number = 0;
    while start < data.len() {
        let end = match data[start..].iter().position(|&b| b == b'\n') {
            Some(n) => start + n,
            None if at_end => data.len(),
            None => break,
        };
        number += 1;
        let line = &data[start..end];
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if number > header {
            lines.push(if line.len() > max {
                Line::Refused(
                    number,
                    line.len() as u64,
                    line[..line.len().min(KEEP_BYTES)].to_vec(),
                )
            } else {
                Line::Record(number, line.to_vec())
            });
        }
        start = (end + 1).min(data.len());
        ends.push(start as u64);
    }
    (lines, ends)
}

impl Line {
    fn number(&self) -> u64 {
        match self {
            Line::Record(n, _) | Line::Refused(n, _, _) => *n,
        }
    }
}

/// Copies out what one take handed out (its ranges are valid until the next read).
fn collect(buffer: &LineBuffer, taken: Taken, out: &mut Vec<Line>) {
    assert_eq!(taken.ranges.len(), taken.lines.len());
    for (range, &line) in taken.ranges.iter().zip(&taken.lines) {
        out.push(Line::Record(line, buffer.bytes(range.clone()).to_vec()));
    }
    for r in taken.refused {
        out.push(Line::Refused(r.line, r.len, r.head));
    }
}

/// Reads `data` as the file source does: reads of up to `chunk` bytes appended to the
/// buffer, lines taken (up to `per_take` at a time) until more bytes are needed, and at
/// the end of the file (`at_end`) a last take that completes a line without newline.
/// Checks the read offset and the position at every step against `ends`.
fn split(
    data: &[u8],
    chunk: usize,
    max: usize,
    header: u64,
    per_take: usize,
    at_end: bool,
    ends: &[u64],
) -> (Vec<Line>, (u64, u64)) {
    let mut buffer = LineBuffer::new(0, 0, max, header as usize);
    let mut out = Vec::new();
    let mut fed = 0;
    let check = |buffer: &LineBuffer| {
        let (offset, line) = buffer.position();
        assert_eq!(
            ends.get(line as usize),
            Some(&offset),
            "position {:?}",
            (offset, line)
        );
    };
    loop {
        while let Some(taken) = buffer.take(per_take, false) {
            collect(&buffer, taken, &mut out);
            check(&buffer);
        }
        if fed == data.len() {
            break;
        }
        let (mut buf, offset) = buffer.lend();
        assert_eq!(
            offset, fed as u64,
            "a read appends where the last one stopped"
        );
        let n = chunk.min(data.len() - fed);
        buf.extend_from_slice(&data[fed..fed + n]);
        fed += n;
        buffer.filled(buf);
    }
    if at_end {
        while let Some(taken) = buffer.take(per_take, true) {
            collect(&buffer, taken, &mut out);
            check(&buffer);
        }
    }
    (out, buffer.position())
}

/// A file's bytes: lines of lengths near `max` and `chunk` (and some shorter), each ended
/// by `\n` or `\r\n`, the last maybe by nothing. Line bytes include CR and non-UTF-8.
fn file(max: usize, chunk: usize) -> impl Strategy<Value = Vec<u8>> {
    let lens = prop_oneof![
        Just(max.saturating_sub(1)),
        Just(max),
        Just(max + 1),
        Just(max + 2),
        Just(chunk.saturating_sub(1)),
        Just(chunk),
        Just(chunk + 1),
        Just(2 * chunk + 1),
        0..3 * chunk + 3,
    ];
    let line = (
        lens,
        prop_oneof![Just(&b"\n"[..]), Just(&b"\r\n"[..])],
        any::<u64>(),
    );
    let last = prop_oneof![Just(&b""[..]), Just(&b"\n"[..]), Just(&b"\r\n"[..])];
    (proptest::collection::vec(line, 0..8), last).prop_map(|(lines, last)| {
        let mut data = Vec::new();
        let count = lines.len();
        for (i, (len, end, seed)) in lines.into_iter().enumerate() {
            let bytes = [b'a', b'b', b'\r', 0xff, b' '];
            data.extend((0..len).map(|k| bytes[(seed >> (k % 60)) as usize % bytes.len()]));
            data.extend_from_slice(if i + 1 == count { last } else { end });
        }
        data
    })
}

fn case() -> impl Strategy<Value = (Vec<u8>, usize, usize, u64, usize, bool)> {
    (1..24usize, 1..40usize).prop_flat_map(|(max, chunk)| {
        (
            file(max, chunk),
            Just(chunk),
            Just(max),
            0..3u64,
            1..4usize,
            any::<bool>(),
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn every_line_is_one_record_or_one_refused_line_at_its_position(
        (data, chunk, max, header, per_take, at_end) in case()
    ) {
        let (expected, ends) = reference(&data, max, header, at_end);
        let (mut lines, position) = split(&data, chunk, max, header, per_take, at_end, &ends);
        lines.sort_by_key(Line::number);
        prop_assert_eq!(lines, expected);
        let complete = (ends.len() - 1) as u64;
        prop_assert_eq!(position, (ends[complete as usize], complete));
        if at_end {
            prop_assert_eq!(position.0, data.len() as u64);
        }
    }
}

/// The failure this guards: a good line, then in the same read the start of one longer
/// than the maximum (its newline comes with a later read, or never).
#[test]
fn a_long_line_after_a_good_one_in_one_read_is_refused() {
    for tail in [&b"\nlast ok\n"[..], b""] {
        let data = [&b"first ok\n"[..], &[b'x'; 50], tail].concat();
        let (_, ends) = reference(&data, 10, 0, true);
        let (mut lines, position) = split(&data, 40, 10, 0, 100, true, &ends);
        lines.sort_by_key(Line::number);
        let mut expected = vec![
            Line::Record(1, b"first ok".to_vec()),
            Line::Refused(2, 50, vec![b'x'; 50]),
        ];
        if !tail.is_empty() {
            expected.push(Line::Record(3, b"last ok".to_vec()));
        }
        let count = expected.len() as u64;
        assert_eq!(lines, expected);
        assert_eq!(position, (data.len() as u64, count));
    }
}
