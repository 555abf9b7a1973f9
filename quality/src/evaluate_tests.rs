//! Each rule kind on rows built to pass and to fail, with the exact observed values.

use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use crate::{Rule, RuleSet, Verdict};
use arrow::array::{Int32Array, Int64Array, RecordBatch, StringArray, TimestampMillisecondArray};
use arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use datafusion::prelude::SessionContext;

const RULES: &str = r#"
- name: status_known
  range: {column: status, min: 100, max: 599}
  severity: quarantine
- name: level_set
  in_set: {column: level, values: [info, warn, error]}
- name: path_absolute
  regex: {column: path, pattern: "^/"}
- name: latency_sane
  valid: "latency >= 0 OR latency IS NULL"
- name: users_present
  completeness: {column: user_id, max_null_fraction: 0.25}
- name: one_row_per_request
  unique: {columns: [request_id]}
- name: fresh
  freshness: {column: ts, max_age: 1m}
- name: enough_rows
  volume: {min: 5, max: 100, stddevs: 3}
- name: p99_latency
  distribution: {column: latency, statistic: max, max: 1000}
- name: known_levels
  referential: {column: level, table: levels, key: name}
- name: no_teapots
  sql: "SELECT * FROM epoch WHERE status = 418"
  severity: fail
- name: columns
  schema: {columns: [{name: status, type: Int32, nullable: false}, {name: region}]}
"#;

fn epoch() -> RecordBatch {
    let schema = Arc::new(Schema::new(vec![
        Field::new("request_id", DataType::Int64, false),
        Field::new("status", DataType::Int32, false),
        Field::new("level", DataType::Utf8, true),
        Field::new("path", DataType::Utf8, true),
        Field::new("latency", DataType::Int64, true),
        Field::new("user_id", DataType::Utf8, true),
        Field::new(
            "ts",
            DataType::Timestamp(TimeUnit::Millisecond, None),
            false,
        ),
    ]));
    RecordBatch::try_new(
        schema,
        vec![
            Arc::new(Int64Array::from(vec![1, 2, 3, 3, 5, 6])),
            Arc::new(Int32Array::from(vec![200, 404, 418, 700, 500, 200])),
            Arc::new(StringArray::from(vec![
                Some("info"),
                Some("warn"),
                Some("debug"),
                None,
                Some("error"),
                Some("info"),
            ])),
            Arc::new(StringArray::from(vec![
                Some("/a"),
                Some("b"),
                Some("/c"),
                Some("/d"),
                None,
                Some("/f"),
            ])),
            Arc::new(Int64Array::from(vec![
                Some(10),
                Some(-5),
                Some(20),
                None,
                Some(1500),
                Some(30),
            ])),
            Arc::new(StringArray::from(vec![
                Some("u1"),
                None,
                Some("u3"),
                None,
                Some("u5"),
                Some("u6"),
            ])),
            Arc::new(TimestampMillisecondArray::from(vec![
                1_000_000, 1_030_000, 1_060_000, 1_090_000, 1_120_000, 1_150_000,
            ])),
        ],
    )
    .unwrap()
}

async fn verdicts(history: &[u64], now_ms: u64) -> Vec<Verdict> {
    let rules: Vec<Rule> = serde_saphyr::from_str(RULES).unwrap();
    let batch = epoch();
    let set = RuleSet::new(rules, &batch.schema()).unwrap();
    let ctx = SessionContext::new();
    ctx.register_batch("epoch", batch).unwrap();
    let levels = RecordBatch::try_new(
        Arc::new(Schema::new(vec![Field::new("name", DataType::Utf8, false)])),
        vec![Arc::new(StringArray::from(vec![
            "info", "warn", "error", "debug",
        ]))],
    )
    .unwrap();
    ctx.register_batch("levels", levels).unwrap();
    let now = UNIX_EPOCH + Duration::from_millis(now_ms);
    set.evaluate(&ctx, "epoch", now, history).await.unwrap()
}

fn line(v: &Verdict) -> String {
    format!(
        "{} {} {} | {} | {} | {}/{}",
        v.rule,
        v.severity,
        if v.passed { "pass" } else { "FAIL" },
        v.observed,
        v.threshold,
        v.rows_failing,
        v.rows_checked
    )
}

#[tokio::test]
async fn every_rule_kind_reports_what_it_observed() {
    let verdicts = verdicts(&[], 1_180_000).await;
    let samples: Vec<(&str, Vec<&str>)> = verdicts
        .iter()
        .filter(|v| !v.sample.is_empty())
        .map(|v| {
            (
                v.rule.as_str(),
                v.sample.iter().map(String::as_str).collect(),
            )
        })
        .collect();
    assert_eq!(
        samples,
        [
            ("status_known", vec!["700"]),
            ("level_set", vec!["debug"]),
            ("path_absolute", vec!["b"]),
            ("one_row_per_request", vec!["3"]),
        ]
    );
    let lines: Vec<String> = verdicts.iter().map(line).collect();
    assert_eq!(
        lines,
        [
            "status_known quarantine FAIL | 1 failing rows | 0 failing rows | 1/6",
            "level_set warn FAIL | 1 failing rows | 0 failing rows | 1/6",
            "path_absolute warn FAIL | 1 failing rows | 0 failing rows | 1/6",
            "latency_sane warn FAIL | 1 failing rows | 0 failing rows | 1/6",
            "users_present warn FAIL | 2 of 6 null (33.33%) | <= 0.25 | 2/6",
            "one_row_per_request warn FAIL | 1 duplicate rows | 0 duplicate rows | 1/6",
            "fresh warn pass | newest row 30s old | <= 1m | 0/6",
            "enough_rows warn pass | 6 rows | [5, 100] and history of 0 < 10: not judged | 0/6",
            "p99_latency warn FAIL | 1500 | <= 1000 | 0/6",
            "known_levels warn pass | 0 rows | 0 rows | 0/6",
            "no_teapots fail FAIL | 1 rows | 0 rows | 1/6",
            "columns warn FAIL | region missing | 2 columns as declared | 0/6",
        ]
    );
}

#[tokio::test]
async fn volume_against_its_history_and_freshness_against_now() {
    let verdicts = verdicts(&[100, 102, 98, 101, 99, 100, 103, 97, 100, 100], 1_300_000).await;
    let by_name = |name: &str| line(verdicts.iter().find(|v| v.rule == name).unwrap());
    assert_eq!(
        by_name("enough_rows"),
        "enough_rows warn FAIL | 6 rows | [5, 100] and [94.7, 105.3] (3 sd of 10 earlier) | 0/6"
    );
    assert_eq!(
        by_name("fresh"),
        "fresh warn FAIL | newest row 2m 30s old | <= 1m | 0/6"
    );
}

#[test]
fn mistakes_in_rules_are_refused_with_the_rule_named() {
    let schema = epoch().schema();
    let refused = |yaml: &str| -> String {
        match serde_saphyr::from_str::<Vec<Rule>>(yaml) {
            Err(e) => e.to_string(),
            Ok(rules) => RuleSet::new(rules, &schema).unwrap_err().to_string(),
        }
    };
    assert_eq!(
        refused("- name: r\n  range: {column: nope, min: 1}\n"),
        "rule 'r': no column 'nope' (columns: request_id, status, level, path, latency, user_id, ts)"
    );
    assert!(
        refused("- name: r\n  regex: {column: path, pattern: '('}\n")
            .starts_with("rule 'r': invalid regular expression")
    );
    assert!(refused("- name: r\n  completeness: {column: level, max_null_fraction: 0.1}\n  unique: {columns: [level]}\n")
        .contains("rule 'r' has 2 checks; give each its own rule"));
    assert!(
        refused("- name: r\n  unique: {columns: [level]}\n  severity: quarantine\n")
            .contains("only row-level rules (range, in_set, regex, valid) can quarantine rows")
    );
    assert!(refused("- name: r\n  volume: {min: 1, maxx: 3}\n").contains("maxx"));
}

#[tokio::test]
async fn metrics_merged_from_parts_give_the_verdicts_of_one_query() {
    let rules: Vec<Rule> = serde_saphyr::from_str(
        &RULES
            .replace(
                "unique: {columns: [request_id]}",
                "unique: {columns: [request_id, status]}",
            )
            .replace("statistic: max", "statistic: p95"),
    )
    .unwrap();
    let batch = epoch();
    let set = RuleSet::new(rules, &batch.schema()).unwrap();
    let ctx = SessionContext::new();
    ctx.register_batch("epoch", batch.clone()).unwrap();
    let now = UNIX_EPOCH + Duration::from_millis(1_180_000);
    let whole = set.evaluate(&ctx, "epoch", now, &[]).await.unwrap();

    let plan =
        std::sync::Arc::new(crate::partial::MetricsPlan::new(&set, &batch.schema()).unwrap());
    // Three writers: rows 0-1, 2-4 and 5 (the duplicate request 3 split between two).
    let mut states = Vec::new();
    for (offset, len) in [(0, 2), (2, 3), (5, 1)] {
        let mut part = plan.start().unwrap();
        part.update(&batch.slice(offset, len));
        states.push(part.take_state().unwrap());
    }
    let merged = plan.merge(&states).unwrap();
    let judged = set.judge_merged(&merged, &batch.schema(), now, &[]);
    let lines = |verdicts: &[Verdict]| -> Vec<String> {
        verdicts
            .iter()
            .filter(|v| !["known_levels", "no_teapots"].contains(&v.rule.as_str()))
            .map(line)
            .collect()
    };
    assert_eq!(lines(&judged), lines(&whole));
    assert_eq!(
        lines(&judged)[5],
        "one_row_per_request warn pass | 0 duplicate rows | 0 duplicate rows | 0/6"
    );
    // The exact 95th percentile of 10, -5, 20, 1500, 30 (nulls left out).
    assert_eq!(
        lines(&judged)[8],
        "p99_latency warn FAIL | 1206 | <= 1000 | 0/6"
    );
}

#[tokio::test]
async fn a_rule_that_errors_on_a_value_fails_alone_with_the_error() {
    let rules: Vec<Rule> = serde_saphyr::from_str(
        "- name: numeric_path\n  valid: \"CAST(path AS INT) > 0\"\n\
         - name: status_known\n  range: {column: status, min: 100, max: 599}\n\
         - name: users_present\n  completeness: {column: user_id, max_null_fraction: 0.5}\n",
    )
    .unwrap();
    let batch = epoch();
    let set = RuleSet::new(rules, &batch.schema()).unwrap();
    let ctx = SessionContext::new();
    ctx.register_batch("epoch", batch.clone()).unwrap();
    let now = UNIX_EPOCH;
    let expected = |verdicts: &[Verdict]| {
        let cast = &verdicts[0];
        assert!(!cast.passed);
        assert!(
            cast.observed.starts_with("error: ") && cast.observed.contains("/a"),
            "{}",
            cast.observed
        );
        assert_eq!(cast.threshold, "evaluated without error");
        let rest: Vec<String> = verdicts[1..].iter().map(line).collect();
        assert_eq!(
            rest,
            [
                "status_known warn FAIL | 1 failing rows | 0 failing rows | 1/6",
                "users_present warn pass | 2 of 6 null (33.33%) | <= 0.5 | 2/6",
            ]
        );
    };
    expected(&set.evaluate(&ctx, "epoch", now, &[]).await.unwrap());

    let plan =
        std::sync::Arc::new(crate::partial::MetricsPlan::new(&set, &batch.schema()).unwrap());
    let mut states = Vec::new();
    for (offset, len) in [(0, 3), (3, 3)] {
        let mut part = plan.start().unwrap();
        part.update(&batch.slice(offset, len));
        states.push(part.take_state().unwrap());
    }
    let merged = plan.merge(&states).unwrap();
    let judged = set.judge_merged(&merged, &batch.schema(), now, &[]);
    expected(&judged);
    assert_eq!(judged[0].rows_checked, 6);
}
