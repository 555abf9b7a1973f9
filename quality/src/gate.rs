//! The `quality:` section of a Delta sink: rules judging each checkpoint epoch before its
//! commit. The sink's writers update [`crate::partial::PartialMetrics`] with the rows they
//! write; the committer merges them, judges the epoch, records the verdicts in the commit
//! and, when a `fail` rule failed, makes nothing of the epoch visible.
//!
//! ```yaml
//! sinks:
//!   requests:
//!     type: delta
//!     table: lake/logs/requests
//!     quality:
//!       rules:
//!         - name: status_known
//!           range: {column: status, min: 100, max: 599}
//!           severity: fail
//! ```

use arrow::datatypes::SchemaRef;
use serde::Deserialize;

use crate::error::{QualityError, Result};
use crate::evaluate::RuleSet;
use crate::rule::{Check, Rule, Severity};
use crate::verdict::Verdict;

/// The commit info key under which a gated sink's commit holds its epochs' verdicts: a
/// list of `{"epoch": e, "verdicts": [...]}`.
pub const COMMIT_INFO_KEY: &str = "weir.quality";

/// The rules of a sink's gate.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Gate {
    pub rules: Vec<Rule>,
    /// Where to post a rule's change of verdict from one epoch to the next.
    #[serde(default)]
    pub alert: Option<crate::alert::Alert>,
}

impl Gate {
    /// The rules, checked against the rows the sink receives. Rules that need more than
    /// the epoch's rows as they pass (`sql`, `referential`) are refused in a stream for
    /// now, naming the rule.
    pub fn rule_set(&self, schema: &SchemaRef) -> Result<RuleSet> {
        for rule in &self.rules {
            let not_yet = |what: &str| {
                QualityError::Invalid {
                rule: rule.name.clone(),
                reason: format!("{what} are not judged in a streaming sink yet (use `weir quality check` on the table)"),
            }
            };
            match &rule.check {
                Check::Sql { .. } => return Err(not_yet("custom SQL rules")),
                Check::Referential { .. } => return Err(not_yet("referential rules")),
                _ => {}
            }
        }
        RuleSet::new(self.rules.clone(), schema)
    }
}

/// The first failed `fail` rule among `verdicts`, as the message a job fails with.
pub fn failure(verdicts: &[Verdict]) -> Option<String> {
    verdicts
        .iter()
        .find(|v| !v.passed && v.severity == Severity::Fail)
        .map(|v| {
            format!(
                "quality rule '{}' failed: observed {}, allowed {} ({} of {} rows failing)",
                v.rule, v.observed, v.threshold, v.rows_failing, v.rows_checked
            )
        })
}
