//! Delta tables as writers use them: open or create, read the last committed epoch of an
//! application, commit staged files together with that application's new epoch. Opening
//! any location registers the S3 handlers first ([`crate::s3::register`]).

use arrow::datatypes::SchemaRef;
use deltalake::kernel::engine::arrow_conversion::TryIntoKernel as _;
use deltalake::kernel::transaction::{
    CommitBuilder, CommitProperties, TableReference, TransactionError,
};
use deltalake::kernel::{Action, Add, MetadataExt as _, StructType, Transaction};
use deltalake::protocol::{DeltaOperation, SaveMode};
use deltalake::{ensure_table_uri, DeltaTable, DeltaTableBuilder, DeltaTableError};

use crate::error::{LakeError, Result};
use crate::schema::{new_columns, table_schema};

/// How often a commit is tried again after losing to a concurrent writer.
const COMMIT_ATTEMPTS: usize = 10;

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
        .and_then(DeltaTableBuilder::build)
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
    let snapshot = table
        .snapshot()
        .map_err(delta_error("reading the table state".into()))?;
    snapshot
        .transaction_version(table.log_store().as_ref(), app_id)
        .await
        .map_err(delta_error(format!(
            "reading the epoch of application '{app_id}'"
        )))
}

/// Commits `adds` as epoch `epoch` of application `app_id`, in one transaction that also
/// records the epoch, unless that epoch (or a later one) is already committed. Retries
/// when a concurrent writer (a compaction, another job) committed first. Returns the new
/// table version, or `None` when there was nothing to do.
///
/// With `evolve_to` (the stream's schema, when schema evolution is on), columns of the
/// stream the table lacks are added to it, as nullable columns, in the same transaction.
pub async fn commit_epoch(
    table: &mut DeltaTable,
    app_id: &str,
    epoch: i64,
    adds: Vec<Add>,
    evolve_to: Option<&SchemaRef>,
) -> Result<Option<u64>> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        if committed_epoch(table, app_id)
            .await?
            .is_some_and(|done| done >= epoch)
        {
            return Ok(None);
        }
        let snapshot = table
            .snapshot()
            .map_err(delta_error("reading the table state".into()))?;
        let partition_columns = snapshot.metadata().partition_columns().to_vec();
        let operation = DeltaOperation::Write {
            mode: SaveMode::Append,
            partition_by: (!partition_columns.is_empty()).then_some(partition_columns),
            predicate: None,
        };
        let properties = CommitProperties::default()
            .with_application_transaction(Transaction::new(app_id, epoch));
        let mut actions: Vec<Action> = adds.iter().cloned().map(Action::Add).collect();
        if let Some(stream) = evolve_to {
            let uri = table.table_url().to_string();
            let current = snapshot.schema();
            let added = new_columns(stream, &current, &uri)?;
            if !added.is_empty() {
                let widening = |e: &dyn std::fmt::Display| {
                    LakeError::Delta(format!("widening the schema of {uri}: {e}"))
                };
                let merged = StructType::try_new(current.fields().cloned().chain(added))
                    .map_err(|e| widening(&e))?;
                let metadata = snapshot
                    .metadata()
                    .clone()
                    .with_schema(&merged)
                    .map_err(|e| widening(&e))?;
                actions.push(Action::Metadata(metadata));
            }
        }
        let result = CommitBuilder::from(properties)
            .with_actions(actions)
            .build(
                Some(snapshot as &dyn TableReference),
                table.log_store(),
                operation,
            )
            .await;
        match result {
            Ok(done) => {
                let version = done.version();
                table.state = Some(done.snapshot());
                return Ok(Some(version));
            }
            Err(DeltaTableError::Transaction {
                source: TransactionError::CommitConflict(_) | TransactionError::MaxCommitAttempts(_),
            })
            | Err(DeltaTableError::VersionAlreadyExists(_))
                if attempt < COMMIT_ATTEMPTS =>
            {
                tracing::warn!(
                    app_id,
                    epoch,
                    attempt,
                    "Delta commit conflict; trying again"
                );
            }
            Err(e) => {
                return Err(LakeError::Delta(format!(
                    "committing epoch {epoch} of application '{app_id}': {e}"
                )))
            }
        }
    }
}
