//! `weir quality check` next to DuckDB: every rule kind over a logs table of 10 million
//! rows (timestamp, date, service, level, status, latency_ms, path, user_id; 10 files),
//! once clean and once with failing rows, judged by weir (`weir_sql::quality_check`, what
//! `weir quality check` runs, including appending the verdicts to `_quality`) and by
//! DuckDB evaluating the same rules as one aggregate query over the same Parquet files
//! (the `duckdb` package from PyPI), alternating, best of `--runs`.
//!
//! `cargo run --release --example quality_bench [-- --rows N --runs N]`

use std::sync::Arc;
use std::time::Instant;

#[path = "support/duckdb.rs"]
mod duckdb;
#[path = "support/process.rs"]
mod process;
use process::{cpu_seconds, peak_mib, reset_peak};

use arrow::array::{
    Date32Array, Int32Array, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use deltalake::writer::{DeltaWriter as _, RecordBatchWriter};
use serde_json::json;
use weir_lake::table::{commit_epoch, open_existing, open_or_create};
use weir_quality::Rule;
use weir_sql::quality_check::{check_table, CheckOptions};
use weir_sql::Lake;

const FILES: u64 = 10;
const SERVICES: [&str; 12] = [
    "auth",
    "billing",
    "cart",
    "catalog",
    "checkout",
    "gateway",
    "inventory",
    "orders",
    "payments",
    "search",
    "shipping",
    "users",
];
const LEVELS: [&str; 4] = ["DEBUG", "INFO", "WARN", "ERROR"];

const RULES: &str = "
- {name: columns, schema: {columns: [{name: status, type: Int32}, {name: timestamp, nullable: false}]}}
- {name: users_present, completeness: {column: user_id, max_null_fraction: 0.0005}}
- {name: status_known, range: {column: status, min: 100, max: 599}}
- {name: levels, in_set: {column: level, values: [DEBUG, INFO, WARN, ERROR]}}
- {name: paths, regex: {column: path, pattern: '^/'}}
- {name: latency_sane, valid: 'latency_ms >= 0'}
- {name: one_request_per_moment, unique: {columns: [timestamp, user_id]}}
- {name: fresh, freshness: {column: timestamp, max_age: 36500d}}
- {name: volume, volume: {min: 1000}}
- {name: p99_latency, distribution: {column: latency_ms, statistic: p99, max: 2000}}
- {name: known_services, referential: {column: service, table: services, key: name}}
- {name: no_teapots, sql: 'SELECT * FROM epoch WHERE status = 418'}
";

/// The same rules as one DuckDB query over the view `logs` (and `services`).
const DUCKDB: &str = "SELECT count(*) AS n, count(user_id) AS users, \
    sum(CASE WHEN (status >= 100 AND status <= 599) IS FALSE THEN 1 ELSE 0 END) AS bad_status, \
    sum(CASE WHEN (level IN ('DEBUG', 'INFO', 'WARN', 'ERROR')) IS FALSE THEN 1 ELSE 0 END) AS bad_level, \
    sum(CASE WHEN regexp_matches(path, '^/') IS FALSE THEN 1 ELSE 0 END) AS bad_path, \
    sum(CASE WHEN (latency_ms >= 0) IS FALSE THEN 1 ELSE 0 END) AS bad_latency, \
    count(DISTINCT (timestamp, user_id)) AS distinct_keys, \
    max(timestamp) AS newest, \
    quantile_cont(latency_ms, 0.99) AS p99, \
    (SELECT count(*) FROM logs WHERE service IS NOT NULL AND service NOT IN (SELECT name FROM services)) AS unknown_services, \
    (SELECT count(*) FROM logs WHERE status = 418) AS teapots \
    FROM logs";

fn arg(args: &[String], name: &str, default: u64) -> u64 {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map_or(default, |v| v.parse().expect("a number"))
}

fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new(
            "timestamp",
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            false,
        ),
        Field::new("date", DataType::Date32, false),
        Field::new("service", DataType::Utf8, false),
        Field::new("level", DataType::Utf8, true),
        Field::new("status", DataType::Int32, true),
        Field::new("latency_ms", DataType::Int64, true),
        Field::new("path", DataType::Utf8, true),
        Field::new("user_id", DataType::Utf8, true),
    ]))
}

fn mix(mut x: u64) -> u64 {
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    x
}

/// Rows `first..first + n`; with `dirty`, about 0.1% of them break a rule each.
fn rows(first: u64, n: u64, dirty: bool) -> RecordBatch {
    let ids: Vec<u64> = (first..first + n).collect();
    let start = 1_767_225_600_000_000i64; // 2026-01-01
    let bad = |i: u64, salt: u64| dirty && mix(i ^ (salt << 40)).is_multiple_of(1000);
    RecordBatch::try_new(
        schema(),
        vec![
            Arc::new(
                TimestampMicrosecondArray::from_iter_values(
                    ids.iter().map(|&i| start + (i as i64) * 8_000),
                )
                .with_timezone("UTC"),
            ),
            Arc::new(Date32Array::from_iter_values(
                ids.iter().map(|&i| 20454 + (i * 8 / 86_400_000) as i32),
            )),
            Arc::new(StringArray::from_iter_values(ids.iter().map(|&i| {
                if bad(i, 1) {
                    "legacy"
                } else {
                    SERVICES[(mix(i) % 12) as usize]
                }
            }))),
            Arc::new(StringArray::from_iter_values(
                ids.iter().map(|&i| LEVELS[(mix(i ^ 7) % 4) as usize]),
            )),
            Arc::new(Int32Array::from_iter_values(ids.iter().map(|&i| {
                if bad(i, 2) {
                    418
                } else {
                    [200, 201, 204, 301, 404, 500][(mix(i ^ 3) % 6) as usize]
                }
            }))),
            Arc::new(Int64Array::from_iter_values(ids.iter().map(|&i| {
                if bad(i, 3) {
                    -1
                } else {
                    (mix(i ^ 5) % 1500) as i64
                }
            }))),
            Arc::new(StringArray::from_iter_values(
                ids.iter()
                    .map(|&i| format!("/api/v1/items/{}", mix(i ^ 11) % 400)),
            )),
            Arc::new(StringArray::from_iter(ids.iter().map(|&i| {
                (!bad(i, 4)).then(|| format!("user-{}", mix(i ^ 13) % 1_000_000))
            }))),
        ],
    )
    .expect("batch")
}

/// Writes a table of `total` rows in `FILES` commits; returns its file paths.
async fn table(uri: &str, total: u64, dirty: bool) -> Vec<String> {
    let mut table = open_or_create(uri, &schema(), &[]).await.expect("table");
    let per_file = total / FILES;
    for f in 0..FILES {
        let mut writer = RecordBatchWriter::for_table(&table).expect("writer");
        let mut first = f * per_file;
        while first < (f + 1) * per_file {
            let n = 100_000.min((f + 1) * per_file - first);
            writer.write(rows(first, n, dirty)).await.expect("write");
            first += n;
        }
        let adds = writer.flush().await.expect("flush");
        commit_epoch(&mut table, "bench", f as i64 + 1, adds, None)
            .await
            .expect("commit");
    }
    let opened = open_existing(uri).await.expect("open").expect("a table");
    opened
        .snapshot()
        .expect("snapshot")
        .log_data()
        .iter()
        .map(|f| format!("{uri}/{}", f.path()))
        .collect()
}

/// DuckDB's best time in ms and its row, over `runs` runs after a warm-up.
fn duckdb(files: &[String], services: &[String], runs: u64) -> (f64, String) {
    let spec = json!({
        "threads": 2,
        "runs": runs,
        "views": {
            "logs": {"files": files, "hive": false},
            "services": {"files": services, "hive": false},
        },
        "queries": [{"name": "rules", "sql": DUCKDB}],
    });
    let results = duckdb::run(&spec);
    let best = results[0]["ms"]
        .as_array()
        .expect("times")
        .iter()
        .map(|t| t.as_f64().expect("a time"))
        .fold(f64::INFINITY, f64::min);
    (
        best,
        results[0]["rows"][0]
            .as_str()
            .unwrap_or_default()
            .to_string(),
    )
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let total = arg(&args, "--rows", 10_000_000);
    let runs = arg(&args, "--runs", 3);
    let dir = tempfile::tempdir().expect("temp dir");
    let lake_dir = dir.path().join("lake");
    let services_uri = lake_dir.join("services").display().to_string();
    let mut services = open_or_create(
        &services_uri,
        &Arc::new(Schema::new(vec![Field::new("name", DataType::Utf8, false)])),
        &[],
    )
    .await
    .expect("services");
    let names = RecordBatch::try_new(
        Arc::new(Schema::new(vec![Field::new("name", DataType::Utf8, false)])),
        vec![Arc::new(StringArray::from(SERVICES.to_vec()))],
    )
    .expect("names");
    let mut writer = RecordBatchWriter::for_table(&services).expect("writer");
    writer.write(names).await.expect("write");
    let adds = writer.flush().await.expect("flush");
    commit_epoch(&mut services, "bench", 1, adds, None)
        .await
        .expect("commit");
    let service_files: Vec<String> = open_existing(&services_uri)
        .await
        .expect("open")
        .expect("table")
        .snapshot()
        .expect("snapshot")
        .log_data()
        .iter()
        .map(|f| format!("{services_uri}/{}", f.path()))
        .collect();
    let rules: Vec<Rule> = weir_jobs::quality::rules_from_str(
        &format!("rules:{}", RULES.replace("\n-", "\n  -")),
        "quality_bench rules",
    )
    .expect("rules");
    let lake = Lake::new(&lake_dir).expect("lake");
    println!("| table | rows | weir s (best of {runs}) | weir CPU s | weir peak MiB | rules failed | DuckDB s (best of {runs}) | weir / DuckDB |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    for (name, dirty) in [("logs_clean", false), ("logs_dirty", true)] {
        let uri = lake_dir.join(name).display().to_string();
        let files = table(&uri, total, dirty).await;
        let mut best = f64::INFINITY;
        let (mut cpu_best, mut peak, mut failed) = (0.0, 0.0, 0);
        let mut theirs = f64::INFINITY;
        for _ in 0..runs {
            reset_peak();
            let (cpu, started) = (cpu_seconds(), Instant::now());
            let checked = check_table(&lake, name, rules.clone(), CheckOptions::default())
                .await
                .expect("check");
            let seconds = started.elapsed().as_secs_f64();
            if seconds < best {
                best = seconds;
                cpu_best = cpu_seconds() - cpu;
            }
            peak = f64::max(peak, peak_mib());
            failed = checked.verdicts.iter().filter(|v| !v.passed).count();
            let (ms, _) = duckdb(&files, &service_files, 1);
            theirs = theirs.min(ms / 1000.0);
        }
        println!(
            "| {name} | {total} | {best:.2} | {cpu_best:.1} | {peak:.0} | {failed} | {theirs:.2} | {:.2}x |",
            best / theirs
        );
    }
}
