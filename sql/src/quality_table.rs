//! `table_quality('name')`: the verdicts a gated Delta sink recorded in the table's
//! commits (`weir.quality` in the commit info), one row per version, epoch and rule,
//! newest version first. A version's rows say which rules its data passed, so a query
//! can choose `t VERSION AS OF v` by quality.

use std::sync::Arc;

use arrow::array::TimestampMillisecondArray;
use arrow::array::{ArrayRef, BooleanArray, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use datafusion::catalog::MemTable;
use serde_json::Value as Json;

use crate::error::Result;
use crate::travel::Commit;

/// One verdict of one epoch of one commit.
struct Row {
    version: i64,
    timestamp: Option<i64>,
    epoch: Option<i64>,
    rule: Option<String>,
    severity: Option<String>,
    passed: Option<bool>,
    observed: Option<String>,
    threshold: Option<String>,
    rows_checked: Option<i64>,
    rows_failing: Option<i64>,
}

/// The verdicts of `commits` (newest first) as a table.
pub fn table(commits: &[Commit]) -> Result<MemTable> {
    let mut rows = Vec::new();
    for commit in commits {
        let Some(Json::Array(epochs)) = &commit.quality else {
            continue;
        };
        for epoch in epochs {
            let verdicts = epoch.get("verdicts").and_then(Json::as_array);
            for verdict in verdicts.into_iter().flatten() {
                let text = |key: &str| verdict.get(key).and_then(Json::as_str).map(String::from);
                rows.push(Row {
                    version: commit.version,
                    timestamp: commit.timestamp,
                    epoch: epoch.get("epoch").and_then(Json::as_i64),
                    rule: text("rule"),
                    severity: text("severity"),
                    passed: verdict.get("passed").and_then(Json::as_bool),
                    observed: text("observed"),
                    threshold: text("threshold"),
                    rows_checked: verdict.get("rows_checked").and_then(Json::as_i64),
                    rows_failing: verdict.get("rows_failing").and_then(Json::as_i64),
                });
            }
        }
    }
    let schema = Arc::new(Schema::new(vec![
        Field::new("version", DataType::Int64, false),
        Field::new(
            "timestamp",
            DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())),
            true,
        ),
        Field::new("epoch", DataType::Int64, true),
        Field::new("rule", DataType::Utf8, true),
        Field::new("severity", DataType::Utf8, true),
        Field::new("passed", DataType::Boolean, true),
        Field::new("observed", DataType::Utf8, true),
        Field::new("threshold", DataType::Utf8, true),
        Field::new("rows_checked", DataType::Int64, true),
        Field::new("rows_failing", DataType::Int64, true),
    ]));
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.version))),
        Arc::new(
            TimestampMillisecondArray::from_iter(rows.iter().map(|r| r.timestamp))
                .with_timezone("UTC"),
        ),
        Arc::new(Int64Array::from_iter(rows.iter().map(|r| r.epoch))),
        Arc::new(StringArray::from_iter(rows.iter().map(|r| r.rule.clone()))),
        Arc::new(StringArray::from_iter(
            rows.iter().map(|r| r.severity.clone()),
        )),
        Arc::new(BooleanArray::from_iter(rows.iter().map(|r| r.passed))),
        Arc::new(StringArray::from_iter(
            rows.iter().map(|r| r.observed.clone()),
        )),
        Arc::new(StringArray::from_iter(
            rows.iter().map(|r| r.threshold.clone()),
        )),
        Arc::new(Int64Array::from_iter(rows.iter().map(|r| r.rows_checked))),
        Arc::new(Int64Array::from_iter(rows.iter().map(|r| r.rows_failing))),
    ];
    let batch = RecordBatch::try_new(schema.clone(), columns)?;
    Ok(MemTable::try_new(schema, vec![vec![batch]])?)
}
