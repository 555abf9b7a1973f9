//! Running queries in DuckDB for the benchmarks: `duckdb_queries.py` (the `duckdb`
//! package from PyPI) given a spec of views over Parquet files and queries on stdin.

use std::io::Write as _;
use std::process::{Command, Stdio};

use serde_json::Value;

/// Runs `spec` (see `duckdb_queries.py`) and returns one result per query: `ms` (the run
/// times) and `rows` (the last run's rows as text).
pub fn run(spec: &Value) -> Vec<Value> {
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/support/duckdb_queries.py"
    );
    let mut child = Command::new("python3")
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 runs (DuckDB: `pip install duckdb`)");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(spec.to_string().as_bytes())
        .expect("spec written");
    let output = child.wait_with_output().expect("DuckDB script");
    assert!(
        output.status.success(),
        "the DuckDB script failed (is the `duckdb` package installed? `pip install duckdb`)"
    );
    serde_json::from_slice(&output.stdout).expect("JSON results")
}
