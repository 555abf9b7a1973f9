//! Parquet files read natively: exact rows with their row numbers, and a clear error for a
//! file of another schema.

use std::path::Path;
use std::sync::Arc;

use arrow::array::{ArrayRef, Int64Array, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use arrow::record_batch::RecordBatch;
use parquet::arrow::ArrowWriter;
use weir_connectors::files::FileSourceConfig;

use super::common::{rows, run_bounded};

/// Writes rows `seqs` as `seq: Int64, text: Utf8`, in batches of 10.
fn write_parquet(path: &Path, seqs: std::ops::Range<i64>) {
    let schema = Arc::new(Schema::new(vec![
        Field::new("seq", DataType::Int64, false),
        Field::new("text", DataType::Utf8, true),
    ]));
    let file = std::fs::File::create(path).unwrap();
    let mut writer = ArrowWriter::try_new(file, schema.clone(), None).unwrap();
    let all: Vec<i64> = seqs.collect();
    for chunk in all.chunks(10) {
        let columns: Vec<ArrayRef> = vec![
            Arc::new(Int64Array::from(chunk.to_vec())),
            Arc::new(StringArray::from_iter_values(
                chunk.iter().map(|s| format!("row {s}")),
            )),
        ];
        writer
            .write(&RecordBatch::try_new(schema.clone(), columns).unwrap())
            .unwrap();
    }
    writer.close().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parquet_files_are_read_with_their_row_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a.parquet"), dir.path().join("b.parquet"));
    write_parquet(&a, 0..25);
    write_parquet(&b, 100..140);
    let mut expected = Vec::new();
    for (path, seqs) in [(&a, 0..25), (&b, 100..140)] {
        for (i, seq) in seqs.enumerate() {
            expected.push(format!("{seq}|row {seq}|{}|{}", path.display(), i + 1));
        }
    }
    expected.sort();
    for parallelism in [1, 2] {
        let config = FileSourceConfig {
            metadata_columns: true,
            batch_size: 7,
            ..FileSourceConfig::parquet(&format!("{}/*.parquet", dir.path().display()))
        };
        let (batches, letters) = run_bounded(config, parallelism).await.unwrap();
        assert_eq!(rows(&batches), expected, "parallelism {parallelism}");
        assert!(letters.is_empty());
        assert!(batches.iter().all(|b| b.num_rows() <= 7));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_parquet_file_of_another_schema_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    write_parquet(&dir.path().join("a.parquet"), 0..5);
    let other = dir.path().join("b.parquet");
    let schema = Arc::new(Schema::new(vec![Field::new("x", DataType::Utf8, true)]));
    let mut writer =
        ArrowWriter::try_new(std::fs::File::create(&other).unwrap(), schema.clone(), None).unwrap();
    let column: ArrayRef = Arc::new(StringArray::from(vec!["a"]));
    writer
        .write(&RecordBatch::try_new(schema, vec![column]).unwrap())
        .unwrap();
    writer.close().unwrap();

    let config = FileSourceConfig::parquet(dir.path().to_str().unwrap());
    let error = run_bounded(config, 1).await.unwrap_err().to_string();
    assert!(
        error.contains(&format!(
            "Parquet file {} has columns (x: Utf8) but the source's schema, taken from its first file, is (seq: Int64, text: Utf8)",
            other.display()
        )),
        "{error}"
    );

    let lines_only = FileSourceConfig {
        format: Some(super::common::format()),
        ..FileSourceConfig::parquet(dir.path().to_str().unwrap())
    };
    let error = run_bounded(lines_only, 1).await.unwrap_err().to_string();
    assert!(
        error.contains("Parquet files carry their schema: remove `format`"),
        "{error}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parquet_files_renamed_into_place_are_read_while_following() {
    use std::time::Duration;
    use weir_connectors::files::{FileMode, FileSource};
    use weir_engine::sinks::CollectSink;
    use weir_engine::{GraphBuilder, RuntimeConfig};

    let dir = tempfile::tempdir().unwrap();
    write_parquet(&dir.path().join("a.parquet"), 0..25);
    let plan = FileSource::new(FileSourceConfig {
        mode: FileMode::Follow,
        discovery_interval: Duration::from_millis(30),
        ..FileSourceConfig::parquet(&format!("{}/*.parquet", dir.path().display()))
    })
    .await
    .unwrap();
    let mut g = GraphBuilder::new();
    let files = g.source("files", plan, 2, None).unwrap();
    let rows = CollectSink::new();
    g.operator("rows", &rows, vec![files.main().rebalance()], 1)
        .unwrap();
    let job = g
        .build()
        .unwrap()
        .start(&RuntimeConfig::default())
        .await
        .unwrap();

    // Written under a name the pattern does not match, then renamed into place.
    let staging = dir.path().join("b.parquet.tmp");
    write_parquet(&staging, 100..130);
    std::fs::rename(&staging, dir.path().join("b.parquet")).unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while super::common::seqs(&rows.batches()).len() < 55 {
        assert!(tokio::time::Instant::now() < deadline, "timed out");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    drop(job);
    let expected: Vec<i64> = (0..25).chain(100..130).collect();
    assert_eq!(super::common::seqs(&rows.batches()), expected);
}
