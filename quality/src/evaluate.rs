//! Evaluating a set of rules over rows registered as a table: one aggregate query
//! computes every metric of every rule in one scan (row-level rules as one failing-row
//! count each); schema rules read the table's schema; custom SQL and referential rules
//! run a query of their own. The verdicts are made from the metrics in `judge.rs`.

use std::time::SystemTime;

use arrow::array::AsArray;
use arrow::datatypes::{Int64Type, SchemaRef};
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
