//! Checkpoint files and manifests on a real directory: round trip, fallback past damaged or
//! incomplete checkpoints, retention.

use std::sync::Arc;

use arrow::array::{Int64Array, UInt32Array};
use arrow::datatypes::{DataType, Field};
use weir_engine::checkpoint::{CheckpointStore, Manifest, NodeState};
use weir_engine::state::{state_batch, OperatorSnapshot, StateChunk, StateTable};

fn snapshot(values: &[i64], watermark: i64) -> OperatorSnapshot {
    let table = StateTable::new("t", [Arc::new(Field::new("v", DataType::Int64, false))]);
    let shard = Arc::new(UInt32Array::from_iter_values(
        values.iter().map(|v| *v as u32 % 128),
    ));
    let batch = state_batch(
        &table,
        shard,
        vec![Arc::new(Int64Array::from(values.to_vec()))],
    )
    .unwrap();
    OperatorSnapshot {
        watermark: Some(watermark),
        chunks: vec![StateChunk {
            table: "t".into(),
            batch,
        }],
    }
}

async fn checkpoint(
    store: &CheckpointStore,
    id: u64,
    values: &[i64],
    with_manifest: bool,
) -> Manifest {
    let mut subtasks = Vec::new();
    for (i, half) in values.chunks(values.len().div_ceil(2)).enumerate() {
        subtasks.push(
            store
                .write_subtask(id, "w", i, snapshot(half, id as i64 * 10))
                .await
                .unwrap(),
        );
    }
    let manifest = Manifest {
        checkpoint_id: id,
        timestamp_ms: 0,
        max_parallelism: 128,
        nodes: vec![NodeState {
            name: "w".into(),
            parallelism: subtasks.len(),
            subtasks,
        }],
    };
    if with_manifest {
        store.write_manifest(&manifest).await.unwrap();
    }
    manifest
}

fn values(snapshots: &[OperatorSnapshot]) -> Vec<i64> {
    snapshots
        .iter()
        .flat_map(|s| s.chunks.iter())
        .flat_map(|c| {
            let v = c
                .batch
                .column(1)
                .as_any()
                .downcast_ref::<Int64Array>()
                .unwrap()
                .clone();
            v.values().to_vec()
        })
        .collect()
}

#[tokio::test]
async fn the_newest_usable_checkpoint_is_found_and_damaged_ones_are_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let store = CheckpointStore::open(dir.path().to_str().unwrap()).unwrap();
    assert!(store.latest().await.unwrap().is_none());

    let first = checkpoint(&store, 1, &[1, 2, 3, 4], true).await;
    let (manifest, state) = store.latest().await.unwrap().unwrap();
    assert_eq!(manifest, first);
    assert_eq!(values(&state["w"]), vec![1, 2, 3, 4]);
    assert_eq!(state["w"][1].watermark, Some(10));

    // 2: files but no manifest -> does not exist.
    checkpoint(&store, 2, &[5, 6], false).await;
    // 3: the manifest names a file that is gone.
    let third = checkpoint(&store, 3, &[7, 8], true).await;
    std::fs::remove_file(dir.path().join(&third.nodes[0].subtasks[0].files[0].path)).unwrap();
    // 4: a truncated state file.
    let fourth = checkpoint(&store, 4, &[9, 10], true).await;
    let damaged = dir.path().join(&fourth.nodes[0].subtasks[1].files[0].path);
    let bytes = std::fs::read(&damaged).unwrap();
    std::fs::write(&damaged, &bytes[..bytes.len() / 2]).unwrap();

    let (manifest, state) = store.latest().await.unwrap().unwrap();
    assert_eq!(manifest.checkpoint_id, 1);
    assert_eq!(values(&state["w"]), vec![1, 2, 3, 4]);
}

#[tokio::test]
async fn retention_keeps_the_newest_complete_checkpoints_only() {
    let dir = tempfile::tempdir().unwrap();
    let store = CheckpointStore::open(dir.path().to_str().unwrap()).unwrap();
    for id in 1..=5 {
        checkpoint(&store, id, &[id as i64], id != 2).await;
    }
    store.retain(3).await.unwrap();
    let mut left: Vec<String> = walk(dir.path());
    left.sort();
    assert_eq!(
        left,
        vec![
            "chk-0000000003/_manifest.json",
            "chk-0000000003/w/0/t.arrow",
            "chk-0000000004/_manifest.json",
            "chk-0000000004/w/0/t.arrow",
            "chk-0000000005/_manifest.json",
            "chk-0000000005/w/0/t.arrow",
        ]
    );
}

fn walk(root: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push(
                    path.strip_prefix(root)
                        .unwrap()
                        .to_string_lossy()
                        .into_owned(),
                );
            }
        }
    }
    out
}
