//! JSON-lines log files for the benchmarks: writing them, and the format that decodes them.

use std::io::{BufWriter, Write};
use std::path::Path;

use weir_connectors::format::{ColumnSpec, FormatConfig};

/// Writes about `mb` MB of log lines (about 160 bytes each) to `path`; returns the
/// number of lines.
pub fn write_file(path: &Path, mb: u64, salt: u64) -> u64 {
    let mut out = BufWriter::new(std::fs::File::create(path).expect("create"));
    let (mut written, mut lines) = (0u64, 0u64);
    let levels = ["INFO", "WARN", "ERROR", "DEBUG"];
    while written < mb * 1_000_000 {
        let i = lines * 7 + salt;
        let line = format!(
            "{{\"ts\":\"2026-11-22T12:{:02}:{:02}.{:03}Z\",\"level\":\"{}\",\"service\":\"api-{}\",\"latency_ms\":{},\"path\":\"/v1/items/{}\",\"status\":{},\"msg\":\"request handled for user {}\"}}\n",
            (i / 60_000) % 60,
            (i / 1000) % 60,
            i % 1000,
            levels[(i % 4) as usize],
            i % 13,
            i % 997,
            i % 100_003,
            [200, 201, 404, 500][(i % 4) as usize],
            i % 50_021
        );
        out.write_all(line.as_bytes()).expect("write");
        written += line.len() as u64;
        lines += 1;
    }
    out.flush().expect("flush");
    lines
}

pub fn format() -> FormatConfig {
    let column = |name: &str, data_type: &str| ColumnSpec::new(name, data_type);
    FormatConfig::Json {
        columns: vec![
            column("ts", "timestamp"),
            column("level", "string"),
            column("service", "string"),
            column("latency_ms", "int64"),
            column("path", "string"),
            column("status", "int32"),
            column("msg", "string"),
        ],
    }
}
