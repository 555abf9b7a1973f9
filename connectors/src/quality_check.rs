//! Quality checks as a source: judges a lake table by quality rules once, or every
//! `every` (see `weir_sql::quality_check`), and emits one row per verdict; every check is
//! also appended to the lake's `_quality` table. `kind: quality` job files run this source
//! into stdout, so a quality job has the lifecycle of every job. A failed `fail` rule
//! fails the job with the verdict.
//!
//! The check runs on a task of its own that outlives a `next_batch` call dropped at a
//! checkpoint barrier. It keeps no state: each check judges the table's newest version.

use std::sync::Arc;
use std::time::Duration;

use arrow::array::{ArrayRef, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use async_trait::async_trait;
use serde::Deserialize;
use tokio::time::Instant;
use weir_engine::{NodeGauges, Source, SourceBatch, SourcePlan, SubtaskInfo};
use weir_quality::alert::{Alert, AlertMessage};
use weir_quality::verdict::{verdict_columns, verdict_fields};
use weir_quality::{Rule, Severity};
use weir_sql::quality_check::{check_table, CheckOptions, TableCheck};
use weir_sql::{Lake, SqlError};

use crate::background::AbortOnDrop;
use crate::error::{ConnectorError, Result};

/// What to judge, by which rules, and when.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QualityCheckConfig {
    /// The lake's root: a folder or an `s3://` URL.
    pub lake: String,
    /// The table's SQL name in the lake (`logs.requests`).
    pub table: String,
    /// How often the table is judged; once when absent (the job then finishes).
    #[serde(default, with = "humantime_serde")]
    pub every: Option<Duration>,
    pub rules: Vec<Rule>,
    /// Read only the files appended since the last check, merging their metrics into
    /// the ones kept in the lake (see `weir_sql::quality_check::CheckOptions`).
    #[serde(default)]
    pub incremental: bool,
    /// Where to post a rule's change of verdict (see `weir_quality::alert`).
    #[serde(default)]
    pub alert: Option<Alert>,
}

impl QualityCheckConfig {
    /// The quality-check source; checks the settings, reads nothing yet.
    pub fn plan(&self) -> Result<Arc<dyn SourcePlan>> {
        let bad = |message: String| ConnectorError::Config {
            connector: "quality",
            message,
        };
        if self.every.is_some_and(|every| every.is_zero()) {
            return Err(bad("every must be longer than 0".into()));
        }
        if self.rules.is_empty() {
            return Err(bad("rules must name at least one rule".into()));
        }
        Ok(Arc::new(QualityCheckPlan(Arc::new(self.clone()))))
    }
}

/// The rows a quality-check source emits: one per verdict.
pub fn verdict_schema() -> SchemaRef {
    let leading = vec![
        Field::new("table", DataType::Utf8, false),
        Field::new("version", DataType::Int64, false),
    ];
    Arc::new(Schema::new([leading, verdict_fields()].concat()))
}

struct QualityCheckPlan(Arc<QualityCheckConfig>);

impl SourcePlan for QualityCheckPlan {
    fn schema(&self) -> SchemaRef {
        verdict_schema()
    }

    /// Subtask 0 checks; any other subtask has nothing to read.
    fn create(&self, subtask: &SubtaskInfo) -> weir_engine::Result<Box<dyn Source>> {
        Ok(Box::new(QualityCheckSource {
            config: self.0.clone(),
            active: subtask.index == 0,
            next_check: Instant::now(),
            running: None,
            done: false,
            gauges: subtask.gauges.clone(),
        }))
    }
}

struct QualityCheckSource {
    config: Arc<QualityCheckConfig>,
    active: bool,
    next_check: Instant,
    /// The check in progress, kept across `next_batch` calls.
    running: Option<AbortOnDrop<std::result::Result<TableCheck, SqlError>>>,
    /// Whether the one check of a job without `every` is done.
    done: bool,
    /// Counts [`QUALITY_RULES_PASSED`] and [`QUALITY_RULES_FAILED`] over its checks.
    gauges: NodeGauges,
}

/// The source's figure: verdicts that passed, over its checks.
pub const QUALITY_RULES_PASSED: &str = "quality_rules_passed";
/// The source's figure: verdicts that failed, over its checks.
pub const QUALITY_RULES_FAILED: &str = "quality_rules_failed";

async fn check(config: Arc<QualityCheckConfig>) -> std::result::Result<TableCheck, SqlError> {
    let lake = Lake::open(&config.lake)?;
    let options = CheckOptions {
        version: None,
        incremental: config.incremental,
    };
    check_table(&lake, &config.table, config.rules.clone(), options).await
}

fn rows(checked: &TableCheck) -> Result<RecordBatch> {
    let n = checked.verdicts.len();
    let leading: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from(vec![checked.table.as_str(); n])),
        Arc::new(Int64Array::from(vec![checked.version; n])),
    ];
    let columns = [leading, verdict_columns(&checked.verdicts)].concat();
    Ok(RecordBatch::try_new(verdict_schema(), columns)?)
}

#[async_trait]
impl Source for QualityCheckSource {
    fn partitions(&self) -> Vec<u32> {
        if self.active {
            vec![0]
        } else {
            Vec::new()
        }
    }

    async fn next_batch(&mut self) -> weir_engine::Result<Option<SourceBatch>> {
        if !self.active || self.done {
            return Ok(None);
        }
        let running = match &mut self.running {
            Some(running) => running,
            None => {
                tokio::time::sleep_until(self.next_check).await;
                if let Some(every) = self.config.every {
                    self.next_check = Instant::now() + every;
                }
                let task = tokio::spawn(check(self.config.clone()));
                self.running.insert(AbortOnDrop(task))
            }
        };
        let joined = (&mut running.0).await;
        self.running = None;
        self.done = self.config.every.is_none();
        let checked = joined
            .map_err(|e| ConnectorError::Quality(format!("a quality check task: {e}")))?
            .map_err(|e| {
                ConnectorError::Quality(format!(
                    "checking {} in {}: {e}",
                    self.config.table, self.config.lake
                ))
            })?;
        // Changes from the table's previous evaluation in `_quality`, so a restarted job
        // neither repeats an alert nor misses one.
        if let (Some(alert), false) = (&self.config.alert, checked.changed.is_empty()) {
            let message = AlertMessage {
                table: checked.table.clone(),
                version: checked.version,
                changed: checked.changed.clone(),
            };
            alert.send(&message).await;
        }
        let passed = checked.verdicts.iter().filter(|v| v.passed).count();
        self.gauges.add(QUALITY_RULES_PASSED, passed as i64);
        self.gauges.add(
            QUALITY_RULES_FAILED,
            (checked.verdicts.len() - passed) as i64,
        );
        tracing::info!(
            table = %checked.table,
            version = checked.version,
            "quality check: {passed} of {} rules passed",
            checked.verdicts.len()
        );
        if let Some(v) = checked
            .verdicts
            .iter()
            .find(|v| !v.passed && v.severity == Severity::Fail)
        {
            return Err(ConnectorError::Quality(format!(
                "{} at version {}: quality rule '{}' failed: observed {}, allowed {} ({} of {} rows failing)",
                checked.table, checked.version, v.rule, v.observed, v.threshold, v.rows_failing, v.rows_checked
            ))
            .into());
        }
        Ok(Some(SourceBatch::new(0, rows(&checked)?)))
    }
}
