//! Raw lines: one string column; blank, non-UTF-8 and over-long lines refused.

use crate::support::{decode, format};

#[test]
fn each_line_is_one_string() {
    let run = decode(
        &format("type: lines\ncolumn: text"),
        32,
        &[
            b"first line",
            b"  indented, with \"quotes\"\r",
            b"",
            b"\xf0\x28\x8c\x28",
            b"x\xc3",
            b"\t",
            b"this line is longer than thirty-two bytes",
            "\u{1F600} emoji".as_bytes(),
        ],
    );
    assert_eq!(
        run.table(),
        r#"+---------------------------+
| text                      |
+---------------------------+
| first line                |
|   indented, with "quotes" |
| 😀 emoji                  |
+---------------------------+"#
    );
    assert_eq!(run.kept, Some(vec![0, 1, 7]));
    assert_eq!(
        run.dead,
        [
            ("app.log:3".to_string(), "empty record".to_string()),
            ("app.log:4".into(), "invalid UTF-8 at byte 0".into()),
            ("app.log:5".into(), "invalid UTF-8 at byte 1".into()),
            ("app.log:6".into(), "empty record".into()),
            (
                "app.log:7".into(),
                "record of 41 bytes is longer than the maximum of 32 bytes".into()
            ),
        ]
    );
}

#[test]
fn the_column_is_called_line_by_default() {
    let run = decode(&format("type: lines"), 100, &[b"a", b"b"]);
    assert_eq!(
        run.table(),
        "+------+\n| line |\n+------+\n| a    |\n| b    |\n+------+"
    );
    assert_eq!(run.kept, None);
}
