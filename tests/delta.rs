//! The exactly-once Delta sink on real Delta tables on disk: a generator job killed at
//! random moments and restored commits every row exactly once; committing an epoch twice
//! or from two jobs with the same app id changes nothing the second time.

mod support;

use std::time::Duration;

use arrow::compute::cast;
use arrow::datatypes::{DataType, TimeUnit};
use arrow::record_batch::RecordBatch;
use arrow::util::display::{ArrayFormatter, FormatOptions};
use deltalake::writer::{DeltaWriter as _, RecordBatchWriter};
use support::delta::query_table;
use weir_connectors::delta::table::{commit_epoch, committed_epoch, open_or_create};
use weir_connectors::delta::{add_delta_sink, DeltaSinkConfig};
use weir_connectors::generator::{BidGenerator, BidGeneratorConfig};
use weir_engine::sinks::CollectSink;
use weir_engine::{GraphBuilder, JobGraph, RuntimeConfig};

fn generator() -> std::sync::Arc<BidGenerator> {
    BidGenerator::new(BidGeneratorConfig {
        events: Some(60_000),
        batch_size: 500,
        rate_limit: Some(300_000),
        ..Default::default()
    })
    .unwrap()
}

fn job(table: &str, parallelism: usize) -> JobGraph {
    let mut g = GraphBuilder::new();
    let bids = g.source("bids", generator(), parallelism, None).unwrap();
    add_delta_sink(
        &mut g,
        "lake",
        DeltaSinkConfig::new(table, "bids-job"),
        bids.main().forward(),
        parallelism,
    )
    .unwrap();
    g.build().unwrap()
}

/// Rows as `a|b|c` lines with timestamps in milliseconds, sorted.
fn lines(batches: &[RecordBatch]) -> Vec<String> {
    let mut out = Vec::new();
    for b in batches {
        let columns: Vec<_> = b
            .columns()
            .iter()
            .map(|c| match c.data_type() {
                DataType::Timestamp(_, tz) => {
                    cast(c, &DataType::Timestamp(TimeUnit::Millisecond, tz.clone())).unwrap()
                }
                _ => c.clone(),
            })
            .collect();
        let options = FormatOptions::default();
        let formatters: Vec<_> = columns
            .iter()
            .map(|c| ArrayFormatter::try_new(c.as_ref(), &options).unwrap())
            .collect();
        for r in 0..b.num_rows() {
            out.push(
                formatters
                    .iter()
                    .map(|f| f.value(r).to_string())
                    .collect::<Vec<_>>()
                    .join("|"),
            );
        }
    }
    out.sort();
    out
}

async fn table_rows(table: &str) -> Vec<String> {
    lines(
        &query_table(
            table,
            "SELECT auction, bidder, price, channel, event_time FROM t",
        )
        .await,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_jobs_commit_every_row_exactly_once() {
    let expected = {
        let mut g = GraphBuilder::new();
        let bids = g.source("bids", generator(), 2, None).unwrap();
        let out = CollectSink::new();
        g.operator("out", &out, vec![bids.main().forward()], 1)
            .unwrap();
        g.build()
            .unwrap()
            .run(&RuntimeConfig::default())
            .await
            .unwrap();
        lines(&out.batches())
    };
    assert_eq!(expected.len(), 60_000);

    let dir = tempfile::tempdir().unwrap();
    let table = dir.path().join("bids").to_str().unwrap().to_string();
    let config = RuntimeConfig {
        checkpoint_interval: Some(Duration::from_millis(25)),
        checkpoint_location: Some(dir.path().join("checkpoints").to_str().unwrap().to_string()),
        ..RuntimeConfig::default()
    };
    for (after_ms, parallelism) in [(60u64, 2usize), (45, 3), (70, 1), (50, 2)] {
        let job = job(&table, parallelism).start(&config).await.unwrap();
        let _ = tokio::time::timeout(Duration::from_millis(after_ms), job.join()).await;
    }
    job(&table, 2).run(&config).await.unwrap();

    let got = table_rows(&table).await;
    assert_eq!(got.len(), expected.len(), "rows in the table");
    assert!(
        got == expected,
        "the table's rows differ from the generated ones"
    );
}

async fn stage(table: &deltalake::DeltaTable, rows: &[&str]) -> Vec<deltalake::kernel::Add> {
    let schema = std::sync::Arc::new(arrow::datatypes::Schema::new(vec![
        arrow::datatypes::Field::new("v", DataType::Utf8, false),
    ]));
    let batch = RecordBatch::try_new(
        schema,
        vec![std::sync::Arc::new(arrow::array::StringArray::from(
            rows.to_vec(),
        ))],
    )
    .unwrap();
    let mut writer = RecordBatchWriter::for_table(table).unwrap();
    writer.write(batch).await.unwrap();
    writer.flush().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_epoch_is_committed_once_whoever_tries_again() {
    let dir = tempfile::tempdir().unwrap();
    let uri = dir.path().join("t").to_str().unwrap().to_string();
    let schema = std::sync::Arc::new(arrow::datatypes::Schema::new(vec![
        arrow::datatypes::Field::new("v", DataType::Utf8, false),
    ]));
    let mut table = open_or_create(&uri, &schema, &[]).await.unwrap();
    assert_eq!(committed_epoch(&mut table, "job").await.unwrap(), None);

    let first = stage(&table, &["a", "b"]).await;
    assert_eq!(
        commit_epoch(&mut table, "job", 5, first.clone())
            .await
            .unwrap(),
        Some(1)
    );
    // Replaying the committed epoch (a restore after the commit) is a no-op.
    assert_eq!(
        commit_epoch(&mut table, "job", 5, first).await.unwrap(),
        None
    );
    // So is an older epoch.
    let older = stage(&table, &["old"]).await;
    assert_eq!(
        commit_epoch(&mut table, "job", 4, older).await.unwrap(),
        None
    );

    // Two writers with the same app id race for epoch 6: exactly one commits.
    let mut other = open_or_create(&uri, &schema, &[]).await.unwrap();
    let mine = stage(&table, &["mine"]).await;
    let theirs = stage(&other, &["theirs"]).await;
    let (a, b) = tokio::join!(
        commit_epoch(&mut table, "job", 6, mine),
        commit_epoch(&mut other, "job", 6, theirs)
    );
    let committed = [a.unwrap(), b.unwrap()];
    assert_eq!(
        committed.iter().filter(|c| c.is_some()).count(),
        1,
        "{committed:?}"
    );
    // Another app id has epochs of its own.
    let elsewhere = stage(&table, &["c"]).await;
    assert_eq!(
        commit_epoch(&mut table, "other-job", 1, elsewhere)
            .await
            .unwrap(),
        Some(3)
    );

    let rows = lines(&query_table(&uri, "SELECT v FROM t").await);
    assert_eq!(rows.len(), 4, "{rows:?}");
    assert_eq!(&rows[..2], ["a", "b"]);
    assert!(rows.contains(&"c".to_string()));
    assert!(rows.contains(&"mine".to_string()) != rows.contains(&"theirs".to_string()));
    assert_eq!(committed_epoch(&mut table, "job").await.unwrap(), Some(6));
}
