//! TPC-H over Delta tables next to DuckDB over the same Parquet files, as Markdown.
//!
//! 1. Generates the eight TPC-H tables at `--scale` with `tpchgen-cli` (from PyPI,
//!    `pip install tpchgen-cli`), as Parquet, one folder per table, and turns each folder
//!    into a Delta table (deltalake's convert-to-Delta: the log adds the files as they
//!    are), so weir and DuckDB read the very same files. Checks the row counts of the
//!    scale factor.
//! 2. Runs the 22 queries (`examples/tpch/qNN.sql`, the specification's validation
//!    parameters) through weir's SQL session and through DuckDB (`duckdb_queries.py`,
//!    views over the Parquet files, the same number of threads), `--runs` rounds,
//!    alternating: a round is every query in weir, then every query in DuckDB. Hot: the
//!    best time of the rounds, after a warm-up run.
//! 3. Compares every answer with DuckDB's, numbers to a relative 1e-6, and prints per query
//!    both times, the ratio and the geometric mean; exits non-zero on a differing answer.
//! 4. With `--cold`: runs each query once more as a whole process in each engine, `weir
//!    sql -f qNN.sql` (the release `weir` binary: `cargo build --release` first) and a
//!    Python process making a DuckDB connection with the views (start, import, plan, run),
//!    the files in the page cache; prints both and what an empty process of each costs.
//!
//! `cargo run --release --example tpch_bench [-- --scale 1 --runs 3 --dir DIR --reuse
//! --only N --set datafusion.KEY=VALUE ... --memory-mib M --cold]` (`--reuse` queries tables
//! an earlier run made in DIR, default `target/tpch-sf<scale>`; `--only` runs query N alone;
//! `--set` changes a DataFusion setting of weir's session; `--memory-mib` is the session's
//! memory limit, `weir sql`'s 1024 MiB by default: scale factor 10 needs more).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use serde_json::json;
use weir_sql::{Lake, Limits, QuerySession};

#[path = "support/duckdb.rs"]
mod duckdb;
#[path = "support/process.rs"]
mod process;
#[path = "support/results.rs"]
#[allow(dead_code)] // shared with sql_bench, which also takes medians
mod results;
#[path = "support/settings.rs"]
mod settings;
#[path = "support/weir_binary.rs"]
mod weir_binary;
use process::{cpu_seconds, peak_mib, reset_peak};
use results::row_texts;

const THREADS: usize = 2;
const TABLES: [&str; 8] = [
    "lineitem", "orders", "customer", "part", "partsupp", "supplier", "nation", "region",
];

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
}

/// The rows of each table at scale factor `scale` (nation and region do not scale).
fn expected_rows(table: &str, scale: f64) -> u64 {
    let per_scale = match table {
        "lineitem" => return lineitem_rows(scale),
        "orders" => 1_500_000.0,
        "customer" => 150_000.0,
        "part" => 200_000.0,
        "partsupp" => 800_000.0,
        "supplier" => 10_000.0,
        "nation" => return 25,
        _ => return 5,
    };
    (per_scale * scale) as u64
}

/// lineitem's rows are not a fixed multiple: 6,001,215 at scale 1, 60,175 at 0.01.
fn lineitem_rows(scale: f64) -> u64 {
    match scale.to_string().as_str() {
        "1" => 6_001_215,
        "0.01" => 60_175,
        "0.1" => 600_572,
        "10" => 59_986_052,
        _ => 0,
    }
}

/// Generates the tables into `lake` and turns each into a Delta table.
async fn generate(lake: &Path, scale: f64) {
    let _ = std::fs::remove_dir_all(lake);
    let started = Instant::now();
    let status = Command::new("tpchgen-cli")
        .args([
            "parquet",
            "-s",
            &scale.to_string(),
            "--parts",
            "1",
            "--output-dir",
        ])
        .arg(lake)
        .status()
        .expect("tpchgen-cli runs (`pip install tpchgen-cli`)");
    assert!(status.success(), "tpchgen-cli failed");
    for table in TABLES {
        let folder = lake.join(table);
        deltalake::operations::convert_to_delta::ConvertToDeltaBuilder::new()
            .with_location(folder.display().to_string())
            .await
            .unwrap_or_else(|e| panic!("converting {}: {e}", folder.display()));
    }
    eprintln!(
        "generated scale factor {scale} and made Delta tables in {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

/// The Parquet files of `table` in `lake`.
fn parquet_files(lake: &Path, table: &str) -> Vec<String> {
    let mut files: Vec<String> = std::fs::read_dir(lake.join(table))
        .expect("table folder")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "parquet"))
        .map(|p| p.display().to_string())
        .collect();
    files.sort();
    files
}

/// Whether two answers agree: the same rows in order, each value equal as text or, for
/// numbers, to a relative 1e-6 (DuckDB and DataFusion type averages and decimals apart).
fn same_answer(weir: &[String], duck: &[String]) -> bool {
    weir.len() == duck.len()
        && weir.iter().zip(duck).all(|(a, b)| {
            let (a, b): (Vec<&str>, Vec<&str>) = (a.split('|').collect(), b.split('|').collect());
            a.len() == b.len()
                && a.iter().zip(&b).all(|(x, y)| {
                    x == y
                        || match (x.parse::<f64>(), y.parse::<f64>()) {
                            (Ok(x), Ok(y)) => (x - y).abs() <= 1e-6 * x.abs().max(y.abs()).max(1.0),
                            _ => false,
                        }
                })
        })
}

async fn weir_round(
    session: &QuerySession,
    queries: &[(usize, String)],
) -> Vec<(f64, Vec<String>)> {
    let mut results = Vec::new();
    for (_, sql) in queries {
        let started = Instant::now();
        let outputs = session.sql(sql).await.expect("query");
        let ms = started.elapsed().as_secs_f64() * 1000.0;
        results.push((ms, row_texts(outputs.last().expect("one statement"))));
    }
    results
}

fn duckdb_round(lake: &Path, queries: &[(usize, String)]) -> Vec<(f64, Vec<String>)> {
    let views: serde_json::Map<String, serde_json::Value> = TABLES
        .iter()
        .map(|t| {
            (
                t.to_string(),
                json!({"files": parquet_files(lake, t), "hive": false}),
            )
        })
        .collect();
    let spec = json!({
        "threads": THREADS,
        "runs": 1,
        "views": views,
        "queries": queries.iter().map(|(n, sql)| json!({"name": format!("q{n}"), "sql": sql})).collect::<Vec<_>>(),
    });
    duckdb::run(&spec)
        .iter()
        .map(|r| {
            let ms = r["ms"][0].as_f64().expect("a time");
            let rows = r["rows"]
                .as_array()
                .expect("rows")
                .iter()
                .map(|v| v.as_str().expect("text").to_string())
                .collect();
            (ms, rows)
        })
        .collect()
}

/// The wall time in ms of `command`, which must succeed.
fn process_ms(command: &mut Command) -> f64 {
    let started = Instant::now();
    let output = command.output().expect("the process starts");
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    assert!(
        output.status.success(),
        "{command:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    ms
}

/// A Python process that connects DuckDB, makes the views over `lake`'s Parquet files and
/// runs `sql` (none when `sql` is empty), with the benchmark's threads.
fn duckdb_process(lake: &Path, sql: &str) -> Command {
    let views: Vec<String> = TABLES
        .iter()
        .map(|t| {
            let files: Vec<String> = parquet_files(lake, t)
                .iter()
                .map(|f| format!("'{}'", f.replace('\'', "''")))
                .collect();
            format!(
                "CREATE VIEW {t} AS SELECT * FROM read_parquet([{}])",
                files.join(", ")
            )
        })
        .collect();
    let script = format!(
        "import duckdb, json\ncon = duckdb.connect()\ncon.execute('SET threads = {THREADS}')\n\
         for v in json.loads({views:?}): con.execute(v)\nsql = {sql:?}\n\
         if sql: con.execute(sql).fetchall()\n",
        views = serde_json::to_string(&views).expect("JSON"),
    );
    let mut command = Command::new("python3");
    command.args(["-c", &script]);
    command
}

/// Each query once as a whole process in weir and in DuckDB: a Markdown table.
fn cold_runs(lake: &Path, queries: &[(usize, String)]) {
    let weir = weir_binary::weir_binary();
    let query_file = |n: usize| format!("{}/examples/tpch/q{n:02}.sql", env!("CARGO_MANIFEST_DIR"));
    let best_of_three = |command: &mut dyn FnMut() -> Command| {
        (0..3)
            .map(|_| process_ms(&mut command()))
            .fold(f64::INFINITY, f64::min)
    };
    let weir_floor = best_of_three(&mut || {
        let mut command = Command::new(&weir);
        command
            .args(["sql", "--format", "csv", "--lake"])
            .arg(lake)
            .args(["-e", "SELECT 1"]);
        command
    });
    let duck_floor = best_of_three(&mut || duckdb_process(lake, ""));
    println!("\n### Cold: each query as a whole process (files in the page cache)\n");
    println!("| query | weir sql -f (ms) | Python + DuckDB (ms) |");
    println!("|---|---:|---:|");
    let (mut weir_total, mut duck_total) = (0.0, 0.0);
    for (n, sql) in queries {
        let ours = process_ms(
            Command::new(&weir)
                .args(["sql", "--format", "csv", "--lake"])
                .arg(lake)
                .args(["-f", &query_file(*n)]),
        );
        let theirs = process_ms(&mut duckdb_process(lake, sql));
        weir_total += ours;
        duck_total += theirs;
        println!("| Q{n} | {ours:.1} | {theirs:.1} |");
    }
    println!(
        "\nCold totals: weir {weir_total:.0} ms, DuckDB {duck_total:.0} ms; an empty process (best of 3, \
         also warming both up): `weir sql -e 'SELECT 1'` {weir_floor:.1} ms, Python importing DuckDB and making the \
         views {duck_floor:.1} ms."
    );
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let scale: f64 = arg(&args, "--scale").map_or(1.0, |s| s.parse().expect("a scale factor"));
    let runs: usize = arg(&args, "--runs").map_or(3, |s| s.parse().expect("a number of runs"));
    let only: Option<usize> = arg(&args, "--only").map(|s| s.parse().expect("a query number"));
    let dir = arg(&args, "--dir").map_or_else(
        || PathBuf::from(format!("target/tpch-sf{scale}")),
        PathBuf::from,
    );
    let lake = dir.join("lake");
    if !args.iter().any(|a| a == "--reuse") {
        generate(&lake, scale).await;
    }
    let limits = match arg(&args, "--memory-mib") {
        Some(mib) => Limits {
            memory: mib.parse::<usize>().expect("a number of MiB") << 20,
            ..Limits::default()
        },
        None => Limits::default(),
    };
    let session = Lake::open(&lake.display().to_string())
        .expect("the lake")
        .query_session(limits)
        .await
        .expect("a session");
    settings::apply(&session, &args);
    for table in TABLES {
        let counted = session
            .sql(&format!("SELECT count(*) FROM {table}"))
            .await
            .expect("count");
        let rows = row_texts(&counted[0])[0].parse::<u64>().expect("a count");
        let expected = expected_rows(table, scale);
        assert!(
            expected == 0 || rows == expected,
            "{table}: {rows} rows where scale factor {scale} has {expected}"
        );
    }
    let queries: Vec<(usize, String)> = (1..=22)
        .filter(|n| only.is_none_or(|o| o == *n))
        .map(|n| {
            let path = format!("{}/examples/tpch/q{n:02}.sql", env!("CARGO_MANIFEST_DIR"));
            (n, std::fs::read_to_string(&path).expect("query file"))
        })
        .collect();
    // Warm-up: each query once in weir (DuckDB's script warms up each query itself).
    weir_round(&session, &queries).await;
    reset_peak();
    let cpu = cpu_seconds();
    let mut weir_best = vec![f64::MAX; queries.len()];
    let mut duck_best = vec![f64::MAX; queries.len()];
    let mut answers = (Vec::new(), Vec::new());
    for _ in 0..runs {
        let weir = weir_round(&session, &queries).await;
        let duck = duckdb_round(&lake, &queries);
        for (i, ((w, _), (d, _))) in weir.iter().zip(&duck).enumerate() {
            weir_best[i] = weir_best[i].min(*w);
            duck_best[i] = duck_best[i].min(*d);
        }
        answers = (weir, duck);
    }
    let weir_cpu = cpu_seconds() - cpu;
    println!("## TPC-H scale factor {scale}: weir over Delta tables vs DuckDB over their Parquet files ({THREADS} threads, best of {runs})\n");
    println!("| query | weir ms | DuckDB ms | weir / DuckDB | same answer |");
    println!("|---|---:|---:|---:|---|");
    let mut log_sum = 0.0;
    let mut differing = Vec::new();
    for (i, (n, _)) in queries.iter().enumerate() {
        let same = same_answer(&answers.0[i].1, &answers.1[i].1);
        if !same {
            differing.push(*n);
        }
        let ratio = weir_best[i] / duck_best[i];
        log_sum += ratio.ln();
        println!(
            "| Q{n} | {:.1} | {:.1} | {ratio:.2} | {} |",
            weir_best[i],
            duck_best[i],
            if same { "yes" } else { "**no**" }
        );
    }
    let geomean = (log_sum / queries.len() as f64).exp();
    println!(
        "\nGeometric mean weir / DuckDB: {geomean:.2}; weir total {:.0} ms, DuckDB total {:.0} ms (best runs); \
         CPU of this process over the rounds {weir_cpu:.1} s; peak memory {:.0} MiB.",
        weir_best.iter().sum::<f64>(),
        duck_best.iter().sum::<f64>(),
        peak_mib()
    );
    for n in &differing {
        let i = queries.iter().position(|(q, _)| q == n).expect("ran");
        eprintln!(
            "Q{n} differs:\n  weir:   {:?}\n  DuckDB: {:?}",
            answers.0[i].1.iter().take(3).collect::<Vec<_>>(),
            answers.1[i].1.iter().take(3).collect::<Vec<_>>()
        );
    }
    if !differing.is_empty() {
        std::process::exit(1);
    }
    if args.iter().any(|a| a == "--cold") {
        cold_runs(&lake, &queries);
    }
}
