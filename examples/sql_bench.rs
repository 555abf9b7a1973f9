//! SQL over the lake next to DuckDB, as Markdown tables.
//!
//! 1. Generates a logs table (`timestamp, service, level, status, latency_ms, path,
//!    user_id`, partitioned by `date`) into a Delta lake, one commit per day as a stream
//!    would append it, then Z-orders it by `user_id` (deltalake's optimize), and a small
//!    `services` dimension table.
//! 2. Runs a fixed set of queries through `weir sql`'s session (parse, catalog lookup,
//!    plan, run, collect), and the same queries in DuckDB (the `duckdb` package from PyPI,
//!    through `examples/support/duckdb_queries.py`) over the Parquet files of the same
//!    table version, with the same number of threads.
//! 3. Prints per query: the median time of each, the ratio, the files weir's scan read
//!    (from `EXPLAIN`), and whether the two gave the same rows.
//!
//! `cargo run --release --example sql_bench [-- --rows N --days N --runs N --dir DIR --reuse
//! --set datafusion.KEY=VALUE ... --only NAME]` (`--reuse` queries a lake an earlier run generated in
//! DIR, default `target/sql-bench`; `--set` changes a DataFusion setting of weir's session; `--only` runs the queries whose
//! name contains NAME).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use arrow::array::{
    ArrayRef, Date32Array, Int32Array, Int64Array, RecordBatch, StringArray,
    TimestampMicrosecondArray,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use deltalake::operations::optimize::OptimizeType;
use deltalake::DeltaTable;
use serde_json::json;
use weir_sql::{Lake, Limits, QuerySession};

#[path = "support/duckdb.rs"]
mod duckdb;
#[path = "support/process.rs"]
mod process;
#[path = "support/results.rs"]
mod results;
#[path = "support/settings.rs"]
mod settings;
use process::{cpu_seconds, peak_mib, reset_peak};
use results::{median, row_texts};

/// 2026-01-01T00:00:00Z in seconds.
const FIRST_DAY: i64 = 1_767_225_600;
const DAY_SECONDS: i64 = 86_400;
const USERS: u64 = 1_000_000;
const PATHS: usize = 400;
const BATCH_ROWS: usize = 131_072;
/// Files per day partition after the Z-order.
const FILES_PER_DAY: u64 = 16;
/// Threads for both engines (the machine's cores).
const THREADS: usize = 2;

/// service, team, tier; the first ones get more traffic.
const SERVICES: [(&str, &str, &str); 12] = [
    ("frontend", "web", "gold"),
    ("checkout", "payments", "gold"),
    ("search", "discovery", "gold"),
    ("cart", "payments", "silver"),
    ("catalog", "discovery", "silver"),
    ("auth", "platform", "gold"),
    ("recommend", "discovery", "bronze"),
    ("inventory", "supply", "silver"),
    ("shipping", "supply", "silver"),
    ("email", "platform", "bronze"),
    ("billing", "payments", "gold"),
    ("reviews", "web", "bronze"),
];

fn arg(args: &[String], name: &str, default: u64) -> u64 {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map_or(default, |v| v.parse().expect("a number"))
}

/// A small deterministic random source (SplitMix64).
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn logs_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new(
            "timestamp",
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            false,
        ),
        Field::new("service", DataType::Utf8, false),
        Field::new("level", DataType::Utf8, false),
        Field::new("status", DataType::Int32, false),
        Field::new("latency_ms", DataType::Int64, false),
        Field::new("path", DataType::Utf8, false),
        Field::new("user_id", DataType::Int64, false),
        Field::new("date", DataType::Date32, false),
    ]))
}

/// Rows `first..first + count` of `total`, spread evenly over `days` days in order, each
/// up to 20 s early or late.
fn logs_batch(paths: &[String], first: u64, count: usize, total: u64, days: u64) -> RecordBatch {
    let mut random = Random(first.wrapping_mul(0x2545_F491_4F6C_DD1D) ^ 7);
    let span_us = (days as i64 * DAY_SECONDS * 1_000_000) as f64;
    let (mut ts, mut service, mut level, mut status) = (
        Vec::with_capacity(count),
        Vec::with_capacity(count),
        Vec::with_capacity(count),
        Vec::with_capacity(count),
    );
    let (mut latency, mut path, mut user, mut date) = (
        Vec::with_capacity(count),
        Vec::with_capacity(count),
        Vec::with_capacity(count),
        Vec::with_capacity(count),
    );
    for row in first..first + count as u64 {
        let jitter = (random.unit() * 40_000_000.0) as i64 - 20_000_000;
        let micros =
            (FIRST_DAY * 1_000_000 + (row as f64 / total as f64 * span_us) as i64 + jitter)
                .max(FIRST_DAY * 1_000_000);
        let pick = (random.unit().powi(2) * SERVICES.len() as f64) as usize;
        let code = match random.next() % 1000 {
            0..=859 => 200,
            860..=889 => 201,
            890..=919 => 304,
            920..=959 => 404,
            960..=984 => 500,
            _ => 503,
        };
        let slow = random.unit().powi(8) * 2_000.0;
        let millis = (10.0 + pick as f64 * 7.0) * (0.5 + random.unit()) + slow;
        level.push(match code {
            500.. => "ERROR",
            404 => "WARN",
            _ if millis > 1_000.0 => "WARN",
            _ => "INFO",
        });
        ts.push(micros);
        service.push(SERVICES[pick].0);
        status.push(code);
        latency.push(millis as i64);
        path.push(paths[(random.unit().powi(3) * PATHS as f64) as usize].as_str());
        user.push(1 + (random.next() % USERS) as i64);
        date.push(micros.div_euclid(DAY_SECONDS * 1_000_000) as i32);
    }
    let columns: Vec<ArrayRef> = vec![
        Arc::new(TimestampMicrosecondArray::from(ts).with_timezone("UTC")),
        Arc::new(StringArray::from(service)),
        Arc::new(StringArray::from(level)),
        Arc::new(Int32Array::from(status)),
        Arc::new(Int64Array::from(latency)),
        Arc::new(StringArray::from(path)),
        Arc::new(Int64Array::from(user)),
        Arc::new(Date32Array::from(date)),
    ];
    RecordBatch::try_new(logs_schema(), columns).expect("columns match the schema")
}

async fn open(path: &Path) -> DeltaTable {
    std::fs::create_dir_all(path).expect("table folder");
    let uri = deltalake::ensure_table_uri(path.display().to_string()).expect("a table uri");
    DeltaTable::try_from_url(uri).await.expect("table")
}

/// Writes the logs table, one commit per day, then Z-orders it by `user_id`; returns
/// (seconds writing, seconds in the Z-order, files before, files after).
async fn generate(lake: &Path, rows: u64, days: u64) -> (f64, f64, usize, usize) {
    let paths: Vec<String> = (0..PATHS)
        .map(|i| {
            let resource = ["orders", "users", "items", "carts", "search", "reviews"][i % 6];
            format!("/api/v1/{resource}/{}", i / 6)
        })
        .collect();
    let started = Instant::now();
    let table_path = lake.join("logs");
    let per_day = rows / days;
    for day in 0..days {
        let first = day * per_day;
        let end = if day + 1 == days {
            rows
        } else {
            first + per_day
        };
        let mut batches = Vec::new();
        let mut at = first;
        while at < end {
            let count = (end - at).min(BATCH_ROWS as u64) as usize;
            batches.push(logs_batch(&paths, at, count, rows, days));
            at += count as u64;
        }
        open(&table_path)
            .await
            .write(batches)
            .with_partition_columns(["date"])
            .await
            .expect("write a day");
    }
    let written = started.elapsed().as_secs_f64();
    let table = open(&table_path).await;
    let before = table.get_file_uris().expect("files").count();
    let bytes: u64 = table
        .get_file_uris()
        .expect("files")
        .map(|uri| std::fs::metadata(uri).map_or(0, |m| m.len()))
        .sum();
    let target = (bytes / (days * FILES_PER_DAY)).max(1 << 16);
    let started = Instant::now();
    let (table, _metrics) = table
        .optimize()
        .with_type(OptimizeType::ZOrder(vec!["user_id".into()]))
        .with_target_size(std::num::NonZeroU64::new(target).expect("positive"))
        .await
        .expect("z-order");
    let optimized = started.elapsed().as_secs_f64();
    let after = table.get_file_uris().expect("files").count();

    let services = Arc::new(Schema::new(vec![
        Field::new("service", DataType::Utf8, false),
        Field::new("team", DataType::Utf8, false),
        Field::new("tier", DataType::Utf8, false),
    ]));
    let column = |i: usize| -> ArrayRef {
        Arc::new(StringArray::from(
            SERVICES
                .iter()
                .map(|s| [s.0, s.1, s.2][i])
                .collect::<Vec<_>>(),
        ))
    };
    let batch =
        RecordBatch::try_new(services, vec![column(0), column(1), column(2)]).expect("services");
    open(&lake.join("services"))
        .await
        .write(vec![batch])
        .await
        .expect("write services");
    (written, optimized, before, after)
}

/// The data files of `table` at `version` (the newest if `None`).
async fn files(table: &Path, version: Option<u64>) -> Vec<String> {
    let mut delta = open(table).await;
    if let Some(version) = version {
        delta.load_version(version).await.expect("version");
    }
    delta.get_file_uris().expect("files").collect()
}

struct Query {
    name: &'static str,
    weir: String,
    duckdb: String,
    /// Whether both engines must give the same rows (not for approximate percentiles).
    exact: bool,
}

fn query(name: &'static str, sql: &str) -> Query {
    Query {
        name,
        weir: sql.to_string(),
        duckdb: sql.to_string(),
        exact: true,
    }
}

fn queries(travel_version: i64) -> Vec<Query> {
    vec![
        query(
            "filter + count",
            "SELECT count(*) AS n FROM logs WHERE level = 'ERROR' AND status = 503",
        ),
        query(
            "group by service, status",
            "SELECT service, status, count(*) AS n FROM logs GROUP BY service, status \
             ORDER BY service, status",
        ),
        query(
            "top paths",
            "SELECT path, count(*) AS hits FROM logs GROUP BY path ORDER BY hits DESC, path \
             LIMIT 10",
        ),
        Query {
            name: "p99 latency per service (approximate)",
            weir: "SELECT service, approx_percentile_cont(latency_ms, 0.99) AS p99 FROM logs \
                   GROUP BY service ORDER BY service"
                .into(),
            duckdb: "SELECT service, approx_quantile(latency_ms, 0.99) AS p99 FROM logs \
                     GROUP BY service ORDER BY service"
                .into(),
            exact: false,
        },
        query(
            "point lookup by user_id",
            "SELECT service, status, latency_ms, path FROM logs WHERE user_id = 424242 \
             ORDER BY \"timestamp\", path",
        ),
        Query {
            name: "time-range scan (6 h)",
            weir: "SELECT count(*) AS n, round(avg(latency_ms), 3) AS avg_ms FROM logs \
                   WHERE \"timestamp\" >= '2026-01-04T06:00:00Z' \
                   AND \"timestamp\" < '2026-01-04T12:00:00Z'"
                .into(),
            duckdb: "SELECT count(*) AS n, round(avg(latency_ms), 3) AS avg_ms FROM logs \
                     WHERE \"timestamp\" >= TIMESTAMPTZ '2026-01-04 06:00:00+00' \
                     AND \"timestamp\" < TIMESTAMPTZ '2026-01-04 12:00:00+00'"
                .into(),
            exact: true,
        },
        query(
            "one day by level (partition)",
            "SELECT level, count(*) AS n FROM logs WHERE date = '2026-01-05' GROUP BY level \
             ORDER BY level",
        ),
        query(
            "join with services",
            "SELECT s.team, count(*) AS errors FROM logs l JOIN services s \
             ON l.service = s.service WHERE l.level = 'ERROR' GROUP BY s.team ORDER BY s.team",
        ),
        query(
            "join with services (every row)",
            "SELECT s.tier, count(*) AS n, sum(l.latency_ms) AS total_ms FROM logs l \
             JOIN services s ON l.service = s.service GROUP BY s.tier ORDER BY s.tier",
        ),
        query(
            "point filter nothing skips",
            "SELECT count(*) AS n FROM logs WHERE latency_ms = 777",
        ),
        query(
            "count by string equality",
            "SELECT count(*) AS n FROM logs WHERE service = 'checkout'",
        ),
        query(
            "median latency per service (exact)",
            "SELECT service, median(CAST(latency_ms AS DOUBLE)) AS p50 FROM logs \
             GROUP BY service ORDER BY service",
        ),
        Query {
            name: "p99 latency per service (exact)",
            // Rounded: the two interpolate in different float steps (1887.469997 in
            // weir, 1887.4699999999993 in DuckDB).
            weir: "SELECT service, round(percentile_cont(0.99) WITHIN GROUP (ORDER BY \
                   latency_ms), 2) AS p99 FROM logs GROUP BY service ORDER BY service"
                .into(),
            duckdb: "SELECT service, round(quantile_cont(latency_ms, 0.99), 2) AS p99 FROM logs \
                     GROUP BY service ORDER BY service"
                .into(),
            exact: true,
        },
        Query {
            name: "time travel (by level)",
            weir: format!(
                "SELECT level, count(*) AS n FROM logs VERSION AS OF {travel_version} \
                 GROUP BY level ORDER BY level"
            ),
            duckdb: "SELECT level, count(*) AS n FROM logs_then GROUP BY level ORDER BY level"
                .into(),
            exact: true,
        },
    ]
}

/// The `lake_file_skipping` line `EXPLAIN` gives for `sql`.
async fn files_read(session: &QuerySession, sql: &str) -> String {
    let outputs = session
        .sql(&format!("EXPLAIN {sql}"))
        .await
        .expect("explain");
    row_texts(&outputs[0])
        .into_iter()
        .filter_map(|row| row.strip_prefix("lake_file_skipping|").map(str::to_string))
        .collect::<Vec<_>>()
        .join("; ")
}

/// weir's median time in ms and last rows for every query.
async fn run_weir(
    session: &QuerySession,
    queries: &[Query],
    runs: usize,
) -> Vec<(f64, Vec<String>)> {
    let mut results = Vec::new();
    for query in queries {
        session.sql(&query.weir).await.expect("warm-up run");
        let mut times = Vec::new();
        let mut rows = Vec::new();
        for _ in 0..runs {
            let started = Instant::now();
            let outputs = session.sql(&query.weir).await.expect("query");
            times.push(started.elapsed().as_secs_f64() * 1000.0);
            rows = row_texts(&outputs[0]);
        }
        results.push((median(&mut times), rows));
    }
    results
}

/// DuckDB's median time in ms and last rows for every query.
fn run_duckdb(
    queries: &[Query],
    runs: usize,
    current: Vec<String>,
    then: Vec<String>,
    services: Vec<String>,
) -> Vec<(f64, Vec<String>)> {
    let spec = json!({
        "threads": THREADS,
        "runs": runs,
        "views": {
            "logs": {"files": current, "hive": true},
            "logs_then": {"files": then, "hive": true},
            "services": {"files": services, "hive": false},
        },
        "queries": queries.iter().map(|q| json!({"name": q.name, "sql": q.duckdb})).collect::<Vec<_>>(),
    });
    let results = duckdb::run(&spec);
    results
        .iter()
        .map(|result| {
            let mut times: Vec<f64> = result["ms"]
                .as_array()
                .expect("times")
                .iter()
                .map(|t| t.as_f64().expect("a time"))
                .collect();
            let rows = result["rows"]
                .as_array()
                .expect("rows")
                .iter()
                .map(|r| r.as_str().expect("text").to_string())
                .collect();
            (median(&mut times), rows)
        })
        .collect()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let rows = arg(&args, "--rows", 10_000_000);
    let days = arg(&args, "--days", 10).max(2);
    let runs = arg(&args, "--runs", 5).max(1) as usize;
    let dir = args
        .iter()
        .position(|a| a == "--dir")
        .and_then(|i| args.get(i + 1))
        .map_or_else(|| PathBuf::from("target/sql-bench"), PathBuf::from);
    let reuse = args.iter().any(|a| a == "--reuse");
    let lake = dir.join("lake");

    println!("## SQL over the lake next to DuckDB\n");
    if reuse && lake.join("logs/_delta_log").is_dir() {
        println!("reusing the lake in {}\n", lake.display());
    } else {
        let _ = std::fs::remove_dir_all(&lake);
        let (written, optimized, before, after) = generate(&lake, rows, days).await;
        println!(
            "{rows} rows over {days} days: written in {written:.1} s as {days} commits \
             ({before} files), Z-ordered by user_id in {optimized:.1} s into {after} files\n"
        );
    }
    let travel_version = days as i64 / 2 - 1;
    let only = args
        .iter()
        .position(|a| a == "--only")
        .and_then(|i| args.get(i + 1));
    let queries: Vec<Query> = queries(travel_version)
        .into_iter()
        .filter(|q| only.is_none_or(|only| q.name.contains(only.as_str())))
        .collect();

    let session = Lake::new(&lake)
        .expect("a lake")
        .query_session(Limits::default())
        .await
        .expect("session");
    settings::apply(&session, &args);
    reset_peak();
    let cpu = cpu_seconds();
    let weir = run_weir(&session, &queries, runs).await;
    let (weir_cpu, weir_peak) = (cpu_seconds() - cpu, peak_mib());
    let mut read = Vec::new();
    for query in &queries {
        read.push(files_read(&session, &query.weir).await);
    }
    let duckdb = run_duckdb(
        &queries,
        runs,
        files(&lake.join("logs"), None).await,
        files(&lake.join("logs"), Some(travel_version as u64)).await,
        files(&lake.join("services"), None).await,
    );

    println!("| query | weir ms | DuckDB ms | weir / DuckDB | files weir read | same rows |");
    println!("|---|---:|---:|---:|---|---|");
    let mut log_ratio = 0.0;
    let mut differ = Vec::new();
    for (i, query) in queries.iter().enumerate() {
        let ((ours, our_rows), (theirs, their_rows)) = (&weir[i], &duckdb[i]);
        let ratio = ours / theirs;
        log_ratio += ratio.ln();
        let same = if !query.exact {
            format!("{} rows each (approximate)", our_rows.len())
        } else if our_rows == their_rows {
            format!("yes ({} rows)", our_rows.len())
        } else {
            differ.push(query.name);
            format!("NO: weir {our_rows:?}, DuckDB {their_rows:?}")
        };
        println!(
            "| {} | {ours:.1} | {theirs:.1} | {ratio:.2} | {} | {same} |",
            query.name, read[i]
        );
    }
    println!(
        "\ngeometric mean of weir / DuckDB: {:.2} over {} queries (median of {runs} runs each)",
        (log_ratio / queries.len() as f64).exp(),
        queries.len()
    );
    println!(
        "weir: {weir_cpu:.1} CPU s for all runs, peak memory {weir_peak:.0} MiB (the \
         benchmark's process, generation excluded)"
    );
    if !differ.is_empty() {
        eprintln!(
            "weir and DuckDB gave different rows for: {}",
            differ.join(", ")
        );
        std::process::exit(1);
    }
}
