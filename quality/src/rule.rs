//! Rules as job files write them: a name, a severity and exactly one check.
//!
//! ```yaml
//! - name: status_known
//!   range: {column: status, min: 100, max: 599}
//!   severity: quarantine
//! - name: few_missing_users
//!   completeness: {column: user_id, max_null_fraction: 0.01}
//! ```

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// What a failed rule does. `warn` records and commits; `quarantine` (row-level rules
/// only) moves the failing rows to the quarantine table and commits the rest; `fail`
/// makes nothing of the epoch visible and stops the job with the verdict.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    #[default]
    Warn,
    Quarantine,
    Fail,
}

impl std::fmt::Display for Severity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Warn => "warn",
            Severity::Quarantine => "quarantine",
            Severity::Fail => "fail",
        }
    }
}

/// A literal value of a set-membership rule.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum Literal {
    Int(i64),
    Float(f64),
    Text(String),
}

/// A column a schema rule expects.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectedColumn {
    pub name: String,
    /// The Arrow type's name as DataFusion prints it (`Int64`, `Utf8`, `Timestamp(ms)`...),
    /// compared case-insensitively; any type when absent.
    #[serde(rename = "type", default)]
    pub data_type: Option<String>,
    /// Whether the column may hold nulls; either when absent.
    #[serde(default)]
    pub nullable: Option<bool>,
}

/// A statistic of a column a distribution rule bounds.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Statistic {
    Mean,
    Min,
    Max,
    Median,
    P90,
    P95,
    P99,
}

/// The check of a rule: exactly one per rule.
#[derive(Debug, Clone, PartialEq)]
pub enum Check {
    /// These columns are present, with these types and nullability.
    Schema { columns: Vec<ExpectedColumn> },
    /// The fraction of nulls in `column` is at most `max_null_fraction`.
    Completeness {
        column: String,
        max_null_fraction: f64,
    },
    /// Each row's `column` lies in `[min, max]` (either bound may be absent).
    Range {
        column: String,
        min: Option<f64>,
        max: Option<f64>,
    },
    /// Each row's `column` is one of `values`.
    InSet {
        column: String,
        values: Vec<Literal>,
    },
    /// Each row's `column` matches the regular expression `pattern`.
    Regex { column: String, pattern: String },
    /// Each row satisfies the SQL boolean `expression`.
    Valid { expression: String },
    /// No two rows share the values of `columns` (in an epoch; across epochs over
    /// `within` in a stream).
    Unique {
        columns: Vec<String>,
        within: Option<Duration>,
    },
    /// The newest `column` (an event time) is at most `max_age` old.
    Freshness { column: String, max_age: Duration },
    /// The rows are within `[min, max]`, and within `stddevs` standard deviations of
    /// the history's mean once it holds `min_history` values.
    Volume {
        min: Option<u64>,
        max: Option<u64>,
        stddevs: Option<f64>,
        min_history: usize,
    },
    /// `statistic` of `column` lies in `[min, max]`.
    Distribution {
        column: String,
        statistic: Statistic,
        min: Option<f64>,
        max: Option<f64>,
    },
    /// Every non-null `column` is a `key` of the lake's table `table`.
    Referential {
        column: String,
        table: String,
        key: String,
    },
    /// The query (over the rows as the table `epoch`) returns no rows.
    Sql { query: String },
}

impl Check {
    /// Whether the rule judges rows one by one (so it may quarantine them).
    pub fn is_row_level(&self) -> bool {
        matches!(
            self,
            Check::Range { .. } | Check::InSet { .. } | Check::Regex { .. } | Check::Valid { .. }
        )
    }
}

/// A named check with a severity.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(try_from = "RuleSpec")]
pub struct Rule {
    pub name: String,
    pub severity: Severity,
    pub check: Check,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ColumnBound {
    column: String,
    #[serde(default)]
    min: Option<f64>,
    #[serde(default)]
    max: Option<f64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CompletenessSpec {
    column: String,
    max_null_fraction: f64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct InSetSpec {
    column: String,
    values: Vec<Literal>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RegexSpec {
    column: String,
    pattern: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SchemaSpec {
    columns: Vec<ExpectedColumn>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UniqueSpec {
    columns: Vec<String>,
    #[serde(default, with = "humantime_serde")]
    within: Option<Duration>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FreshnessSpec {
    column: String,
    #[serde(with = "humantime_serde")]
    max_age: Duration,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VolumeSpec {
    #[serde(default)]
    min: Option<u64>,
    #[serde(default)]
    max: Option<u64>,
    #[serde(default)]
    stddevs: Option<f64>,
    #[serde(default = "default_min_history")]
    min_history: usize,
}

fn default_min_history() -> usize {
    10
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DistributionSpec {
    column: String,
    statistic: Statistic,
    #[serde(default)]
    min: Option<f64>,
    #[serde(default)]
    max: Option<f64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReferentialSpec {
    column: String,
    table: String,
    key: String,
}

/// A rule as written: every check kind is a key; [`Rule`] takes exactly one.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleSpec {
    name: String,
    #[serde(default)]
    severity: Severity,
    #[serde(default)]
    schema: Option<SchemaSpec>,
    #[serde(default)]
    completeness: Option<CompletenessSpec>,
    #[serde(default)]
    range: Option<ColumnBound>,
    #[serde(default)]
    in_set: Option<InSetSpec>,
    #[serde(default)]
    regex: Option<RegexSpec>,
    #[serde(default)]
    valid: Option<String>,
    #[serde(default)]
    unique: Option<UniqueSpec>,
    #[serde(default)]
    freshness: Option<FreshnessSpec>,
    #[serde(default)]
    volume: Option<VolumeSpec>,
    #[serde(default)]
    distribution: Option<DistributionSpec>,
    #[serde(default)]
    referential: Option<ReferentialSpec>,
    #[serde(default)]
    sql: Option<String>,
}

impl TryFrom<RuleSpec> for Rule {
    type Error = String;

    fn try_from(spec: RuleSpec) -> Result<Self, String> {
        let mut checks: Vec<Check> = Vec::new();
        if let Some(s) = spec.schema {
            checks.push(Check::Schema { columns: s.columns });
        }
        if let Some(c) = spec.completeness {
            checks.push(Check::Completeness {
                column: c.column,
                max_null_fraction: c.max_null_fraction,
            });
        }
        if let Some(r) = spec.range {
            checks.push(Check::Range {
                column: r.column,
                min: r.min,
                max: r.max,
            });
        }
        if let Some(s) = spec.in_set {
            checks.push(Check::InSet {
                column: s.column,
                values: s.values,
            });
        }
        if let Some(r) = spec.regex {
            checks.push(Check::Regex {
                column: r.column,
                pattern: r.pattern,
            });
        }
        if let Some(expression) = spec.valid {
            checks.push(Check::Valid { expression });
        }
        if let Some(u) = spec.unique {
            checks.push(Check::Unique {
                columns: u.columns,
                within: u.within,
            });
        }
        if let Some(f) = spec.freshness {
            checks.push(Check::Freshness {
                column: f.column,
                max_age: f.max_age,
            });
        }
        if let Some(v) = spec.volume {
            checks.push(Check::Volume {
                min: v.min,
                max: v.max,
                stddevs: v.stddevs,
                min_history: v.min_history,
            });
        }
        if let Some(d) = spec.distribution {
            checks.push(Check::Distribution {
                column: d.column,
                statistic: d.statistic,
                min: d.min,
                max: d.max,
            });
        }
        if let Some(r) = spec.referential {
            checks.push(Check::Referential {
                column: r.column,
                table: r.table,
                key: r.key,
            });
        }
        if let Some(query) = spec.sql {
            checks.push(Check::Sql { query });
        }
        let name = spec.name;
        let check = match checks.len() {
            1 => checks.remove(0),
            0 => return Err(format!(
                "rule '{name}' has no check (one of schema, completeness, range, in_set, regex, valid, unique, freshness, volume, distribution, referential, sql)"
            )),
            n => return Err(format!("rule '{name}' has {n} checks; give each its own rule")),
        };
        if spec.severity == Severity::Quarantine && !check.is_row_level() {
            return Err(format!(
                "rule '{name}': only row-level rules (range, in_set, regex, valid) can quarantine rows; use warn or fail"
            ));
        }
        Ok(Rule {
            name,
            severity: spec.severity,
            check,
        })
    }
}
