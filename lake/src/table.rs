//! Delta tables as writers use them: open or create, read the last committed epoch of an
//! application, commit staged files together with that application's new epoch (one-off;
//! a streaming writer keeps an [`EpochCommitter`]). Opening any location registers the S3
//! handlers first ([`crate::s3::register`]).

use arrow::datatypes::SchemaRef;
use deltalake::kernel::engine::arrow_conversion::TryIntoKernel as _;
use deltalake::kernel::transaction::CommitProperties;
use deltalake::kernel::{Add, StructType};
use deltalake::protocol::SaveMode;
use deltalake::{ensure_table_uri, DeltaTable, DeltaTableBuilder, DeltaTableError};

use crate::epoch::EpochCommitter;
use crate::error::{LakeError, Result};
use crate::lake_log_store::lake_table;
use crate::schema::table_schema;

fn delta_error(what: String) -> impl FnOnce(DeltaTableError) -> LakeError {
    move |e| LakeError::Delta(format!("{what}: {e}"))
}

/// The URL of the table location `uri` (a path, `file://` or `s3://` URL), with the
/// S3 handlers registered first. A location no store handles is a permanent error.
fn location(uri: &str) -> Result<url::Url> {
    crate::s3::register();
    ensure_table_uri(uri).map_err(|e| LakeError::Invalid(format!("table location '{uri}': {e}")))
}

/// What is at a table location: a loaded table, or a handle to create one with.
enum Found {
    Table(DeltaTable),
    Missing(DeltaTable),
}

/// Looks at `uri` and loads the table there, if there is one. Looks before loading:
/// loading a missing table logs an error in the Delta kernel.
async fn look_up(uri: &str) -> Result<Found> {
    let url = location(uri)?;
    let mut table = DeltaTableBuilder::from_url(url)
        .and_then(|builder| lake_table(&builder))
        .map_err(delta_error(format!("table location '{uri}'")))?;
    let exists = table
        .verify_deltatable_existence()
        .await
        .map_err(delta_error(format!("looking for table {uri}")))?;
    if !exists {
        return Ok(Found::Missing(table));
    }
    table
        .load()
        .await
        .map_err(delta_error(format!("loading table {uri}")))?;
    Ok(Found::Table(table))
}

/// The table at `uri`, or `None` when there is none yet; creates nothing, not even the
/// directory of a local table.
pub async fn open_existing(uri: &str) -> Result<Option<DeltaTable>> {
    let local = match uri.strip_prefix("file://") {
        Some(path) => Some(path),
        None => (!uri.contains("://")).then_some(uri),
    };
    if let Some(path) = local {
        // One metadata lookup on a local disk: not worth a blocking task.
        if !std::path::Path::new(path).join("_delta_log").is_dir() {
            return Ok(None);
        }
    }
    Ok(match look_up(uri).await? {
        Found::Table(table) => Some(table),
        Found::Missing(_) => None,
    })
}

/// Opens the table at `uri` (a path or object store URL), creating it with `schema` and
/// `partition_by` if it does not exist yet. Several writers may race to create it.
pub async fn open_or_create(
    uri: &str,
    schema: &SchemaRef,
    partition_by: &[String],
) -> Result<DeltaTable> {
    let url = location(uri)?;
    let table = match look_up(uri).await? {
        Found::Table(table) => return Ok(table),
        Found::Missing(table) => table,
    };
    let columns: StructType = table_schema(schema)
        .try_into_kernel()
        .map_err(|e| LakeError::Schema(format!("the stream's schema as a Delta schema: {e}")))?;
    // The creation must be version 0 or nothing: a creator that lost the race must not
    // retry at the next version, or the table would get a second creation commit (and a
    // second table id, which readers tracking the id refuse).
    let created = table
        .create()
        .with_columns(columns.fields().cloned())
        .with_partition_columns(partition_by.to_vec())
        .with_save_mode(SaveMode::Ignore)
        .with_commit_properties(CommitProperties::default().with_max_retries(0))
        .await;
    match created {
        Ok(table) => Ok(table),
        Err(lost) => {
            // Another writer created it first; anything else is a real failure.
            let mut table = DeltaTable::try_from_url(url)
                .await
                .map_err(delta_error(format!("opening table {uri}")))?;
            let exists = table
                .verify_deltatable_existence()
                .await
                .map_err(delta_error(format!("looking for table {uri}")))?;
            if !exists {
                return Err(delta_error(format!("creating table {uri}"))(lost));
            }
            table
                .load()
                .await
                .map_err(delta_error(format!("loading table {uri}")))?;
            Ok(table)
        }
    }
}

/// The newest epoch application `app_id` committed to the table, after reloading it.
pub async fn committed_epoch(table: &mut DeltaTable, app_id: &str) -> Result<Option<i64>> {
    table
        .update_state()
        .await
        .map_err(delta_error("reloading the table".into()))?;
    Ok(EpochCommitter::open(table, app_id).await?.committed_epoch())
}

/// Commits `adds` as epoch `epoch` of application `app_id` once, as
/// [`EpochCommitter::commit`] does, and reloads `table` to include it. For one-off
/// commits (fixtures, tools); a writer committing epoch after epoch keeps an
/// [`EpochCommitter`], whose commits do not reload the table.
pub async fn commit_epoch(
    table: &mut DeltaTable,
    app_id: &str,
    epoch: i64,
    adds: Vec<Add>,
    evolve_to: Option<&SchemaRef>,
) -> Result<Option<u64>> {
    let mut committer = EpochCommitter::open(table, app_id).await?;
    let committed = committer.commit(epoch, adds, evolve_to).await?;
    table
        .update_state()
        .await
        .map_err(delta_error("reloading the table".into()))?;
    Ok(committed)
}
