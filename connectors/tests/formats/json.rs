//! JSON: columns inferred from a sample, and rows encoded then decoded unchanged.

use weir_connectors::format::{encode_json_lines, infer_json_columns, ColumnSpec, FormatConfig};

use crate::support::{decode, format};

#[test]
fn columns_are_inferred_from_a_sample() {
    let sample: Vec<&[u8]> = vec![
        br#"{"service":"api","latency_ms":12,"at":"2026-11-22T08:00:00Z","ok":true,"tags":["a"]}"#,
        br#"{"service":"db","latency_ms":7.5,"at":"2026-11-22T08:00:01.250+01:00","user":null}"#,
        b"not json",
        br#"[1, 2]"#,
        br#"{"service":"api","latency_ms":3,"at":"2026-11-22T08:00:02Z","ok":false,"code":"E1"}"#,
        br#"{"code":7,"user":null,"nested":{"a":1}} trailing"#,
        br#"{"code":7,"user":null,"nested":{"a":1}}"#,
    ];
    let columns = infer_json_columns(&sample).unwrap();
    assert_eq!(
        columns,
        [
            ColumnSpec::new("service", "string"),
            ColumnSpec::new("latency_ms", "float64"),
            ColumnSpec::new("at", "timestamp"),
            ColumnSpec::new("ok", "boolean"),
            ColumnSpec::new("user", "string"),
            ColumnSpec::new("code", "string"),
        ]
    );
    let run = decode(&FormatConfig::Json { columns }, 1024, &sample);
    assert_eq!(
        run.table(),
        r#"+---------+------------+--------------------------+-------+------+------+
| service | latency_ms | at                       | ok    | user | code |
+---------+------------+--------------------------+-------+------+------+
| api     | 12.0       | 2026-11-22T08:00:00Z     | true  |      |      |
| db      | 7.5        | 2026-11-22T07:00:01.250Z |       |      |      |
| api     | 3.0        | 2026-11-22T08:00:02Z     | false |      | E1   |
+---------+------------+--------------------------+-------+------+------+"#
    );
}

#[test]
fn inference_needs_one_object() {
    let error = infer_json_columns(&[b"1", b"nope"])
        .unwrap_err()
        .to_string();
    assert_eq!(
        error,
        "invalid json format configuration: cannot infer columns: none of the 2 sample records is a JSON object"
    );
}

#[test]
fn encoded_rows_decode_to_the_same_rows() {
    let config = format(
        r#"
type: json
columns:
  - {name: name, type: string}
  - {name: n, type: int64, nullable: false}
  - {name: x, type: float32}
  - {name: ok, type: boolean}
  - {name: at, type: timestamp}
  - {name: day, type: date}
"#,
    );
    let original = decode(
        &config,
        1024,
        &[
            br#"{"name":"line\nbreak \"quoted\" \u00e9","n":1,"x":0.5,"ok":true,"at":"2026-11-22T08:00:00.123Z","day":"2026-11-22"}"#,
            br#"{"n":-9007199254740993}"#,
            br#"{"name":"","n":0,"x":-1e-3,"ok":false,"at":0,"day":"1970-01-01"}"#,
        ],
    )
    .batch;
    let encoded = encode_json_lines(&original).unwrap();
    assert_eq!(
        encoded,
        [
            r#"{"name":"line\nbreak \"quoted\" é","n":1,"x":0.5,"ok":true,"at":"2026-11-22T08:00:00.123Z","day":"2026-11-22"}"#.as_bytes(),
            br#"{"n":-9007199254740993}"#,
            br#"{"name":"","n":0,"x":-0.001,"ok":false,"at":"1970-01-01T00:00:00Z","day":"1970-01-01"}"#,
        ]
    );
    let mut encoder = config.encoder().unwrap();
    assert_eq!(encoder.encode(&original).unwrap(), encoded);
    let records: Vec<&[u8]> = encoded.iter().map(Vec::as_slice).collect();
    let decoded = decode(&config, 1024, &records);
    assert_eq!(decoded.batch, original);
}

#[test]
fn only_json_and_csv_encode() {
    let error = format("type: syslog").encoder().err().unwrap().to_string();
    assert_eq!(
        error,
        "invalid format configuration: the syslog format can only decode"
    );
}

/// `{status: int64 (required), service: string}`.
fn service_format() -> FormatConfig {
    format(
        "type: json\ncolumns: [{name: status, type: int64, nullable: false}, {name: service, type: string}]",
    )
}

/// Nesting 100,000 deep, as a column's value or as the whole record, or spread over the
/// records of one read (each unclosed), is refused before it is parsed, so it cannot
/// overflow the stack; the row after it decodes.
#[test]
fn deep_nesting_is_refused_unparsed() {
    let deep = 100_000;
    let in_value = format!(
        r#"{{"status":1,"service":{}{}}}"#,
        "[".repeat(deep),
        "]".repeat(deep)
    );
    let whole = format!("{}{}", "[".repeat(deep), "]".repeat(deep));
    let objects = r#"{"a":"#.repeat(deep);
    let unclosed = "[".repeat(127);
    let mut records: Vec<&[u8]> = vec![in_value.as_bytes(), whole.as_bytes(), objects.as_bytes()];
    records.extend(std::iter::repeat_n(unclosed.as_bytes(), 1000));
    records.push(br#"{"status":200,"service":"api"}"#);
    let run = decode(&service_format(), 1 << 20, &records);
    assert_eq!(run.kept, Some(vec![1003]));
    assert_eq!(
        run.reasons()[..3],
        [
            "nested deeper than 128 levels at byte 149",
            "nested deeper than 128 levels at byte 128",
            "nested deeper than 128 levels at byte 640",
        ]
    );
    assert!(run.reasons()[3..]
        .iter()
        .all(|r| *r == "invalid JSON: Truncated record whilst reading list"));
    assert_eq!(run.raw[0], in_value.as_bytes()[..64 * 1024]);
}

/// A record without a required field names it; one with it null too.
#[test]
fn a_missing_required_field_is_named() {
    let run = decode(
        &service_format(),
        1024,
        &[
            br#"{"service":"api"}"#,
            br#"{"status":null,"service":"api"}"#,
            br#"{"status":500}"#,
        ],
    );
    assert_eq!(
        run.reasons(),
        [
            "required field 'status' is missing or null",
            "required field 'status' is missing or null",
        ]
    );
    assert_eq!(run.kept, Some(vec![2]));
    assert_eq!(
        run.table(),
        "+--------+---------+\n\
         | status | service |\n\
         +--------+---------+\n\
         | 500    |         |\n\
         +--------+---------+"
    );
}

/// A 120 KB value of the wrong type: the reason names the field and quotes the start of
/// the value, cut to 300 characters in all; `raw` keeps the record.
#[test]
fn reasons_quote_a_bounded_part_of_the_value() {
    let value = "9".repeat(120_000);
    let record = format!(r#"{{"status":200,"service":[{value}]}}"#);
    let run = decode(&service_format(), 1 << 20, &[record.as_bytes()]);
    let reason = run.reasons()[0];
    let prefix = "invalid JSON: whilst decoding field 'service': expected string got [999";
    assert!(reason.starts_with(prefix), "{reason}");
    assert!(reason.ends_with("… (120069 bytes)"), "{reason}");
    assert_eq!(
        reason.chars().count(),
        300 + "… (120069 bytes)".chars().count()
    );
    assert_eq!(run.raw[0], record.as_bytes()[..64 * 1024]);
}
