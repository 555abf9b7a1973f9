//! Quarantine: the rows a gated sink's `quarantine` rules reject are split from the rest
//! as they are written, into `<table>_quarantine`, each with the rules it failed and why.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, BooleanArray, RecordBatch, StringArray};
use arrow::compute::{cast, filter_record_batch, not};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::common::DFSchema;
use datafusion::physical_expr::PhysicalExpr;
use datafusion::prelude::SessionContext;

use crate::error::Result;
use crate::evaluate::{row_predicate, RuleSet};
use crate::rule::{Check, Severity};

/// The columns a quarantined row gets besides its own.
pub const FAILED_RULES: &str = "quality_failed_rules";
pub const REASON: &str = "quality_reason";
pub const JOB: &str = "quality_job";

/// The suffix of a table's quarantine table.
pub const QUARANTINE_SUFFIX: &str = "_quarantine";

/// The quarantine table of the table at `uri`.
pub fn quarantine_table(uri: &str) -> String {
    format!("{}{QUARANTINE_SUFFIX}", uri.trim_end_matches('/'))
}

/// One `quarantine` rule, ready to judge rows.
#[derive(Debug)]
struct RowRule {
    name: String,
    /// True for a row the rule rejects (its predicate is false; null passes).
    rejects: Arc<dyn PhysicalExpr>,
    /// The column the rule looks at, for the reason; `None` for a SQL condition.
    column: Option<String>,
    /// The columns a SQL condition reads, whose values the reason shows.
    inputs: Vec<String>,
    /// What the rule allows, for the reason.
    allowed: String,
}

/// The `quarantine` rules of a rule set over rows of one schema.
#[derive(Debug)]
pub struct Quarantine {
    rules: Vec<RowRule>,
    schema: SchemaRef,
}

impl Quarantine {
    /// The quarantine rules of `rules` over rows of `schema`, or `None` when there are none.
    pub fn new(rules: &RuleSet, schema: &SchemaRef) -> Result<Option<Self>> {
        let ctx = SessionContext::new();
        let logical = DFSchema::try_from(schema.as_ref().clone())?;
        let mut row_rules = Vec::new();
        for rule in rules.rules() {
            if rule.severity != Severity::Quarantine {
                continue;
            }
            let Some(predicate) = row_predicate(&rule.check) else {
                continue;
            };
            let rejects = ctx.parse_sql_expr(&format!("({predicate}) IS FALSE"), &logical)?;
            let rejects = ctx.create_physical_expr(rejects, &logical)?;
            let (column, allowed) = match &rule.check {
                Check::Range { column, min, max } => (
                    Some(column.clone()),
                    match (min, max) {
                        (Some(a), Some(b)) => format!("in [{a}, {b}]"),
                        (Some(a), None) => format!(">= {a}"),
                        (None, Some(b)) => format!("<= {b}"),
                        (None, None) => "any".into(),
                    },
                ),
                Check::InSet { column, .. } => (Some(column.clone()), "in the set".into()),
                Check::Regex { column, pattern } => {
                    (Some(column.clone()), format!("matching {pattern}"))
                }
                Check::Valid { expression } => (None, expression.clone()),
                _ => continue,
            };
            let mut inputs: Vec<String> = match column {
                Some(_) => Vec::new(),
                None => datafusion::physical_expr::utils::collect_columns(&rejects)
                    .into_iter()
                    .map(|c| c.name().to_string())
                    .collect(),
            };
            inputs.sort();
            row_rules.push(RowRule {
                name: rule.name.clone(),
                rejects,
                column,
                inputs,
                allowed,
            });
        }
        Ok((!row_rules.is_empty()).then(|| Self {
            rules: row_rules,
            schema: schema.clone(),
        }))
    }

    /// The schema of quarantined rows: the rows' columns, then the rules they failed
    /// (comma-separated), why (each rule with the value it saw) and the job.
    pub fn schema(&self) -> SchemaRef {
        let mut fields: Vec<Field> = self
            .schema
            .fields()
            .iter()
            .map(|f| f.as_ref().clone())
            .collect();
        fields.push(Field::new(FAILED_RULES, DataType::Utf8, false));
        fields.push(Field::new(REASON, DataType::Utf8, false));
        fields.push(Field::new(JOB, DataType::Utf8, false));
        Arc::new(Schema::new(fields))
    }

    /// `batch` split into the rows every rule accepts and the rejected rows (with the
    /// columns of [`Quarantine::schema`], `job` naming the job), `None` when none is.
    pub fn split(
        &self,
        batch: &RecordBatch,
        job: &str,
    ) -> Result<(RecordBatch, Option<RecordBatch>)> {
        let rows = batch.num_rows();
        let mut rejected: Vec<BooleanArray> = Vec::with_capacity(self.rules.len());
        // A rule that cannot judge the batch (a cast of one value fails, say) rejects
        // every row of it, with the error as the reason: nothing unjudged is committed.
        let mut errors: Vec<Option<String>> = Vec::with_capacity(self.rules.len());
        for rule in &self.rules {
            match rule
                .rejects
                .evaluate(batch)
                .and_then(|v| v.into_array(rows))
            {
                Ok(verdict) => {
                    rejected.push(verdict.as_boolean().clone());
                    errors.push(None);
                }
                Err(e) => {
                    rejected.push(BooleanArray::from(vec![true; rows]));
                    errors.push(Some(e.to_string()));
                }
            }
        }
        let any = rejected
            .iter()
            .skip(1)
            .try_fold(rejected[0].clone(), |acc, r| {
                arrow::compute::or_kleene(&acc, r)
            })?;
        // A rule that cannot tell (a null) rejects nothing.
        let any = match any.null_count() {
            0 => any,
            _ => arrow::compute::prep_null_mask_filter(&any),
        };
        if any.true_count() == 0 {
            return Ok((batch.clone(), None));
        }
        let kept = filter_record_batch(batch, &not(&any)?)?;
        let out = filter_record_batch(batch, &any)?;
        let mut failed_rules = Vec::with_capacity(out.num_rows());
        let mut reasons = Vec::with_capacity(out.num_rows());
        // Per rule, the columns its reason shows, as text.
        let texts: Vec<Vec<(&str, ArrayRef)>> = self
            .rules
            .iter()
            .map(|rule| {
                rule.column
                    .iter()
                    .chain(&rule.inputs)
                    .filter_map(|c| {
                        let values = cast(out.column_by_name(c)?, &DataType::Utf8).ok()?;
                        Some((c.as_str(), values))
                    })
                    .collect()
            })
            .collect();
        let picked: Vec<BooleanArray> = rejected
            .iter()
            .map(|r| filter_record_batch_column(r, &any))
            .collect::<Result<_>>()?;
        for row in 0..out.num_rows() {
            let mut names = Vec::new();
            let mut why = Vec::new();
            for (i, rule) in self.rules.iter().enumerate() {
                if !(picked[i].is_valid(row) && picked[i].value(row)) {
                    continue;
                }
                names.push(rule.name.as_str());
                let seen: Vec<(&str, String)> = texts[i]
                    .iter()
                    .map(|(column, values)| {
                        let values = values.as_string::<i32>();
                        let value = if values.is_null(row) {
                            "null".to_string()
                        } else {
                            values.value(row).to_string()
                        };
                        (*column, value)
                    })
                    .collect();
                why.push(match (&rule.column, seen.as_slice()) {
                    _ if errors[i].is_some() => format!(
                        "{}: could not be evaluated: {}",
                        rule.name,
                        errors[i].as_deref().unwrap_or_default()
                    ),
                    (Some(column), [(_, seen)]) => {
                        format!("{}: {column} = {seen}, allowed {}", rule.name, rule.allowed)
                    }
                    (None, seen) if !seen.is_empty() => {
                        let values: Vec<String> =
                            seen.iter().map(|(c, v)| format!("{c} = {v}")).collect();
                        format!(
                            "{}: not {} ({})",
                            rule.name,
                            rule.allowed,
                            values.join(", ")
                        )
                    }
                    _ => format!("{}: not {}", rule.name, rule.allowed),
                });
            }
            failed_rules.push(names.join(","));
            reasons.push(why.join("; "));
        }
        let mut columns: Vec<ArrayRef> = out.columns().to_vec();
        columns.push(Arc::new(StringArray::from(failed_rules)));
        columns.push(Arc::new(StringArray::from(reasons)));
        columns.push(Arc::new(StringArray::from(vec![job; out.num_rows()])));
        let quarantined = RecordBatch::try_new(self.schema(), columns)?;
        Ok((kept, Some(quarantined)))
    }
}

/// The values of `column` where `keep` is true.
fn filter_record_batch_column(column: &BooleanArray, keep: &BooleanArray) -> Result<BooleanArray> {
    Ok(arrow::compute::filter(column, keep)?.as_boolean().clone())
}

#[cfg(test)]
mod tests {
    use arrow::array::Int64Array;

    use super::*;
    use crate::Rule;

    #[test]
    fn rejected_rows_carry_every_rule_they_failed_and_why() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("status", DataType::Int64, true),
            Field::new("path", DataType::Utf8, true),
        ]));
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(Int64Array::from(vec![
                    Some(200),
                    Some(700),
                    None,
                    Some(800),
                ])),
                Arc::new(StringArray::from(vec![
                    Some("/a"),
                    Some("/b"),
                    Some("c"),
                    Some("d"),
                ])),
            ],
        )
        .unwrap();
        let rules: Vec<Rule> = serde_saphyr::from_str(
            "- {name: status_known, range: {column: status, max: 599}, severity: quarantine}\n\
             - {name: absolute, valid: \"path LIKE '/%'\", severity: quarantine}\n\
             - {name: counted, range: {column: status, min: 0}}\n",
        )
        .unwrap();
        let set = RuleSet::new(rules, &schema).unwrap();
        let quarantine = Quarantine::new(&set, &schema).unwrap().unwrap();
        let (kept, rejected) = quarantine.split(&batch, "job-a").unwrap();
        assert_eq!(kept.num_rows(), 1);
        let rejected = rejected.unwrap();
        let text = arrow::util::pretty::pretty_format_batches(&[rejected])
            .unwrap()
            .to_string();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[3..6],
            [
                "| 700    | /b   | status_known          | status_known: status = 700, allowed <= 599                                          | job-a       |",
                "|        | c    | absolute              | absolute: not path LIKE '/%' (path = c)                                             | job-a       |",
                "| 800    | d    | status_known,absolute | status_known: status = 800, allowed <= 599; absolute: not path LIKE '/%' (path = d) | job-a       |",
            ]
        );
    }

    #[test]
    fn a_rule_that_cannot_judge_a_batch_quarantines_it_with_the_error() {
        let schema = Arc::new(Schema::new(vec![Field::new("path", DataType::Utf8, true)]));
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![Arc::new(StringArray::from(vec!["7", "/b"]))],
        )
        .unwrap();
        let rules: Vec<Rule> = serde_saphyr::from_str(
            "- {name: numeric, valid: \"CAST(path AS INT) > 0\", severity: quarantine}\n",
        )
        .unwrap();
        let set = RuleSet::new(rules, &schema).unwrap();
        let quarantine = Quarantine::new(&set, &schema).unwrap().unwrap();
        let (kept, rejected) = quarantine.split(&batch, "job-a").unwrap();
        assert_eq!(kept.num_rows(), 0);
        let rejected = rejected.unwrap();
        assert_eq!(rejected.num_rows(), 2);
        let reason = rejected
            .column_by_name(REASON)
            .unwrap()
            .as_string::<i32>()
            .value(1)
            .to_string();
        assert!(
            reason.starts_with("numeric: could not be evaluated: ") && reason.contains("/b"),
            "{reason}"
        );
    }
}
