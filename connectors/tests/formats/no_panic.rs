//! No decoder panics on any input, and every record is either a row or a dead letter whose
//! reason is bounded, never lost: over arbitrary bytes and over structure-aware edits of
//! valid records of each format (its separators, quotes and brackets inserted, repeated
//! hundreds of times, deleted; records cut and spliced).

use arrow::array::AsArray;
use proptest::prelude::*;
use weir_connectors::format::dead_letter::{DeadLetters, KEEP_BYTES, REASON_CHARS};
use weir_connectors::format::FormatConfig;

use crate::support::format;

fn formats() -> Vec<FormatConfig> {
    [
        JSON,
        CSV,
        "type: csv\ndelimiter: \"\\t\"\nquote: \"'\"\ncolumns: [{name: a, type: string, nullable: false}, {name: b, type: int32}]",
        "type: lines",
        "type: syslog",
        "type: syslog\nrfc: 5424",
        SYSLOG_3164,
        "type: access_log\nvariant: common",
        ACCESS_LOG,
        REGEX,
    ]
    .iter()
    .map(|y| format(y))
    .collect()
}

const JSON: &str = "type: json\ncolumns: [{name: a, type: string}, {name: b, type: int64, nullable: false}, {name: t, type: timestamp}]";
const CSV: &str = "type: csv\ncolumns: [{name: a, type: string}, {name: b, type: int64, nullable: false}, {name: t, type: timestamp}, {name: d, type: date}, {name: f, type: float32}, {name: x, type: boolean}, {name: y, type: binary}]";
const SYSLOG_3164: &str = "type: syslog\nrfc: 3164\nyear: 2024";
const ACCESS_LOG: &str = "type: access_log\nvariant: combined";
const REGEX: &str = r"type: regex
pattern: '^(?P<a>\S+) (?P<n>-?\d+)?(?P<rest>.*)$'
columns: [{name: n, type: int64}, {name: a, type: string, nullable: false}]";

/// Well-formed records of every format, to be cut and mutated.
const SEEDS: &[&str] = &[
    r#"{"a":"x","b":1,"t":"2026-01-01T00:00:00Z"}"#,
    r#"x,1,2026-01-01T00:00:00Z,2026-01-01,1.5,true,"q""q""#,
    "<165>1 2003-10-11T22:14:15.003Z host app - ID47 [id@1 a=\"\\]\"] \u{feff}msg",
    "<34>Oct 11 22:14:15 mymachine su[12]: 'su root' failed",
    r#"127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /a\"b HTTP/1.0" 200 2326 "-" "Mozilla \"x\"""#,
    "abc 12 rest",
    "Jun  4 06:25:01 web-1 CRON[2314]: (root) CMD (run-parts /etc/cron.daily)",
];

/// A seed cut at `cut` with `byte` written at `at` (both taken modulo its length).
fn mutated(seed: usize, cut: usize, at: usize, byte: u8) -> Vec<u8> {
    let mut record = SEEDS[seed % SEEDS.len()].as_bytes().to_vec();
    let len = record.len();
    record[at % len] = byte;
    record.truncate(1 + cut % len);
    record
}

fn record() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..120),
        any::<String>().prop_map(String::into_bytes),
        (any::<usize>(), any::<usize>(), any::<usize>(), any::<u8>())
            .prop_map(|(s, c, a, b)| mutated(s, c, a, b)),
        (
            any::<usize>(),
            any::<usize>(),
            any::<usize>(),
            "[\"\\[\\]<>:\\\\ ,\t-]"
        )
            .prop_map(|(s, c, a, b)| mutated(s, c, a, b.as_bytes()[0])),
    ]
}

/// Decodes `records` with `format`; checks that each is exactly one row or one dead
/// letter (the dead letters are the records not kept, in order, with their bytes), that
/// reasons are bounded, and that kept indexes are in order.
fn check(
    format: &FormatConfig,
    max_record_bytes: usize,
    records: &[&[u8]],
) -> Result<(), TestCaseError> {
    let mut decoder = format.decoder(max_record_bytes).unwrap();
    let mut dead = DeadLetters::default();
    let decoded = decoder
        .decode(records, &|i| format!("p:{i}"), &mut dead)
        .unwrap();
    let rows = decoded.batch.num_rows();
    prop_assert_eq!(rows + dead.len(), records.len(), "{:?}", format);
    let kept = decoded.kept.unwrap_or_else(|| (0..rows as u32).collect());
    prop_assert_eq!(kept.len(), rows);
    prop_assert!(kept.windows(2).all(|w| w[0] < w[1]));
    prop_assert!(kept.iter().all(|&k| (k as usize) < records.len()));
    let refused: Vec<usize> = (0..records.len())
        .filter(|i| !kept.contains(&(*i as u32)))
        .collect();
    let letters = dead.finish().unwrap();
    prop_assert_eq!(letters.as_ref().map_or(0, |l| l.num_rows()), refused.len());
    let Some(letters) = letters else {
        return Ok(());
    };
    let (raw, origin, reason) = (
        letters.column(0).as_binary::<i32>(),
        letters.column(1).as_string::<i32>(),
        letters.column(2).as_string::<i32>(),
    );
    for (r, &i) in refused.iter().enumerate() {
        prop_assert_eq!(origin.value(r), format!("p:{i}"));
        let bytes = records[i];
        prop_assert_eq!(raw.value(r), &bytes[..bytes.len().min(KEEP_BYTES)]);
        let reason = reason.value(r);
        prop_assert!(!reason.is_empty());
        // The cut's suffix, `… (N bytes)`, has at most 30 characters.
        prop_assert!(reason.chars().count() <= REASON_CHARS + 30, "{}", reason);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn decoders_never_panic(records in proptest::collection::vec(record(), 0..12)) {
        let records: Vec<&[u8]> = records.iter().map(Vec::as_slice).collect();
        for format in formats() {
            check(&format, 100, &records)?;
        }
    }
}

/// One edit of a record, at positions taken modulo its length.
#[derive(Debug, Clone)]
enum Edit {
    Cut(usize),
    Delete(usize, usize),
    Insert(usize, Vec<u8>),
    /// Inserts a copy of the record's own bytes `from..from + len` (a spliced field).
    Copy(usize, usize, usize),
}

fn apply(seed: &str, edits: &[Edit]) -> Vec<u8> {
    let mut record = seed.as_bytes().to_vec();
    for edit in edits {
        let at = |i: usize, record: &Vec<u8>| i % (record.len() + 1);
        match edit {
            Edit::Cut(i) => record.truncate(at(*i, &record)),
            Edit::Delete(i, len) => {
                let from = at(*i, &record);
                let to = (from + len).min(record.len());
                record.drain(from..to);
            }
            Edit::Insert(i, bytes) => {
                let i = at(*i, &record);
                record.splice(i..i, bytes.iter().copied());
            }
            Edit::Copy(i, from, len) => {
                let from = at(*from, &record);
                let copy = record[from..(from + len).min(record.len())].to_vec();
                let i = at(*i, &record);
                record.splice(i..i, copy);
            }
        }
    }
    record
}

/// Edits of `seeds` that insert the format's own `tokens` (once, or repeated up to 300
/// times, to nest or to run long), bytes, or copies of the record's parts.
fn edited(
    seeds: &'static [&'static str],
    tokens: &'static [&'static str],
) -> impl Strategy<Value = Vec<u8>> {
    let token = proptest::sample::select(tokens);
    let insert = prop_oneof![
        token.clone().prop_map(|t| t.as_bytes().to_vec()),
        (token, 1..300usize).prop_map(|(t, n)| t.repeat(n).into_bytes()),
        proptest::collection::vec(any::<u8>(), 1..4),
    ];
    let edit = prop_oneof![
        any::<usize>().prop_map(Edit::Cut),
        (any::<usize>(), 1..12usize).prop_map(|(i, n)| Edit::Delete(i, n)),
        (any::<usize>(), insert).prop_map(|(i, b)| Edit::Insert(i, b)),
        (any::<usize>(), any::<usize>(), 1..40usize).prop_map(|(i, f, n)| Edit::Copy(i, f, n)),
    ];
    (
        proptest::sample::select(seeds),
        proptest::collection::vec(edit, 0..4),
    )
        .prop_map(|(seed, edits)| apply(seed, &edits))
}

/// Checks records edited from `seeds` with `tokens` in the format `yaml`, with a maximum
/// that lets edited records through and one that refuses some of them unread.
fn edited_records_decode_or_are_refused(
    yaml: &str,
    records: &[Vec<u8>],
) -> Result<(), TestCaseError> {
    let records: Vec<&[u8]> = records.iter().map(Vec::as_slice).collect();
    let format = format(yaml);
    check(&format, 4096, &records)?;
    check(&format, 64, &records)
}

const JSON_SEEDS: &[&str] = &[
    r#"{"a":"x","b":1,"t":"2026-01-01T00:00:00Z"}"#,
    r#"{"b":-9007199254740993,"a":"é \"q\" \u00e9","t":1767225600123,"extra":[1,{"z":null}]}"#,
];
const JSON_TOKENS: &[&str] = &[
    "{", "}", "[", "]", "\"", ":", ",", "\\", "\\u", "0", "-", "1e999", ".", "null", "true",
    "{\"a\":", "[1,", "\"b\":", " ",
];

const CSV_SEEDS: &[&str] = &[
    r#"x,1,2026-01-01T00:00:00Z,2026-01-01,1.5,true,"q""q""#,
    r#""a,b",-7,0,1970-01-01,-0.5,FALSE,"#,
];
const CSV_TOKENS: &[&str] = &[",", "\"", "\"\"", "\r", "\t", "-", "1", "e", " ", "T", ":"];

const LINES_SEEDS: &[&str] = &["a line", "é\tü", ""];
const LINES_TOKENS: &[&str] = &["\r", " ", "\t", "\u{feff}", "é"];

const SYSLOG_SEEDS: &[&str] = &[
    "<165>1 2003-10-11T22:14:15.003Z host app - ID47 [id@1 a=\"\\]\"] \u{feff}msg",
    "<34>Oct 11 22:14:15 mymachine su[12]: 'su root' failed",
    "Jun  4 06:25:01 web-1 CRON[2314]: (root) CMD (run-parts /etc/cron.daily)",
    "2026-06-04T06:25:08.123456+02:00 web-1 sshd[812]: Received disconnect",
];
const SYSLOG_TOKENS: &[&str] = &[
    "<", ">", "[", "]", ":", " ", "-", "\"", "\\", "=", "1 ", "Jun", "9", "T", "+",
];

const ACCESS_SEEDS: &[&str] = &[
    r#"127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /a\"b HTTP/1.0" 200 2326 "-" "Mozilla \"x\"""#,
    r#"::1 - - [01/Jan/2026:00:00:00 +0000] "-" 400 - "https://r.example/" "curl/8""#,
];
const ACCESS_TOKENS: &[&str] = &["[", "]", "\"", "\\", "\\\"", " ", "-", "/", ":", "+", "9"];

const REGEX_SEEDS: &[&str] = &["abc 12 rest", "x -9223372036854775808"];
const REGEX_TOKENS: &[&str] = &[" ", "-", "9", "99999999999999999999", "\t"];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn edited_json(records in proptest::collection::vec(edited(JSON_SEEDS, JSON_TOKENS), 1..8)) {
        edited_records_decode_or_are_refused(JSON, &records)?;
    }

    #[test]
    fn edited_csv(records in proptest::collection::vec(edited(CSV_SEEDS, CSV_TOKENS), 1..8)) {
        edited_records_decode_or_are_refused(CSV, &records)?;
    }

    #[test]
    fn edited_lines(records in proptest::collection::vec(edited(LINES_SEEDS, LINES_TOKENS), 1..8)) {
        edited_records_decode_or_are_refused("type: lines", &records)?;
    }

    #[test]
    fn edited_syslog(records in proptest::collection::vec(edited(SYSLOG_SEEDS, SYSLOG_TOKENS), 1..8)) {
        edited_records_decode_or_are_refused(SYSLOG_3164, &records)?;
        edited_records_decode_or_are_refused("type: syslog\nrfc: 5424", &records)?;
        edited_records_decode_or_are_refused("type: syslog", &records)?;
    }

    #[test]
    fn edited_access_log(records in proptest::collection::vec(edited(ACCESS_SEEDS, ACCESS_TOKENS), 1..8)) {
        edited_records_decode_or_are_refused(ACCESS_LOG, &records)?;
        edited_records_decode_or_are_refused("type: access_log\nvariant: common", &records)?;
    }

    #[test]
    fn edited_regex(records in proptest::collection::vec(edited(REGEX_SEEDS, REGEX_TOKENS), 1..8)) {
        edited_records_decode_or_are_refused(REGEX, &records)?;
    }
}

#[test]
fn every_seed_decodes_in_its_format() {
    let formats = formats();
    let own = [0, 1, 5, 6, 8, 9, 6].map(|i| &formats[i]);
    for (seed, format) in SEEDS.iter().zip(own) {
        let mut decoder = format.decoder(1000).unwrap();
        let mut dead = DeadLetters::default();
        let decoded = decoder
            .decode(&[seed.as_bytes()], &|_| String::new(), &mut dead)
            .unwrap();
        assert_eq!(
            decoded.batch.num_rows(),
            1,
            "{seed} as {format:?}: {:?}",
            dead.finish()
        );
    }
    let seeds = [
        (JSON, JSON_SEEDS),
        (CSV, CSV_SEEDS),
        ("type: lines", &LINES_SEEDS[..2]),
        (SYSLOG_3164, SYSLOG_SEEDS),
        (ACCESS_LOG, ACCESS_SEEDS),
        (REGEX, REGEX_SEEDS),
    ];
    for (yaml, seeds) in seeds {
        let records: Vec<&[u8]> = seeds.iter().map(|s| s.as_bytes()).collect();
        let run = crate::support::decode(&format(yaml), 4096, &records);
        assert_eq!(run.reasons(), Vec::<&str>::new(), "{yaml}");
    }
}
