//! Syslog: the RFC 5424 examples, classic RFC 3164 lines, lines as daemons write them to
//! files (no `<PRI>`), auto detection, malformed lines.

use arrow::array::{Array, AsArray};
use arrow::datatypes::TimestampMillisecondType;
use arrow::util::display::{ArrayFormatter, FormatOptions};
use chrono::{Datelike, TimeZone, Utc};

use crate::support::{decode, format};

/// The examples of RFC 5424 section 6.5 (with the BOM before two of the messages), and
/// lines with NILVALUEs everywhere and an escaped `]` in a parameter.
#[test]
fn rfc5424_examples() {
    let run = decode(
        &format("type: syslog\nrfc: 5424"),
        4096,
        &[
            b"<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - \xef\xbb\xbf'su root' failed for lofty on /dev/pts/8",
            b"<165>1 2003-08-24T05:14:15.000003-07:00 192.0.2.1 myproc 8710 - - %% It's time to make the do-nuts.",
            b"<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut=\"3\" eventSource=\"Application\" eventID=\"1011\"] \xef\xbb\xbfAn application event log entry...",
            b"<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut=\"3\" eventSource=\"Application\" eventID=\"1011\"][examplePriority@32473 class=\"high\"]",
            b"<0>1 - - - - - -",
            br#"<191>1 2026-11-22T08:00:00+00:00 h app 1 m [x@1 a="q\"]\\" b="]"] done"#,
        ],
    );
    assert_eq!(
        run.table(),
        r#"+----------+----------+----------+--------------------------+-----------------------+----------+---------+--------+----------------------------------------------------------------------------------------------------------+------------------------------------------+
| priority | facility | severity | timestamp                | hostname              | app_name | proc_id | msg_id | structured_data                                                                                          | message                                  |
+----------+----------+----------+--------------------------+-----------------------+----------+---------+--------+----------------------------------------------------------------------------------------------------------+------------------------------------------+
| 34       | 4        | 2        | 2003-10-11T22:14:15.003Z | mymachine.example.com | su       |         | ID47   |                                                                                                          | 'su root' failed for lofty on /dev/pts/8 |
| 165      | 20       | 5        | 2003-08-24T12:14:15Z     | 192.0.2.1             | myproc   | 8710    |        |                                                                                                          | %% It's time to make the do-nuts.        |
| 165      | 20       | 5        | 2003-10-11T22:14:15.003Z | mymachine.example.com | evntslog |         | ID47   | [exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"]                                     | An application event log entry...        |
| 165      | 20       | 5        | 2003-10-11T22:14:15.003Z | mymachine.example.com | evntslog |         | ID47   | [exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"][examplePriority@32473 class="high"] |                                          |
| 0        | 0        | 0        |                          |                       |          |         |        |                                                                                                          |                                          |
| 191      | 23       | 7        | 2026-11-22T08:00:00Z     | h                     | app      | 1       | m      | [x@1 a="q\"]\\" b="]"]                                                                                   | done                                     |
+----------+----------+----------+--------------------------+-----------------------+----------+---------+--------+----------------------------------------------------------------------------------------------------------+------------------------------------------+"#
    );
    let sd = run.batch.column(8);
    let message = run.batch.column(9);
    assert!(sd.is_null(0) && sd.is_null(1) && !sd.is_null(2));
    assert!(message.is_null(3) && message.is_null(4) && !message.is_null(0));
    assert_eq!(run.kept, None);
}

#[test]
fn rfc3164_lines() {
    let run = decode(
        &format("type: syslog\nrfc: 3164\nyear: 2003"),
        4096,
        &[
            b"<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lofty on /dev/pts/8",
            b"<13>Feb  5 17:32:18 10.0.0.99 sshd[1234]: Accepted publickey for alice",
            b"<13>Feb  5 17:32:18 myhost no tag here",
            b"<30>Dec 31 23:59:59 cron[77]: nightly job done",
            b"<14>2003-10-11T22:14:15.003Z web-1 nginx: started",
            b"<5>just some text",
            b"<5>Oct 11 22:14:15 host app:",
        ],
    );
    assert_eq!(
        run.table(),
        "+----------+----------+----------+--------------------------+-----------+----------+---------+--------+-----------------+------------------------------------------+\n\
         | priority | facility | severity | timestamp                | hostname  | app_name | proc_id | msg_id | structured_data | message                                  |\n\
         +----------+----------+----------+--------------------------+-----------+----------+---------+--------+-----------------+------------------------------------------+\n\
         | 34       | 4        | 2        | 2003-10-11T22:14:15Z     | mymachine | su       |         |        |                 | 'su root' failed for lofty on /dev/pts/8 |\n\
         | 13       | 1        | 5        | 2003-02-05T17:32:18Z     | 10.0.0.99 | sshd     | 1234    |        |                 | Accepted publickey for alice             |\n\
         | 13       | 1        | 5        | 2003-02-05T17:32:18Z     | myhost    |          |         |        |                 | no tag here                              |\n\
         | 30       | 3        | 6        | 2003-12-31T23:59:59Z     |           | cron     | 77      |        |                 | nightly job done                         |\n\
         | 14       | 1        | 6        | 2003-10-11T22:14:15.003Z | web-1     | nginx    |         |        |                 | started                                  |\n\
         | 5        | 0        | 5        |                          |           |          |         |        |                 | just some text                           |\n\
         | 5        | 0        | 5        | 2003-10-11T22:14:15Z     | host      | app      |         |        |                 |                                          |\n\
         +----------+----------+----------+--------------------------+-----------+----------+---------+--------+-----------------+------------------------------------------+"
    );
    assert_eq!(run.kept, None);
}

#[test]
fn rfc3164_without_a_year_takes_the_current_one() {
    let run = decode(
        &format("type: syslog"),
        4096,
        &[b"<34>Jan  1 00:00:00 mymachine su: first second of the year"],
    );
    let at = run
        .batch
        .column(3)
        .as_primitive::<TimestampMillisecondType>()
        .value(0);
    let year = Utc::now().year();
    assert_eq!(
        at,
        Utc.with_ymd_and_hms(year, 1, 1, 0, 0, 0)
            .unwrap()
            .timestamp_millis()
    );
}

#[test]
fn auto_reads_both_rfcs_in_one_read() {
    let run = decode(
        &format("type: syslog\nrfc: auto\nyear: 2026"),
        4096,
        &[
            b"<34>Oct 11 22:14:15 mymachine su: 'su root' failed",
            b"<165>1 2003-10-11T22:14:15.003Z host app - - - hello",
        ],
    );
    let hosts: Vec<_> = run.batch.column(4).as_string::<i32>().iter().collect();
    let messages: Vec<_> = run.batch.column(9).as_string::<i32>().iter().collect();
    assert_eq!(hosts, [Some("mymachine"), Some("host")]);
    assert_eq!(messages, [Some("'su root' failed"), Some("hello")]);
}

#[test]
fn malformed_lines_become_dead_letters() {
    let long = format!("<34>Oct 11 22:14:15 host app: {}", "x".repeat(200));
    let lines: Vec<&[u8]> = vec![
        b"no pri at all",
        b"<192>1 - - - - - -",
        b"<3x>1 - - - - - -",
        b"<34",
        b"<165>1 2003-10-11T22:14:15.003Z mymachine.example.com",
        b"<165>1 2003-10-11 22:14:15 host app - - - msg",
        b"<165>1 2003-10-11T22:14:15.003Z host app - - [id@1 a=\"unterminated",
        b"<165>1 2003-10-11T22:14:15.003Z host app - - sd",
        b"<165>1 2003-10-11T22:14:15.003Z host  app - - - msg",
        b"<34>Feb 30 10:00:00 host app: no such day",
        b"<34>Oct 11 22:1",
        b"<34>Oct 11 22:14:15 host",
        b"<34>",
        b"<34>Oct 11 22:14:15 h\xff: msg",
        b"",
        long.as_bytes(),
        b"<34>Oct 11 22:14:15 mymachine su: kept",
    ];
    let run = decode(&format("type: syslog\nyear: 2003"), 128, &lines);
    assert_eq!(run.kept, Some(vec![16]));
    assert_eq!(run.origins()[0], "app.log:1");
    assert_eq!(run.origins()[15], "app.log:16");
    assert_eq!(
        run.reasons(),
        [
            "no <PRI> and no TIMESTAMP ('Mmm dd hh:mm:ss' or RFC 3339) at the start of the line",
            "PRI '192' is not a number from 0 to 191",
            "PRI '3x' is not a number from 0 to 191",
            "<PRI> is not 1 to 3 digits closed by '>'",
            "the line ends at HOSTNAME (truncated line?)",
            "TIMESTAMP '2003-10-11' is not an RFC 3339 date-time",
            "STRUCTURED-DATA is not closed by ']' (truncated line?)",
            "STRUCTURED-DATA is neither '-' nor '[...]'",
            "APP-NAME is empty",
            "TIMESTAMP 'Feb 30 10:00:00' is not a valid date",
            "TIMESTAMP 'Oct 11 22:1' is not 'Mmm dd hh:mm:ss'",
            "nothing after HOSTNAME (truncated line?)",
            "nothing after <PRI> (truncated line?)",
            "invalid UTF-8 at byte 21",
            "empty record",
            "record of 230 bytes is longer than the maximum of 128 bytes",
        ]
    );
}

#[test]
fn rfc5424_only_refuses_bsd_lines() {
    let run = decode(
        &format("type: syslog\nrfc: 5424"),
        4096,
        &[b"<34>Oct 11 22:14:15 mymachine su: 'su root' failed"],
    );
    assert_eq!(run.reasons(), ["no VERSION 1 after <PRI> (not RFC 5424)"]);
    assert_eq!(run.kept, Some(vec![]));
}

/// The values of column `name` of `run`'s rows as text, `None` for null.
fn column(run: &crate::support::Run, name: &str) -> Vec<Option<String>> {
    let array = run.batch.column_by_name(name).unwrap();
    let formatter = ArrayFormatter::try_new(array.as_ref(), &FormatOptions::default()).unwrap();
    (0..array.len())
        .map(|i| (!array.is_null(i)).then(|| formatter.value(i).to_string()))
        .collect()
}

fn some(values: &[&str]) -> Vec<Option<String>> {
    values.iter().map(|v| Some(v.to_string())).collect()
}

/// Lines as rsyslog and syslog-ng write them to `/var/log/syslog`, `auth.log` and
/// `messages`: no `<PRI>` (priority, facility and severity null), day of month padded
/// with a space, runs of spaces, a program without a tag, the kernel's uptime stamp, an
/// RFC 3339 timestamp (rsyslog's file format).
const FILE_LINES: &[&str] = &[
    "Jun 14 15:16:01 combo sshd(pam_unix)[19939]: authentication failure; logname= uid=0 euid=0 tty=NODEVssh ruser= rhost=218.188.2.4",
    "Jun 14 15:16:02 combo syslogd 1.4.1: restart.",
    "Jun  4 06:25:01 web-1 CRON[2314]: (root) CMD (test -x /usr/sbin/anacron || ( cd / && run-parts --report /etc/cron.daily ))",
    "Jun  4 06:25:03 web-1 kernel: [   12.345678] EXT4-fs (sda1): mounted filesystem with ordered data mode",
    "Jun  4 06:25:04 web-1 systemd[1]: Started Session 42 of user alice.",
    "Jun  4 06:25:05 web-1 su[4242]: pam_unix(su:session): session opened for user root(uid=0) by alice(uid=1000)",
    "Jun  4 06:25:06 web-1 sudo:    alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/usr/bin/apt update",
    "Jun  4 06:25:07 web-1 sshd[812]: Accepted publickey for alice from 192.0.2.7 port 52144 ssh2: ED25519 SHA256:k3Y",
    "Dec 31 23:59:59  web-1  CRON[9]:  (root) CMD (true)",
    "2026-06-04T06:25:08.123456+02:00 web-1 sshd[812]: Received disconnect from 192.0.2.7 port 52144:11: disconnected by user",
];

#[test]
fn file_lines_without_pri() {
    for rfc in ["3164", "auto"] {
        let config = format(&format!("type: syslog\nrfc: {rfc}\nyear: 2026"));
        let records: Vec<&[u8]> = FILE_LINES.iter().map(|l| l.as_bytes()).collect();
        let run = decode(&config, 4096, &records);
        assert_eq!(run.reasons(), Vec::<&str>::new(), "rfc {rfc}");
        assert_eq!(run.kept, None);
        let nulls = vec![None; FILE_LINES.len()];
        for name in [
            "priority",
            "facility",
            "severity",
            "msg_id",
            "structured_data",
        ] {
            assert_eq!(column(&run, name), nulls, "{name}");
        }
        assert_eq!(
            column(&run, "timestamp"),
            some(&[
                "2026-06-14T15:16:01Z",
                "2026-06-14T15:16:02Z",
                "2026-06-04T06:25:01Z",
                "2026-06-04T06:25:03Z",
                "2026-06-04T06:25:04Z",
                "2026-06-04T06:25:05Z",
                "2026-06-04T06:25:06Z",
                "2026-06-04T06:25:07Z",
                "2026-12-31T23:59:59Z",
                "2026-06-04T04:25:08.123Z",
            ])
        );
        assert_eq!(
            column(&run, "hostname"),
            some(&[
                "combo", "combo", "web-1", "web-1", "web-1", "web-1", "web-1", "web-1", "web-1",
                "web-1",
            ])
        );
        let apps = [
            Some("sshd(pam_unix)"),
            None,
            Some("CRON"),
            Some("kernel"),
            Some("systemd"),
            Some("su"),
            Some("sudo"),
            Some("sshd"),
            Some("CRON"),
            Some("sshd"),
        ];
        assert_eq!(
            column(&run, "app_name"),
            apps.map(|a| a.map(String::from)).to_vec()
        );
        let pids = [
            Some("19939"),
            None,
            Some("2314"),
            None,
            Some("1"),
            Some("4242"),
            None,
            Some("812"),
            Some("9"),
            Some("812"),
        ];
        assert_eq!(
            column(&run, "proc_id"),
            pids.map(|p| p.map(String::from)).to_vec()
        );
        assert_eq!(
            column(&run, "message"),
            some(&[
                "authentication failure; logname= uid=0 euid=0 tty=NODEVssh ruser= rhost=218.188.2.4",
                "syslogd 1.4.1: restart.",
                "(root) CMD (test -x /usr/sbin/anacron || ( cd / && run-parts --report /etc/cron.daily ))",
                "[   12.345678] EXT4-fs (sda1): mounted filesystem with ordered data mode",
                "Started Session 42 of user alice.",
                "pam_unix(su:session): session opened for user root(uid=0) by alice(uid=1000)",
                "alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/usr/bin/apt update",
                "Accepted publickey for alice from 192.0.2.7 port 52144 ssh2: ED25519 SHA256:k3Y",
                "(root) CMD (true)",
                "Received disconnect from 192.0.2.7 port 52144:11: disconnected by user",
            ])
        );
    }
}

/// Without `<PRI>`, a line must start with a timestamp; RFC 5424 always needs `<PRI>`.
#[test]
fn file_lines_without_a_timestamp_or_for_rfc5424_are_refused() {
    let run = decode(
        &format("type: syslog\nrfc: 3164\nyear: 2026"),
        4096,
        &[
            b"hello world",
            b"Jun 4 06:25:01 web-1 CRON[1]: unpadded day",
            b"Jun 14 15:16:01",
            b"Jun 14 15:16:01 combo",
        ],
    );
    assert_eq!(
        run.reasons(),
        [
            "no <PRI> and no TIMESTAMP ('Mmm dd hh:mm:ss' or RFC 3339) at the start of the line",
            "TIMESTAMP 'Jun 4 06:25:01 ' is not 'Mmm dd hh:mm:ss'",
            "nothing after TIMESTAMP (truncated line?)",
            "nothing after HOSTNAME (truncated line?)",
        ]
    );
    let run = decode(
        &format("type: syslog\nrfc: 5424"),
        4096,
        &[FILE_LINES[0].as_bytes()],
    );
    assert_eq!(
        run.reasons(),
        ["no <PRI> at the start of the line (RFC 5424 requires one)"]
    );
}
