//! The Delta source's subtasks on a real table: positions taken in the middle of files and
//! versions, restored at another parallelism, give every row exactly once.

use std::path::Path;
use std::sync::Arc;

use arrow::array::{AsArray, Int64Array, StringArray};
use arrow::datatypes::{DataType, Field, Int64Type, Schema, SchemaRef};
use arrow::record_batch::RecordBatch;
use deltalake::writer::{DeltaWriter as _, RecordBatchWriter};
use weir_engine::state::StateChunk;
use weir_engine::{Source, SourcePlan, SubtaskInfo};
use weir_lake::table::{commit_epoch, open_or_create};

use super::source::{DeltaSource, DeltaSourceConfig};

fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("part", DataType::Utf8, false),
    ]))
}

/// A table partitioned by `part`: version 0 creates it, then one version per entry of
/// `versions`, ids `from..to` spread over three partitions (one file each).
async fn table(path: &Path, versions: &[(i64, i64)]) -> String {
    let uri = path.display().to_string();
    let mut table = open_or_create(&uri, &schema(), &["part".to_string()])
        .await
        .unwrap();
    for (epoch, &(from, to)) in versions.iter().enumerate() {
        let parts = ["a", "b", "c"];
        let batch = RecordBatch::try_new(
            schema(),
            vec![
                Arc::new(Int64Array::from_iter_values(from..to)),
                Arc::new(StringArray::from_iter_values(
                    (from..to).map(|i| parts[i as usize % 3]),
                )),
            ],
        )
        .unwrap();
        let mut writer = RecordBatchWriter::for_table(&table).unwrap();
        writer.write(batch).await.unwrap();
        let adds = writer.flush().await.unwrap();
        commit_epoch(&mut table, "test", epoch as i64 + 1, adds, None)
            .await
            .unwrap();
    }
    uri
}

async fn plan(uri: &str) -> Arc<DeltaSource> {
    DeltaSource::new(DeltaSourceConfig {
        bounded: true,
        batch_size: 4,
        ..DeltaSourceConfig::new(uri)
    })
    .await
    .unwrap()
}

fn subtasks(plan: &DeltaSource, parallelism: usize, chunks: &[StateChunk]) -> Vec<Box<dyn Source>> {
    (0..parallelism)
        .map(|index| {
            let mut source = plan
                .create(&SubtaskInfo {
                    gauges: Default::default(),
                    node: "table".into(),
                    index,
                    parallelism,
                    max_parallelism: 128,
                })
                .unwrap();
            source.restore(chunks.to_vec()).unwrap();
            source
        })
        .collect()
}

/// Reads at most `batches` batches (all with `None`), appending the ids to `ids`.
async fn read(source: &mut dyn Source, batches: Option<usize>, ids: &mut Vec<i64>) {
    let mut n = 0;
    while batches.is_none_or(|max| n < max) {
        let Some(batch) = source.next_batch().await.unwrap() else {
            return;
        };
        let column = batch.batch.column_by_name("id").unwrap();
        ids.extend(column.as_primitive::<Int64Type>().values().iter());
        n += 1;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn positions_in_the_middle_of_files_restore_at_any_parallelism() {
    let dir = tempfile::tempdir().unwrap();
    let uri = table(&dir.path().join("t"), &[(0, 30), (30, 45), (45, 90)]).await;
    let plan = plan(&uri).await;
    assert_eq!(
        plan.schema()
            .fields()
            .iter()
            .map(|f| f.name().as_str())
            .collect::<Vec<_>>(),
        ["id", "part"]
    );
    let mut ids = Vec::new();

    // Parallelism 1: the first file (10 rows: 4, 4, 2) and one batch of the second.
    let mut one = subtasks(&plan, 1, &[]);
    read(one[0].as_mut(), Some(4), &mut ids).await;
    assert_eq!(ids.len(), 14);
    let chunks = one[0].snapshot().unwrap();

    // Parallelism 3 from there: two batches each, then a checkpoint.
    let mut three = subtasks(&plan, 3, &chunks);
    let mut chunks = Vec::new();
    for source in &mut three {
        read(source.as_mut(), Some(2), &mut ids).await;
        chunks.extend(source.snapshot().unwrap());
    }

    // Parallelism 2 to the end.
    for mut source in subtasks(&plan, 2, &chunks) {
        read(source.as_mut(), None, &mut ids).await;
    }
    ids.sort_unstable();
    assert_eq!(ids, (0..90).collect::<Vec<_>>());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_finished_subtask_s_positions_read_nothing_again() {
    let dir = tempfile::tempdir().unwrap();
    let uri = table(&dir.path().join("t"), &[(0, 9), (9, 12)]).await;
    let plan = plan(&uri).await;
    let mut ids = Vec::new();
    let mut chunks = Vec::new();
    for source in &mut subtasks(&plan, 2, &[]) {
        read(source.as_mut(), None, &mut ids).await;
        chunks.extend(source.snapshot().unwrap());
    }
    ids.sort_unstable();
    assert_eq!(ids, (0..12).collect::<Vec<_>>());
    let mut again = Vec::new();
    for mut source in subtasks(&plan, 3, &chunks) {
        read(source.as_mut(), None, &mut again).await;
    }
    assert_eq!(again, Vec::<i64>::new());
}
