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
