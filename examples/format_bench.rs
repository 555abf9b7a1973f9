//! Format throughput: each decoder (and the two encoders) over generated records in reads
//! of 1,024, on one thread, printing MB/s (wall clock, and per CPU second of the process,
//! which other load on the machine does not inflate), rows/s and peak memory (the
//! records, their rows and the encoded records) as a Markdown table.
//!
//! `cargo run --release --example format_bench [-- --records N]`

use std::time::Instant;

#[path = "support/process.rs"]
mod process;
use process::{cpu_seconds, peak_mib, reset_peak};

use weir_connectors::format::dead_letter::DeadLetters;
use weir_connectors::format::{
    AccessLogConfig, AccessLogVariant, ColumnSpec, CsvConfig, FormatConfig, LinesConfig,
    RegexConfig, SyslogConfig, SyslogRfc,
};

/// Records per read, as a source hands them to its decoder.
const READ: usize = 1024;

/// A format's configuration and its `i`-th record.
struct Case {
    name: &'static str,
    format: fn() -> FormatConfig,
    record: fn(usize) -> String,
}

/// `service, latency_ms, at, status, path`.
fn request_columns() -> Vec<ColumnSpec> {
    vec![
        ColumnSpec::new("service", "string"),
        ColumnSpec::new("latency_ms", "int64"),
        ColumnSpec::new("at", "timestamp"),
        ColumnSpec::new("status", "int32"),
        ColumnSpec::new("path", "string"),
    ]
}

const CASES: &[Case] = &[
    Case {
        name: "json",
        format: || FormatConfig::Json {
            columns: request_columns(),
        },
        record: |i| {
            format!(
                r#"{{"service":"api-{}","latency_ms":{},"at":"2026-11-22T08:{:02}:{:02}.{:03}Z","status":{},"path":"/v1/items/{}"}}"#,
                i % 17,
                i % 997,
                i / 60 % 60,
                i % 60,
                i % 1000,
                200 + i % 5,
                i
            )
        },
    },
    Case {
        name: "csv",
        format: || {
            FormatConfig::Csv(CsvConfig {
                columns: request_columns(),
                delimiter: ',',
                quote: '"',
                header: false,
            })
        },
        record: |i| {
            format!(
                "api-{},{},2026-11-22T08:{:02}:{:02}.{:03}Z,{},\"/v1/items/{}, page 1\"",
                i % 17,
                i % 997,
                i / 60 % 60,
                i % 60,
                i % 1000,
                200 + i % 5,
                i
            )
        },
    },
    Case {
        name: "lines",
        format: || FormatConfig::Lines(LinesConfig::default()),
        record: |i| {
            format!(
                "2026-11-22 08:00:00 INFO request {i} served in {} ms",
                i % 997
            )
        },
    },
    Case {
        name: "syslog (RFC 5424)",
        format: || {
            FormatConfig::Syslog(SyslogConfig {
                rfc: SyslogRfc::Rfc5424,
                year: None,
            })
        },
        record: |i| {
            format!(
                r#"<165>1 2026-11-22T08:{:02}:{:02}.{:03}Z host-{}.example.com evntslog {} ID47 [exampleSDID@32473 iut="3" eventSource="Application"] An application event log entry {i}"#,
                i / 60 % 60,
                i % 60,
                i % 1000,
                i % 50,
                i % 30000
            )
        },
    },
    Case {
        name: "syslog (RFC 3164)",
        format: || {
            FormatConfig::Syslog(SyslogConfig {
                rfc: SyslogRfc::Rfc3164,
                year: Some(2026),
            })
        },
        record: |i| {
            format!(
                "<34>Nov 22 08:{:02}:{:02} host-{} sshd[{}]: Accepted publickey for user{} from 10.0.0.{}",
                i / 60 % 60, i % 60, i % 50, i % 30000, i % 100, i % 255
            )
        },
    },
    Case {
        name: "access_log (combined)",
        format: || {
            FormatConfig::AccessLog(AccessLogConfig {
                variant: AccessLogVariant::Combined,
            })
        },
        record: |i| {
            format!(
                r#"10.0.{}.{} - - [22/Nov/2026:08:{:02}:{:02} +0000] "GET /v1/items/{i}?page=2 HTTP/1.1" {} {} "https://example.com/start.html" "Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0""#,
                i % 255,
                i % 199,
                i / 60 % 60,
                i % 60,
                200 + i % 5,
                i % 99999
            )
        },
    },
    Case {
        name: "regex",
        format: || {
            FormatConfig::Regex(RegexConfig {
                pattern: r"^(?P<at>\S+) (?P<level>[A-Z]+) request (?P<id>\d+) served in (?P<took_ms>\d+) ms$".into(),
                columns: vec![
                    ColumnSpec::new("at", "timestamp"),
                    ColumnSpec::new("id", "int64"),
                    ColumnSpec::new("took_ms", "int32"),
                ],
            })
        },
        record: |i| {
            format!(
                "2026-11-22T08:00:00Z INFO request {i} served in {} ms",
                i % 997
            )
        },
    },
];

/// Bytes and seconds (wall, CPU) to decode `records` in reads of [`READ`]; also encodes
/// the rows again when the format can.
fn run(format: &FormatConfig, records: &[Vec<u8>]) -> (f64, f64, Option<f64>) {
    let mut decoder = format.decoder(1 << 20).expect("decoder");
    let mut batches = Vec::new();
    let (wall, cpu) = (Instant::now(), cpu_seconds());
    for read in records.chunks(READ) {
        let read: Vec<&[u8]> = read.iter().map(Vec::as_slice).collect();
        let mut dead = DeadLetters::default();
        let decoded = decoder
            .decode(&read, &|i| i.to_string(), &mut dead)
            .expect("decode");
        assert!(dead.is_empty(), "{:?}", dead.finish());
        batches.push(decoded.batch);
    }
    let (wall, cpu) = (wall.elapsed().as_secs_f64(), cpu_seconds() - cpu);
    let encode = format.encoder().ok().map(|mut encoder| {
        let start = Instant::now();
        for batch in &batches {
            encoder.encode(batch).expect("encode");
        }
        start.elapsed().as_secs_f64()
    });
    (wall, cpu, encode)
}

fn main() {
    let mut args = std::env::args().skip(1);
    let mut count = 2_000_000;
    while let Some(arg) = args.next() {
        match (arg.as_str(), args.next()) {
            ("--records", Some(n)) => count = n.parse().expect("--records N"),
            _ => panic!("usage: format_bench [--records N]"),
        }
    }
    println!(
        "| format | records | MB | decode MB/s | MB per CPU s | rows/s | encode MB/s | peak MiB |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for case in CASES {
        let format = (case.format)();
        let records: Vec<Vec<u8>> = (0..count).map(|i| (case.record)(i).into_bytes()).collect();
        let mb = records.iter().map(Vec::len).sum::<usize>() as f64 / 1e6;
        reset_peak();
        let (wall, cpu, encode) = run(&format, &records);
        println!(
            "| {} | {count} | {mb:.1} | {:.0} | {:.0} | {:.2} M | {} | {:.0} |",
            case.name,
            mb / wall,
            mb / cpu,
            count as f64 / wall / 1e6,
            encode.map_or("-".into(), |s| format!("{:.0}", mb / s)),
            peak_mib(),
        );
    }
}
