//! File skipping shown by `EXPLAIN`: for each scan of a lake table, how many of the data
//! files of the version it reads the scan opens, and how many partition values and file
//! statistics let it skip.
//!
//! The catalog and the time-travel functions record each table provider they hand out for
//! a statement ([`HandedOut`]) with the table's name, version and file count. `EXPLAIN`
//! then finds every scan of the optimised plan among them and asks the provider for that
//! scan's plan, with the scan's projection, filters and limit, as the physical planner
//! does; the files in that plan are the files the query reads. Nothing depends on where
//! the files are (a folder or a bucket).

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use datafusion::catalog::TableProvider;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::datasource::physical_plan::FileScanConfig;
use datafusion::datasource::source::DataSourceExec;
use datafusion::datasource::source_as_provider;
use datafusion::execution::SessionState;
use datafusion::logical_expr::expr_rewriter::unnormalize_cols;
use datafusion::logical_expr::{LogicalPlan, TableScan};
use datafusion::physical_plan::ExecutionPlan;

use crate::error::Result;
use crate::table_figures::{Figures, TableFigures};

/// The label of the `EXPLAIN` rows this module adds.
pub const PLAN_TYPE: &str = "lake_file_skipping";

/// A lake table as a provider reads it.
#[derive(Debug, Clone)]
pub struct TableRead {
    /// The table's qualified name.
    pub table: String,
    /// The version read by time travel; `None` for the newest.
    pub pinned_version: Option<i64>,
    /// Data files in the version read.
    pub files: usize,
    /// The version's rows and column spans, for the join order.
    pub figures: TableFigures,
}

/// The lake table providers handed out for the statement being planned.
#[derive(Debug, Default)]
pub struct HandedOut {
    providers: Mutex<Vec<(Arc<dyn TableProvider>, TableRead)>>,
}

impl HandedOut {
    /// Notes that `provider` reads `read`.
    pub fn record(&self, provider: &Arc<dyn TableProvider>, read: TableRead) {
        self.providers
            .lock()
            .expect("not poisoned")
            .push((provider.clone(), read));
    }

    /// Forgets every provider: a new statement starts.
    pub fn clear(&self) {
        self.providers.lock().expect("not poisoned").clear();
    }

    /// What the table version `scan` reads holds, when it is a lake table handed out for
    /// this statement and its files have row counts.
    pub fn scan_figures(&self, scan: &TableScan) -> Option<Figures> {
        let provider = source_as_provider(&scan.source).ok()?;
        self.find(&provider)?.figures.get().cloned()
    }

    fn find(&self, provider: &Arc<dyn TableProvider>) -> Option<TableRead> {
        let wanted = Arc::as_ptr(provider) as *const ();
        self.providers
            .lock()
            .expect("not poisoned")
            .iter()
            .find(|(p, _)| Arc::as_ptr(p) as *const () == wanted)
            .map(|(_, read)| read.clone())
    }
}

/// One line per scan of a lake table in `plan` (a statement's logical plan, before
/// optimisation), sorted, e.g.
/// `bids: reads 2 of 8 files (6 skipped by partition values and statistics)` or, for time
/// travel, `bids (version 2): reads 1 of 2 files (...)`. A query answered from statistics
/// alone reads 0 files.
pub async fn describe(
    state: &SessionState,
    handed: &HandedOut,
    plan: &LogicalPlan,
) -> Result<Vec<String>> {
    let optimized = state.optimize(plan)?;
    let mut scans: Vec<TableScan> = Vec::new();
    optimized.apply_with_subqueries(|node| {
        if let LogicalPlan::TableScan(scan) = node {
            scans.push(scan.clone());
        }
        Ok(TreeNodeRecursion::Continue)
    })?;
    let mut lines = Vec::new();
    for scan in scans {
        let Ok(provider) = source_as_provider(&scan.source) else {
            continue;
        };
        let Some(read) = handed.find(&provider) else {
            continue;
        };
        // As the physical planner calls it: filters without the query's qualifiers.
        let filters: Vec<_> = unnormalize_cols(scan.filters.iter().cloned());
        let physical = provider
            .scan(state, scan.projection.as_ref(), &filters, scan.fetch)
            .await?;
        let mut files = BTreeSet::new();
        collect_files(&physical, &mut files);
        let name = match read.pinned_version {
            Some(version) => format!("{} (version {version})", read.table),
            None => read.table,
        };
        lines.push(format!(
            "{name}: reads {} of {} files ({} skipped by partition values and statistics)",
            files.len(),
            read.files,
            read.files.saturating_sub(files.len())
        ));
    }
    lines.sort();
    Ok(lines)
}

/// The distinct paths of the files the scans in `plan` read (a file split into byte
/// ranges counts once).
fn collect_files(plan: &Arc<dyn ExecutionPlan>, files: &mut BTreeSet<String>) {
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
