//! Regex: named groups as typed columns, lines that do not match, conversion failures.

use crate::support::{decode, format};

const APP_LOG: &str = r#"
type: regex
pattern: '^(?P<level>[A-Z]+) (?P<code>\d+) (?P<took_ms>[\d.]+)ms(?: (?P<note>.*))?$'
columns:
  - {name: code, type: int32, nullable: false}
  - {name: took_ms, type: float64}
"#;

#[test]
fn named_groups_become_typed_columns() {
    let run = decode(
        &format(APP_LOG),
        1024,
        &[
            b"INFO 200 12.5ms served /index.html",
            b"WARN 503 1000ms",
            b"ERROR 500 0.25ms db: \"timeout\"",
        ],
    );
    assert_eq!(
        run.table(),
        r#"+-------+------+---------+--------------------+
| level | code | took_ms | note               |
+-------+------+---------+--------------------+
| INFO  | 200  | 12.5    | served /index.html |
| WARN  | 503  | 1000.0  |                    |
| ERROR | 500  | 0.25    | db: "timeout"      |
+-------+------+---------+--------------------+"#
    );
    assert!(run.batch.column(3).is_null(1), "an unmatched group is null");
}

#[test]
fn lines_that_do_not_match_or_convert_are_dead_letters() {
    let run = decode(
        &format(APP_LOG),
        40,
        &[
            b"INFO 200 1ms ok",
            b"info 200 1ms lower case level",
            b"INFO 99999999999 1ms",
            b"INFO 200 1.2.3ms",
            b"INFO 200",
            b"INFO \xe2\x82 1ms",
            b"",
            b"INFO 200 1ms but this note makes the line too long",
        ],
    );
    assert_eq!(run.kept, Some(vec![0]));
    assert_eq!(
        run.reasons(),
        [
            "does not match pattern",
            "group 'code': '99999999999' is not an int32",
            "group 'took_ms': '1.2.3' is not a float64",
            "does not match pattern",
            "invalid UTF-8 at byte 5",
            "empty record",
            "record of 50 bytes is longer than the maximum of 40 bytes",
        ]
    );
    assert_eq!(run.origins()[0], "app.log:2");
}

#[test]
fn a_non_nullable_group_must_match() {
    let run = decode(
        &format("type: regex\npattern: '(?P<a>x)?(?P<b>y)'\ncolumns: [{name: a, type: string, nullable: false}]"),
        100,
        &[b"xy", b"y"],
    );
    assert_eq!(run.kept, Some(vec![0]));
    assert_eq!(
        run.reasons(),
        ["group 'a' did not match and is not nullable"]
    );
}

#[test]
fn bad_patterns_are_configuration_errors() {
    let error = |yaml: &str| format(yaml).decoder(100).err().unwrap().to_string();
    assert!(error("type: regex\npattern: '(?P<a>'").starts_with(
        "invalid regex format configuration: pattern is not a valid regular expression"
    ));
    assert_eq!(
        error("type: regex\npattern: '(a)(b)'"),
        "invalid regex format configuration: pattern has no named group (?P<name>...)"
    );
    assert_eq!(
        error("type: regex\npattern: '(?P<a>.)'\ncolumns: [{name: b, type: int32}]"),
        "invalid regex format configuration: column 'b' is not a named group of the pattern"
    );
}
