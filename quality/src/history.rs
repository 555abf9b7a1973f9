//! The lake's `_quality` Delta table: one row per rule per evaluation (time, table, the
//! version range judged, rule, severity, passed, observed, threshold, rows checked, rows
//! failing). Every evaluation appends to it; the volume rule reads its history from it.

use std::sync::Arc;
use std::time::SystemTime;

use arrow::array::{
    Array, ArrayRef, AsArray, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray,
};
use arrow::datatypes::{DataType, Field, Int64Type, Schema, SchemaRef, TimeUnit};
use datafusion::prelude::SessionContext;
use deltalake::writer::{DeltaWriter as _, RecordBatchWriter};
use weir_lake::epoch::EpochCommitter;
use weir_lake::table::{open_existing, open_or_create};

use crate::error::{QualityError, Result};
use crate::verdict::{verdict_columns, verdict_fields, Verdict};

/// The folder of the quality table in a lake.
pub const QUALITY_TABLE: &str = "_quality";

/// The application id of the quality table's commits.
const APP_ID: &str = "weir-quality";

/// The quality table's columns.
pub fn schema() -> SchemaRef {
    let leading = vec![
        Field::new(
            "time",
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            false,
        ),
        Field::new("table", DataType::Utf8, false),
        Field::new("from_version", DataType::Int64, true),
        Field::new("to_version", DataType::Int64, true),
    ];
    Arc::new(Schema::new([leading, verdict_fields()].concat()))
}

/// What one evaluation judged: a table, over a range of its versions.
#[derive(Debug, Clone)]
pub struct Judged<'a> {
    pub table: &'a str,
    pub from_version: Option<i64>,
    pub to_version: Option<i64>,
    pub time: SystemTime,
}

fn failed(what: &str, e: impl std::fmt::Display) -> QualityError {
    QualityError::History(format!("{what} the quality table: {e}"))
}

/// Appends `verdicts` of one evaluation to the quality table at `uri` (created when
/// missing), in one commit.
pub async fn append(uri: &str, judged: &Judged<'_>, verdicts: &[Verdict]) -> Result<()> {
    let n = verdicts.len();
    let micros = judged
        .time
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .as_micros() as i64;
    let leading: Vec<ArrayRef> = vec![
        Arc::new(TimestampMicrosecondArray::from(vec![micros; n]).with_timezone("UTC")),
        Arc::new(StringArray::from(vec![judged.table; n])),
        Arc::new(Int64Array::from(vec![judged.from_version; n])),
        Arc::new(Int64Array::from(vec![judged.to_version; n])),
    ];
    let batch = RecordBatch::try_new(schema(), [leading, verdict_columns(verdicts)].concat())
        .map_err(|e| failed("a batch for", e))?;
    let table = open_or_create(uri, &schema(), &[])
        .await
        .map_err(|e| failed("opening", e))?;
    let mut writer = RecordBatchWriter::for_table(&table).map_err(|e| failed("writing", e))?;
    writer
        .write(batch)
        .await
        .map_err(|e| failed("writing", e))?;
    let adds = writer.flush().await.map_err(|e| failed("writing", e))?;
    let mut committer = EpochCommitter::open(&table, APP_ID)
        .await
        .map_err(|e| failed("opening", e))?;
    // Evaluations may run side by side: each takes the next epoch the log does not hold.
    loop {
        let next = committer
            .refresh()
            .await
            .map_err(|e| failed("reading", e))?
            .unwrap_or(0)
            + 1;
        let committed = committer
            .commit(next, adds.clone(), None)
            .await
            .map_err(|e| failed("committing to", e))?;
        if committed.is_some() {
            return Ok(());
        }
    }
}

/// A session with the quality table at `uri` registered as `quality`; `None` when there
/// is no quality table yet.
async fn quality_session(uri: &str) -> Result<Option<SessionContext>> {
    let Some(quality) = open_existing(uri).await.map_err(|e| failed("opening", e))? else {
        return Ok(None);
    };
    let ctx = SessionContext::new();
    let provider = quality
        .table_provider()
        .await
        .map_err(|e| failed("reading", e))?;
    ctx.register_table("quality", provider)
        .map_err(|e| failed("reading", e))?;
    Ok(Some(ctx))
}

/// Each rule's verdict in the latest evaluation of `table` that judged it (whether it
/// passed), from the quality table at `uri` (none when there is no quality table yet):
/// what alerts compare a new evaluation with.
pub async fn last_verdicts(uri: &str, table: &str) -> Result<Vec<(String, bool)>> {
    let Some(ctx) = quality_session(uri).await? else {
        return Ok(Vec::new());
    };
    let frame = ctx
        .sql(
            "SELECT rule, last_value(passed ORDER BY time) AS passed FROM quality \
             WHERE \"table\" = $1 GROUP BY rule",
        )
        .await?
        .with_param_values(vec![datafusion::scalar::ScalarValue::from(table)])?;
    let mut last = Vec::new();
    for batch in frame.collect().await? {
        let rules = arrow::compute::cast(batch.column(0), &DataType::Utf8)?;
        let rules = rules.as_string::<i32>();
        let passed = batch.column(1).as_boolean();
        last.extend(
            (0..batch.num_rows())
                .filter(|&r| rules.is_valid(r) && passed.is_valid(r))
                .map(|r| (rules.value(r).to_string(), passed.value(r))),
        );
    }
    Ok(last)
}

/// The rows checked by the earlier evaluations of `rule` on `table`, oldest first, from
/// the quality table at `uri` (none when there is no quality table yet).
pub async fn volume_history(uri: &str, table: &str, rule: &str) -> Result<Vec<u64>> {
    let Some(ctx) = quality_session(uri).await? else {
        return Ok(Vec::new());
    };
    let frame = ctx
        .sql("SELECT rows_checked FROM quality WHERE \"table\" = $1 AND rule = $2 ORDER BY time")
        .await?
        .with_param_values(vec![
            datafusion::scalar::ScalarValue::from(table),
            datafusion::scalar::ScalarValue::from(rule),
        ])?;
    let mut history = Vec::new();
    for batch in frame.collect().await? {
        let rows = batch.column(0).as_primitive::<Int64Type>();
        history.extend((0..rows.len()).map(|i| rows.value(i).max(0) as u64));
    }
    Ok(history)
}
