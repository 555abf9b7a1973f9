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
