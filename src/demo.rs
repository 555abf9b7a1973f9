//! `weir demo`: the platform end to end with no outside services.
//!
//! Three example jobs run side by side, each through its own [`JobHandle`] as the server
//! will run them: the log pipeline (`examples/jobs/log_pipeline.yaml`: generated JSON app
//! logs, some damaged -> parse -> enrich with the services table -> route -> Delta tables
//! of requests, errors, slow requests and dead letters), streaming analytics
//! (`examples/jobs/log_analytics.yaml`: logs partly out of order and late -> requests and
//! error rate per service and minute, latency percentiles per endpoint, top paths) and
//! user sessions (`examples/jobs/clickstream_sessions.yaml`). Then the requests table's
//! small files (one per checkpoint, writer and partition) are compacted, SQL over the
//! lake answers a few questions, and the streamed results are checked against the same
//! queries run in one batch over the raw rows.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use arrow::array::{AsArray, RecordBatch};
use arrow::datatypes::Int64Type;
use arrow::util::pretty::pretty_format_batches;
use clap::Args;
use weir_engine::RestoreFrom;
use weir_jobs::{JobDefinition, JobHandle, JobOutcome, StartOptions};
use weir_lake::Compact;
use weir_sql::Lake;

use crate::job_summary::{summary, SinkRows};

/// The jobs the demo runs, as shipped in `examples/jobs`.
const JOBS: [(&str, &str); 3] = [
    (
        "examples/jobs/log_pipeline.yaml",
        include_str!("../examples/jobs/log_pipeline.yaml"),
    ),
    (
        "examples/jobs/log_analytics.yaml",
        include_str!("../examples/jobs/log_analytics.yaml"),
    ),
    (
        "examples/jobs/clickstream_sessions.yaml",
        include_str!("../examples/jobs/clickstream_sessions.yaml"),
    ),
];
/// The dimension table the log pipeline enriches with.
const SERVICES: &str = include_str!("../examples/data/services.csv");
/// Marks a folder as the demo's own, so a later demo may replace it.
const MARKER: &str = ".weir-demo";

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Generated log lines per log job (the clickstream gets half as many clicks).
    #[arg(long, default_value_t = 400_000)]
    events: u64,
    /// Parallelism of every node.
    #[arg(long, default_value_t = 2)]
    parallelism: usize,
    /// Where the lake goes; replaced if an earlier demo made it.
    #[arg(long, default_value = "weir-demo")]
    lake: PathBuf,
    /// Then serve the lake with `weir server` at this address: the web console at
    /// http://ADDRESS/, with a live job submitted (Ctrl-C stops it).
    #[arg(long, value_name = "ADDRESS", num_args = 0..=1, default_missing_value = "127.0.0.1:8080")]
    serve: Option<std::net::SocketAddr>,
}

pub async fn run(args: DemoArgs) -> Result<()> {
    prepare(&args.lake)?;
    let lake = args.lake.display().to_string();
    let services = args.lake.join("services.csv");
    std::fs::write(&services, SERVICES)?;
    let services = services.display().to_string();
    println!(
        "weir demo: three jobs side by side, parallelism {} each, into Delta tables in {lake}/\n  \
         {} app log lines (2% damaged) -> parse -> enrich -> route            ({})\n  \
         {} app log lines (5% up to 2 min out of order) -> windows, top paths ({})\n  \
         {} clicks -> 30-minute session windows                                ({})",
        args.parallelism,
        args.events,
        JOBS[0].0,
        args.events,
        JOBS[1].0,
        args.events / 2,
        JOBS[2].0,
    );
    let started = Instant::now();
    let mut handles = Vec::new();
    for (i, (file, text)) in JOBS.iter().enumerate() {
        let events = match i {
            2 => args.events / 2,
            _ => args.events,
        };
        let vars = |name: &str| match name {
            "LAKE" => Some(lake.clone()),
            "EVENTS" => Some(events.to_string()),
            "PARALLELISM" => Some(args.parallelism.to_string()),
            "SERVICES" => Some(services.clone()),
            _ => None,
        };
        let job = JobDefinition::from_yaml(text, file, vars)?;
        let options = StartOptions {
            restore_from: RestoreFrom::Nothing,
        };
        handles.push(JobHandle::start(job, options));
    }
    for handle in &handles {
        match handle.wait().await {
            JobOutcome::Finished => {}
            JobOutcome::Failed { error, .. } => {
                bail!("job '{}' failed: {error}", handle.job().name)
            }
            other => bail!("job '{}' ended early: {other:?}", handle.job().name),
        }
    }
    let elapsed = started.elapsed();
    println!("\nall three finished in {elapsed:.1?}:");
    for handle in &handles {
        let metrics = handle.metrics().context("a demo job never ran")?;
        println!(
            "  {}: {}",
            handle.job().name,
            summary(handle.job(), &metrics, elapsed, SinkRows::Committed)
        );
    }

    // Every checkpoint of every writer left a small file in each partition it touched.
    let requests = args.lake.join("logs").join("requests");
    let compacted = Compact::new(requests.display().to_string())
        .await
        .context("compacting logs.requests")?;
    if compacted.version.is_some() {
        println!(
            "\ncompacted logs.requests: {} small files -> {} files ({} rows, {} date and service partitions)",
            compacted.files_removed, compacted.files_added, compacted.rows, compacted.partitions
        );
    }

    let ctx = Lake::new(&args.lake)?.session().await?;
    let sql = |query: String| {
        let ctx = ctx.clone();
        async move {
            let batches = ctx.sql(&query).await?.collect().await?;
            anyhow::Ok(batches)
        }
    };
    for (question, query) in QUESTIONS {
        println!(
            "\n{question}\n  {}",
            query.split_whitespace().collect::<Vec<_>>().join(" ")
        );
        println!("{}", pretty_format_batches(&sql(query.to_string()).await?)?);
    }

    // The requests table's rules judged every checkpoint before it was committed.
    let session = Lake::new(&args.lake)?
        .query_session(weir_sql::Limits::default())
        .await?;
    println!("\n{}\n  {}", QUALITY.0, QUALITY.1);
    let judged = session.sql(QUALITY.1).await?;
    println!("{}", pretty_format_batches(&judged[0].batches)?);
    // The quarantine table exists once a rule quarantined a row.
    let quarantine = Lake::new(&args.lake)?
        .tables()
        .await?
        .iter()
        .any(|t| t.qualified_name() == "logs.requests_quarantine");
    let mut quarantined = 0;
    if quarantine {
        println!("\n{}\n  {}", QUARANTINED.0, QUARANTINED.1);
        let rows = session.sql(QUARANTINED.1).await?;
        println!("{}", pretty_format_batches(&rows[0].batches)?);
        quarantined = count(&sql("SELECT count(*) FROM logs.requests_quarantine".into()).await?);
    }
    println!();

    let lines = args.events as i64;
    let accounted = count(&sql(ACCOUNTED.into()).await?) + quarantined;
    if accounted != lines {
        bail!("the log pipeline accounts for {accounted} of {lines} lines (rows + dead letters + quarantined rows)");
    }
    for (what, streamed, reference) in CHECKS {
        let differing = count(
            &sql(format!(
                "SELECT count(*) FROM (({streamed} EXCEPT {reference}) UNION ALL ({reference} EXCEPT {streamed}))"
            ))
            .await?,
        );
        if differing != 0 {
            bail!("{differing} rows of {what} differ from the same query run in one batch");
        }
    }
    println!(
        "Checked: every one of the {lines} log lines is one request row, one quarantined row or one dead letter; \
         {}.\n\nThe tables are plain Delta Lake tables in {lake}/ (logs.*, analytics.*, \
         clickstream.*). Try next:\n  \
         weir sql --lake {lake}                      # an SQL shell over them (SHOW TABLES)\n  \
         weir sql --lake {lake} -e \"SELECT * FROM table_history('logs.requests')\"\n  \
         weir compact --lake {lake} logs.requests --cluster-by status,latency_ms --target-size 256KiB   # filters on either skip most files\n  \
         weir quality check --lake {lake} logs.requests --rules examples/quality/requests.yaml   # data-quality verdicts\n  \
         weir run examples/jobs/log_pipeline.yaml    # a job of your own; Ctrl-C stops it with a final checkpoint\n  \
         weir demo --serve                          # the same, then the web console at http://127.0.0.1:8080/",
        CHECKS
            .iter()
            .map(|(what, _, _)| format!("{what} equal the same query run in one batch"))
            .collect::<Vec<_>>()
            .join("; ")
    );
    match args.serve {
        Some(address) => crate::server::serve_demo(&args.lake, address).await,
        None => Ok(()),
    }
}

/// The quality verdicts of the requests table, summed over the epochs its rules judged.
const QUALITY: (&str, &str) = (
    "Quality of logs.requests, judged before each commit (rules in examples/jobs/log_pipeline.yaml):",
    "SELECT rule, severity, count(*) AS epochs, sum(CAST(passed AS INT)) AS passed, \
     sum(rows_checked) AS rows, sum(rows_failing) AS failing \
     FROM table_quality('logs.requests') GROUP BY rule, severity ORDER BY rule",
);

/// The rows a quality rule kept out of logs.requests, with why.
const QUARANTINED: (&str, &str) = (
    "Quarantined rows of logs.requests (a negative latency: clock skew between hosts), kept out of the table with the reason:",
    "SELECT timestamp, service, path, latency_ms, quality_failed_rules, quality_reason \
     FROM logs.requests_quarantine ORDER BY timestamp LIMIT 3",
);

/// What the demo asks the lake, with the query that answers it.
const QUESTIONS: [(&str, &str); 5] = [
    (
        "Error rate per service (newest row of each minute, over all minutes):",
        "SELECT service, sum(requests) AS requests, sum(errors) AS errors, \
         round(100.0 * sum(errors) / sum(requests), 2) AS error_pct \
         FROM (SELECT *, row_number() OVER (PARTITION BY service, window_start ORDER BY requests DESC) AS n \
               FROM analytics.service_minutes) WHERE n = 1 \
         GROUP BY service ORDER BY error_pct DESC",
    ),
    (
        "Slowest endpoints (p99 latency over the last complete 5 minutes):",
        "SELECT endpoint, requests, round(p50_ms) AS p50_ms, round(p95_ms) AS p95_ms, round(p99_ms) AS p99_ms FROM \
         (SELECT *, row_number() OVER (PARTITION BY endpoint, window_start ORDER BY requests DESC) AS n \
          FROM analytics.endpoint_latency) \
         WHERE n = 1 AND window_start = (SELECT max(window_start) - INTERVAL '5 minutes' FROM analytics.endpoint_latency) \
         ORDER BY p99_ms DESC LIMIT 5",
    ),
    (
        "Top 10 paths of the second 10 minutes (the newest revision of that window's list):",
        "WITH w AS (SELECT min(window_start) + INTERVAL '10 minutes' AS start FROM analytics.top_paths) \
         SELECT rank, path, hits FROM analytics.top_paths, w \
         WHERE window_start = w.start AND revision = \
           (SELECT max(revision) FROM analytics.top_paths t, w WHERE t.window_start = w.start) \
         ORDER BY rank",
    ),
    (
        "User sessions:",
        "SELECT count(*) AS sessions, round(avg(duration_ms) / 60000.0, 1) AS avg_minutes, \
         round(avg(page_views), 1) AS avg_page_views, \
         round(100.0 * avg(CASE WHEN bounce THEN 1.0 ELSE 0.0 END), 1) AS bounce_pct \
         FROM clickstream.sessions",
    ),
    (
        "Dead letters by reason:",
        "SELECT reason, count(*) AS lines FROM logs.dead_letters GROUP BY reason ORDER BY lines DESC LIMIT 5",
    ),
];

/// The log pipeline's rows plus its dead letters: every generated line, once.
const ACCOUNTED: &str =
    "SELECT (SELECT count(*) FROM logs.requests) + (SELECT count(*) FROM logs.dead_letters)";

/// Streamed results and the same result computed in one batch over the raw rows.
const CHECKS: [(&str, &str, &str); 1] = [(
    "the per-service minutes (newest rows)",
    "SELECT service, window_start, requests, errors FROM \
     (SELECT *, row_number() OVER (PARTITION BY service, window_start ORDER BY requests DESC) AS n \
      FROM analytics.service_minutes) WHERE n = 1",
    "SELECT service, date_bin(INTERVAL '1 minute', event_time) AS window_start, count(*) AS requests, \
     count(*) FILTER (WHERE status >= 500) AS errors \
     FROM analytics.requests r \
     WHERE NOT EXISTS (SELECT 1 FROM analytics.service_minutes_late l WHERE l.trace_id = r.trace_id) \
     GROUP BY 1, 2",
)];

fn count(batches: &[RecordBatch]) -> i64 {
    batches
        .first()
        .map_or(0, |b| b.column(0).as_primitive::<Int64Type>().value(0))
}

/// Clears a lake an earlier demo made; refuses to touch a non-empty folder it did not make.
fn prepare(lake: &Path) -> Result<()> {
    let empty = std::fs::read_dir(lake).is_ok_and(|mut entries| entries.next().is_none());
    if lake.exists() && !empty {
        if !lake.join(MARKER).exists() {
            bail!(
                "{} exists and was not made by `weir demo`; choose another folder with --lake",
                lake.display()
            );
        }
        std::fs::remove_dir_all(lake).with_context(|| format!("clearing {}", lake.display()))?;
    }
    std::fs::create_dir_all(lake).with_context(|| format!("creating {}", lake.display()))?;
    std::fs::write(lake.join(MARKER), "made by weir demo\n")?;
    Ok(())
}
