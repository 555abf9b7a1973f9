//! Quality rules on a Delta sink: every epoch judged before its commit, the verdicts in
//! the commit info equal to one query over the committed rows, the same at parallelism
//! 1 and 2; a failed `fail` rule commits nothing and fails the job with the verdict.

use std::path::Path;

use weir_jobs::{JobDefinition, JobHandle, JobOutcome, StartOptions};

use super::support::delta::query_text;

const EVENTS: u64 = 20_000;

const RULES: &str = "
      rules:
        - name: cheap
          range: {column: price, max: 50000}
        - name: channels
          in_set: {column: channel, values: [web, app]}
        - name: priced
          completeness: {column: price, max_null_fraction: 0}
        - name: enough
          volume: {min: 1, stddevs: 1000, min_history: 2}
        - name: one_bid_per_auction
          unique: {columns: [auction], within: 1h}
";

/// The rows of the table at `table` whose auction an earlier row has: what a uniqueness
/// rule on `auction` over the whole run counts, epoch by epoch.
async fn repeated_auctions(table: &str) -> u64 {
    let text = query_text(
        &[("t", table)],
        "SELECT count(*) - count(DISTINCT auction) AS repeated FROM t",
    )
    .await;
    text.lines()
        .nth(3)
        .unwrap()
        .trim_matches(|c| c == '|' || c == ' ')
        .parse()
        .unwrap()
}

/// Generated bids into `table` with the quality rules `rules`, checkpointing every 100 ms.
fn job(dir: &Path, name: &str, table: &str, parallelism: usize, rules: &str) -> JobDefinition {
    let yaml = format!(
        "name: {name}\nparallelism: {parallelism}\n\
         checkpoints: {{interval: 100ms, location: {dir}/checkpoints/{name}}}\n\
         sources:\n  bids: {{type: generator, kind: bids, events: {EVENTS}, batch_size: 500, rate_limit: 40000}}\n\
         sinks:\n  lake:\n    type: delta\n    inputs: [bids]\n    table: '{table}'\n    quality:{rules}",
        dir = dir.display()
    );
    JobDefinition::from_yaml(&yaml, &format!("{name}.yaml"), |_| None).unwrap()
}

/// The verdicts of rule `rule` in every commit of the table, oldest first.
fn verdicts_of(table: &str, rule: &str) -> Vec<serde_json::Value> {
    let mut entries: Vec<_> = std::fs::read_dir(Path::new(table).join("_delta_log"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    entries.sort();
    let mut found = Vec::new();
    for path in entries {
        for line in std::fs::read_to_string(path).unwrap().lines() {
            let action: serde_json::Value = serde_json::from_str(line).unwrap();
            for epoch in action["commitInfo"]["weir.quality"]
                .as_array()
                .into_iter()
                .flatten()
            {
                for v in epoch["verdicts"].as_array().unwrap() {
                    if v["rule"] == rule {
                        found.push(v.clone());
                    }
                }
            }
        }
    }
    found
}

/// Per rule, the rows checked and failing summed over every commit's verdicts, and the
/// number of commits judged.
fn verdict_totals(table: &str) -> (Vec<(String, u64, u64)>, usize) {
    let mut totals: Vec<(String, u64, u64)> = Vec::new();
    let mut commits = 0;
    let log = Path::new(table).join("_delta_log");
    let mut entries: Vec<_> = std::fs::read_dir(log)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
    {
        for line in std::fs::read_to_string(path).unwrap().lines() {
            let action: serde_json::Value = serde_json::from_str(line).unwrap();
            let Some(judged) = action["commitInfo"]["weir.quality"].as_array() else {
                continue;
            };
            commits += 1;
            for epoch in judged {
                for v in epoch["verdicts"].as_array().unwrap() {
                    let rule = v["rule"].as_str().unwrap().to_string();
                    let (checked, failing) = (
                        v["rows_checked"].as_u64().unwrap(),
                        v["rows_failing"].as_u64().unwrap(),
                    );
                    match totals.iter_mut().find(|t| t.0 == rule) {
                        Some(t) => {
                            t.1 += checked;
                            t.2 += failing;
                        }
                        None => totals.push((rule, checked, failing)),
                    }
                }
            }
        }
    }
    (totals, commits)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_epoch_is_judged_before_its_commit_at_any_parallelism() {
    let dir = tempfile::tempdir().unwrap();
    let mut results = Vec::new();
    for parallelism in [1, 2] {
        let table = dir
            .path()
            .join(format!("lake/p{parallelism}"))
            .display()
            .to_string();
        let handle = JobHandle::start(
            job(
                dir.path(),
                &format!("p{parallelism}"),
                &table,
                parallelism,
                RULES,
            ),
            StartOptions::default(),
        );
        let outcome = handle.wait().await;
        assert!(matches!(outcome, JobOutcome::Finished), "{outcome:?}");
        let (totals, commits) = verdict_totals(&table);
        assert!(commits >= 3, "{commits} commits judged");
        // The verdicts over all epochs equal one query over the committed rows.
        let expected = query_text(
            &[("t", &table)],
            "SELECT count(*) AS n, sum(CASE WHEN price > 50000 THEN 1 ELSE 0 END) AS expensive, \
             sum(CASE WHEN channel NOT IN ('web', 'app') THEN 1 ELSE 0 END) AS other FROM t",
        )
        .await;
        let n = EVENTS;
        let line = |rule: &str| totals.iter().find(|t| t.0 == rule).cloned().unwrap();
        assert_eq!(line("enough"), ("enough".into(), n, 0));
        assert_eq!(line("priced"), ("priced".into(), n, 0));
        // Across epochs too: each auction's later bids fail, whichever epoch they are in.
        let repeated = repeated_auctions(&table).await;
        assert!(repeated > 0);
        assert_eq!(
            line("one_bid_per_auction"),
            ("one_bid_per_auction".into(), n, repeated)
        );
        let (cheap, channels) = (line("cheap"), line("channels"));
        assert_eq!(
            expected,
            format!(
                "+-------+-----------+-------+\n| n     | expensive | other |\n+-------+-----------+-------+\n| {n} | {:<9} | {:<5} |\n+-------+-----------+-------+",
                cheap.2, channels.2
            )
        );
        assert!(cheap.2 > 0 && channels.2 > 0, "{totals:?}");
        // table_quality reads the same verdicts back, a row per version, epoch and rule.
        let session = weir_sql::Lake::new(dir.path().join("lake"))
            .unwrap()
            .query_session(weir_sql::Limits::default())
            .await
            .unwrap();
        let read = session
            .sql(&format!(
                "SELECT rule, sum(rows_checked) AS checked, sum(rows_failing) AS failing, \
                 count(DISTINCT version) AS versions FROM table_quality('p{parallelism}') \
                 GROUP BY rule ORDER BY rule"
            ))
            .await
            .unwrap();
        let mut expected_rows: Vec<String> = totals
            .iter()
            .map(|(rule, checked, failing)| {
                format!("| {rule} | {checked} | {failing} | {commits} |")
            })
            .collect();
        expected_rows.sort();
        let text = arrow::util::pretty::pretty_format_batches(&read[0].batches)
            .unwrap()
            .to_string();
        let got: Vec<String> = text
            .lines()
            .filter(|l| l.starts_with("| ") && !l.starts_with("| rule"))
            .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
            .collect();
        assert_eq!(got, expected_rows, "{text}");
        results.push(totals);
    }
    assert_eq!(
        results[0], results[1],
        "parallelism 1 and 2 judge the same rows"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_fail_rule_commits_nothing_and_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let table = dir.path().join("lake/bids").display().to_string();
    let rules = "
      rules:
        - name: cheap
          range: {column: price, max: 50000}
          severity: fail
";
    let handle = JobHandle::start(
        job(dir.path(), "gated", &table, 2, rules),
        StartOptions::default(),
    );
    let outcome = handle.wait().await;
    let JobOutcome::Failed { error, restarts } = outcome else {
        panic!("{outcome:?}");
    };
    assert_eq!(restarts, 0, "a failed rule is not retried");
    let message = error.to_string();
    assert!(
        message.contains("is not committed: quality rule 'cheap' failed: observed ")
            && message.contains(" failing rows, allowed 0 failing rows ("),
        "{message}"
    );
    let rows = if Path::new(&table).join("_delta_log").exists() {
        query_text(&[("t", &table)], "SELECT count(*) AS n FROM t").await
    } else {
        "no table".into()
    };
    assert!(rows == "no table" || rows.contains("| 0 |"), "{rows}");

    // With the rule fixed, the job resumes from the checkpoint before the failed epoch
    // and commits every row once.
    let fixed = rules.replace("max: 50000", "max: 100000");
    let handle = JobHandle::start(
        job(dir.path(), "gated", &table, 2, &fixed),
        StartOptions::default(),
    );
    let outcome = handle.wait().await;
    assert!(matches!(outcome, JobOutcome::Finished), "{outcome:?}");
    assert_eq!(
        query_text(&[("t", &table)], "SELECT count(*) AS n, count(DISTINCT (auction, bidder, event_time)) AS d FROM t").await,
        format!("+-------+-------+\n| n     | d     |\n+-------+-------+\n| {EVENTS} | {EVENTS} |\n+-------+-------+")
    );
}

/// `weir run` of the gated job file in `dir`, with `failpoints` armed.
fn run_gated(dir: &Path, failpoints: &str) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_weir"))
        .args(["run", "--progress", "0s", "gated.yaml"])
        .current_dir(dir)
        .env("WEIR_FAILPOINTS", failpoints)
        .output()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_between_the_verdict_and_the_commit_keeps_each_epoch_once_with_its_verdict() {
    for point in [
        "delta_files_staged",
        "delta_before_commit",
        "delta_after_commit",
    ] {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("gated.yaml"),
            format!(
                "name: gated\nparallelism: 2\n\
                 checkpoints: {{interval: 100ms, location: checkpoints}}\n\
                 sources:\n  bids: {{type: generator, kind: bids, events: {EVENTS}, batch_size: 500, rate_limit: 40000}}\n\
                 sinks:\n  lake:\n    type: delta\n    inputs: [bids]\n    table: lake/bids\n    quality:{RULES}"
            ),
        )
        .unwrap();
        let crashed = run_gated(dir.path(), &format!("{point}:3"));
        assert!(!crashed.status.success(), "{point}: {crashed:?}");
        let finished = run_gated(dir.path(), "");
        let stderr = String::from_utf8_lossy(&finished.stderr);
        assert!(finished.status.success(), "{point}: {stderr}");
        assert!(
            stderr.contains("restored from checkpoint"),
            "{point}: {stderr}"
        );
        let table = dir.path().join("lake/bids").display().to_string();
        assert_eq!(
            query_text(&[("t", &table)], "SELECT count(*) AS n, count(DISTINCT (auction, bidder, event_time)) AS d FROM t").await,
            format!("+-------+-------+\n| n     | d     |\n+-------+-------+\n| {EVENTS} | {EVENTS} |\n+-------+-------+"),
            "{point}"
        );
        let (totals, _) = verdict_totals(&table);
        for (rule, checked, _) in &totals {
            assert_eq!(
                *checked, EVENTS,
                "{point}: rule {rule} judged {checked} rows: {totals:?}"
            );
        }
        assert_eq!(totals.len(), 5, "{point}");
        // The keys of the uniqueness rule's horizon survived the crash.
        let unique = totals
            .iter()
            .find(|t| t.0 == "one_bid_per_auction")
            .unwrap();
        assert_eq!(unique.2, repeated_auctions(&table).await, "{point}");
        // The volume rule's history survived the crash: only the job's first two epochs
        // were too early to judge.
        let early = verdicts_of(&table, "enough")
            .iter()
            .filter(|v| v["threshold"].as_str().unwrap().contains("not judged"))
            .count();
        assert_eq!(early, 2, "{point}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quarantined_rows_go_to_their_own_table_with_the_reason_exactly_once() {
    let rules = "
      rules:
        - name: affordable
          range: {column: price, max: 90000}
          severity: quarantine
        - name: known_channel
          in_set: {column: channel, values: [apple, google, facebook, baidu]}
          severity: quarantine
";
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("gated.yaml"),
        format!(
            "name: gated\nparallelism: 2\n\
             checkpoints: {{interval: 100ms, location: checkpoints}}\n\
             sources:\n  bids: {{type: generator, kind: bids, events: {EVENTS}, batch_size: 500, rate_limit: 40000}}\n\
             sinks:\n  lake:\n    type: delta\n    inputs: [bids]\n    table: lake/bids\n    quality:{rules}"
        ),
    )
    .unwrap();
    // Crashed once just before a commit, then run to its end.
    assert!(!run_gated(dir.path(), "delta_before_commit:3")
        .status
        .success());
    let finished = run_gated(dir.path(), "");
    assert!(
        finished.status.success(),
        "{}",
        String::from_utf8_lossy(&finished.stderr)
    );
    let table = dir.path().join("lake/bids").display().to_string();
    let quarantine = dir
        .path()
        .join("lake/bids_quarantine")
        .display()
        .to_string();
    let kept = query_text(
        &[("t", &table)],
        "SELECT count(*) AS n, max(price) <= 90000 AS affordable FROM t",
    )
    .await;
    let out = query_text(
        &[("q", &quarantine)],
        "SELECT quality_failed_rules AS rules, count(*) AS n, min(price) > 90000 AS over, \
         count(DISTINCT (auction, bidder, event_time)) = count(*) AS distinct_rows FROM q GROUP BY 1 ORDER BY 1",
    )
    .await;
    let both = query_text(
        &[("t", &table), ("q", &quarantine)],
        "SELECT count(*) AS n, count(DISTINCT (auction, bidder, event_time)) AS d FROM \
         (SELECT auction, bidder, event_time FROM t UNION ALL SELECT auction, bidder, event_time FROM q)",
    )
    .await;
    assert_eq!(
        both,
        format!("+-------+-------+\n| n     | d     |\n+-------+-------+\n| {EVENTS} | {EVENTS} |\n+-------+-------+"),
        "kept: {kept}\nquarantined: {out}"
    );
    assert!(
        kept.ends_with("| true       |\n+-------+------------+"),
        "{kept}"
    );
    let lines: Vec<&str> = out.lines().filter(|l| l.starts_with("| a")).collect();
    assert_eq!(lines.len(), 1, "only the price rule rejects rows: {out}");
    assert!(
        lines[0].starts_with("| affordable |") && lines[0].ends_with("| true | true          |"),
        "{out}"
    );
    let reason = query_text(
        &[("q", &quarantine)],
        "SELECT quality_reason = concat('affordable: price = ', CAST(price AS VARCHAR), ', allowed <= 90000') AS explained, \
         quality_job FROM q GROUP BY 1, 2",
    )
    .await;
    assert!(reason.contains("| true      | gated       |"), "{reason}");
    // The verdicts count the rows quarantined.
    let (totals, _) = verdict_totals(&table);
    let quarantined: u64 = out
        .lines()
        .filter(|l| l.starts_with("| a"))
        .map(|l| l.split('|').nth(2).unwrap().trim().parse::<u64>().unwrap())
        .sum();
    assert_eq!(
        totals
            .iter()
            .find(|t| t.0 == "affordable")
            .map(|t| (t.1, t.2)),
        Some((EVENTS, quarantined))
    );
}

/// A `kind: quality` job over the table `bids` of the lake at `lake`.
fn quality_job(dir: &Path, lake: &Path, every: &str, rules: &str) -> JobDefinition {
    let yaml = format!(
        "name: bids-quality\nkind: quality\n\
         checkpoints: {{location: {dir}/checkpoints/quality}}\n\
         quality:\n  lake: '{lake}'\n  table: bids\n{every}{rules}",
        dir = dir.display(),
        lake = lake.display(),
    );
    JobDefinition::from_yaml(&yaml, "quality.yaml", |_| None).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quality_job_judges_a_lake_table_once_or_on_a_schedule() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    let table = lake.join("bids").display().to_string();
    let stream = JobHandle::start(
        job(dir.path(), "bids", &table, 2, RULES),
        StartOptions::default(),
    );
    assert!(matches!(stream.wait().await, JobOutcome::Finished));
    let rules = "  rules:\n    - {name: cheap, range: {column: price, max: 50000}}\n    - {name: priced, completeness: {column: price, max_null_fraction: 0}}\n";

    // Once: the job finishes after one check, recorded in the lake's _quality table.
    let once = JobHandle::start(
        quality_job(dir.path(), &lake, "", rules),
        StartOptions::default(),
    );
    assert!(matches!(once.wait().await, JobOutcome::Finished));
    let quality = lake.join("_quality").display().to_string();
    let recorded = "SELECT rule, passed, rows_checked FROM q ORDER BY time, rule";
    assert_eq!(
        query_text(&[("q", &quality)], recorded).await,
        format!(
            "+--------+--------+--------------+\n| rule   | passed | rows_checked |\n+--------+--------+--------------+\n\
             | cheap  | false  | {EVENTS}        |\n| priced | true   | {EVENTS}        |\n+--------+--------+--------------+"
        )
    );

    // Every 100 ms until stopped.
    let scheduled = JobHandle::start(
        quality_job(dir.path(), &lake, "  every: 100ms\n", rules),
        StartOptions::default(),
    );
    tokio::time::sleep(std::time::Duration::from_millis(800)).await;
    assert!(matches!(scheduled.stop().await, JobOutcome::Stopped { .. }));
    let evaluations = query_text(
        &[("q", &quality)],
        "SELECT count(DISTINCT time) > 3 AS several FROM q",
    )
    .await;
    assert!(evaluations.contains("| true    |"), "{evaluations}");

    // A failed `fail` rule fails the job with the verdict.
    let failing = rules.replace(
        "range: {column: price, max: 50000}}",
        "range: {column: price, max: 50000}, severity: fail}",
    );
    let failed = JobHandle::start(
        quality_job(dir.path(), &lake, "", &failing),
        StartOptions::default(),
    );
    let JobOutcome::Failed { error, .. } = failed.wait().await else {
        panic!("a failed fail rule did not fail the job");
    };
    assert!(
        error.to_string().contains("bids at version ")
            && error
                .to_string()
                .contains(": quality rule 'cheap' failed: observed "),
        "{error}"
    );
}

/// A local HTTP server that records each request's body and answers 500 to the first
/// request, 200 to the others.
async fn webhook() -> (
    String,
    std::sync::Arc<std::sync::Mutex<Vec<serde_json::Value>>>,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/alerts", listener.local_addr().unwrap());
    let bodies = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = bodies.clone();
    tokio::spawn(async move {
        loop {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut request = Vec::new();
            let mut buffer = [0u8; 4096];
            let body = loop {
                let n = socket.read(&mut buffer).await.unwrap();
                request.extend_from_slice(&buffer[..n]);
                let text = String::from_utf8_lossy(&request).to_string();
                let Some(end) = text.find("\r\n\r\n") else {
                    continue;
                };
                let length: usize = text[..end]
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length:")
                            .map(|v| v.trim().parse().unwrap())
                    })
                    .unwrap_or(0);
                if request.len() >= end + 4 + length {
                    break request[end + 4..end + 4 + length].to_vec();
                }
            };
            let received = {
                let mut seen = seen.lock().unwrap();
                seen.push(serde_json::from_slice::<serde_json::Value>(&body).unwrap());
                seen.len()
            };
            let status = if received == 1 {
                "500 Internal Server Error"
            } else {
                "200 OK"
            };
            let _ = socket
                .write_all(
                    format!("HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                        .as_bytes(),
                )
                .await;
        }
    });
    (url, bodies)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_of_verdict_is_posted_to_the_webhook_once_with_retries() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    let table = lake.join("bids").display().to_string();
    let stream = JobHandle::start(
        job(dir.path(), "bids", &table, 2, RULES),
        StartOptions::default(),
    );
    assert!(matches!(stream.wait().await, JobOutcome::Finished));
    let (url, bodies_handle) = webhook().await;
    let rules = format!(
        "  alert: {{webhook: '{url}', attempts: 3}}\n  rules:\n    - {{name: enough, volume: {{min: 30000}}}}\n    - {{name: priced, completeness: {{column: price, max_null_fraction: 0}}}}\n"
    );
    let checks = JobHandle::start(
        quality_job(dir.path(), &lake, "  every: 100ms\n", &rules),
        StartOptions::default(),
    );
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    // More bids (another app id) make the volume rule pass.
    let more = JobHandle::start(
        job(dir.path(), "more", &table, 1, RULES),
        StartOptions::default(),
    );
    assert!(matches!(more.wait().await, JobOutcome::Finished));
    tokio::time::sleep(std::time::Duration::from_millis(1000)).await;
    assert!(matches!(checks.stop().await, JobOutcome::Stopped { .. }));
    let bodies = bodies_handle.lock().unwrap().clone();
    let changes: Vec<(String, bool, u64)> = bodies
        .iter()
        .map(|b| {
            let changed = b["changed"].as_array().unwrap();
            assert_eq!(changed.len(), 1, "{b}");
            (
                changed[0]["rule"].as_str().unwrap().to_string(),
                changed[0]["passed"].as_bool().unwrap(),
                changed[0]["rows_checked"].as_u64().unwrap(),
            )
        })
        .collect();
    // The failing volume rule once (answered 500, so posted again), then its recovery (at
    // whichever version first held 30,000 rows); the passing rule never; nothing for the
    // checks in between.
    assert_eq!(changes.len(), 3, "{changes:?}");
    assert_eq!(
        changes[..2],
        [
            ("enough".to_string(), false, EVENTS),
            ("enough".to_string(), false, EVENTS)
        ]
    );
    assert!(
        changes[2].0 == "enough" && changes[2].1 && changes[2].2 >= 30_000,
        "{changes:?}"
    );
    assert!(bodies.iter().all(|b| b["table"] == "bids"), "{bodies:?}");

    // A restarted job (incremental this time) compares with the verdicts in `_quality`:
    // nothing changed, nothing is posted.
    let posted = bodies.len();
    let restarted = JobHandle::start(
        quality_job(
            dir.path(),
            &lake,
            "  every: 100ms\n  incremental: true\n",
            &rules,
        ),
        StartOptions::default(),
    );
    tokio::time::sleep(std::time::Duration::from_millis(800)).await;
    assert!(matches!(restarted.stop().await, JobOutcome::Stopped { .. }));
    assert_eq!(bodies_handle.lock().unwrap().len(), posted);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn freshness_on_a_sink_is_judged_against_the_watermark() {
    let dir = tempfile::tempdir().unwrap();
    let table = dir.path().join("lake/bids").display().to_string();
    // The generator's bids are from 2026-01-01: months old by the wall clock, but the
    // newest row of each epoch is seconds behind the stream's watermark.
    let yaml = format!(
        "name: fresh\nparallelism: 2\n\
         checkpoints: {{interval: 100ms, location: {dir}/checkpoints}}\n\
         sources:\n  bids:\n    type: generator\n    kind: bids\n    events: {EVENTS}\n    batch_size: 500\n    rate_limit: 40000\n    \
         watermark: {{event_time: event_time, max_out_of_orderness: 2s}}\n\
         sinks:\n  lake:\n    type: delta\n    inputs: [bids]\n    table: '{table}'\n    quality:\n      rules:\n        \
         - {{name: fresh, freshness: {{column: event_time, max_age: 1m}}}}\n",
        dir = dir.path().display()
    );
    let job = JobDefinition::from_yaml(&yaml, "fresh.yaml", |_| None).unwrap();
    let outcome = JobHandle::start(job, StartOptions::default()).wait().await;
    assert!(matches!(outcome, JobOutcome::Finished), "{outcome:?}");
    let verdicts = verdicts_of(&table, "fresh");
    assert!(verdicts.len() >= 3, "{verdicts:?}");
    // Only an epoch judged before the first watermark arrived is judged by the wall clock.
    let judged_by_clock = verdicts.iter().filter(|v| v["passed"] == false).count();
    assert!(judged_by_clock <= 1, "{verdicts:?}");
    assert_eq!(verdicts.last().unwrap()["passed"], true, "{verdicts:?}");
}
