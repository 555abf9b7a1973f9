//! Vacuum on real Delta tables in temporary folders.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use arrow::array::{Int64Array, RecordBatch};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use deltalake::kernel::Add;
use deltalake::writer::{DeltaWriter as _, RecordBatchWriter};

use super::*;
use crate::table::{commit_epoch, open_or_create};
use crate::Compact;

fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![Field::new("n", DataType::Int64, false)]))
}

/// Writes rows `first..first + 10` as a file of the table, not committed.
async fn stage(table: &DeltaTable, first: i64) -> Vec<Add> {
    let batch = RecordBatch::try_new(
        schema(),
        vec![Arc::new((first..first + 10).collect::<Int64Array>())],
    )
    .unwrap();
    let mut writer = RecordBatchWriter::for_table(table).unwrap();
    writer.write(batch).await.unwrap();
    writer.flush().await.unwrap()
}

/// The table's current files and rows.
async fn current(path: &str) -> (Vec<String>, usize) {
    let table = open_existing(path).await.unwrap().unwrap();
    let snapshot = table.snapshot().unwrap();
    let mut files: Vec<String> = snapshot
        .log_data()
        .iter()
        .map(|f| f.path().to_string())
        .collect();
    files.sort();
    let rows = snapshot
        .log_data()
        .iter()
        .map(|f| f.num_records().unwrap())
        .sum();
    (files, rows)
}

fn exists(dir: &std::path::Path, file: &str) -> bool {
    dir.join(file).is_file()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removed_files_go_after_the_retention_and_staged_files_stay() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("t");
    let path = root.to_str().unwrap();
    let mut table = open_or_create(path, &schema(), &[]).await.unwrap();
    for epoch in 1..=4 {
        let adds = stage(&table, epoch * 10).await;
        commit_epoch(&mut table, "job", epoch, adds, None)
            .await
            .unwrap();
    }
    let (compacted, _) = current(path).await;
    Compact::new(path).await.unwrap();
    let (after, rows) = current(path).await;
    assert_eq!((after.len(), rows), (1, 40));
    // A writer mid-epoch: its file is written, its commit is still to come.
    let staged = stage(&table, 50).await;
    assert!(exists(&root, &staged[0].path));

    // Within the table's retention (7 days by default) nothing has expired.
    let kept = Vacuum::new(path).with_dry_run(true).await.unwrap();
    assert_eq!((kept.removed.len(), kept.never_committed.len()), (0, 0));
    let refused = Vacuum::new(path)
        .with_retain(Duration::ZERO)
        .await
        .unwrap_err();
    assert_eq!(
        refused.to_string(),
        "--retain 0h is shorter than the table's delta.deletedFileRetentionDuration (168h): \
         readers of the versions in between would miss files; \
         --allow-unsafe-retention to vacuum anyway"
    );

    let unsafe_vacuum = || {
        Vacuum::new(path)
            .with_retain(Duration::ZERO)
            .with_allow_unsafe_retention(true)
    };
    let listed = unsafe_vacuum().with_dry_run(true).await.unwrap();
    assert_eq!(listed.removed, compacted);
    assert!(listed.never_committed.is_empty());
    assert!(compacted.iter().all(|f| exists(&root, f)));

    let done = unsafe_vacuum().await.unwrap();
    assert_eq!(done.removed, compacted);
    assert!(compacted.iter().all(|f| !exists(&root, f)));
    assert!(after.iter().all(|f| exists(&root, f)));
    // The staged file survived: its epoch commits and every row is there.
    assert!(exists(&root, &staged[0].path));
    commit_epoch(&mut table, "job", 5, staged, None)
        .await
        .unwrap();
    assert_eq!(current(path).await.1, 50);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_no_commit_references_go_once_older_than_the_table_retention() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("t");
    let path = root.to_str().unwrap();
    let mut table = open_or_create(path, &schema(), &[]).await.unwrap();
    let adds = stage(&table, 0).await;
    commit_epoch(&mut table, "job", 1, adds, None)
        .await
        .unwrap();
    let old = stage(&table, 10).await;
    let young = stage(&table, 20).await;
    let eight_days_ago = SystemTime::now() - Duration::from_secs(8 * 24 * 3600);
    std::fs::File::options()
        .write(true)
        .open(root.join(&old[0].path))
        .unwrap()
        .set_modified(eight_days_ago)
        .unwrap();

    let done = Vacuum::new(path).await.unwrap();
    assert_eq!(done.removed, Vec::<String>::new());
    assert_eq!(done.never_committed, [old[0].path.clone()]);
    assert!(!exists(&root, &old[0].path));
    assert!(exists(&root, &young[0].path));
    assert_eq!(current(path).await.1, 10);

    let missing = dir.path().join("nothing");
    let error = Vacuum::new(missing.to_str().unwrap()).await.unwrap_err();
    assert_eq!(
        error.to_string(),
        format!("there is no Delta table at {}", missing.display())
    );
}
