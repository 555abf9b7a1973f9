//! CSV: quoting, nulls, typed columns, malformed lines, and the encoder round trip.

use crate::support::{decode, format, records};

const COLUMNS: &str = r#"
type: csv
columns:
  - {name: name, type: string}
  - {name: qty, type: int64, nullable: false}
  - {name: price, type: float64}
  - {name: paid, type: boolean}
  - {name: at, type: timestamp}
  - {name: day, type: date}
"#;

#[test]
fn quoted_fields_nulls_and_types() {
    let run = decode(
        &format(COLUMNS),
        1024,
        &records(&[
            "apple,3,1.25,true,2026-11-22T08:00:00Z,2026-11-22",
            r#""pear, green",1,0.5,FALSE,1767225600123,2026-01-01"#,
            r#""say ""hi""",0,,,,"#,
            "\"\",7,2,true,2026-11-22 09:30:00+01:00,2026-11-22\r",
            ",12,,,,",
        ]),
    );
    assert_eq!(
        run.table(),
        "+-------------+-----+-------+-------+--------------------------+------------+\n\
         | name        | qty | price | paid  | at                       | day        |\n\
         +-------------+-----+-------+-------+--------------------------+------------+\n\
         | apple       | 3   | 1.25  | true  | 2026-11-22T08:00:00Z     | 2026-11-22 |\n\
         | pear, green | 1   | 0.5   | false | 2026-01-01T00:00:00.123Z | 2026-01-01 |\n\
         | say \"hi\"    | 0   |       |       |                          |            |\n\
         |             | 7   | 2.0   | true  | 2026-11-22T08:30:00Z     | 2026-11-22 |\n\
         |             | 12  |       |       |                          |            |\n\
         +-------------+-----+-------+-------+--------------------------+------------+"
    );
    let names = run.batch.column(0);
    assert!(!names.is_null(3), "\"\" is the empty string");
    assert!(names.is_null(4), "an empty field is null");
    assert_eq!(run.kept, None);
}

#[test]
fn other_delimiter_and_quote() {
    let config = format(
        "type: csv\ndelimiter: ';'\nquote: \"'\"\ncolumns: [{name: a, type: string}, {name: b, type: int32}]",
    );
    let run = decode(
        &config,
        1024,
        &records(&["'x;y';1", "'it''s';2", "plain;3"]),
    );
    assert_eq!(
        run.table(),
        "+-------+---+\n\
         | a     | b |\n\
         +-------+---+\n\
         | x;y   | 1 |\n\
         | it's  | 2 |\n\
         | plain | 3 |\n\
         +-------+---+"
    );
}

#[test]
fn malformed_lines_become_dead_letters_naming_column_and_value() {
    let long = format!("{},1,,,,", "x".repeat(100));
    let lines: Vec<&[u8]> = vec![
        b"ok,1,,,,",
        b"short,2,3.5",
        b"long,1,,,,,extra",
        b"bad,many,,,,",
        b"price,1,1.2.3,,,",
        b"paid,1,,yes,,",
        b"when,1,,,yesterday,",
        b"day,1,,,,2026-13-01",
        b"\"open,1,,,,",
        b"\"closed\"x,1,,,,",
        b"missing,,,,,",
        b"",
        b"   ",
        b"caf\xc3\xa9,1,,,,",
        b"caf\xe9,1,,,,",
        long.as_bytes(),
        b"last,9,,,,",
    ];
    let run = decode(&format(COLUMNS), 64, &lines);
    assert_eq!(
        run.table(),
        "+------+-----+-------+------+----+-----+\n\
         | name | qty | price | paid | at | day |\n\
         +------+-----+-------+------+----+-----+\n\
         | ok   | 1   |       |      |    |     |\n\
         | café | 1   |       |      |    |     |\n\
         | last | 9   |       |      |    |     |\n\
         +------+-----+-------+------+----+-----+"
    );
    assert_eq!(run.kept, Some(vec![0, 13, 16]));
    assert_eq!(
        run.origins(),
        [
            "app.log:2",
            "app.log:3",
            "app.log:4",
            "app.log:5",
            "app.log:6",
            "app.log:7",
            "app.log:8",
            "app.log:9",
            "app.log:10",
            "app.log:11",
            "app.log:12",
            "app.log:13",
            "app.log:15",
            "app.log:16"
        ]
    );
    assert_eq!(
        run.reasons(),
        [
            "expected 6 fields, found 3",
            "expected 6 fields, found 7",
            "column 'qty': 'many' is not an int64",
            "column 'price': '1.2.3' is not a float64",
            "column 'paid': 'yes' is not a boolean (true or false)",
            "column 'at': 'yesterday' is not a timestamp (RFC 3339 or epoch milliseconds)",
            "column 'day': '2026-13-01' is not a date (YYYY-MM-DD)",
            "column 'name': quoted field is not closed (truncated line?)",
            "column 'name': text after the closing quote",
            "column 'qty': '' is not an int64",
            "empty record",
            "empty record",
            "invalid UTF-8 at byte 3",
            "record of 106 bytes is longer than the maximum of 64 bytes",
        ]
    );
    assert_eq!(run.raw[0], b"short,2,3.5");
    assert_eq!(run.raw[13].len(), 106);
}

#[test]
fn header_lines_only_for_csv_with_a_header() {
    let with = format("type: csv\nheader: true\ncolumns: [{name: a, type: string}]");
    let without = format("type: csv\ncolumns: [{name: a, type: string}]");
    assert_eq!(with.header_lines(), 1);
    assert_eq!(without.header_lines(), 0);
    assert_eq!(format("type: lines").header_lines(), 0);
    assert_eq!(format("type: syslog").header_lines(), 0);
}

#[test]
fn encoded_rows_decode_to_the_same_rows() {
    let config = format(COLUMNS);
    let original = decode(
        &config,
        1024,
        &records(&[
            r#""a, ""quoted"" name",3,1.25,true,2026-11-22T08:00:00.5Z,2026-11-22"#,
            r#""",0,-0.001,false,0,1970-01-01"#,
            ",12,,,,",
            "\"two\nlines\",1,1e30,,,",
        ]),
    )
    .batch;
    let mut encoder = config.encoder().unwrap();
    let encoded = encoder.encode(&original).unwrap();
    assert_eq!(
        encoded,
        [
            &b"\"a, \"\"quoted\"\" name\",3,1.25,true,2026-11-22T08:00:00.500Z,2026-11-22"[..],
            b"\"\",0,-0.001,false,1970-01-01T00:00:00Z,1970-01-01",
            b",12,,,,",
            b"\"two\nlines\",1,1e30,,,",
        ]
    );
    let decoded = decode(
        &config,
        1024,
        &encoded.iter().map(Vec::as_slice).collect::<Vec<_>>(),
    );
    assert_eq!(decoded.batch, original);
    assert_eq!(decoded.kept, None);
}

#[test]
fn header_names_the_columns() {
    use weir_connectors::format::csv_encode::CsvEncoder;
    let config = weir_connectors::format::CsvConfig {
        delimiter: ';',
        ..match format(COLUMNS) {
            weir_connectors::format::FormatConfig::Csv(c) => c,
            other => panic!("{other:?}"),
        }
    };
    let schema = weir_connectors::format::FormatConfig::Csv(config.clone())
        .schema()
        .unwrap();
    let header = CsvEncoder::new(&config).unwrap().header(&schema);
    assert_eq!(header, b"name;qty;price;paid;at;day");
}
