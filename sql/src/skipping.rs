//! File skipping shown by `EXPLAIN`: for each lake table a query scans, how many of its
//! data files the scan reads, and how many partition values and file statistics let it
//! skip.

use std::collections::BTreeMap;
use std::sync::Arc;

use datafusion::datasource::physical_plan::FileScanConfig;
use datafusion::datasource::source::DataSourceExec;
use datafusion::physical_plan::ExecutionPlan;
use object_store::path::Path;

use crate::error::{Result, SqlError};
use crate::lake::{Lake, LakeTable};

/// The label of the `EXPLAIN` rows this module adds.
pub const PLAN_TYPE: &str = "lake_file_skipping";

/// One line per lake table the query reads (`tables`: the lake's tables; `scans`: the
/// names the query's logical plan scans), e.g.
/// `bids: reads 2 of 8 files (6 skipped by partition values and statistics)`. A query
/// answered from statistics alone reads 0 files.
///
/// A scanned file belongs to the table whose folder holds it: scans name files by their
/// path in the table's store (the file system or the bucket), which is the table URL's
/// path followed by the file's path in the table.
pub async fn describe(
    lake: &Lake,
    tables: &[LakeTable],
    scans: &[String],
    plan: &Arc<dyn ExecutionPlan>,
) -> Result<Vec<String>> {
    let mut scanned = Vec::new();
    collect_files(plan, &mut scanned);
    let mut per_table: BTreeMap<String, (usize, &LakeTable)> = BTreeMap::new();
    for table in tables {
        let folder = Path::from_url_path(table.url.path()).map_err(|e| SqlError::Lake {
            location: table.url.to_string(),
            message: e.to_string(),
        })?;
        let read = scanned
            .iter()
            .filter(|file| file.prefix_matches(&folder))
            .count();
        let name = table.qualified_name();
        let named = scans.iter().any(|t| {
            *t == name || *t == format!("public.{name}") || t.ends_with(&format!(".{name}"))
        });
        if read > 0 || named {
            per_table.insert(name, (read, table));
        }
    }
    let mut lines = Vec::new();
    for (name, (read, table)) in per_table {
        let mut table = lake.delta_table(table)?;
        table.load().await?;
        let total = table.snapshot()?.log_data().iter().count();
        lines.push(format!(
            "{name}: reads {read} of {total} files ({} skipped by partition values and statistics)",
            total.saturating_sub(read)
        ));
    }
    Ok(lines)
}

/// The paths (in their stores) of every file a scan in `plan` reads.
fn collect_files(plan: &Arc<dyn ExecutionPlan>, files: &mut Vec<Path>) {
    if let Some(source) = plan.downcast_ref::<DataSourceExec>() {
        if let Some(config) = source.data_source().downcast_ref::<FileScanConfig>() {
            for group in &config.file_groups {
                files.extend(group.files().iter().map(|f| f.object_meta.location.clone()));
            }
        }
    }
    for child in plan.children() {
        collect_files(child, files);
    }
}
