//! The epoch committer on real Delta tables in temporary folders: other writers' commits
//! in between, the log checkpoints and the expired log cleanup it does.

use std::sync::Arc;

use arrow::array::{Int64Array, RecordBatch};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use deltalake::kernel::{Add, StructType};
use deltalake::writer::{DeltaWriter as _, RecordBatchWriter};
use deltalake::{DeltaTable, TableProperty};

use super::*;
use crate::schema::table_schema;
use crate::table::{open_existing, open_or_create};
use deltalake::kernel::engine::arrow_conversion::TryIntoKernel as _;

fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![Field::new("n", DataType::Int64, false)]))
}

/// Writes the row `n` as a file of the table, not committed.
async fn stage(table: &DeltaTable, n: i64) -> Vec<Add> {
    let batch = RecordBatch::try_new(schema(), vec![Arc::new(Int64Array::from(vec![n]))]).unwrap();
    let mut writer = RecordBatchWriter::for_table(table).unwrap();
    writer.write(batch).await.unwrap();
    writer.flush().await.unwrap()
}

/// A table with a log checkpoint every 10 versions and the given log retention.
async fn table_with_retention(path: &str, retention: &str) -> DeltaTable {
    let columns: StructType = table_schema(&schema()).try_into_kernel().unwrap();
    DeltaTable::try_from_url(deltalake::ensure_table_uri(path).unwrap())
        .await
        .unwrap()
        .create()
        .with_columns(columns.fields().cloned())
        .with_configuration_property(TableProperty::CheckpointInterval, Some("10"))
        .with_configuration_property(TableProperty::LogRetentionDuration, Some(retention))
        .await
        .unwrap()
}

fn log_files(path: &str) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(std::path::Path::new(path).join("_delta_log"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".json") || name.ends_with(".parquet"))
        .collect();
    names.sort();
    names
}

/// The table's rows, read back through a fresh load.
async fn rows(path: &str) -> Vec<i64> {
    let table = open_existing(path).await.unwrap().unwrap();
    let snapshot = table.snapshot().unwrap();
    let mut values = Vec::new();
    for file in snapshot.log_data().iter() {
        let bytes = std::fs::read(std::path::Path::new(path).join(file.path().as_ref())).unwrap();
        let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReader::try_new(
            bytes::Bytes::from(bytes),
            1024,
        )
        .unwrap();
        for batch in reader {
            let batch = batch.unwrap();
            let column = batch
                .column(0)
                .as_any()
                .downcast_ref::<Int64Array>()
                .unwrap();
            values.extend(column.values().iter().copied());
        }
    }
    values.sort_unstable();
    values
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commits_after_other_writers_and_skips_epochs_a_zombie_committed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t").display().to_string();
    let table = open_or_create(&path, &schema(), &[]).await.unwrap();
    let mut mine = EpochCommitter::open(&table, "job").await.unwrap();
    let mut zombie = EpochCommitter::open(&table, "job").await.unwrap();
    let mut other = EpochCommitter::open(&table, "other").await.unwrap();
    assert_eq!(mine.committed_epoch(), None);

    assert_eq!(
        mine.commit(1, stage(&table, 1).await, None).await.unwrap(),
        Some(1)
    );
    assert_eq!(
        other
            .commit(1, stage(&table, 100).await, None)
            .await
            .unwrap(),
        Some(2)
    );
    // The zombie is two versions behind: it reads them and commits the next version.
    assert_eq!(
        zombie
            .commit(2, stage(&table, 2).await, None)
            .await
            .unwrap(),
        Some(3)
    );
    // The same epoch again, from the committer that did not write it: nothing to do.
    assert_eq!(
        mine.commit(2, stage(&table, 2).await, None).await.unwrap(),
        None
    );
    assert_eq!(mine.committed_epoch(), Some(2));
    assert_eq!(
        mine.commit(3, stage(&table, 3).await, None).await.unwrap(),
        Some(4)
    );
    assert_eq!(mine.version(), 4);
    assert_eq!(rows(&path).await, vec![1, 2, 3, 100]);

    let mut reopened = open_existing(&path).await.unwrap().unwrap();
    assert_eq!(
        crate::table::committed_epoch(&mut reopened, "job")
            .await
            .unwrap(),
        Some(3)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn widens_the_schema_once_after_other_writers_commits() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t").display().to_string();
    let table = open_or_create(&path, &schema(), &[]).await.unwrap();
    let mut narrow = EpochCommitter::open(&table, "narrow").await.unwrap();
    let mut wide = EpochCommitter::open(&table, "wide").await.unwrap();
    let wider: SchemaRef = Arc::new(Schema::new(vec![
        Field::new("n", DataType::Int64, false),
        Field::new("tag", DataType::Utf8, true),
    ]));
    narrow
        .commit(1, stage(&table, 1).await, None)
        .await
        .unwrap();
    for epoch in 1..=2 {
        wide.commit(epoch, stage(&table, epoch + 1).await, Some(&wider))
            .await
            .unwrap();
    }
    let has_metadata = |version: u64| {
        let log = std::path::Path::new(&path).join(format!("_delta_log/{version:020}.json"));
        std::fs::read_to_string(log)
            .unwrap()
            .contains("\"metaData\"")
    };
    // Widened in the first commit after the narrow writer's, and only there.
    assert_eq!([1, 2, 3].map(has_metadata), [false, true, false]);
    let reopened = open_existing(&path).await.unwrap().unwrap();
    let names: Vec<String> = reopened
        .snapshot()
        .unwrap()
        .schema()
        .fields()
        .map(|f| f.name().clone())
        .collect();
    assert_eq!(names, ["n", "tag"]);
    assert_eq!(rows(&path).await, vec![1, 2, 3]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checkpoints_every_interval_and_cleans_the_log_past_its_retention() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t").display().to_string();
    let table = table_with_retention(&path, "interval 0 seconds").await;
    let mut committer = EpochCommitter::open(&table, "job").await.unwrap();
    for epoch in 1..=25 {
        committer
            .commit(epoch, stage(&table, epoch).await, None)
            .await
            .unwrap();
    }
    // Checkpoints at versions 9 and 19; the commits before the newest checkpoint expired.
    let expected: Vec<String> = ["00000000000000000019.checkpoint.parquet".to_string()]
        .into_iter()
        .chain((19..=25).map(|v| format!("{v:020}.json")))
        .collect();
    assert_eq!(log_files(&path), expected);
    assert_eq!(rows(&path).await, (1..=25).collect::<Vec<_>>());
    let mut reopened = open_existing(&path).await.unwrap().unwrap();
    assert_eq!(reopened.version(), Some(25));
    assert_eq!(
        crate::table::committed_epoch(&mut reopened, "job")
            .await
            .unwrap(),
        Some(25)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keeps_every_log_file_within_the_retention() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t").display().to_string();
    let table = table_with_retention(&path, "interval 30 days").await;
    let mut committer = EpochCommitter::open(&table, "job").await.unwrap();
    for epoch in 1..=12 {
        committer
            .commit(epoch, stage(&table, epoch).await, None)
            .await
            .unwrap();
    }
    let expected: Vec<String> = (0..=12)
        .map(|v| format!("{v:020}.json"))
        .chain(["00000000000000000009.checkpoint.parquet".to_string()])
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    assert_eq!(log_files(&path), expected);
    // Time travel to the first commit still works.
    let mut first = open_existing(&path).await.unwrap().unwrap();
    first.load_version(1).await.unwrap();
    assert_eq!(first.snapshot().unwrap().log_data().iter().count(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refuses_a_table_needing_writer_features_it_does_not_write() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t");
    std::fs::create_dir_all(path.join("_delta_log")).unwrap();
    let schema = r#"{\"type\":\"struct\",\"fields\":[{\"name\":\"n\",\"type\":\"long\",\"nullable\":true,\"metadata\":{}}]}"#;
    let protocol = r#"{"protocol":{"minReaderVersion":1,"minWriterVersion":7,"writerFeatures":["appendOnly","rowTracking","domainMetadata"]}}"#;
    let metadata = format!(
        r#"{{"metaData":{{"id":"t","format":{{"provider":"parquet","options":{{}}}},"schemaString":"{schema}","partitionColumns":[],"configuration":{{}},"createdTime":0}}}}"#
    );
    let log = format!("{protocol}\n{metadata}\n");
    std::fs::write(path.join("_delta_log").join(format!("{:020}.json", 0)), log).unwrap();
    let table = open_existing(path.to_str().unwrap())
        .await
        .unwrap()
        .unwrap();
    let Err(error) = EpochCommitter::open(&table, "job").await else {
        panic!("a table with row tracking was taken for writing");
    };
    assert!(
        error
            .to_string()
            .ends_with("needs writer features weir's epoch commit does not write: rowTracking"),
        "{error}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_writer_idle_past_the_log_retention_refuses_to_commit() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t").display().to_string();
    let table = table_with_retention(&path, "interval 0 seconds").await;
    let mut idle = EpochCommitter::open(&table, "idle").await.unwrap();
    let mut busy = EpochCommitter::open(&table, "busy").await.unwrap();
    for epoch in 1..=12 {
        busy.commit(epoch, stage(&table, epoch).await, None)
            .await
            .unwrap();
    }
    // Versions 0 to 8 were cleaned after the checkpoint of version 9: writing the next
    // version the idle writer knows of (1) would fork the log.
    let error = idle
        .commit(1, stage(&table, 100).await, None)
        .await
        .unwrap_err();
    assert!(
        error.to_string().contains("no longer holds version 0"),
        "{error}"
    );
    let reopened = open_existing(&path).await.unwrap().unwrap();
    let mut fresh = EpochCommitter::open(&reopened, "idle").await.unwrap();
    assert_eq!(
        fresh
            .commit(1, stage(&table, 100).await, None)
            .await
            .unwrap(),
        Some(13)
    );
    assert_eq!(rows(&path).await, (1..=12).chain([100]).collect::<Vec<_>>());
}

fn dated_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("n", DataType::Int64, false),
        Field::new("date", DataType::Utf8, false),
    ]))
}

/// Writes the row (`n`, `date`) as a file of the table partitioned by date, not committed.
async fn stage_dated(table: &DeltaTable, n: i64, date: &str) -> Vec<Add> {
    let batch = RecordBatch::try_new(
        dated_schema(),
        vec![
            Arc::new(Int64Array::from(vec![n])),
            Arc::new(arrow::array::StringArray::from(vec![date])),
        ],
    )
    .unwrap();
    let mut writer = RecordBatchWriter::for_table(table).unwrap();
    writer.write(batch).await.unwrap();
    writer.flush().await.unwrap()
}

fn partition(date: &str) -> PartitionReplace {
    PartitionReplace::new([("date".to_string(), date.to_string())].into()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replacing_commit_swaps_exactly_one_partition_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t").display().to_string();
    let table = open_or_create(&path, &dated_schema(), &["date".to_string()])
        .await
        .unwrap();
    let mut first = EpochCommitter::open(&table, "day-1").await.unwrap();
    let mut adds = stage_dated(&table, 1, "2026-11-01").await;
    adds.extend(stage_dated(&table, 2, "2026-11-01").await);
    adds.extend(stage_dated(&table, 20, "2026-11-02").await);
    assert_eq!(first.commit(1, adds, None).await.unwrap(), Some(1));

    // Replacing 2026-11-01 leaves 2026-11-02 alone, whoever wrote either.
    let mut again = EpochCommitter::open(&table, "day-1-again").await.unwrap();
    let new = stage_dated(&table, 10, "2026-11-01").await;
    let info = HashMap::new();
    assert_eq!(
        again
            .commit_replacing(1, new.clone(), &partition("2026-11-01"), info.clone())
            .await
            .unwrap(),
        Some(2)
    );
    assert_eq!(rows(&path).await, vec![10, 20]);
    // The same epoch again (a restored run): nothing is removed or added.
    assert_eq!(
        again
            .commit_replacing(1, new, &partition("2026-11-01"), info.clone())
            .await
            .unwrap(),
        None
    );
    assert_eq!(rows(&path).await, vec![10, 20]);
    // An empty run empties the partition.
    assert_eq!(
        again
            .commit_replacing(2, Vec::new(), &partition("2026-11-02"), info.clone())
            .await
            .unwrap(),
        Some(3)
    );
    assert_eq!(rows(&path).await, vec![10]);

    let entry = std::fs::read_to_string(
        std::path::Path::new(&path).join("_delta_log/00000000000000000002.json"),
    )
    .unwrap();
    assert_eq!(entry.matches("\"remove\"").count(), 2, "{entry}");
    assert_eq!(entry.matches("\"add\"").count(), 1, "{entry}");
    assert!(
        entry.contains(r#""predicate":"date = '2026-11-01'""#),
        "{entry}"
    );
    assert!(entry.contains(r#""mode":"Overwrite""#), "{entry}");

    let outside = again
        .commit_replacing(
            3,
            stage_dated(&table, 30, "2026-11-03").await,
            &partition("2026-11-01"),
            info.clone(),
        )
        .await
        .unwrap_err()
        .to_string();
    assert!(
        outside.contains("include partition date = 2026-11-03 while the run replaces partition date = '2026-11-01'"),
        "{outside}"
    );
    let not_partitioned =
        PartitionReplace::new([("n".to_string(), "1".to_string())].into()).unwrap();
    let refused = again
        .commit_replacing(3, Vec::new(), &not_partitioned, info)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        refused.contains("the table is not partitioned by `n` (its partition columns: [date])"),
        "{refused}"
    );
    assert_eq!(rows(&path).await, vec![10]);
}
