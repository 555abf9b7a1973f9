//! Compaction and clustering next to delta-rs, in one run: a table of `--rows` rows
//! (default 10,000,000) of two uniform integer columns `a`, `b` in [0, 1,000,000) and a
//! short payload, in `--files` files (default 1,000) of one commit, copied four times:
//!
//! 1. clustered by weir on a, b (`weir compact --cluster-by a,b`), and
//! 2. Z-ordered by deltalake-python on a, b (`optimize.z_order(["a", "b"])`), both with the
//!    target size that makes `--clustered-files` files (default 118);
//! 3. bin-packed by weir and 4. by deltalake-python (`optimize.compact()`), 128 MiB files.
//!
//! Reports seconds, CPU seconds and peak memory of each, the files made, and for the
//! clustered tables the fraction of files 100 random point predicates on `a` and on `b`
//! skip by the files' min/max statistics (the same predicates for both tables; the bound
//! for k files over two uniform columns is 1 - 1/sqrt(k)). Then what queries feel: 20
//! point queries (`count(*) WHERE a = v`, and on `b`) through `weir sql`'s session on the
//! table before and after weir's clustering, with the files each opens (EXPLAIN), next to
//! DuckDB over the same Parquet files.
//!
//! `cargo run --release --example compact_bench [-- --rows N --files F --clustered-files K]`
//! (needs `pip install deltalake`)

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Instant;

#[path = "support/process.rs"]
mod process;
use process::{cpu_seconds, peak_mib, reset_peak};

use arrow::array::{Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use deltalake::writer::{DeltaWriter as _, RecordBatchWriter};
use weir_lake::table::{commit_epoch, open_existing, open_or_create};
use weir_lake::Compact;
use weir_sql::{Lake, Limits};

/// deltalake-python's side: optimizes the table at argv[1] and prints seconds, CPU
/// seconds and peak MiB of the process.
/// (Peak memory from VmHWM reset at the start: a child's `ru_maxrss` starts at its
/// parent's.)
const DELTA_RS: &str = r#"
import sys, time
from deltalake import DeltaTable
open("/proc/self/clear_refs", "w").write("5")
path, mode, target = sys.argv[1], sys.argv[2], int(sys.argv[3])
dt = DeltaTable(path)
start, cpu = time.time(), time.process_time()
if mode == "zorder":
    dt.optimize.z_order(["a", "b"], target_size=target)
else:
    dt.optimize.compact(target_size=target)
hwm = [l for l in open("/proc/self/status") if l.startswith("VmHWM:")][0].split()[1]
print(time.time() - start, time.process_time() - cpu, int(hwm) / 1024)
"#;

/// DuckDB's side: the median milliseconds of point queries over the Parquet files listed
/// in argv[1], on column argv[2], for the values in argv[3] (comma-separated).
const DUCKDB: &str = r#"
import duckdb, statistics, sys, time
files = open(sys.argv[1]).read().split()
column, values = sys.argv[2], sys.argv[3].split(",")
con = duckdb.connect()
con.execute(f"CREATE VIEW t AS SELECT * FROM read_parquet({files!r})")
times = []
for v in values:
    start = time.perf_counter()
    con.execute(f"SELECT count(*) FROM t WHERE {column} = {v}").fetchall()
    times.append((time.perf_counter() - start) * 1000)
print(statistics.median(times))
"#;

/// Point queries on `column` of `table` through weir's SQL session: the median
/// milliseconds and the mean fraction of the table's files each opens.
async fn weir_points(lake: &Path, table: &str, column: &str, values: &[i64]) -> (f64, f64) {
    let session = Lake::new(lake)
        .unwrap()
        .query_session(Limits::default())
        .await
        .unwrap();
    let mut times = Vec::new();
    let mut opened = 0.0;
    for v in values {
        let query = format!("SELECT count(*) FROM {table} WHERE {column} = {v}");
        let start = Instant::now();
        session.sql(&query).await.unwrap();
        times.push(start.elapsed().as_secs_f64() * 1000.0);
        let explained = session.sql(&format!("EXPLAIN {query}")).await.unwrap();
        let text = arrow::util::pretty::pretty_format_batches(&explained[0].batches)
            .unwrap()
            .to_string();
        let line = text
            .lines()
            .find_map(|l| l.split_once("reads ").map(|(_, rest)| rest))
            .expect("EXPLAIN says how many files the scan reads");
        let numbers: Vec<f64> = line
            .split(|c: char| !c.is_ascii_digit())
            .filter_map(|n| n.parse().ok())
            .collect();
        opened += numbers[0] / numbers[1];
    }
    times.sort_by(f64::total_cmp);
    (times[times.len() / 2], opened / values.len() as f64)
}

/// The median milliseconds of DuckDB's point queries over the table's current files.
async fn duckdb_points(table: &Path, column: &str, values: &[i64]) -> Option<f64> {
    let opened = open_existing(table.to_str().unwrap())
        .await
        .unwrap()
        .unwrap();
    let files: Vec<String> = opened
        .snapshot()
        .unwrap()
        .log_data()
        .iter()
        .map(|f| table.join(f.path().as_ref()).display().to_string())
        .collect();
    let list = table.with_extension("files");
    std::fs::write(&list, files.join("\n")).unwrap();
    let values: Vec<String> = values.iter().map(i64::to_string).collect();
    let output = Command::new("python3")
        .args(["-c", DUCKDB])
        .arg(&list)
        .args([column, &values.join(",")])
        .output()
        .ok()?;
    if !output.status.success() {
        eprintln!(
            "duckdb failed (pip install duckdb): {}",
            String::from_utf8_lossy(&output.stderr)
        );
        return None;
    }
    String::from_utf8_lossy(&output.stdout).trim().parse().ok()
}

fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("a", DataType::Int64, false),
        Field::new("b", DataType::Int64, false),
        Field::new("payload", DataType::Utf8, false),
    ]))
}

/// A seeded xorshift generator: the same table and predicates on every run.
struct Random(u64);

impl Random {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// The table: `files` files of `rows / files` rows each, committed together.
async fn generate(path: &Path, rows: usize, files: usize) {
    let mut random = Random(0x9e37_79b9_7f4a_7c15);
    let uri = path.to_str().unwrap();
    let mut table = open_or_create(uri, &schema(), &[]).await.unwrap();
    let per_file = rows / files;
    let mut adds = Vec::new();
    let mut writer = RecordBatchWriter::for_table(&table).unwrap();
    for f in 0..files {
        let a: Int64Array = (0..per_file)
            .map(|_| random.below(1_000_000) as i64)
            .collect();
        let b: Int64Array = (0..per_file)
            .map(|_| random.below(1_000_000) as i64)
            .collect();
        let payload = StringArray::from_iter_values(
            (0..per_file).map(|i| format!("p{:07}", f * per_file + i)),
        );
        let batch =
            RecordBatch::try_new(schema(), vec![Arc::new(a), Arc::new(b), Arc::new(payload)])
                .unwrap();
        writer.write(batch).await.unwrap();
        adds.extend(writer.flush().await.unwrap());
    }
    commit_epoch(&mut table, "bench", 1, adds, None)
        .await
        .unwrap();
}

/// (min, max) of `column` in each file of the table, from the log's statistics.
async fn ranges(path: &Path, column: &str) -> Vec<(i64, i64)> {
    let table = open_existing(path.to_str().unwrap())
        .await
        .unwrap()
        .unwrap();
    table
        .snapshot()
        .unwrap()
        .log_data()
        .iter()
        .map(|file| {
            let stats: serde_json::Value = serde_json::from_str(&file.stats().unwrap()).unwrap();
            (
                stats["minValues"][column].as_i64().unwrap(),
                stats["maxValues"][column].as_i64().unwrap(),
            )
        })
        .collect()
}

/// The fraction of files 100 seeded random point predicates on `column` skip.
async fn skipped(path: &Path, column: &str) -> f64 {
    let ranges = ranges(path, column).await;
    let mut random = Random(42);
    let mut skipped = 0;
    for _ in 0..100 {
        let v = random.below(1_000_000) as i64;
        skipped += ranges.iter().filter(|(lo, hi)| v < *lo || v > *hi).count();
    }
    skipped as f64 / (100 * ranges.len()) as f64
}

async fn file_count(path: &Path) -> usize {
    let table = open_existing(path.to_str().unwrap())
        .await
        .unwrap()
        .unwrap();
    table.snapshot().unwrap().log_data().num_files()
}

/// Seconds, CPU seconds and peak MiB of deltalake-python optimizing the table.
fn delta_rs(path: &Path, mode: &str, target: u64) -> Option<(f64, f64, f64)> {
    let output = Command::new("python3")
        .args(["-c", DELTA_RS])
        .arg(path)
        .args([mode, &target.to_string()])
        .output()
        .ok()?;
    if !output.status.success() {
        eprintln!(
            "deltalake-python failed (pip install deltalake): {}",
            String::from_utf8_lossy(&output.stderr)
        );
        return None;
    }
    let text = String::from_utf8_lossy(&output.stdout);
    let numbers: Vec<f64> = text
        .split_whitespace()
        .filter_map(|n| n.parse().ok())
        .collect();
    Some((numbers[0], numbers[1], numbers[2]))
}

fn copy(from: &Path, to: &Path) {
    let status = Command::new("cp")
        .arg("-r")
        .arg(from)
        .arg(to)
        .status()
        .unwrap();
    assert!(status.success());
}

fn option(args: &[String], name: &str, default: usize) -> usize {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map_or(default, |v| v.parse().expect("a number"))
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let rows = option(&args, "--rows", 10_000_000);
    let files = option(&args, "--files", 1_000);
    let clustered_files = option(&args, "--clustered-files", 118) as u64;
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("source");
    let started = Instant::now();
    generate(&source, rows, files).await;
    let bytes: u64 = {
        let table = open_existing(source.to_str().unwrap())
            .await
            .unwrap()
            .unwrap();
        table
            .snapshot()
            .unwrap()
            .log_data()
            .iter()
            .map(|f| f.size() as u64)
            .sum()
    };
    println!(
        "{rows} rows of (a, b, payload), a and b uniform in [0, 1000000), in {files} files of {:.0} KiB ({:.0} MiB), written in {:.1} s\n",
        bytes as f64 / files as f64 / 1024.0,
        bytes as f64 / (1024.0 * 1024.0),
        started.elapsed().as_secs_f64()
    );
    let copies: Vec<PathBuf> = (0..4)
        .map(|i| dir.path().join(format!("copy{i}")))
        .collect();
    for copy_path in &copies {
        copy(&source, copy_path);
    }
    let cluster_target = bytes.div_ceil(clustered_files);
    let bin_target = 128 * 1024 * 1024;

    println!("| run | seconds | CPU s | peak MiB | files | skip on a | skip on b |");
    println!("|---|---:|---:|---:|---:|---:|---:|");
    let weir = |path: PathBuf, cluster: bool| async move {
        reset_peak();
        let (start, cpu) = (Instant::now(), cpu_seconds());
        let mut compact = Compact::new(path.to_str().unwrap());
        compact = if cluster {
            compact
                .with_cluster_by(vec!["a".into(), "b".into()])
                .with_target_size(cluster_target)
        } else {
            compact.with_target_size(bin_target)
        };
        let metrics = compact.await.expect("weir compact");
        assert_eq!(metrics.rows, rows as u64);
        (
            start.elapsed().as_secs_f64(),
            cpu_seconds() - cpu,
            peak_mib(),
        )
    };
    let report = |name: &str, path: &Path, figures: Option<(f64, f64, f64)>, clustered: bool| {
        let path = path.to_path_buf();
        let name = name.to_string();
        async move {
            let Some((seconds, cpu, peak)) = figures else {
                println!("| {name} | not run | | | | | |");
                return;
            };
            let files = file_count(&path).await;
            let (on_a, on_b) = if clustered {
                (
                    format!("{:.1}%", 100.0 * skipped(&path, "a").await),
                    format!("{:.1}%", 100.0 * skipped(&path, "b").await),
                )
            } else {
                (String::new(), String::new())
            };
            println!(
                "| {name} | {seconds:.2} | {cpu:.2} | {peak:.0} | {files} | {on_a} | {on_b} |"
            );
        }
    };
    // One after the other, each on its own copy; reported once all have run.
    let runs = [
        (
            "weir compact --cluster-by a,b",
            Some(weir(copies[0].clone(), true).await),
            true,
        ),
        (
            "deltalake-python optimize.z_order([a, b])",
            delta_rs(&copies[1], "zorder", cluster_target),
            true,
        ),
        (
            "weir compact (bin-packing, 128 MiB)",
            Some(weir(copies[2].clone(), false).await),
            false,
        ),
        (
            "deltalake-python optimize.compact() (128 MiB)",
            delta_rs(&copies[3], "compact", bin_target),
            false,
        ),
    ];
    for ((name, figures, clustered), path) in runs.into_iter().zip(&copies) {
        report(name, path, figures, clustered).await;
    }
    let bound = 1.0 - 1.0 / (clustered_files as f64).sqrt();
    println!(
        "\nbound for {clustered_files} files over two uniform columns: {:.1}%",
        100.0 * bound
    );

    // What queries feel: the source table and weir's clustered copy, point queries on
    // values drawn from the rows' range.
    let mut random = Random(7);
    let values: Vec<i64> = (0..20).map(|_| random.below(1_000_000) as i64).collect();
    println!("\n| table | column | weir ms (median) | files opened | DuckDB ms (median) | weir / DuckDB |");
    println!("|---|---|---:|---:|---:|---:|");
    let unclustered = format!("{files} files, unclustered");
    let clustered = format!("{clustered_files} files clustered by weir on a, b");
    for (label, table) in [(&unclustered, "source"), (&clustered, "copy0")] {
        for column in ["a", "b"] {
            let (ms, opened) = weir_points(dir.path(), table, column, &values).await;
            let duck = duckdb_points(&dir.path().join(table), column, &values).await;
            let (duck_text, ratio) = match duck {
                Some(d) => (format!("{d:.1}"), format!("{:.2}x", ms / d)),
                None => ("not run".into(), String::new()),
            };
            println!(
                "| {label} | {column} | {ms:.1} | {:.1}% | {duck_text} | {ratio} |",
                100.0 * opened
            );
        }
    }
}
