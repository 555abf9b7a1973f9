//! Access logs: the Apache documentation's examples, nginx lines, `-` values, escapes,
//! and malformed lines.

use crate::support::{decode, format};

#[test]
fn combined_lines() {
    let run = decode(
        &format("type: access_log\nvariant: combined"),
        4096,
        &[
            br#"127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326 "http://www.example.com/start.html" "Mozilla/4.08 [en] (Win98; I ;Nav)""#,
            br#"203.0.113.9 - - [22/Nov/2026:08:01:02 +0000] "POST /api/v1/items?id=3 HTTP/2.0" 201 - "-" "curl/8.5.0""#,
            br#"2001:db8::1 - - [22/Nov/2026:08:01:03 +0130] "-" 408 0 "-" "-""#,
            br#"10.1.2.3 id42 bob [29/Feb/2024:23:59:59 -1200] "GET /q?s=\"x\" HTTP/1.1" 404 153 "https://example.org/" "Bot \"quoted\" \\ \x5c""#,
        ],
    );
    assert_eq!(
        run.table(),
        r#"+-------------+-------+-------+----------------------+--------+--------------------+----------+--------+-------+-----------------------------------+-----------------------------------+
| client_ip   | ident | user  | timestamp            | method | path               | protocol | status | bytes | referer                           | user_agent                        |
+-------------+-------+-------+----------------------+--------+--------------------+----------+--------+-------+-----------------------------------+-----------------------------------+
| 127.0.0.1   |       | frank | 2000-10-10T20:55:36Z | GET    | /apache_pb.gif     | HTTP/1.0 | 200    | 2326  | http://www.example.com/start.html | Mozilla/4.08 [en] (Win98; I ;Nav) |
| 203.0.113.9 |       |       | 2026-11-22T08:01:02Z | POST   | /api/v1/items?id=3 | HTTP/2.0 | 201    |       |                                   | curl/8.5.0                        |
| 2001:db8::1 |       |       | 2026-11-22T06:31:03Z |        |                    |          | 408    | 0     |                                   |                                   |
| 10.1.2.3    | id42  | bob   | 2024-03-01T11:59:59Z | GET    | /q?s="x"           | HTTP/1.1 | 404    | 153   | https://example.org/              | Bot "quoted" \ \x5c               |
+-------------+-------+-------+----------------------+--------+--------------------+----------+--------+-------+-----------------------------------+-----------------------------------+"#
    );
    assert_eq!(run.kept, None);
}

#[test]
fn common_lines() {
    let run = decode(
        &format("type: access_log\nvariant: common"),
        4096,
        &[
            br#"127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326"#,
            br#"::1 - - [01/Jan/1999:00:00:00 +0000] "OPTIONS * HTTP/1.1" 200 -"#,
        ],
    );
    assert_eq!(
        run.table(),
        r#"+-----------+-------+-------+----------------------+---------+----------------+----------+--------+-------+
| client_ip | ident | user  | timestamp            | method  | path           | protocol | status | bytes |
+-----------+-------+-------+----------------------+---------+----------------+----------+--------+-------+
| 127.0.0.1 |       | frank | 2000-10-10T20:55:36Z | GET     | /apache_pb.gif | HTTP/1.0 | 200    | 2326  |
| ::1       |       |       | 1999-01-01T00:00:00Z | OPTIONS | *              | HTTP/1.1 | 200    |       |
+-----------+-------+-------+----------------------+---------+----------------+----------+--------+-------+"#
    );
}

#[test]
fn malformed_lines_become_dead_letters() {
    let lines: Vec<&[u8]> = vec![
        br#"1.2.3.4 - - [22/Nov/2026:08:01:02 +0000] "\x16\x03\x01\x00\xa5\x01" 400 226 "-" "-""#,
        br#"1.2.3.4 - - [22/Nov/2026:08:01:02 +0000] "GET /only-two" 400 226 "-" "-""#,
        br#"1.2.3.4 - - [22/Nov/2026:08:01:02 +0000] "GET / HTTP/1.1" 2xx 226 "-" "-""#,
        br#"1.2.3.4 - - [22/Nov/2026:08:01:02 +0000] "GET / HTTP/1.1" 200 big "-" "-""#,
        br#"1.2.3.4 - - [22/Nov/2026 08:01:02 +0000] "GET / HTTP/1.1" 200 1 "-" "-""#,
        br#"1.2.3.4 - - [31/Nov/2026:08:01:02 +0000] "GET / HTTP/1.1" 200 1 "-" "-""#,
        br#"1.2.3.4 - - [22/Nov/2026:08:01:02 +0000] "GET / HTTP/1.1" 200 1 "-" "Mozilla"#,
        br#"1.2.3.4 - - [22/Nov/2026:08:01:02 +0000] "GET / HTTP/1.1" 200 1 "-" "-" extra"#,
        br#"1.2.3.4 - - [22/Nov/2026:08:01:02 +0000] "GET / HTTP/1.1" 200 1"#,
        br#"1.2.3.4 - - [22/Nov/2026:08:01:02 +0000"#,
        br#"1.2.3.4 -"#,
        b"1.2.3.4 - - [22/Nov/2026:08:01:02 +0000] \"GET /\xff HTTP/1.1\" 200 1 \"-\" \"-\"",
        b"",
        br#"1.2.3.4 - - [22/Nov/2026:08:01:02 +0000] "GET /a-very-long-path-that-goes-on-and-on HTTP/1.1" 200 1 "-" "-""#,
        br#"1.2.3.4 - - [22/Nov/2026:08:01:02 +0000] "GET / HTTP/1.1" 200 1 "-" "-""#,
    ];
    let run = decode(&format("type: access_log\nvariant: combined"), 100, &lines);
    assert_eq!(run.kept, Some(vec![14]));
    assert_eq!(run.origins().last(), Some(&"app.log:14"));
    assert_eq!(
        run.reasons(),
        [
            r"request '\x16\x03\x01\x00\xa5\x01' is not 'METHOD PATH PROTOCOL'",
            "request 'GET /only-two' is not 'METHOD PATH PROTOCOL'",
            "status '2xx' is not a number",
            "bytes 'big' is not a number or '-'",
            "timestamp '22/Nov/2026 08:01:02 +0000' is not 'dd/Mon/yyyy:hh:mm:ss +zzzz'",
            "timestamp '31/Nov/2026:08:01:02 +0000' is not 'dd/Mon/yyyy:hh:mm:ss +zzzz'",
            "user_agent is not closed by '\"' (truncated line?)",
            "unexpected text after user_agent: ' extra'",
            "the line ends at bytes (truncated line?)",
            "timestamp is not closed by ']' (truncated line?)",
            "the line ends at ident (truncated line?)",
            "invalid UTF-8 at byte 47",
            "empty record",
            "record of 107 bytes is longer than the maximum of 100 bytes",
        ]
    );
}

#[test]
fn common_refuses_combined_lines() {
    let run = decode(
        &format("type: access_log\nvariant: common"),
        4096,
        &[br#"1.2.3.4 - - [22/Nov/2026:08:01:02 +0000] "GET / HTTP/1.1" 200 1 "-" "curl""#],
    );
    assert_eq!(
        run.reasons(),
        [r#"unexpected text after bytes: '"-" "curl"'"#]
    );
}
