//! The fixture lake of the SQL tests: Delta tables with several versions, made with the
//! connectors' Delta writer as jobs make them.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use arrow::array::{Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use deltalake::writer::{DeltaWriter as _, RecordBatchWriter};
use weir_lake::table::{commit_epoch, open_or_create};

/// The schema of the `bids` tables: auction, price, channel.
pub fn bids_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("auction", DataType::Int64, false),
        Field::new("price", DataType::Int64, false),
        Field::new("channel", DataType::Utf8, false),
    ]))
}

/// A batch of bids, one `(auction, price, channel)` per row.
pub fn bids(rows: &[(i64, i64, &str)]) -> RecordBatch {
    RecordBatch::try_new(
        bids_schema(),
        vec![
            Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.0))),
            Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.1))),
            Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.2))),
        ],
    )
    .unwrap()
}

/// A Delta table at `path`: version 0 creates it, then one commit per batch (epochs 1, 2...
/// of app `fixture`). Returns each commit's time, taken just after it.
pub async fn table(path: &Path, schema: &SchemaRef, batches: &[RecordBatch]) -> Vec<String> {
    let mut table = open_or_create(path.to_str().unwrap(), schema, &[])
        .await
        .unwrap();
    let mut times = Vec::new();
    for (i, batch) in batches.iter().enumerate() {
        tokio::time::sleep(Duration::from_millis(20)).await;
        let mut writer = RecordBatchWriter::for_table(&table).unwrap();
        writer.write(batch.clone()).await.unwrap();
        let adds = writer.flush().await.unwrap();
        commit_epoch(&mut table, "fixture", i as i64 + 1, adds, None)
            .await
            .unwrap()
            .unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
        times.push(chrono::Utc::now().to_rfc3339());
    }
    times
}

/// The fixture lake: `bids` (versions 0 to 3) and `logs.access` (versions 0 and 1).
/// Returns the times just after bids' versions 1, 2 and 3.
pub async fn lake(root: &Path) -> Vec<String> {
    let times = table(
        &root.join("bids"),
        &bids_schema(),
        &[
            bids(&[(1, 10, "web"), (2, 20, "app")]),
            bids(&[(3, 30, "web")]),
            bids(&[(4, 40, "web"), (5, 50, "partner")]),
        ],
    )
    .await;
    let access = Arc::new(Schema::new(vec![
        Field::new("channel", DataType::Utf8, false),
        Field::new("owner", DataType::Utf8, false),
    ]));
    let rows = RecordBatch::try_new(
        access.clone(),
        vec![
            Arc::new(StringArray::from(vec!["web", "app", "partner"])),
            Arc::new(StringArray::from(vec!["ana", "bo", "cy"])),
        ],
    )
    .unwrap();
    table(&root.join("logs").join("access"), &access, &[rows]).await;
    times
}

/// The result of the last statement of `sql` as an aligned table, or the error's message.
pub async fn text(session: &weir_sql::QuerySession, sql: &str) -> String {
    match session.sql(sql).await {
        Ok(outputs) => {
            let last = outputs.last().unwrap();
            arrow::util::pretty::pretty_format_batches_with_schema(
                last.schema.clone(),
                &last.batches,
            )
            .unwrap()
            .to_string()
        }
        Err(e) => format!("error: {e}"),
    }
}
