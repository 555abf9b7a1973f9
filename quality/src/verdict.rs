//! What a rule found.

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
}

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
        }
    }
}
