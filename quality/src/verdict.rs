//! What a rule found.

use std::sync::Arc;

use arrow::array::{ArrayRef, BooleanArray, Int64Array, StringArray};
use arrow::datatypes::{DataType, Field};
use serde::{Deserialize, Serialize};

use crate::rule::Severity;

/// One rule's verdict on one evaluation (an epoch, or a table version range).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    pub rule: String,
    pub severity: Severity,
    pub passed: bool,
    /// What was measured, as text (a fraction, a count, a value, or the error that
    /// stopped the rule from being evaluated).
    pub observed: String,
    /// What the rule allows, as text.
    pub threshold: String,
    pub rows_checked: u64,
    pub rows_failing: u64,
    /// Up to [`SAMPLE_SIZE`] values of failing rows (the rule's column or key, as text),
    /// where the evaluation gathers them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sample: Vec<String>,
}

/// The most failing values a verdict keeps as its sample.
pub const SAMPLE_SIZE: usize = 5;

impl Verdict {
    pub(crate) fn new(rule: &str, severity: Severity) -> Self {
        Self {
            rule: rule.to_string(),
            severity,
            passed: false,
            observed: String::new(),
            threshold: String::new(),
            rows_checked: 0,
            rows_failing: 0,
            sample: Vec::new(),
        }
    }

    /// The failed verdict of `rule`, whose evaluation stopped with `error`.
    pub(crate) fn error(rule: &crate::Rule, error: &str) -> Self {
        Self {
            observed: format!("error: {error}"),
            threshold: "evaluated without error".into(),
            ..Self::new(&rule.name, rule.severity)
        }
    }
}

/// The columns a table of verdicts holds for each verdict (`_quality`, a quality job's
/// output), after its own leading columns.
pub fn verdict_fields() -> Vec<Field> {
    vec![
        Field::new("rule", DataType::Utf8, false),
        Field::new("severity", DataType::Utf8, false),
        Field::new("passed", DataType::Boolean, false),
        Field::new("observed", DataType::Utf8, false),
        Field::new("threshold", DataType::Utf8, false),
        Field::new("rows_checked", DataType::Int64, false),
        Field::new("rows_failing", DataType::Int64, false),
        Field::new("failing_sample", DataType::Utf8, true),
    ]
}

/// `verdicts` as the columns of [`verdict_fields`].
pub fn verdict_columns(verdicts: &[Verdict]) -> Vec<ArrayRef> {
    vec![
        Arc::new(StringArray::from_iter_values(
            verdicts.iter().map(|v| &v.rule),
        )),
        Arc::new(StringArray::from_iter_values(
            verdicts.iter().map(|v| v.severity.as_str()),
        )),
        Arc::new(BooleanArray::from_iter(
            verdicts.iter().map(|v| Some(v.passed)),
        )),
        Arc::new(StringArray::from_iter_values(
            verdicts.iter().map(|v| &v.observed),
        )),
        Arc::new(StringArray::from_iter_values(
            verdicts.iter().map(|v| &v.threshold),
        )),
        Arc::new(Int64Array::from_iter_values(
            verdicts.iter().map(|v| v.rows_checked as i64),
        )),
        Arc::new(Int64Array::from_iter_values(
            verdicts.iter().map(|v| v.rows_failing as i64),
        )),
        Arc::new(StringArray::from_iter(
            verdicts
                .iter()
                .map(|v| (!v.sample.is_empty()).then(|| v.sample.join(", "))),
        )),
    ]
}
