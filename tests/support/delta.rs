//! Reading Delta tables back in the tests, with DataFusion as a user would.

use arrow::record_batch::RecordBatch;
use datafusion::prelude::SessionContext;

/// Runs `sql` over the latest version of the Delta table at `uri`, registered as `t`.
pub async fn query_table(uri: &str, sql: &str) -> Vec<RecordBatch> {
    let url = deltalake::ensure_table_uri(uri).unwrap();
    let mut table = deltalake::DeltaTable::try_from_url(url).await.unwrap();
    table.load().await.unwrap();
    let ctx = SessionContext::new();
    table.update_datafusion_session(&ctx.state()).unwrap();
    ctx.register_table("t", table.table_provider().await.unwrap())
        .unwrap();
    ctx.sql(sql).await.unwrap().collect().await.unwrap()
}
