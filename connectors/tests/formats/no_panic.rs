//! No decoder panics on any input, and every record is either a row or a dead letter.

use proptest::prelude::*;
use weir_connectors::format::dead_letter::DeadLetters;
use weir_connectors::format::FormatConfig;

use crate::support::format;

fn formats() -> Vec<FormatConfig> {
    [
        "type: json\ncolumns: [{name: a, type: string}, {name: b, type: int64, nullable: false}, {name: t, type: timestamp}]",
        "type: csv\ncolumns: [{name: a, type: string}, {name: b, type: int64, nullable: false}, {name: t, type: timestamp}, {name: d, type: date}, {name: f, type: float32}, {name: x, type: boolean}, {name: y, type: binary}]",
        "type: csv\ndelimiter: \"\\t\"\nquote: \"'\"\ncolumns: [{name: a, type: string, nullable: false}, {name: b, type: int32}]",
        "type: lines",
        "type: syslog",
        "type: syslog\nrfc: 5424",
        "type: syslog\nrfc: 3164\nyear: 2024",
        "type: access_log\nvariant: common",
        "type: access_log\nvariant: combined",
        r"type: regex
pattern: '^(?P<a>\S+) (?P<n>-?\d+)?(?P<rest>.*)$'
columns: [{name: n, type: int64}, {name: a, type: string, nullable: false}]",
    ]
    .iter()
    .map(|y| format(y))
    .collect()
}

/// Well-formed records of every format, to be cut and mutated.
const SEEDS: &[&str] = &[
    r#"{"a":"x","b":1,"t":"2026-01-01T00:00:00Z"}"#,
    r#"x,1,2026-01-01T00:00:00Z,2026-01-01,1.5,true,"q""q""#,
    "<165>1 2003-10-11T22:14:15.003Z host app - ID47 [id@1 a=\"\\]\"] \u{feff}msg",
    "<34>Oct 11 22:14:15 mymachine su[12]: 'su root' failed",
    r#"127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /a\"b HTTP/1.0" 200 2326 "-" "Mozilla \"x\"""#,
    "abc 12 rest",
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

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn decoders_never_panic(records in proptest::collection::vec(record(), 0..12)) {
        let records: Vec<&[u8]> = records.iter().map(Vec::as_slice).collect();
        for format in formats() {
            let mut decoder = format.decoder(100).unwrap();
            let mut dead = DeadLetters::default();
            let decoded = decoder.decode(&records, &|i| format!("p:{i}"), &mut dead).unwrap();
            let rows = decoded.batch.num_rows();
            prop_assert_eq!(rows + dead.len(), records.len(), "{:?}", format);
            match decoded.kept {
                None => prop_assert_eq!(rows, records.len()),
                Some(kept) => {
                    prop_assert_eq!(kept.len(), rows);
                    prop_assert!(kept.windows(2).all(|w| w[0] < w[1]));
                    prop_assert!(kept.iter().all(|&k| (k as usize) < records.len()));
                }
            }
        }
    }
}

#[test]
fn every_seed_decodes_in_its_format() {
    let formats = formats();
    let own = [0, 1, 5, 6, 8, 9].map(|i| &formats[i]);
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
}
