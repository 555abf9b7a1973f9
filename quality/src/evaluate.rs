//! Evaluating a set of rules over rows registered as a table: one aggregate query
//! computes every metric of every rule in one scan (row-level rules as one failing-row
//! count each); schema rules read the table's schema; custom SQL and referential rules
//! run a query of their own. The verdicts are made from the metrics in `judge.rs`.

use std::time::SystemTime;

use arrow::array::{Array, AsArray};
use arrow::datatypes::{Int64Type, SchemaRef};
use datafusion::prelude::SessionContext;

use crate::error::{QualityError, Result};
use crate::rule::{Check, Literal, Rule, Statistic};
use crate::verdict::{Verdict, SAMPLE_SIZE};

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

/// The aggregates of the rule at index `i` of its set (`m{i}`, and `m{i}_n` for a second
/// one); none for the rules judged otherwise (schema, volume, custom SQL, referential).
fn rule_metrics(i: usize, check: &Check) -> Vec<Metric> {
    let name = format!("m{i}");
    let one = |sql: String| vec![Metric::new(&name, sql, Some(i))];
    if let Some(predicate) = row_predicate(check) {
        return one(format!(
            "sum(CASE WHEN ({predicate}) IS FALSE THEN 1 ELSE 0 END)"
        ));
    }
    match check {
        Check::Completeness { column, .. } => one(format!("count({})", ident(column))),
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
            vec![
                Metric::new(&name, distinct, Some(i)),
                Metric::new(&format!("{name}_n"), keyed, Some(i)),
            ]
        }
        Check::Freshness { column, .. } => one(format!("max({})", ident(column))),
        Check::Distribution {
            column, statistic, ..
        } => one(statistic_sql(column, *statistic)),
        _ => Vec::new(),
    }
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
        let mut metrics = vec![Metric::new("rows", "count(1)".into(), None)];
        for (i, rule) in self.rules.iter().enumerate() {
            metrics.extend(rule_metrics(i, &rule.check));
        }
        metrics
    }

    /// The metrics of [`RuleSet::metrics`] and what a stream needs besides: the distinct
    /// keys (`m{i}_keys`) of each uniqueness rule with a horizon, to compare with the
    /// keys of earlier epochs ([`crate::horizon::Horizons`]).
    pub(crate) fn stream_metrics(&self) -> Vec<Metric> {
        let mut metrics = self.metrics();
        for (i, rule) in self.rules.iter().enumerate() {
            if let Check::Unique {
                columns,
                within: Some(_),
            } = &rule.check
            {
                let key: Vec<String> = columns.iter().map(|c| ident(c)).collect();
                metrics.push(Metric::new(
                    &format!("m{i}_keys"),
                    format!("{}({})", crate::distinct_rows::KEYS_NAME, key.join(", ")),
                    Some(i),
                ));
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
        let schema = ctx.table_provider(table).await?.schema();
        let mut verdicts = match metrics_row(ctx, table, &self.metrics()).await {
            Ok(metrics) => self.judge(&metrics, &schema, now, volume_history),
            // One rule's metric failed (a cast of one value, say): each rule on its own,
            // so only the failing ones fail.
            Err(_) => {
                let mut verdicts = Vec::with_capacity(self.rules.len());
                for rule in &self.rules {
                    let alone = RuleSet {
                        rules: vec![rule.clone()],
                    };
                    match metrics_row(ctx, table, &alone.metrics()).await {
                        Ok(metrics) => {
                            verdicts.extend(alone.judge(&metrics, &schema, now, volume_history))
                        }
                        Err(e) => verdicts.push(Verdict::error(rule, &e.to_string())),
                    }
                }
                verdicts
            }
        };
        self.finish(ctx, table, &mut verdicts).await;
        Ok(verdicts)
    }

    /// Judges the rows registered in `ctx` as the table `table` with their metrics
    /// computed elsewhere (merged from parts, [`crate::partial::MetricsPlan::for_table`]):
    /// custom SQL and referential rules, and the samples of failing rows, still query the
    /// table.
    pub async fn evaluate_merged(
        &self,
        ctx: &SessionContext,
        table: &str,
        merged: &crate::partial::MergedMetrics,
        now: SystemTime,
        volume_history: &[u64],
    ) -> Result<Vec<Verdict>> {
        let schema = ctx.table_provider(table).await?.schema();
        let mut verdicts = self.judge_merged(merged, &schema, now, volume_history);
        self.finish(ctx, table, &mut verdicts).await;
        Ok(verdicts)
    }

    /// The verdicts of the rules that run a query of their own (custom SQL, referential),
    /// and the samples of failing rows.
    async fn finish(&self, ctx: &SessionContext, table: &str, verdicts: &mut [Verdict]) {
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
        for (rule, verdict) in self.rules.iter().zip(verdicts.iter_mut()) {
            if verdict.rows_failing > 0 {
                verdict.sample = failing_sample(ctx, table, &rule.check).await;
            }
        }
    }
}

/// Up to [`SAMPLE_SIZE`] values of the rows of `table` that fail `check`, as text: the
/// column of a row-level rule, the duplicated keys of a uniqueness rule; none for the
/// other rules, or when the query fails (the verdict says why).
async fn failing_sample(ctx: &SessionContext, table: &str, check: &Check) -> Vec<String> {
    let t = ident(table);
    let sql = match check {
        Check::Range { column, .. } | Check::InSet { column, .. } | Check::Regex { column, .. } => {
            let predicate = row_predicate(check).expect("a row-level check");
            format!(
                "SELECT DISTINCT CAST({c} AS VARCHAR) FROM {t} WHERE ({predicate}) IS FALSE LIMIT {SAMPLE_SIZE}",
                c = ident(column)
            )
        }
        Check::Unique { columns, .. } => {
            let key: Vec<String> = columns.iter().map(|c| ident(c)).collect();
            let key = key.join(", ");
            let text: Vec<String> = columns
                .iter()
                .map(|c| format!("CAST({} AS VARCHAR)", ident(c)))
                .collect();
            format!(
                "SELECT concat_ws(' / ', {}) FROM {t} WHERE {} GROUP BY {key} HAVING count(*) > 1 LIMIT {SAMPLE_SIZE}",
                text.join(", "),
                columns
                    .iter()
                    .map(|c| format!("{} IS NOT NULL", ident(c)))
                    .collect::<Vec<_>>()
                    .join(" AND ")
            )
        }
        _ => return Vec::new(),
    };
    let Ok(frame) = ctx.sql(&sql).await else {
        return Vec::new();
    };
    let Ok(batches) = frame.collect().await else {
        return Vec::new();
    };
    let mut sample: Vec<String> = batches
        .iter()
        .filter_map(|b| arrow::compute::cast(b.column(0), &arrow::datatypes::DataType::Utf8).ok())
        .flat_map(|values| {
            let values = values.as_string::<i32>();
            (0..values.len())
                .map(|r| {
                    if values.is_null(r) {
                        "null".to_string()
                    } else {
                        values.value(r).to_string()
                    }
                })
                .collect::<Vec<_>>()
        })
        .collect();
    sample.sort();
    sample
}

/// One aggregate of a rule set: its column name, its SQL and the index of the rule it
/// serves (`None` for the row count every rule shares).
#[derive(Debug, Clone)]
pub(crate) struct Metric {
    pub name: String,
    pub sql: String,
    pub rule: Option<usize>,
}

impl Metric {
    fn new(name: &str, sql: String, rule: Option<usize>) -> Self {
        Self {
            name: name.to_string(),
            sql,
            rule,
        }
    }
}

/// The one row of `metrics` over the table `table`.
async fn metrics_row(
    ctx: &SessionContext,
    table: &str,
    metrics: &[Metric],
) -> datafusion::error::Result<arrow::array::RecordBatch> {
    let columns: Vec<String> = metrics
        .iter()
        .map(|m| format!("{} AS {}", m.sql, m.name))
        .collect();
    let sql = format!("SELECT {} FROM {}", columns.join(", "), ident(table));
    let batches = ctx.sql(&sql).await?.collect().await?;
    arrow::compute::concat_batches(&batches[0].schema(), &batches).map_err(Into::into)
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

#[cfg(test)]
#[path = "evaluate_tests.rs"]
mod tests;
