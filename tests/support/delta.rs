//! Reading Delta tables back in the tests, with DataFusion as a user would.

use arrow::record_batch::RecordBatch;
use arrow::util::pretty::pretty_format_batches;
use datafusion::prelude::SessionContext;

/// Runs `sql` over the latest version of the Delta table at `uri`, registered as `t`.
pub async fn query_table(uri: &str, sql: &str) -> Vec<RecordBatch> {
    query_tables(&[("t", uri)], sql).await
}

/// Runs `sql` over the latest versions of Delta tables, each registered under its name.
pub async fn query_tables(tables: &[(&str, &str)], sql: &str) -> Vec<RecordBatch> {
    let ctx = SessionContext::new();
    for (name, uri) in tables {
        let url = deltalake::ensure_table_uri(uri).unwrap();
        let mut table = deltalake::DeltaTable::try_from_url(url).await.unwrap();
        table.load().await.unwrap();
        table.update_datafusion_session(&ctx.state()).unwrap();
        ctx.register_table(*name, table.table_provider().await.unwrap())
            .unwrap();
    }
    ctx.sql(sql).await.unwrap().collect().await.unwrap()
}

/// `sql`'s result over the tables as an aligned text table, for exact comparisons.
pub async fn query_text(tables: &[(&str, &str)], sql: &str) -> String {
    pretty_format_batches(&query_tables(tables, sql).await)
        .unwrap()
        .to_string()
}

/// What one version of a table holds, read back by time travel.
#[derive(Debug)]
pub struct VersionRows {
    pub version: u64,
    /// Rows in the version's files.
    pub rows: usize,
    /// Rows the appends up to this version left (the newest non-compaction version's rows).
    pub appended: usize,
    /// Whether the version is a compaction (`OPTIMIZE`) commit.
    pub compaction: bool,
}

/// Every version of the local table at `table`, oldest first.
pub async fn rows_by_version(table: &str) -> Vec<VersionRows> {
    let latest = weir_lake::table::open_existing(table)
        .await
        .unwrap()
        .unwrap();
    let newest = latest.version().unwrap();
    let mut appended = 0;
    let mut out = Vec::new();
    for version in 0..=newest {
        let mut at = weir_lake::table::open_existing(table)
            .await
            .unwrap()
            .unwrap();
        at.load_version(version).await.unwrap();
        let rows: usize = at
            .snapshot()
            .unwrap()
            .log_data()
            .iter()
            .map(|f| f.num_records().unwrap())
            .sum();
        let commit = std::path::Path::new(table).join(format!("_delta_log/{version:020}.json"));
        let compaction = std::fs::read_to_string(commit)
            .unwrap()
            .contains(r#""operation":"OPTIMIZE""#);
        if !compaction {
            appended = rows;
        }
        out.push(VersionRows {
            version,
            rows,
            appended,
            compaction,
        });
    }
    out
}

/// The number of files the newest version of the table at `table` holds.
pub async fn live_files(table: &str) -> usize {
    weir_lake::table::open_existing(table)
        .await
        .unwrap()
        .unwrap()
        .snapshot()
        .unwrap()
        .log_data()
        .num_files()
}
