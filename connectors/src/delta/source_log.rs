//! One version of a followed table's log turned into the data files whose rows it adds,
//! under Delta's change semantics (see [`super::source`]).

use std::collections::{HashMap, HashSet};

use deltalake::kernel::{Action, StructType};
use deltalake::logstore::get_actions;

use super::source::TableFeed;
use crate::error::{ConnectorError, Result};

/// A data file a version added, to be read whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct DataFile {
    /// The `add` action's path: relative to the table root, percent-encoded.
    pub(super) path: String,
    pub(super) partition_values: HashMap<String, Option<String>>,
}

/// The version's commit, if the log holds it. A version the log does not hold while a
/// later one exists was removed by log retention: an error, never a silent gap.
pub(super) async fn read_version(feed: &TableFeed, version: u64) -> Result<Option<Vec<DataFile>>> {
    let read = |v: u64| async move {
        feed.log_store.read_commit_entry(v).await.map_err(|e| {
            ConnectorError::Delta(format!("reading version {v} of table {}: {e}", feed.uri))
        })
    };
    let Some(bytes) = read(version).await? else {
        let bounded_gap = feed.end.is_some_and(|end| version <= end);
        if bounded_gap || read(version + 1).await?.is_some() {
            return Err(ConnectorError::Unreadable(format!(
                "version {version} of table {} is no longer in its log (removed by log retention) but was not read yet",
                feed.uri
            )));
        }
        return Ok(None);
    };
    let actions = get_actions(version, &bytes).map_err(|e| {
        ConnectorError::Delta(format!(
            "reading version {version} of table {}: {e}",
            feed.uri
        ))
    })?;
    added_files(feed, version, actions).map(Some)
}

/// The files whose rows `actions` (version `version`) add, in log order.
pub(super) fn added_files(
    feed: &TableFeed,
    version: u64,
    actions: Vec<Action>,
) -> Result<Vec<DataFile>> {
    let uri = &feed.uri;
    let mut files = Vec::new();
    let mut seen = HashSet::new();
    let mut removed = 0usize;
    for action in actions {
        match action {
            Action::Add(add) if add.data_change => {
                if add.deletion_vector.is_some() {
                    return Err(ConnectorError::Unreadable(format!(
                        "version {version} of table {uri} adds file {} with a deletion vector, which the Delta source does not read",
                        add.path
                    )));
                }
                if seen.insert(add.path.clone()) {
                    files.push(DataFile {
                        path: add.path,
                        partition_values: add.partition_values,
                    });
                }
            }
            Action::Remove(remove) if remove.data_change => removed += 1,
            Action::Metadata(metadata) if version > feed.built_at => {
                let schema = metadata.parse_schema().map_err(|e| {
                    ConnectorError::Schema(format!(
                        "reading the schema of version {version} of table {uri}: {e}"
                    ))
                })?;
                let same_partitions = metadata.partition_columns() == feed.partition_columns;
                if !same_columns(&schema, &feed.table_schema) || !same_partitions {
                    return Err(ConnectorError::Schema(format!(
                        "version {version} of table {uri} changes the schema or the partition columns; the source reads the schema of version {} (restart the job to read the new one)",
                        feed.built_at
                    )));
                }
            }
            _ => {}
        }
    }
    if removed > 0 {
        if !feed.ignore_changes {
            return Err(ConnectorError::Unreadable(format!(
                "version {version} of table {uri} removes data ({removed} files: a delete, update, merge or overwrite); the Delta source reads appended rows only: set `ignore_changes: true` to skip removals (the rows of rewritten files are then read again)"
            )));
        }
        tracing::warn!(table = %uri, version, removed, "skipping the removals of a version that deletes or rewrites data (ignore_changes); its added files are read");
    }
    Ok(files)
}

/// Whether two Delta schemas have the same columns, in order, of the same types and
/// nullability (column metadata aside).
fn same_columns(a: &StructType, b: &StructType) -> bool {
    a.fields().len() == b.fields().len()
        && a.fields().zip(b.fields()).all(|(x, y)| {
            x.name() == y.name()
                && x.data_type() == y.data_type()
                && x.is_nullable() == y.is_nullable()
        })
}
