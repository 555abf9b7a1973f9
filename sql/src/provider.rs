//! A loaded Delta table as the table provider a lake session scans.

use std::sync::Arc;

use datafusion::catalog::TableProvider;
use datafusion::execution::runtime_env::RuntimeEnv;
use datafusion::execution::SessionStateBuilder;
use deltalake::DeltaTable;

use crate::direct_scan::DirectScanTable;
use crate::error::Result;
use crate::skipping::{HandedOut, TableRead};
use crate::table_figures::TableFigures;

/// The provider for `delta` (the table named `table`) at the version it has loaded, with
/// its object store registered in `runtime` (the session's), and what it reads; both are
/// recorded in `handed`. `pinned_version` is the version time travel asked for.
///
/// Its scans take their settings from DataFusion's defaults: filters are applied after
/// decoding (`pushdown_filters` off) and used to skip files, row groups and pages, instead
/// of deltalake's own default of evaluating them row by row inside the Parquet reader,
/// which `examples/sql_bench.rs` measured slower for all its full and range scans (only
/// the point lookup gained, by about 1 ms); strings are read as string views.
pub async fn provider(
    delta: &DeltaTable,
    table: String,
    pinned_version: Option<i64>,
    runtime: Arc<RuntimeEnv>,
    handed: &HandedOut,
) -> Result<(Arc<dyn TableProvider>, TableRead)> {
    let state = SessionStateBuilder::new().with_runtime_env(runtime).build();
    delta.update_datafusion_session(&state)?;
    let deltalake_provider = delta.table_provider().with_session(Arc::new(state)).await?;
    let snapshot = delta.snapshot()?;
    let provider: Arc<dyn TableProvider> = Arc::new(DirectScanTable::new(
        snapshot.clone(),
        deltalake_provider,
        delta.log_store().root_url(),
    ));
    let read = TableRead {
        table,
        pinned_version,
        files: snapshot.log_data().num_files(),
        figures: TableFigures::new(snapshot.clone()),
    };
    handed.record(&provider, read.clone());
    Ok((provider, read))
}
