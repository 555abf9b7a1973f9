//! Evaluating a set of rules over rows registered as a table: one aggregate query
//! computes every metric of every rule in one scan (row-level rules as one failing-row
//! count each); schema rules read the table's schema; custom SQL and referential rules
//! run a query of their own.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use arrow::array::{Array, ArrayRef, AsArray, RecordBatch};
use arrow::compute::cast;
use arrow::datatypes::{
    DataType, Float64Type, Int64Type, SchemaRef, TimeUnit, TimestampMillisecondType,
};
use datafusion::prelude::SessionContext;

use crate::error::{QualityError, Result};
use crate::rule::{Check, Literal, Rule, Statistic};
use crate::verdict::Verdict;

/// Rules checked to fit the rows they judge.
#[derive(Debug, Clone)]
pub struct RuleSet {
    rules: Vec<Rule>,
}

/// `name` as a quoted SQL identifier.
fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// `text` as a SQL string literal.
fn text(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

fn literal(value: &Literal) -> String {
    match value {
        Literal::Int(i) => i.to_string(),
        Literal::Float(f) => f.to_string(),
        Literal::Text(s) => text(s),
    }
}

/// A rule's row predicate: true for a row that passes.
pub(crate) fn row_predicate(check: &Check) -> Option<String> {
    Some(match check {
        Check::Range { column, min, max } => {
            let bounds: Vec<String> = min
                .map(|m| format!("{} >= {m}", ident(column)))
                .into_iter()
                .chain(max.map(|m| format!("{} <= {m}", ident(column))))
                .collect();
            if bounds.is_empty() {
                "true".into()
            } else {
                bounds.join(" AND ")
            }
        }
        Check::InSet { column, values } => {
            let values: Vec<String> = values.iter().map(literal).collect();
            format!("{} IN ({})", ident(column), values.join(", "))
        }
        Check::Regex { column, pattern } => {
            format!("regexp_like({}, {})", ident(column), text(pattern))
        }
        Check::Valid { expression } => format!("({expression})"),
        _ => return None,
    })
}

/// The aggregate a distribution rule needs: the statistic itself, or for a quantile every
/// value (its exact quantile is taken after merging, see [`quantile`]).
fn statistic_sql(column: &str, statistic: Statistic) -> String {
    let c = format!("CAST({} AS DOUBLE)", ident(column));
    match statistic {
        Statistic::Mean => format!("avg({c})"),
        Statistic::Min => format!("min({c})"),
        Statistic::Max => format!("max({c})"),
        Statistic::Median | Statistic::P90 | Statistic::P95 | Statistic::P99 => {
            format!("array_agg({c})")
        }
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

impl RuleSet {
    /// The rules, checked against `schema` (the rows they will judge): every column they
    /// name exists, regular expressions compile, names are unique.
    pub fn new(rules: Vec<Rule>, schema: &SchemaRef) -> Result<Self> {
        let mut names = std::collections::HashSet::new();
        for rule in &rules {
            let invalid = |reason: String| QualityError::Invalid {
                rule: rule.name.clone(),
                reason,
            };
            if !names.insert(rule.name.as_str()) {
                return Err(invalid("another rule has the same name".into()));
            }
            let columns: Vec<&String> = match &rule.check {
                Check::Completeness { column, .. }
                | Check::Range { column, .. }
                | Check::InSet { column, .. }
                | Check::Regex { column, .. }
                | Check::Freshness { column, .. }
                | Check::Distribution { column, .. }
                | Check::Referential { column, .. } => vec![column],
                Check::Unique { columns, .. } => columns.iter().collect(),
                _ => Vec::new(),
            };
            for column in columns {
                if schema.field_with_name(column).is_err() {
                    let names: Vec<&str> =
                        schema.fields().iter().map(|f| f.name().as_str()).collect();
                    return Err(invalid(format!(
                        "no column '{column}' (columns: {})",
                        names.join(", ")
                    )));
                }
            }
            if let Check::Regex { pattern, .. } = &rule.check {
                regex::Regex::new(pattern)
                    .map_err(|e| invalid(format!("invalid regular expression: {e}")))?;
            }
            if let Check::Completeness {
                max_null_fraction, ..
            } = &rule.check
            {
                if !(0.0..=1.0).contains(max_null_fraction) {
                    return Err(invalid(format!(
                        "max_null_fraction {max_null_fraction} is not between 0 and 1"
                    )));
                }
            }
        }
        Ok(Self { rules })
    }

    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// The aggregates the rules need, each a single aggregate function call (so it can be
    /// computed in parts and merged): `rows` first, then the rules' by name (`m{i}`, and
    /// `m{i}_n` for a second one).
    pub(crate) fn metrics(&self) -> Vec<Metric> {
        let mut metrics = vec![Metric::new("rows", "count(1)".into())];
        for (i, rule) in self.rules.iter().enumerate() {
            let name = format!("m{i}");
            if let Some(predicate) = row_predicate(&rule.check) {
                metrics.push(Metric::new(
                    &name,
                    format!("sum(CASE WHEN ({predicate}) IS FALSE THEN 1 ELSE 0 END)"),
                ));
                continue;
            }
            match &rule.check {
                Check::Completeness { column, .. } => {
                    metrics.push(Metric::new(&name, format!("count({})", ident(column))))
                }
                Check::Unique { columns: key, .. } => {
                    let key: Vec<String> = key.iter().map(|c| ident(c)).collect();
                    // Rows whose key has a null are not judged.
                    let (distinct, keyed) = match key.as_slice() {
                        [one] => (format!("count(DISTINCT {one})"), format!("count({one})")),
                        many => (
                            format!("{}({})", crate::distinct_rows::NAME, many.join(", ")),
                            format!(
                                "sum(CASE WHEN {} THEN 1 ELSE 0 END)",
                                many.iter()
                                    .map(|c| format!("{c} IS NOT NULL"))
                                    .collect::<Vec<_>>()
                                    .join(" AND ")
                            ),
                        ),
                    };
                    metrics.push(Metric::new(&name, distinct));
                    metrics.push(Metric::new(&format!("{name}_n"), keyed));
                }
                Check::Freshness { column, .. } => {
                    metrics.push(Metric::new(&name, format!("max({})", ident(column))))
                }
                Check::Distribution {
                    column, statistic, ..
                } => metrics.push(Metric::new(&name, statistic_sql(column, *statistic))),
                _ => {}
            }
        }
        metrics
    }

    /// Judges the rows registered in `ctx` as the table `table`. `now` is the time
    /// freshness is judged against (the wall clock for a table, the watermark in a
    /// stream); `volume_history` the row counts of earlier evaluations, oldest first.
    /// A rule whose evaluation fails is a failed verdict with the error as its observed
    /// value; only a failure of the shared query fails the whole evaluation.
    pub async fn evaluate(
        &self,
        ctx: &SessionContext,
        table: &str,
        now: SystemTime,
        volume_history: &[u64],
    ) -> Result<Vec<Verdict>> {
        ctx.register_udaf(crate::distinct_rows::udaf());
        let columns: Vec<String> = self
            .metrics()
            .iter()
            .map(|m| format!("{} AS {}", m.sql, m.name))
            .collect();
        let sql = format!("SELECT {} FROM {}", columns.join(", "), ident(table));
        let batches = ctx.sql(&sql).await?.collect().await?;
        let schema = ctx.table_provider(table).await?.schema();
        let mut verdicts = self.judge(&batches[0], &schema, now, volume_history);
        for (i, rule) in self.rules.iter().enumerate() {
            let counted = match &rule.check {
                Check::Sql { query } => format!("SELECT count(*) FROM ({query})"),
                Check::Referential {
                    column,
                    table: dimension,
                    key,
                } => format!(
                    "SELECT count(*) FROM {t} WHERE {c} IS NOT NULL AND {c} NOT IN (SELECT {k} FROM {d} WHERE {k} IS NOT NULL)",
                    t = ident(table),
                    c = ident(column),
                    k = ident(key),
                    d = ident(dimension),
                ),
                _ => continue,
            };
            custom(&mut verdicts[i], ctx.sql(&counted).await).await;
        }
        Ok(verdicts)
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
        let mut verdicts = Vec::with_capacity(self.rules.len());
        for (i, rule) in self.rules.iter().enumerate() {
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

/// One aggregate of a rule set: its column name and its SQL.
#[derive(Debug, Clone)]
pub(crate) struct Metric {
    pub name: String,
    pub sql: String,
}

impl Metric {
    fn new(name: &str, sql: String) -> Self {
        Self {
            name: name.to_string(),
            sql,
        }
    }
}

fn format_duration(d: Duration) -> String {
    humantime_serde::re::humantime::format_duration(d).to_string()
}

/// A verdict from a query counting failing rows; an error is a failed verdict.
async fn custom(
    v: &mut Verdict,
    frame: datafusion::error::Result<datafusion::dataframe::DataFrame>,
) {
    v.threshold = "0 rows".into();
    let counted = match frame {
        Ok(frame) => frame.collect().await,
        Err(e) => Err(e),
    };
    match counted {
        Ok(batches) => {
            let failing = batches[0]
                .column(0)
                .as_primitive::<Int64Type>()
                .value(0)
                .max(0) as u64;
            v.rows_failing = failing;
            v.passed = failing == 0;
            v.observed = format!("{failing} rows");
        }
        Err(e) => v.observed = format!("error: {e}"),
    }
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

#[cfg(test)]
#[path = "evaluate_tests.rs"]
mod tests;
