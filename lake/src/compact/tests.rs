//! Compaction on real Delta tables in temporary folders.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use deltalake::writer::{DeltaWriter as _, RecordBatchWriter};
use futures::TryStreamExt;

use super::*;
use crate::table::{commit_epoch, open_or_create};

fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("day", DataType::Utf8, false),
        Field::new("a", DataType::Int64, true),
        Field::new("b", DataType::Int64, true),
        Field::new("note", DataType::Utf8, true),
    ]))
}

/// A deterministic spread of values in [0, 1000), independent between salts.
fn spread(i: i64, salt: i64) -> i64 {
    let mut x = (i as u64).wrapping_add((salt as u64) << 40);
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    x = x.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    x ^= x >> 33;
    (x % 1000) as i64
}

/// Rows `first..first + n` of partition `day`.
fn rows(day: &str, first: i64, n: i64) -> RecordBatch {
    let ids: Vec<i64> = (first..first + n).collect();
    RecordBatch::try_new(
        schema(),
        vec![
            Arc::new(StringArray::from(vec![day; n as usize])),
            Arc::new(ids.iter().map(|&i| spread(i, 1)).collect::<Int64Array>()),
            Arc::new(ids.iter().map(|&i| spread(i, 2)).collect::<Int64Array>()),
            Arc::new(StringArray::from_iter_values(
                ids.iter().map(|i| format!("row {i}")),
            )),
        ],
    )
    .unwrap()
}

/// A table at `path` partitioned by `partition_by`, one commit (one file per partition)
/// per batch.
async fn table(path: &str, partition_by: &[&str], batches: &[RecordBatch]) -> DeltaTable {
    let partition_by: Vec<String> = partition_by.iter().map(|s| s.to_string()).collect();
    let mut table = open_or_create(path, &schema(), &partition_by)
        .await
        .unwrap();
    for (i, batch) in batches.iter().enumerate() {
        append(&mut table, i as i64 + 1, batch).await;
    }
    table
}

async fn append(table: &mut DeltaTable, epoch: i64, batch: &RecordBatch) {
    let mut writer = RecordBatchWriter::for_table(table).unwrap();
    writer.write(batch.clone()).await.unwrap();
    let adds = writer.flush().await.unwrap();
    commit_epoch(table, "test", epoch, adds, None)
        .await
        .unwrap();
}

/// Every row of the table (partition value put back), sorted.
async fn all_rows(path: &str) -> Vec<(String, i64, i64, String)> {
    let table = open_existing(path).await.unwrap().unwrap();
    let schema = rewrite::file_schema(&table).unwrap();
    let mut out = Vec::new();
    for file in table.snapshot().unwrap().log_data().iter() {
        let day = file
            .partition_values_map()
            .get("day")
            .cloned()
            .flatten()
            .unwrap_or_default();
        let batches = rewrite::FileToRead::new(&table, &file)
            .read(schema.clone())
            .await
            .unwrap();
        for batch in batches {
            let column = |name: &str| batch.column_by_name(name).unwrap().clone();
            let (a, b, note) = (column("a"), column("b"), column("note"));
            let a = a.as_any().downcast_ref::<Int64Array>().unwrap();
            let b = b.as_any().downcast_ref::<Int64Array>().unwrap();
            let note = note.as_any().downcast_ref::<StringArray>().unwrap();
            let day_column = batch
                .column_by_name("day")
                .map(|c| c.as_any().downcast_ref::<StringArray>().unwrap().clone());
            for r in 0..batch.num_rows() {
                let day = match &day_column {
                    Some(c) => c.value(r).to_string(),
                    None => day.clone(),
                };
                out.push((day, a.value(r), b.value(r), note.value(r).to_string()));
            }
        }
    }
    out.sort();
    out
}

/// (partition values, tags) of each file of the table, sorted.
#[allow(deprecated)]
async fn files(path: &str) -> Vec<(HashMap<String, Option<String>>, Option<String>, i64)> {
    let table = open_existing(path).await.unwrap().unwrap();
    let mut files: Vec<_> = table
        .snapshot()
        .unwrap()
        .log_data()
        .iter()
        .map(|f| {
            let tag = f
                .add_action()
                .tags
                .and_then(|t| t.get(CLUSTER_TAG).cloned().flatten());
            (
                f.partition_values_map(),
                tag,
                f.num_records().unwrap() as i64,
            )
        })
        .collect();
    files.sort_by_key(|(p, t, n)| (format!("{p:?}"), t.clone(), *n));
    files
}

async fn last_commit(path: &str) -> deltalake::kernel::CommitInfo {
    let table = open_existing(path).await.unwrap().unwrap();
    let history: Vec<_> = table.history(Some(1)).try_collect().await.unwrap();
    history.into_iter().next().unwrap()
}

fn day(name: &str) -> HashMap<String, Option<String>> {
    [("day".to_string(), Some(name.to_string()))].into()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bin_packing_merges_each_partitions_small_files_and_keeps_every_row() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t");
    let path = path.to_str().unwrap();
    let mut batches = Vec::new();
    for i in 0..5 {
        let mut both = rows("2026-12-01", i * 100, 100);
        both = concat_batches(&schema(), &[both, rows("2026-12-02", 10_000 + i * 50, 50)]).unwrap();
        batches.push(both);
    }
    table(path, &["day"], &batches).await;
    let before = all_rows(path).await;
    assert_eq!(before.len(), 750);

    // Five small files per partition: not yet enough for a trigger of six.
    let waiting = Compact::new(path).with_min_files(6).await.unwrap();
    assert_eq!(waiting.version, None);
    let metrics = Compact::new(path).with_min_files(5).await.unwrap();
    assert_eq!(metrics.version, Some(6));
    assert_eq!(
        (
            metrics.files_removed,
            metrics.files_added,
            metrics.rows,
            metrics.partitions
        ),
        (10, 2, 750, 2)
    );
    assert_eq!(all_rows(path).await, before);
    assert_eq!(
        files(path).await,
        [
            (day("2026-12-01"), None, 500),
            (day("2026-12-02"), None, 250)
        ]
    );
    let commit = last_commit(path).await;
    assert_eq!(commit.operation.as_deref(), Some("OPTIMIZE"));
    let recorded = &commit.info[COMMIT_INFO_KEY];
    assert_eq!(recorded["filesRemoved"], 10);
    assert_eq!(recorded["filesAdded"], 2);
    assert_eq!(recorded["rows"], 750);
    assert_eq!(recorded["bytesAdded"], metrics.bytes_added);

    // Nothing new: nothing committed.
    let again = Compact::new(path).await.unwrap();
    assert_eq!(again.version, None);
    assert_eq!(
        last_commit(path).await.operation.as_deref(),
        Some("OPTIMIZE")
    );
    let table = open_existing(path).await.unwrap().unwrap();
    assert_eq!(table.version(), Some(6));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partition_predicate_limits_the_compaction_to_its_partitions() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t");
    let path = path.to_str().unwrap();
    let batches: Vec<_> = (0..3)
        .map(|i| {
            concat_batches(
                &schema(),
                &[
                    rows("2026-12-01", i * 10, 10),
                    rows("2026-12-02", 100 + i * 10, 10),
                ],
            )
            .unwrap()
        })
        .collect();
    table(path, &["day"], &batches).await;
    let metrics = Compact::new(path)
        .with_where("day >= '2026-12-02'")
        .await
        .unwrap();
    assert_eq!((metrics.files_removed, metrics.files_added), (3, 1));
    let counts: Vec<(String, i64)> = files(path)
        .await
        .into_iter()
        .map(|(p, _, n)| (p["day"].clone().unwrap(), n))
        .collect();
    assert_eq!(
        counts,
        [
            ("2026-12-01".to_string(), 10),
            ("2026-12-01".to_string(), 10),
            ("2026-12-01".to_string(), 10),
            ("2026-12-02".to_string(), 30)
        ]
    );
    let commit = last_commit(path).await;
    assert_eq!(
        commit.operation_parameters.unwrap()["predicate"],
        "day >= '2026-12-02'"
    );

    let error = Compact::new(path).with_where("a > 3").await.unwrap_err();
    assert_eq!(
        error.to_string(),
        format!(
            "--where \"a > 3\": a is not a partition column of {path} (partition columns: day)"
        )
    );
    let error = Compact::new(path).with_where("day").await.unwrap_err();
    assert_eq!(
        error.to_string(),
        "--where \"day\": the condition is Utf8, not a boolean"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clustering_lays_rows_out_in_boxes_and_is_incremental() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t");
    let path = path.to_str().unwrap();
    let batches: Vec<_> = (0..16).map(|i| rows("x", i * 1000, 1000)).collect();
    table(path, &[], &batches).await;
    let before = all_rows(path).await;
    let sizes: u64 = {
        let table = open_existing(path).await.unwrap().unwrap();
        table
            .snapshot()
            .unwrap()
            .log_data()
            .iter()
            .map(|f| f.size() as u64)
            .sum()
    };
    // Nine files: three slabs on a, three tiles on b in each.
    let metrics = Compact::new(path)
        .with_cluster_by(vec!["a".into(), "b".into()])
        .with_target_size(sizes.div_ceil(9))
        .await
        .unwrap();
    assert_eq!(
        (metrics.files_removed, metrics.files_added, metrics.rows),
        (16, 9, 16_000)
    );
    assert_eq!(all_rows(path).await, before);
    let skip: Vec<(String, f64)> = metrics
        .skipping
        .iter()
        .map(|(c, f)| (c.clone(), (f * 1000.0).round() / 1000.0))
        .collect();
    // The bound for 9 boxes over 2 uniform columns is 1 - 1/3.
    assert_eq!(skip, [("a".to_string(), 0.666), ("b".to_string(), 0.666)]);
    assert!(files(path)
        .await
        .iter()
        .all(|(_, tag, _)| tag.as_deref() == Some("a,b")));
    let recorded = &last_commit(path).await.info[COMMIT_INFO_KEY];
    assert_eq!(recorded["clusterBy"], serde_json::json!(["a", "b"]));
    assert_eq!(
        recorded["pointSkipping"]["a"],
        (metrics.skipping[0].1 * 10_000.0).round() / 10_000.0
    );

    // Clustered files are left alone...
    let again = Compact::new(path)
        .with_cluster_by(vec!["a".into(), "b".into()])
        .with_target_size(sizes.div_ceil(9))
        .await
        .unwrap();
    assert_eq!(again.version, None);
    // ...new ones are clustered among themselves...
    let mut table = open_existing(path).await.unwrap().unwrap();
    append(&mut table, 17, &rows("x", 16_000, 1000)).await;
    append(&mut table, 18, &rows("x", 17_000, 1000)).await;
    let new = Compact::new(path)
        .with_cluster_by(vec!["a".into(), "b".into()])
        .with_target_size(sizes.div_ceil(9))
        .await
        .unwrap();
    // Two files of a sixteenth each make two of the ninth-sized target.
    assert_eq!((new.files_removed, new.files_added), (2, 2));
    // ...and other columns cluster everything again.
    let other = Compact::new(path)
        .with_cluster_by(vec!["b".into()])
        .with_target_size(sizes.div_ceil(4))
        .await
        .unwrap();
    assert_eq!((other.files_removed, other.rows), (11, 18_000));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn appends_committed_during_a_compaction_are_kept() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t");
    let path = path.to_str().unwrap();
    let batches: Vec<_> = (0..4).map(|i| rows("x", i * 10, 10)).collect();
    let mut table = table(path, &[], &batches).await;
    let compact = Compact::new(path);
    let rewritten = compact.rewrite(&table).await.unwrap().unwrap();
    // A stream commits while the compaction's files are written.
    append(&mut table, 5, &rows("x", 40, 10)).await;
    let metrics = rewritten.commit(&table, &compact).await.unwrap();
    assert_eq!(metrics.version, Some(6));
    let mut expected: Vec<_> = (0..50)
        .map(|i| {
            (
                "x".to_string(),
                spread(i, 1),
                spread(i, 2),
                format!("row {i}"),
            )
        })
        .collect();
    expected.sort();
    assert_eq!(all_rows(path).await, expected);
    let counts: Vec<i64> = files(path).await.into_iter().map(|(_, _, n)| n).collect();
    assert_eq!(counts, [10, 40]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn impossible_compactions_say_why() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t");
    let path = path.to_str().unwrap();
    let missing = dir.path().join("nothing");
    let error = Compact::new(missing.to_str().unwrap()).await.unwrap_err();
    assert_eq!(
        error.to_string(),
        format!("there is no Delta table at {}", missing.display())
    );
    table(path, &["day"], &[rows("x", 0, 10)]).await;
    let cluster = |columns: &[&str]| {
        Compact::new(path).with_cluster_by(columns.iter().map(|c| c.to_string()).collect())
    };
    let messages = [
        (
            cluster(&["a", "b", "note", "a", "b"]).await,
            "--cluster-by: 5 columns given, at most 4 are supported".to_string(),
        ),
        (
            cluster(&["a", "a"]).await,
            "--cluster-by: column 'a' is named twice".to_string(),
        ),
        (
            cluster(&["day"]).await,
            format!(
                "--cluster-by: 'day' is a partition column of {path}; its values are already apart"
            ),
        ),
        (
            cluster(&["c"]).await,
            format!("--cluster-by: table {path} has no column 'c' (columns: day, a, b, note)"),
        ),
        (
            Compact::new(path).with_target_size(0).await,
            "the target size must be more than 0 bytes".to_string(),
        ),
    ];
    for (result, message) in messages {
        assert_eq!(result.unwrap_err().to_string(), message);
    }
    // Nothing was committed by any of them.
    assert_eq!(
        open_existing(path).await.unwrap().unwrap().version(),
        Some(1)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partition_larger_than_a_group_is_clustered_group_by_group() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t");
    let path = path.to_str().unwrap();
    let batches: Vec<_> = (0..8).map(|i| rows("x", i * 500, 500)).collect();
    table(path, &[], &batches).await;
    let before = all_rows(path).await;
    let file_size = {
        let table = open_existing(path).await.unwrap().unwrap();
        let sizes: Vec<u64> = table
            .snapshot()
            .unwrap()
            .log_data()
            .iter()
            .map(|f| f.size() as u64)
            .collect();
        *sizes.iter().max().unwrap()
    };
    // Groups of two files, each cut into two files.
    let metrics = Compact::new(path)
        .with_cluster_by(vec!["a".into()])
        .with_target_size(file_size)
        .with_max_group_size(2 * file_size)
        .await
        .unwrap();
    assert_eq!(
        (metrics.files_removed, metrics.files_added, metrics.rows),
        (8, 8, 4000)
    );
    assert_eq!(all_rows(path).await, before);
    assert!(files(path)
        .await
        .iter()
        .all(|(_, tag, n)| tag.as_deref() == Some("a") && *n == 500));
}

/// The row groups of each file of the table, by partition value of `day`.
async fn row_groups(path: &str) -> Vec<(String, usize)> {
    let table = open_existing(path).await.unwrap().unwrap();
    let mut out: Vec<(String, usize)> = table
        .snapshot()
        .unwrap()
        .log_data()
        .iter()
        .map(|f| {
            let day = f.partition_values_map()["day"].clone().unwrap();
            let bytes = std::fs::read(std::path::Path::new(path).join(f.path().as_ref())).unwrap();
            let footer = parquet::file::metadata::ParquetMetaDataReader::new()
                .parse_and_finish(&bytes::Bytes::from(bytes))
                .unwrap();
            (day, footer.num_row_groups())
        })
        .collect();
    out.sort();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bins_of_large_row_groups_are_concatenated_with_merged_statistics() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t");
    let path = path.to_str().unwrap();
    let batches: Vec<RecordBatch> = (0..3)
        .map(|i| {
            let large = rows("2026-12-01", i * 10_000, 10_000);
            let small = rows("2026-12-02", 100_000 + i * 100, 100);
            concat_batches(&schema(), &[large, small]).unwrap()
        })
        .collect();
    table(path, &["day"], &batches).await;
    let before = all_rows(path).await;
    let metrics = Compact::new(path).await.unwrap();
    assert_eq!((metrics.files_removed, metrics.files_added), (6, 2));
    assert_eq!(all_rows(path).await, before);
    // The large rows' row groups were copied as they were; the small ones re-encoded.
    assert_eq!(
        row_groups(path).await,
        [("2026-12-01".to_string(), 3), ("2026-12-02".to_string(), 1)]
    );
    let table = open_existing(path).await.unwrap().unwrap();
    #[allow(deprecated)]
    let stats: serde_json::Value = table
        .snapshot()
        .unwrap()
        .log_data()
        .iter()
        .find(|f| f.partition_values_map()["day"].as_deref() == Some("2026-12-01"))
        .map(|f| serde_json::from_str(&f.add_action().stats.unwrap()).unwrap())
        .unwrap();
    let a: Vec<i64> = (0..30_000).map(|i| spread(i, 1)).collect();
    let notes: Vec<String> = (0..30_000).map(|i| format!("row {i}")).collect();
    assert_eq!(stats["numRecords"], 30_000);
    assert_eq!(stats["minValues"]["a"], *a.iter().min().unwrap());
    assert_eq!(stats["maxValues"]["a"], *a.iter().max().unwrap());
    assert_eq!(stats["minValues"]["note"], *notes.iter().min().unwrap());
    assert_eq!(stats["maxValues"]["note"], *notes.iter().max().unwrap());
    assert_eq!(stats["nullCount"]["b"], 0);
}
