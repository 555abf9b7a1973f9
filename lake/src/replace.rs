//! Replacing one partition of a table in a commit, as Delta's `replaceWhere` on partition
//! columns: the commit removes every file of the partition the table holds and adds the
//! new files, so readers see the old rows or the new ones, never both, and writing the
//! same partition again is idempotent.

use std::collections::BTreeMap;

use deltalake::kernel::{Add, Remove};
use deltalake::logstore::LogStoreRef;
use deltalake::DeltaTable;

use crate::error::{LakeError, Result};

/// A partition to replace: a value for each of some of the table's partition columns.
/// Invariant: not empty. A file belongs to it when its partition values equal these.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionReplace {
    values: BTreeMap<String, String>,
}

impl PartitionReplace {
    /// The partition where each column of `values` holds its value; `None` when `values`
    /// is empty (nothing to replace).
    pub fn new(values: BTreeMap<String, String>) -> Option<Self> {
        (!values.is_empty()).then_some(Self { values })
    }

    /// The partition as a predicate, for the commit's operation: `date = '2026-11-01'`.
    pub fn predicate(&self) -> String {
        self.values
            .iter()
            .map(|(column, value)| format!("{column} = '{}'", value.replace('\'', "''")))
            .collect::<Vec<_>>()
            .join(" AND ")
    }

    /// Whether a file with `partition_values` belongs to the partition.
    fn holds(&self, partition_values: &std::collections::HashMap<String, Option<String>>) -> bool {
        self.values.iter().all(|(column, value)| {
            partition_values
                .get(column)
                .is_some_and(|v| v.as_deref() == Some(value.as_str()))
        })
    }

    /// Refuses a replace of columns the table is not partitioned by, and new files
    /// outside the partition (nothing of another partition may be written by a run that
    /// replaces this one).
    pub(crate) fn check(
        &self,
        partition_columns: &[String],
        adds: &[Add],
        uri: &str,
    ) -> Result<()> {
        if let Some(column) = self
            .values
            .keys()
            .find(|column| !partition_columns.contains(column))
        {
            return Err(LakeError::Invalid(format!(
                "cannot replace the partition {} of table {uri}: the table is not partitioned by `{column}` (its partition columns: [{}])",
                self.predicate(),
                partition_columns.join(", ")
            )));
        }
        if let Some(outside) = adds.iter().find(|add| {
            let values = add
                .partition_values
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            !self.holds(&values)
        }) {
            let values: Vec<String> = outside
                .partition_values
                .iter()
                .map(|(k, v)| format!("{k} = {}", v.as_deref().unwrap_or("null")))
                .collect();
            return Err(LakeError::Invalid(format!(
                "the rows written to table {uri} include partition {} while the run replaces partition {}; nothing was committed",
                values.join(", "),
                self.predicate()
            )));
        }
        Ok(())
    }

    /// `remove` actions of every file of the partition in version `version` of the table
    /// in `log_store`. Loads that version's file list: once per replacing commit.
    pub(crate) async fn removes(
        &self,
        log_store: LogStoreRef,
        version: u64,
    ) -> Result<Vec<Remove>> {
        let url = log_store.root_url().clone();
        let delta = |e: deltalake::DeltaTableError| {
            LakeError::Delta(format!(
                "listing the files of partition {} in version {version} of {url}: {e}",
                self.predicate()
            ))
        };
        let mut table = DeltaTable::new(log_store);
        table.load_version(version).await.map_err(delta)?;
        let snapshot = table.snapshot().map_err(delta)?;
        Ok(snapshot
            .log_data()
            .iter()
            .filter(|file| self.holds(&file.partition_values_map()))
            .map(|file| file.remove_action(true))
            .collect())
    }
}
