//! The analytics example jobs, run by the binary at parallelism 1 and 2 over generated
//! input with out-of-order and late lines: each streamed table, read as docs/job-files.md
//! says (the newest emission of each window), equals the same query run in one batch by
//! DataFusion over the job's raw table; percentiles are within the t-digest's error.

use std::path::Path;

use arrow::array::AsArray;
use arrow::datatypes::{Float64Type, Int64Type};
use arrow::record_batch::RecordBatch;

use super::{lake_text, run_job};

/// A minute in the unit of Delta timestamps (microseconds).
const MINUTE_SECONDS: i64 = 60;

/// (a) The newest row of each service and minute (the one counting the most requests).
const SERVICE_MINUTES: &str = "\
    SELECT service, to_unixtime(window_start) AS ws, requests, errors, error_rate FROM ( \
      SELECT *, row_number() OVER (PARTITION BY service, window_start ORDER BY requests DESC) AS n \
      FROM analytics.service_minutes) \
    WHERE n = 1 ORDER BY ws, service";

/// (a) in one batch over the raw requests, without the lines the job found too late.
const SERVICE_MINUTES_REFERENCE: &str = "\
    SELECT service, to_unixtime(date_bin(INTERVAL '1 minute', event_time)) AS ws, \
           count(*) AS requests, count(*) FILTER (WHERE status >= 500) AS errors, \
           CAST(count(*) FILTER (WHERE status >= 500) AS DOUBLE) / CAST(count(*) AS DOUBLE) AS error_rate \
    FROM analytics.requests \
    WHERE trace_id NOT IN (SELECT trace_id FROM analytics.service_minutes_late) \
    GROUP BY 1, 2 ORDER BY ws, service";

/// (c) The newest revision of each window's top 10.
const TOP_PATHS: &str = "\
    SELECT to_unixtime(window_start) AS ws, path, hits, rank FROM ( \
      SELECT *, max(revision) OVER (PARTITION BY window_start) AS newest FROM analytics.top_paths) \
    WHERE revision = newest ORDER BY ws, rank";

const TOP_PATHS_REFERENCE: &str = "\
    SELECT ws, path, hits, rank FROM ( \
      SELECT ws, path, hits, row_number() OVER (PARTITION BY ws ORDER BY hits DESC, path ASC) AS rank \
      FROM (SELECT to_unixtime(date_bin(INTERVAL '10 minutes', event_time)) AS ws, path, count(*) AS hits \
            FROM analytics.requests \
            WHERE trace_id NOT IN (SELECT trace_id FROM analytics.late_long_windows) \
            GROUP BY 1, 2)) \
    WHERE rank <= 10 ORDER BY ws, rank";

/// (b) The newest row of each endpoint and 5-minute window.
fn newest_latency() -> String {
    "SELECT endpoint, to_unixtime(window_start) AS ws, requests, p50_ms, p95_ms, p99_ms FROM ( \
       SELECT *, row_number() OVER (PARTITION BY endpoint, window_start ORDER BY requests DESC) AS n \
       FROM analytics.endpoint_latency) WHERE n = 1"
        .to_string()
}

/// Every raw request once per 5-minute window sliding by 1 minute that holds it.
fn requests_per_window() -> String {
    format!(
        "SELECT r.endpoint, to_unixtime(date_bin(INTERVAL '1 minute', r.event_time)) - k.k * {MINUTE_SECONDS} AS ws, \
                r.latency_ms \
         FROM analytics.requests r CROSS JOIN (VALUES (0), (1), (2), (3), (4)) AS k(k)"
    )
}

async fn batches(lake: &Path, sql: &str) -> Vec<RecordBatch> {
    let ctx = weir_sql::Lake::new(lake).unwrap().session().await.unwrap();
    ctx.sql(sql).await.unwrap().collect().await.unwrap()
}

/// For each window and percentile p, how far the streamed estimate v is off in rank:
/// `max(below / n - p, p - at_most / n)`, where `below` rows are under v and `at_most`
/// rows are at most v; 0 when v is a p-quantile of the window's rows.
async fn worst_rank_errors(lake: &Path) -> Vec<(String, f64, i64, f64)> {
    let sql = format!(
        "WITH newest AS ({}), rows AS ({}), estimates AS ( \
           SELECT endpoint, ws, requests, 0.5 AS p, p50_ms AS v FROM newest UNION ALL \
           SELECT endpoint, ws, requests, 0.95 AS p, p95_ms AS v FROM newest UNION ALL \
           SELECT endpoint, ws, requests, 0.99 AS p, p99_ms AS v FROM newest) \
         SELECT arrow_cast(e.endpoint, 'Utf8') AS endpoint, e.ws, e.requests, e.p, \
                count(*) FILTER (WHERE r.latency_ms < e.v) AS below, \
                count(*) FILTER (WHERE r.latency_ms <= e.v) AS at_most \
         FROM estimates e JOIN rows r ON r.endpoint = e.endpoint AND r.ws = e.ws \
         GROUP BY e.endpoint, e.ws, e.requests, e.p, e.v",
        newest_latency(),
        requests_per_window()
    );
    let mut out = Vec::new();
    for batch in batches(lake, &sql).await {
        let endpoint = batch.column(0).as_string::<i32>();
        let n = batch.column(2).as_primitive::<Int64Type>();
        let p = batch.column(3).as_primitive::<Float64Type>();
        let below = batch.column(4).as_primitive::<Int64Type>();
        let at_most = batch.column(5).as_primitive::<Int64Type>();
        for i in 0..batch.num_rows() {
            let (n, p) = (n.value(i), p.value(i));
            let error = (below.value(i) as f64 / n as f64 - p)
                .max(p - at_most.value(i) as f64 / n as f64)
                .max(0.0);
            out.push((endpoint.value(i).to_string(), p, n, error));
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_log_analytics_job_matches_batch_queries_at_parallelism_1_and_2() {
    let mut runs = Vec::new();
    for parallelism in ["1", "2"] {
        let lake = tempfile::tempdir().unwrap();
        let lake = lake.path();
        let stderr = run_job(
            "examples/jobs/log_analytics.yaml",
            lake,
            &[
                ("PARALLELISM", parallelism),
                ("EVENTS", "30000"),
                ("EVENTS_PER_SECOND", "10"),
            ],
        );
        assert!(stderr.contains("logs read 30000 rows"), "{stderr}");
        let text = |sql: String| async move { lake_text(lake, &sql).await };
        let count = |sql: &str| text(format!("SELECT count(*) AS n FROM ({sql})"));

        // (a): late lines and re-emitted windows are both there, and the newest rows equal
        // the batch query over the lines that were not too late.
        let late = count("SELECT * FROM analytics.service_minutes_late").await;
        assert!(!late.contains("| 0 "), "no late lines: {late}");
        let emitted = count("SELECT * FROM analytics.service_minutes").await;
        let windows =
            count("SELECT DISTINCT service, window_start FROM analytics.service_minutes").await;
        assert_ne!(emitted, windows, "no window was emitted again");
        let streamed = text(SERVICE_MINUTES.into()).await;
        assert_eq!(
            streamed,
            text(SERVICE_MINUTES_REFERENCE.into()).await,
            "parallelism {parallelism}"
        );
        assert!(streamed.lines().count() > 6 * 40, "{streamed}");

        // (c): the newest revision of each window's top 10.
        let top = text(TOP_PATHS.into()).await;
        assert_eq!(
            top,
            text(TOP_PATHS_REFERENCE.into()).await,
            "parallelism {parallelism}"
        );
        // Five 10-minute windows of 10 paths, and maybe one before the start.
        assert!(top.lines().count() >= 4 + 5 * 10, "{top}");

        // (b): the request count of each window is exact; no line was too late for it.
        assert_eq!(
            count("SELECT * FROM analytics.late_long_windows").await,
            count("SELECT 1 WHERE false").await
        );
        let requests = text(format!(
            "SELECT endpoint, ws, requests FROM ({}) ORDER BY endpoint, ws",
            newest_latency()
        ))
        .await;
        let reference = text(format!(
            "SELECT endpoint, ws, count(*) AS requests FROM ({}) GROUP BY 1, 2 ORDER BY endpoint, ws",
            requests_per_window()
        ))
        .await;
        assert_eq!(requests, reference, "parallelism {parallelism}");
        // Percentiles: approx_percentile_cont is a t-digest (100 centroids) that weir
        // merges from per-minute panes and that interpolates between centroids; the bound
        // documented for it is 3% of rank from a true quantile (the worst seen here is
        // 2%), plus 1/n, as a quantile of n rows can only be placed to within 1/n.
        let errors = worst_rank_errors(lake).await;
        assert_eq!(errors.len(), 3 * (reference.lines().count() - 4));
        for (endpoint, p, n, error) in &errors {
            assert!(
                *error <= 0.03 + 1.0 / *n as f64,
                "p{p} of {endpoint} over {n} rows is {error} off in rank"
            );
        }
        runs.push((streamed, top, requests));
    }
    // Which lines are too late for a 30 s lateness depends on when the watermark of two
    // source subtasks passed them, so the service minutes of the two runs differ in their
    // late lines (each run equals the batch query over its own on-time lines, above).
    // The windows no line is too late for are the same at any parallelism.
    assert_eq!(runs[0].1, runs[1].1, "top paths");
    assert_eq!(runs[0].2, runs[1].2, "latency windows");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_clickstream_sessions_job_matches_a_batch_sessionization() {
    let mut runs = Vec::new();
    for parallelism in ["1", "2"] {
        let lake = tempfile::tempdir().unwrap();
        let lake = lake.path();
        run_job(
            "examples/jobs/clickstream_sessions.yaml",
            lake,
            &[("PARALLELISM", parallelism), ("EVENTS", "30000")],
        );
        let streamed = lake_text(
            lake,
            "SELECT user_id, CAST(window_start AS BIGINT) AS ws, CAST(window_end AS BIGINT) AS we, \
                    duration_ms, page_views, pages, purchases, bounce \
             FROM clickstream.sessions ORDER BY user_id, ws",
        )
        .await;
        // Sessions in one batch: a click 30 minutes or more after the user's previous one
        // starts a new session.
        let reference = lake_text(
            lake,
            "WITH t AS (SELECT user_id, page, action, CAST(event_time AS BIGINT) AS us FROM clickstream.clicks), \
             flagged AS (SELECT *, CASE WHEN us - lag(us) OVER (PARTITION BY user_id ORDER BY us) < 1800000000 \
                                        THEN 0 ELSE 1 END AS new_session FROM t), \
             numbered AS (SELECT *, sum(new_session) OVER (PARTITION BY user_id ORDER BY us \
                                    ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS session FROM flagged) \
             SELECT user_id, min(us) AS ws, max(us) + 1800000000 AS we, (max(us) - min(us)) / 1000 AS duration_ms, \
                    count(*) AS page_views, count(DISTINCT page) AS pages, \
                    count(*) FILTER (WHERE action = 'purchase') AS purchases, count(*) = 1 AS bounce \
             FROM numbered GROUP BY user_id, session ORDER BY user_id, ws",
        )
        .await;
        assert_eq!(streamed, reference, "parallelism {parallelism}");
        // The generator's own session ids: the windows found exactly its sessions.
        let generated = lake_text(
            lake,
            "SELECT count(DISTINCT session_id) AS n FROM clickstream.clicks",
        )
        .await;
        assert!(
            generated.contains(&format!("| {} ", streamed.lines().count() - 4)),
            "{generated}"
        );
        let bounces = lake_text(
            lake,
            "SELECT count(*) FILTER (WHERE bounce) > 0 AND count(*) FILTER (WHERE NOT bounce) > 0 AS both \
             FROM clickstream.sessions",
        )
        .await;
        assert!(bounces.contains("true"), "{bounces}");
        runs.push(streamed);
    }
    assert_eq!(runs[0], runs[1]);
}
