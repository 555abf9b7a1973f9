//! Incremental quality checks: the metrics of a table's rules kept as partial aggregate
//! states (`weir_quality::partial`) in the lake, with the version they cover, so the next
//! check reads only the files the versions since then appended and merges their states
//! into the stored one. The verdicts equal a full check's: the merged aggregates are
//! DataFusion's own, over the same rows.
//!
//! A state is kept per table and rule set (by the metrics' fingerprint) at
//! `<lake>/_quality/_partial/<table>.<fingerprint>.arrow` (an Arrow IPC stream of one
//! row, its schema's metadata naming the version), beside the quality table's files;
//! Delta readers and vacuum leave `_`-folders alone. A version that removes or rewrites
//! data (a delete, an overwrite; compaction's rewrites are not data changes), changes the
//! schema, or is no longer in the log makes the next check a full one.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::datatypes::{Schema, SchemaRef};
use arrow::ipc::reader::StreamReader;
use arrow::ipc::writer::StreamWriter;
use datafusion::prelude::SessionContext;
use deltalake::kernel::{Action, Add};
use deltalake::logstore::get_actions;
use deltalake::DeltaTable;
use futures::StreamExt;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt as _, PutPayload};
use weir_quality::partial::MetricsPlan;
use weir_quality::QualityError;

use crate::error::{Result, SqlError};
use crate::lake::Lake;

/// The schema metadata key of a stored state naming the table version it covers.
const VERSION_KEY: &str = "weir.quality.version";

fn quality(e: impl std::fmt::Display) -> SqlError {
    SqlError::Quality(e.to_string())
}

/// Where the state of `table`'s metrics of fingerprint `fingerprint` is kept.
fn state_location(lake: &Lake, table: &str, fingerprint: u64) -> (Arc<dyn ObjectStore>, Path) {
    lake.object(&format!(
        "{}/_partial/{table}.{fingerprint:016x}.arrow",
        weir_quality::history::QUALITY_TABLE
    ))
}

/// The stored state of `table`'s metrics planned as `plan`, with the version it covers;
/// `None` when there is none (or it does not fit the plan).
pub(crate) async fn load_state(
    lake: &Lake,
    table: &str,
    plan: &MetricsPlan,
) -> Result<Option<(i64, RecordBatch)>> {
    let (store, path) = state_location(lake, table, plan.fingerprint());
    let bytes = match store.get(&path).await {
        Ok(found) => found.bytes().await.map_err(quality)?,
        Err(object_store::Error::NotFound { .. }) => return Ok(None),
        Err(e) => return Err(quality(format!("reading {path}: {e}"))),
    };
    let reader = StreamReader::try_new(std::io::Cursor::new(bytes), None)?;
    let Some(version) = reader
        .schema()
        .metadata()
        .get(VERSION_KEY)
        .and_then(|v| v.parse::<i64>().ok())
    else {
        return Ok(None);
    };
    let batches = reader.collect::<std::result::Result<Vec<_>, _>>()?;
    match batches.as_slice() {
        [state] if state.schema().fields() == plan.state_schema().fields() => {
            Ok(Some((version, state.clone())))
        }
        _ => Ok(None),
    }
}

/// Keeps `state` (one row of `plan`'s state schema) as the state of `table`'s metrics
/// through version `version`, replacing the one stored before.
pub(crate) async fn save_state(
    lake: &Lake,
    table: &str,
    plan: &MetricsPlan,
    version: i64,
    state: &RecordBatch,
) -> Result<()> {
    let schema = Arc::new(Schema::new_with_metadata(
        state.schema().fields().clone(),
        HashMap::from([(VERSION_KEY.to_string(), version.to_string())]),
    ));
    let mut bytes = Vec::new();
    {
        let mut writer = StreamWriter::try_new(&mut bytes, &schema)?;
        writer.write(&state.clone().with_schema(schema.clone())?)?;
        writer.finish()?;
    }
    let (store, path) = state_location(lake, table, plan.fingerprint());
    store
        .put(&path, PutPayload::from(bytes))
        .await
        .map_err(|e| quality(format!("writing {path}: {e}")))?;
    Ok(())
}

/// The files versions `after + 1 ..= to` of `table` append, or `None` when one of them
/// does more than append (removes or rewrites data, changes the schema) or is no longer
/// in the log: the increment cannot be judged alone.
pub(crate) async fn appended_files(
    table: &DeltaTable,
    after: i64,
    to: i64,
) -> Result<Option<Vec<Add>>> {
    let log = table.log_store();
    let mut adds = Vec::new();
    for version in (after + 1).max(0) as u64..=to.max(0) as u64 {
        let Some(bytes) = log.read_commit_entry(version).await? else {
            return Ok(None);
        };
        for action in get_actions(version, &bytes)? {
            match action {
                Action::Add(add) if add.data_change => {
                    if add.deletion_vector.is_some() {
                        return Ok(None);
                    }
                    adds.push(add);
                }
                Action::Remove(remove) if remove.data_change => return Ok(None),
                Action::Metadata(_) => return Ok(None),
                _ => {}
            }
        }
    }
    Ok(Some(adds))
}

/// The metrics of `rules` as a scan of `table` (a Delta table loaded at the version to
/// judge, of schema `schema`) computes them: planned over the columns the rules read,
/// as the scan gives them. Returns the plan and those columns.
pub(crate) async fn scan_plan(
    table: &DeltaTable,
    rules: &weir_quality::RuleSet,
    schema: &SchemaRef,
) -> Result<(Arc<MetricsPlan>, Vec<String>)> {
    let columns = MetricsPlan::for_table(rules, schema)
        .map_err(quality)?
        .input_columns(schema);
    let (_, frame) = scan(table, None, &columns).await?;
    let projected = Arc::new(frame.schema().as_arrow().clone());
    let plan = MetricsPlan::for_table(rules, &projected).map_err(quality)?;
    Ok((Arc::new(plan), columns))
}

/// The columns `columns` of the rows of `table` in the files `adds` (every file of its
/// version when `None`).
async fn scan(
    table: &DeltaTable,
    adds: Option<Vec<Add>>,
    columns: &[String],
) -> Result<(SessionContext, datafusion::dataframe::DataFrame)> {
    let ctx = SessionContext::new();
    table.update_datafusion_session(&ctx.state())?;
    let mut provider = table.table_provider();
    if let Some(adds) = adds {
        provider = provider.with_adds(adds);
    }
    let frame = ctx.read_table(provider.await?)?;
    let names: Vec<&str> = columns.iter().map(String::as_str).collect();
    let frame = frame.select_columns(&names)?;
    Ok((ctx, frame))
}

/// The partial metric states (of `plan`, over `columns`: [`scan_plan`]) of the rows of
/// `table` in the files `adds` (every file of its version when `None`), one per scan
/// partition, computed side by side.
pub(crate) async fn metric_states(
    table: &DeltaTable,
    adds: Option<Vec<Add>>,
    plan: &Arc<MetricsPlan>,
    columns: &[String],
) -> Result<Vec<RecordBatch>> {
    if adds.as_ref().is_some_and(Vec::is_empty) {
        return Ok(Vec::new());
    }
    let (_ctx, frame) = scan(table, adds, columns).await?;
    let mut parts = Vec::new();
    for mut stream in frame.execute_stream_partitioned().await? {
        let mut part = plan.start().map_err(quality)?;
        parts.push(tokio::spawn(async move {
            while let Some(batch) = stream.next().await {
                part.update(&batch?);
            }
            part.take_state().map_err(|e: QualityError| {
                datafusion::error::DataFusionError::External(Box::new(e))
            })
        }));
    }
    let mut states = Vec::with_capacity(parts.len());
    for part in parts {
        states.push(part.await.map_err(quality)??);
    }
    Ok(states)
}
