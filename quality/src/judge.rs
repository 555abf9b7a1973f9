//! From a rule set's metrics (one row, the columns of [`RuleSet::metrics`]) to its
//! verdicts: what each rule observed, what it allows, and whether it passed.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use arrow::array::{Array, ArrayRef, AsArray, RecordBatch};
use arrow::compute::cast;
use arrow::datatypes::{
    DataType, Float64Type, Int64Type, SchemaRef, TimeUnit, TimestampMillisecondType,
};

use crate::evaluate::RuleSet;
use crate::rule::{Check, Statistic};
use crate::verdict::Verdict;

impl RuleSet {
    /// The verdicts from metrics merged from parts ([`crate::partial::MetricsPlan::merge`]):
    /// as [`RuleSet::judge`], and a rule whose metric failed to evaluate fails with the
    /// error as its observed value.
    pub fn judge_merged(
        &self,
        merged: &crate::partial::MergedMetrics,
        schema: &SchemaRef,
        now: SystemTime,
        volume_history: &[u64],
    ) -> Vec<Verdict> {
        let mut verdicts = self.judge(&merged.row, schema, now, volume_history);
        for (&i, error) in &merged.errors {
            if let (Some(rule), Some(verdict)) = (self.rules().get(i), verdicts.get_mut(i)) {
                *verdict = Verdict {
                    rows_checked: verdict.rows_checked,
                    ..Verdict::error(rule, error)
                };
            }
        }
        verdicts
    }

    /// The verdicts of the rules from their metrics (one row, the columns of
    /// [`RuleSet::metrics`]) over rows of `schema`. Rules that need a query of their own
    /// (`sql`, `referential`) get a verdict with only the rows checked, for the caller.
    pub fn judge(
        &self,
        metrics: &RecordBatch,
        schema: &SchemaRef,
        now: SystemTime,
        volume_history: &[u64],
    ) -> Vec<Verdict> {
        let metric = |name: &str| {
            metrics
                .column_by_name(name)
                .filter(|m| m.is_valid(0))
                .cloned()
        };
        let int = |name: &str| {
            metric(name)
                .and_then(|m| cast(&m, &DataType::Int64).ok())
                .map(|m| m.as_primitive::<Int64Type>().value(0))
        };
        let float = |name: &str| {
            metric(name)
                .and_then(|m| cast(&m, &DataType::Float64).ok())
                .map(|m| m.as_primitive::<Float64Type>().value(0))
        };
        let rows = int("rows").unwrap_or(0).max(0) as u64;
        let mut verdicts = Vec::with_capacity(self.rules().len());
        for (i, rule) in self.rules().iter().enumerate() {
            let name = format!("m{i}");
            let mut v = Verdict::new(&rule.name, rule.severity);
            v.rows_checked = rows;
            match &rule.check {
                check if check.is_row_level() => {
                    let failing = int(&name).unwrap_or(0).max(0) as u64;
                    v.rows_failing = failing;
                    v.passed = failing == 0;
                    v.observed = format!("{failing} failing rows");
                    v.threshold = "0 failing rows".into();
                }
                Check::Completeness {
                    max_null_fraction, ..
                } => {
                    let present = int(&name).unwrap_or(0).max(0) as u64;
                    let nulls = rows.saturating_sub(present);
                    let fraction = if rows == 0 {
                        0.0
                    } else {
                        nulls as f64 / rows as f64
                    };
                    v.rows_failing = nulls;
                    v.passed = fraction <= *max_null_fraction;
                    v.observed = format!("{nulls} of {rows} null ({:.2}%)", fraction * 100.0);
                    v.threshold = format!("<= {max_null_fraction}");
                }
                Check::Unique { .. } => {
                    let distinct = int(&name).unwrap_or(0).max(0) as u64;
                    let keyed = int(&format!("{name}_n")).unwrap_or(0).max(0) as u64;
                    let duplicates = keyed.saturating_sub(distinct);
                    v.rows_failing = duplicates;
                    v.passed = duplicates == 0;
                    v.observed = format!("{duplicates} duplicate rows");
                    v.threshold = "0 duplicate rows".into();
                }
                Check::Freshness { max_age, .. } => {
                    v.threshold = format!("<= {}", format_duration(*max_age));
                    let newest = metric(&name).and_then(|m| {
                        cast(&m, &DataType::Timestamp(TimeUnit::Millisecond, None)).ok()
                    });
                    match newest {
                        Some(newest) => {
                            let newest = newest.as_primitive::<TimestampMillisecondType>().value(0);
                            let now_ms = now
                                .duration_since(UNIX_EPOCH)
                                .unwrap_or_default()
                                .as_millis() as i64;
                            let age = Duration::from_secs(((now_ms - newest).max(0) / 1000) as u64);
                            v.passed = age <= *max_age;
                            v.observed = format!("newest row {} old", format_duration(age));
                        }
                        None => v.observed = "no rows".into(),
                    }
                }
                Check::Distribution {
                    min,
                    max,
                    statistic,
                    ..
                } => {
                    v.threshold = bounds(*min, *max);
                    let value = match quantile_of(*statistic) {
                        Some(q) => metric(&name).and_then(|list| quantile(&list, q)),
                        None => float(&name),
                    };
                    match value {
                        Some(value) => {
                            v.passed = within(value, *min, *max);
                            v.observed = number(value);
                        }
                        None => v.observed = "no values".into(),
                    }
                }
                Check::Volume {
                    min,
                    max,
                    stddevs,
                    min_history,
                } => volume(
                    &mut v,
                    rows,
                    *min,
                    *max,
                    *stddevs,
                    *min_history,
                    volume_history,
                ),
                Check::Schema { columns } => schema_verdict(&mut v, columns, schema),
                Check::Sql { .. } | Check::Referential { .. } => {}
                _ => unreachable!("row-level checks are judged above"),
            }
            verdicts.push(v);
        }
        verdicts
    }
}

/// The quantile `q` of a statistic, or `None` for the statistics that are their own
/// aggregate.
fn quantile_of(statistic: Statistic) -> Option<f64> {
    match statistic {
        Statistic::Median => Some(0.5),
        Statistic::P90 => Some(0.9),
        Statistic::P95 => Some(0.95),
        Statistic::P99 => Some(0.99),
        Statistic::Mean | Statistic::Min | Statistic::Max => None,
    }
}

/// The exact quantile `q` of the non-null values of `list` (one row) by linear
/// interpolation between the closest ranks, as `percentile_cont` defines it.
fn quantile(list: &ArrayRef, q: f64) -> Option<f64> {
    let values = list.as_list_opt::<i32>()?.value(0);
    let values = values.as_primitive_opt::<Float64Type>()?;
    let mut sorted: Vec<f64> = values.iter().flatten().collect();
    if sorted.is_empty() {
        return None;
    }
    sorted.sort_by(f64::total_cmp);
    let rank = q * (sorted.len() - 1) as f64;
    let (low, high) = (rank.floor() as usize, rank.ceil() as usize);
    Some(sorted[low] + (sorted[high] - sorted[low]) * (rank - low as f64))
}

/// `value` as a person reads it: at most 6 decimals, none when it is whole (floating
/// point leaves 1205.9999999999998 where 1206 is meant).
fn number(value: f64) -> String {
    let text = format!("{value:.6}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    if text == "-0" {
        "0".into()
    } else {
        text.to_string()
    }
}

fn bounds(min: Option<f64>, max: Option<f64>) -> String {
    match (min, max) {
        (Some(a), Some(b)) => format!("[{a}, {b}]"),
        (Some(a), None) => format!(">= {a}"),
        (None, Some(b)) => format!("<= {b}"),
        (None, None) => "any".into(),
    }
}

fn within(value: f64, min: Option<f64>, max: Option<f64>) -> bool {
    min.is_none_or(|m| value >= m) && max.is_none_or(|m| value <= m)
}

fn format_duration(d: Duration) -> String {
    humantime_serde::re::humantime::format_duration(d).to_string()
}

fn volume(
    v: &mut Verdict,
    rows: u64,
    min: Option<u64>,
    max: Option<u64>,
    stddevs: Option<f64>,
    min_history: usize,
    history: &[u64],
) {
    v.observed = format!("{rows} rows");
    let mut passed = min.is_none_or(|m| rows >= m) && max.is_none_or(|m| rows <= m);
    let mut limits = vec![bounds(min.map(|m| m as f64), max.map(|m| m as f64))];
    if let Some(k) = stddevs {
        if history.len() >= min_history.max(2) {
            let n = history.len() as f64;
            let mean = history.iter().map(|&h| h as f64).sum::<f64>() / n;
            let variance = history
                .iter()
                .map(|&h| (h as f64 - mean).powi(2))
                .sum::<f64>()
                / (n - 1.0);
            let (low, high) = (mean - k * variance.sqrt(), mean + k * variance.sqrt());
            passed &= within(rows as f64, Some(low), Some(high));
            limits.push(format!(
                "[{low:.1}, {high:.1}] ({k} sd of {} earlier)",
                history.len()
            ));
        } else {
            limits.push(format!(
                "history of {} < {}: not judged",
                history.len(),
                min_history.max(2)
            ));
        }
    }
    v.passed = passed;
    v.threshold = limits.join(" and ");
}

fn schema_verdict(v: &mut Verdict, expected: &[crate::rule::ExpectedColumn], schema: &SchemaRef) {
    let mut problems = Vec::new();
    for column in expected {
        match schema.field_with_name(&column.name) {
            Err(_) => problems.push(format!("{} missing", column.name)),
            Ok(field) => {
                if let Some(wanted) = &column.data_type {
                    let actual = field.data_type().to_string();
                    if !actual.eq_ignore_ascii_case(wanted) {
                        problems.push(format!("{} is {actual}, not {wanted}", column.name));
                    }
                }
                if let Some(nullable) = column.nullable {
                    if field.is_nullable() != nullable {
                        let what = if field.is_nullable() {
                            "nullable"
                        } else {
                            "not nullable"
                        };
                        problems.push(format!("{} is {what}", column.name));
                    }
                }
            }
        }
    }
    v.passed = problems.is_empty();
    v.threshold = format!("{} columns as declared", expected.len());
    v.observed = if problems.is_empty() {
        "as declared".into()
    } else {
        problems.join("; ")
    };
}
