//! Logs: malformed and out-of-order shares as configured, well-formed lines parse.

use std::sync::Arc;
use std::time::Duration;

use arrow::array::AsArray;
use arrow::datatypes::TimestampMillisecondType;
use regex::Regex;
use weir_connectors::generator::{LogGenerator, LogKind, LogsConfig};
use weir_engine::SourcePlan;

use super::support::{check_determinism, concat, read_all};

const COMBINED: &str =
    r#"^(\S+) (\S+) (\S+) \[([^\]]+)\] "(\S+) (\S+) (\S+)" (\d{3}) (\d+|-) "([^"]*)" "([^"]*)"$"#;

fn config(log_kind: LogKind) -> LogsConfig {
    LogsConfig {
        log_kind,
        events: Some(100_000),
        // One partition read by one subtask: rows arrive in event order.
        partitions: 1,
        malformed_fraction: 0.05,
        disorder_fraction: 0.1,
        max_disorder: Duration::from_secs(3),
        ..Default::default()
    }
}

fn small(log_kind: LogKind, seed: u64) -> Arc<dyn SourcePlan> {
    LogGenerator::new(LogsConfig {
        seed,
        events: Some(10_007),
        partitions: 3,
        batch_size: 500,
        ..config(log_kind)
    })
    .unwrap()
}

#[test]
fn logs_are_deterministic_at_any_parallelism_and_restore_exactly() {
    check_determinism(|seed| small(LogKind::Access, seed), 5);
    check_determinism(|seed| small(LogKind::App, seed), 5);
}

/// The lines and event times of 100,000 lines, with the share of lines moved back in time.
fn lines(log_kind: LogKind) -> (Vec<String>, Vec<i64>, f64) {
    let config = config(log_kind);
    let plan = LogGenerator::new(config.clone()).unwrap();
    let all = concat(plan.as_ref(), &read_all(plan.as_ref(), 1));
    let lines: Vec<String> = all
        .column(0)
        .as_string::<i32>()
        .iter()
        .map(|l| l.unwrap().to_string())
        .collect();
    let times: Vec<i64> = all
        .column(1)
        .as_primitive::<TimestampMillisecondType>()
        .values()
        .to_vec();
    // 1000 lines per second of event time: line i is due at start + i ms.
    let moved = times
        .iter()
        .enumerate()
        .filter(|(i, t)| **t < config.start_time_ms + *i as i64)
        .count();
    assert!(times
        .iter()
        .enumerate()
        .all(|(i, t)| *t >= config.start_time_ms + i as i64 - 3000));
    (lines, times, moved as f64 / 100_000.0)
}

/// Four standard deviations of the share of 5% malformed lines among 100,000 (0.00069 each,
/// 1.4% of 0.05): a bug shows, chance does not.
const SHARE_BOUND: f64 = 0.0028;

/// Share moved back: 10% are picked, and move by 0 to 3000 ms, 0 for 1 in 3001.
const MOVED: f64 = 0.1 * 3000.0 / 3001.0;

#[test]
fn access_lines_match_the_combined_format_unless_malformed() {
    let combined = Regex::new(COMBINED).unwrap();
    let (lines, times, moved) = lines(LogKind::Access);
    let mut malformed = 0;
    let mut statuses = std::collections::BTreeMap::new();
    for (line, time) in lines.iter().zip(&times) {
        let Some(fields) = combined.captures(line) else {
            malformed += 1;
            continue;
        };
        // The line carries the event time (to the second).
        let stamp = chrono::DateTime::parse_from_str(&fields[4], "%d/%b/%Y:%H:%M:%S %z").unwrap();
        assert_eq!(stamp.timestamp(), time.div_euclid(1000), "{line}");
        *statuses.entry(fields[8].to_string()).or_insert(0) += 1;
    }
    let share = malformed as f64 / lines.len() as f64;
    assert!(
        (share - 0.05).abs() < 0.01 * 0.05 * 10.0,
        "malformed share {share}"
    );
    assert!((moved / MOVED - 1.0).abs() < 0.03, "moved share {moved}");
    // Mostly 200s, and some of every class.
    let ok = statuses["200"] as f64 / (lines.len() - malformed) as f64;
    assert!((0.82..0.86).contains(&ok), "{ok}");
    for class in ['3', '4', '5'] {
        assert!(statuses.keys().any(|s| s.starts_with(class)));
    }
    println!("access logs: malformed {share:.4}, moved back {moved:.4}, status 200 {ok:.3}");
}

#[test]
fn app_lines_are_json_with_the_expected_keys_unless_malformed() {
    let (lines, _, moved) = lines(LogKind::App);
    let strings = [
        "timestamp",
        "service",
        "level",
        "path",
        "user_id",
        "trace_id",
        "span_id",
        "message",
    ];
    let mut malformed = 0;
    let mut latencies = Vec::new();
    for line in &lines {
        let record: Option<serde_json::Map<String, serde_json::Value>> =
            serde_json::from_str(line).ok();
        let well_typed = record.filter(|r| {
            r.len() == 10
                && strings
                    .iter()
                    .all(|k| r.get(*k).is_some_and(|v| v.is_string()))
                && r["latency_ms"].is_u64()
                && r["status"].is_u64()
        });
        match well_typed {
            Some(record) => latencies.push(record["latency_ms"].as_u64().unwrap()),
            None => malformed += 1,
        }
    }
    let share = malformed as f64 / lines.len() as f64;
    assert!(
        (share - 0.05).abs() < SHARE_BOUND,
        "malformed share {share}"
    );
    assert!((moved / MOVED - 1.0).abs() < 0.03, "moved share {moved}");
    // Long-tailed latency: the 99th percentile is many times the median.
    latencies.sort_unstable();
    let (p50, p99) = (
        latencies[latencies.len() / 2],
        latencies[latencies.len() * 99 / 100],
    );
    assert!(
        (15..40).contains(&p50) && p99 > 5 * p50,
        "p50 {p50} p99 {p99}"
    );
    println!("app logs: malformed {share:.4}, moved back {moved:.4}, latency p50 {p50} p99 {p99}");
}
