//! File skipping shown by `EXPLAIN`: for each lake table a query scans, how many of its
//! data files the scan reads, and how many partition values and file statistics let it
//! skip.

use std::collections::BTreeMap;
use std::sync::Arc;

use datafusion::datasource::physical_plan::FileScanConfig;
use datafusion::datasource::source::DataSourceExec;
use datafusion::physical_plan::ExecutionPlan;
use deltalake::DeltaTable;

use crate::error::Result;
use crate::lake::Lake;

/// The label of the `EXPLAIN` rows this module adds.
pub const PLAN_TYPE: &str = "lake_file_skipping";

/// One line per lake table the query reads (`tables`: the names its logical plan scans),
/// e.g. `bids: reads 2 of 8 files (6 skipped by partition values and statistics)`. A
/// query answered from statistics alone reads 0 files.
pub async fn describe(
    lake: &Lake,
    tables: &[String],
    plan: &Arc<dyn ExecutionPlan>,
) -> Result<Vec<String>> {
    let mut scanned = Vec::new();
    collect_files(plan, &mut scanned);
    let mut per_table: BTreeMap<String, (usize, std::path::PathBuf)> = BTreeMap::new();
    for table in lake.tables()? {
        let root = std::fs::canonicalize(&table.path).unwrap_or(table.path.clone());
        let prefix = format!("{}/", root.display().to_string().trim_start_matches('/'));
        let read = scanned
            .iter()
            .filter(|file| file.trim_start_matches('/').starts_with(&prefix))
            .count();
        let name = table.qualified_name();
        let named = tables.iter().any(|t| {
            *t == name || *t == format!("public.{name}") || t.ends_with(&format!(".{name}"))
        });
        if read > 0 || named {
            per_table.insert(name, (read, table.path.clone()));
        }
    }
    let mut lines = Vec::new();
    for (name, (read, path)) in per_table {
        let uri = path.display().to_string();
        let mut table = DeltaTable::try_from_url(deltalake::ensure_table_uri(&uri)?).await?;
        table.load().await?;
        let total = table.snapshot()?.log_data().iter().count();
        lines.push(format!(
            "{name}: reads {read} of {total} files ({} skipped by partition values and statistics)",
            total.saturating_sub(read)
        ));
    }
    Ok(lines)
}

/// The paths of every file a scan in `plan` reads.
fn collect_files(plan: &Arc<dyn ExecutionPlan>, files: &mut Vec<String>) {
    if let Some(source) = plan.downcast_ref::<DataSourceExec>() {
        if let Some(config) = source.data_source().downcast_ref::<FileScanConfig>() {
            for group in &config.file_groups {
                files.extend(
                    group
                        .files()
                        .iter()
                        .map(|f| f.object_meta.location.to_string()),
                );
            }
        }
    }
    for child in plan.children() {
        collect_files(child, files);
    }
}
