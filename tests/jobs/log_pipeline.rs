//! The log-pipeline example jobs (parse -> enrich -> route -> Delta) run by the binary at
//! parallelism 1 and 2: every input line is exactly one row or one dead letter, and the
//! tables hold the rows of the same parse and LEFT JOIN with the services CSV done in one
//! batch by DataFusion, routed by the same conditions.

use std::path::Path;

use datafusion::prelude::{JsonReadOptions, SessionContext};

use super::{lake_count, run_job};

const SERVICES: &str = "examples/data/services.csv";

/// A session over the lake with the services CSV registered as `services`.
async fn session(lake: &Path) -> SessionContext {
    let ctx = weir_sql::Lake::new(lake).unwrap().session().await.unwrap();
    let csv = Path::new(env!("CARGO_MANIFEST_DIR")).join(SERVICES);
    ctx.register_csv("services", csv.to_str().unwrap(), Default::default())
        .await
        .unwrap();
    ctx
}

/// Registers the Delta table at `path` in `ctx` as `name`.
async fn register_delta(ctx: &SessionContext, name: &str, path: &Path) {
    let url = deltalake::ensure_table_uri(path.to_str().unwrap()).unwrap();
    let table = deltalake::open_table(url).await.unwrap();
    table.update_datafusion_session(&ctx.state()).unwrap();
    ctx.register_table(name, table.table_provider().await.unwrap())
        .unwrap();
}

async fn text(ctx: &SessionContext, sql: &str) -> String {
    let batches = ctx.sql(sql).await.unwrap().collect().await.unwrap();
    arrow::util::pretty::pretty_format_batches(&batches)
        .unwrap()
        .to_string()
}

/// The columns compared, with the event time as seconds since the epoch and the date as
/// text, so that any timestamp type compares equal.
const STREAMED: &str = "to_unixtime(timestamp) AS t, CAST(date AS VARCHAR) AS d, service, level, \
     latency_ms, status, path, user_id, trace_id, message, team, owner, tier";

/// Each routed table next to the same rows computed in one batch from `reference` (a
/// table of parsed lines, `timestamp` a timestamp or RFC 3339 text).
async fn routed_and_reference(ctx: &SessionContext, reference: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (table, condition) in [
        // Rows with a negative latency are quarantined by the requests table's rules.
        ("logs.requests", "r.latency_ms >= 0 OR r.latency_ms IS NULL"),
        ("logs.errors", "r.status >= 500"),
        ("logs.slow", "r.latency_ms > 1000"),
    ] {
        let streamed = text(
            ctx,
            &format!("SELECT {STREAMED} FROM {table} ORDER BY trace_id"),
        )
        .await;
        let batch = text(
            ctx,
            &format!(
                "SELECT to_unixtime(r.timestamp) AS t, \
                        CAST(CAST(to_timestamp(r.timestamp) AS DATE) AS VARCHAR) AS d, \
                        r.service, r.level, r.latency_ms, r.status, r.path, r.user_id, \
                        r.trace_id, r.message, s.team, s.owner, s.tier \
                 FROM {reference} r LEFT JOIN services s ON r.service = s.service \
                 WHERE {condition} ORDER BY trace_id"
            ),
        )
        .await;
        out.push((streamed, batch));
    }
    out
}

/// The generator's lines parsed at parallelism 1 into a table: what the example job
/// parses, without enrich and route.
const REFERENCE_JOB: &str = r#"
name: log-pipeline-reference
checkpoints: {location: checkpoints}
sources:
  logs: {type: generator, kind: logs, log_kind: app, events: 3000, events_per_second: 1000, malformed_fraction: 0.02, skewed_fraction: 0.001}
transforms:
  parsed:
    type: parse
    inputs: [logs]
    column: line
    keep: []
    format:
      type: json
      columns:
        - {name: timestamp, type: timestamp, nullable: false}
        - {name: service, type: string, nullable: false}
        - {name: level, type: string}
        - {name: latency_ms, type: int64}
        - {name: status, type: int32}
        - {name: path, type: string}
        - {name: user_id, type: string}
        - {name: trace_id, type: string}
        - {name: message, type: string}
sinks:
  raw: {type: delta, inputs: [parsed], table: lake/ref/raw}
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_generated_log_pipeline_equals_a_batch_parse_and_join_at_any_parallelism() {
    let reference = tempfile::tempdir().unwrap();
    std::fs::write(reference.path().join("job.yaml"), REFERENCE_JOB).unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_weir"))
        .args(["run", "--progress", "0s", "job.yaml"])
        .current_dir(reference.path())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let mut tables = Vec::new();
    for parallelism in ["1", "2"] {
        let lake = tempfile::tempdir().unwrap();
        let stderr = run_job(
            "examples/jobs/log_pipeline.yaml",
            lake.path(),
            &[("PARALLELISM", parallelism), ("EVENTS", "3000")],
        );
        assert!(stderr.contains("logs read 3000 rows"), "{stderr}");
        let count = |sql: &'static str| lake_count(lake.path(), sql);
        let rows = count("SELECT count(*) FROM logs.requests").await;
        let dead = count("SELECT count(*) FROM logs.dead_letters").await;
        let ctx = session(lake.path()).await;
        register_delta(&ctx, "raw", &reference.path().join("lake/ref/raw")).await;
        let skewed = text(&ctx, "SELECT count(*) AS n FROM raw WHERE latency_ms < 0").await;
        let skewed: i64 = skewed
            .lines()
            .nth(3)
            .unwrap()
            .trim_matches(|c| c == '|' || c == ' ')
            .parse()
            .unwrap();
        if skewed > 0 {
            let quarantined = count("SELECT count(*) FROM logs.requests_quarantine").await;
            assert_eq!(quarantined, skewed, "every skewed row is quarantined");
        }
        assert_eq!(
            rows + dead + skewed,
            3000,
            "every line is a row, a quarantined row or a dead letter"
        );
        assert!((30..=90).contains(&dead), "{dead} dead letters");
        let compared = routed_and_reference(&ctx, "raw").await;
        for (streamed, batch) in &compared {
            assert_eq!(streamed, batch, "parallelism {parallelism}");
        }
        let (requests, errors, slow) = (&compared[0].0, &compared[1].0, &compared[2].0);
        assert_eq!(requests.lines().count() - 4, rows as usize);
        assert!(errors.lines().count() > 4 && slow.lines().count() > 4);
        // Every generated service is in the CSV: no row lacks its team.
        assert_eq!(
            count("SELECT count(*) FROM logs.requests WHERE team IS NULL").await,
            0
        );
        tables.push(compared);
    }
    assert_eq!(tables[0], tables[1]);
}

/// Lines of `examples/data/app.log` that do not decode: cut short, a status that is a
/// word, garbage.
const BAD_LINES: [usize; 3] = [10, 27, 34];

/// `examples/data/app.log` without its bad lines, as a JSON-lines file in `dir`.
fn good_lines(dir: &Path) -> std::path::PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let log = std::fs::read_to_string(root.join("examples/data/app.log")).unwrap();
    let good: Vec<&str> = log
        .lines()
        .enumerate()
        .filter(|(i, _)| !BAD_LINES.contains(&(i + 1)))
        .map(|(_, line)| line)
        .collect();
    let path = dir.join("good.json");
    std::fs::write(&path, good.join("\n") + "\n").unwrap();
    path
}

/// Checks the tables of a log pipeline that read `examples/data/app.log` against the
/// same join in one batch; returns the compared tables.
async fn check_sample_tables(lake: &Path, good: &Path) -> Vec<(String, String)> {
    let ctx = session(lake).await;
    ctx.register_json(
        "good",
        good.to_str().unwrap(),
        JsonReadOptions::default().file_extension(".json"),
    )
    .await
    .unwrap();
    let compared = routed_and_reference(&ctx, "good").await;
    for (streamed, batch) in &compared {
        assert_eq!(streamed, batch);
    }
    let lines = |i: usize| compared[i].0.lines().count() - 4;
    assert_eq!((lines(0), lines(1), lines(2)), (37, 3, 12));
    assert_eq!(
        text(
            &ctx,
            "SELECT service, team FROM logs.requests WHERE team IS NULL OR service = 'auth' \
             GROUP BY 1, 2 ORDER BY 1"
        )
        .await,
        "+---------+----------+\n\
         | service | team     |\n\
         +---------+----------+\n\
         | auth    | identity |\n\
         | billing |          |\n\
         +---------+----------+"
    );
    compared
}

/// The origins of the dead letters, in order.
async fn dead_letter_origins(lake: &Path) -> Vec<String> {
    let ctx = session(lake).await;
    let batches = ctx
        .sql("SELECT origin FROM logs.dead_letters ORDER BY length(origin), origin")
        .await
        .unwrap()
        .collect()
        .await
        .unwrap();
    let mut out = Vec::new();
    for batch in batches {
        let column =
            arrow::compute::cast(batch.column(0), &arrow::datatypes::DataType::Utf8).unwrap();
        let column = arrow::array::AsArray::as_string::<i32>(column.as_ref());
        out.extend(column.iter().map(|v| v.unwrap().to_string()));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_log_file_pipeline_equals_a_batch_join_and_keeps_bad_lines_at_any_parallelism() {
    let scratch = tempfile::tempdir().unwrap();
    let good = good_lines(scratch.path());
    let mut tables = Vec::new();
    for parallelism in ["1", "2"] {
        let lake = tempfile::tempdir().unwrap();
        let stderr = run_job(
            "examples/jobs/log_pipeline_files.yaml",
            lake.path(),
            &[("PARALLELISM", parallelism)],
        );
        assert!(stderr.contains("logs read 37 rows"), "{stderr}");
        tables.push(check_sample_tables(lake.path(), &good).await);
        let expected: Vec<String> = BAD_LINES
            .iter()
            .map(|line| format!("examples/data/app.log:{line}"))
            .collect();
        assert_eq!(dead_letter_origins(lake.path()).await, expected);
    }
    assert_eq!(tables[0], tables[1]);
}

/// The Kafka job over the sample's lines produced to a topic, read to the end offsets
/// seen at start: the same tables, dead letters with topic/partition/offset.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_kafka_log_pipeline_reads_a_topic_into_the_same_tables() {
    use crate::support::kafka::{brokers, create_topic, produce, unique_topic};
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let log = std::fs::read_to_string(root.join("examples/data/app.log")).unwrap();
    let topic = unique_topic("log-pipeline");
    create_topic(&topic, 1).await;
    let messages: Vec<Vec<u8>> = log.lines().map(|l| l.as_bytes().to_vec()).collect();
    produce(&topic, 0, &messages).await;
    let scratch = tempfile::tempdir().unwrap();
    let good = good_lines(scratch.path());
    let lake = tempfile::tempdir().unwrap();
    run_job(
        "examples/jobs/log_pipeline_kafka.yaml",
        lake.path(),
        &[
            ("KAFKA_BROKERS", brokers().as_str()),
            ("TOPIC", topic.as_str()),
            ("BOUNDED", "true"),
        ],
    );
    check_sample_tables(lake.path(), &good).await;
    let expected: Vec<String> = BAD_LINES
        .iter()
        .map(|line| format!("{topic}/0/{}", line - 1))
        .collect();
    assert_eq!(dead_letter_origins(lake.path()).await, expected);
}
