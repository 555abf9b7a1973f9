//! Opening and committing to a Delta table as its log grows, as a streaming job with short
//! checkpoints grows it (1 s checkpoints make 86,400 versions a day): a table of one
//! integer column gets one small file per commit through the sink's epoch commit
//! (`weir_lake::epoch::EpochCommitter`, which reads only the log's new versions), and at
//! 10, 1,000 and 10,000 versions the benchmark measures opening the table, the next 100
//! commits (one of which writes a log checkpoint), and a `count(*)` through `weir sql`'s session from a fresh lake. deltalake
//! The committer writes a log checkpoint every 100 commits and cleans expired log files
//! after each (`delta.logRetentionDuration`, 30 days by default, so nothing expires here).
//!
//! `cargo run --release --example commit_bench [-- --versions 10,1000,10000]`

use std::sync::Arc;
use std::time::Instant;

use arrow::array::{Int64Array, RecordBatch};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use deltalake::writer::{DeltaWriter as _, RecordBatchWriter};
use weir_lake::epoch::EpochCommitter;
use weir_lake::table::{open_existing, open_or_create};
use weir_sql::{Lake, Limits};

fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![Field::new("n", DataType::Int64, false)]))
}

/// Commits epoch `epoch`: one file of one row, written for `table`.
async fn commit(table: &deltalake::DeltaTable, committer: &mut EpochCommitter, epoch: i64) -> f64 {
    let batch =
        RecordBatch::try_new(schema(), vec![Arc::new(Int64Array::from(vec![epoch]))]).unwrap();
    let mut writer = RecordBatchWriter::for_table(table).unwrap();
    writer.write(batch).await.unwrap();
    let adds = writer.flush().await.unwrap();
    let start = Instant::now();
    committer.commit(epoch, adds, None).await.unwrap().unwrap();
    start.elapsed().as_secs_f64() * 1000.0
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let marks: Vec<i64> = args
        .iter()
        .position(|a| a == "--versions")
        .and_then(|i| args.get(i + 1))
        .map_or("10,1000,10000", String::as_str)
        .split(',')
        .map(|v| v.parse().expect("a number of versions"))
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let uri = dir.path().join("t").display().to_string();
    let table = open_or_create(&uri, &schema(), &[]).await.unwrap();
    let mut committer = EpochCommitter::open(&table, "bench").await.unwrap();
    let mut epoch = 0;
    println!("| versions | open ms (median of 5) | next 100 commits: median ms | max ms (the one writing the log checkpoint) | weir sql count(*) ms (fresh session, after them) |");
    println!("|---:|---:|---:|---:|---:|");
    for mark in marks {
        while epoch + 1 < mark {
            epoch += 1;
            commit(&table, &mut committer, epoch).await;
        }
        let versions = epoch + 1;
        let mut open_times = Vec::new();
        for _ in 0..5 {
            let start = Instant::now();
            open_existing(&uri).await.unwrap().unwrap();
            open_times.push(start.elapsed().as_secs_f64() * 1000.0);
        }
        let mut commits = Vec::new();
        for _ in 0..100 {
            epoch += 1;
            commits.push(commit(&table, &mut committer, epoch).await);
        }
        let start = Instant::now();
        let session = Lake::new(dir.path())
            .unwrap()
            .query_session(Limits::default())
            .await
            .unwrap();
        let counted = session.sql("SELECT count(*) AS n FROM t").await.unwrap();
        let sql_ms = start.elapsed().as_secs_f64() * 1000.0;
        assert_eq!(counted[0].rows(), 1);
        let max = commits.iter().cloned().fold(0.0, f64::max);
        println!(
            "| {versions} | {:.1} | {:.1} | {:.1} | {sql_ms:.1} |",
            median(open_times),
            median(commits),
            max
        );
    }
}
