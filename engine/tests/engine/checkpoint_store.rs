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
        chunks: vec![StateChunk::new("t", batch)],
        checkpoint_id: None,
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
                .subtask_writer("w", i)
                .write(id, snapshot(half, id as i64 * 10))
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
            tables: Vec::new(),
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
    let restored = store.latest().await.unwrap().unwrap();
    assert_eq!(restored.manifest, first);
    assert_eq!(values(&restored.state["w"]), vec![1, 2, 3, 4]);
    assert_eq!(restored.state["w"][1].watermark, Some(10));
    assert!(restored.skipped.is_empty());

    // 2: files but no manifest -> does not exist.
    checkpoint(&store, 2, &[5, 6], false).await;
    // 3: the manifest names a file that is gone.
    let third = checkpoint(&store, 3, &[7, 8], true).await;
    let missing = &third.nodes[0].subtasks[0].files[0].path;
    std::fs::remove_file(dir.path().join(missing)).unwrap();
    // 4: a truncated state file.
    let fourth = checkpoint(&store, 4, &[9, 10], true).await;
    let truncated = &fourth.nodes[0].subtasks[1].files[0].path;
    let bytes = std::fs::read(dir.path().join(truncated)).unwrap();
    std::fs::write(dir.path().join(truncated), &bytes[..bytes.len() / 2]).unwrap();
    // 5: a manifest that is not JSON.
    std::fs::create_dir_all(dir.path().join("chk-0000000005")).unwrap();
    std::fs::write(dir.path().join("chk-0000000005/_manifest.json"), b"{ trunc").unwrap();

    let restored = store.latest().await.unwrap().unwrap();
    assert_eq!(restored.manifest.checkpoint_id, 1);
    assert_eq!(values(&restored.state["w"]), vec![1, 2, 3, 4]);
    let skipped: Vec<(u64, &str)> = restored
        .skipped
        .iter()
        .map(|s| (s.checkpoint_id, s.reason.as_str()))
        .collect();
    assert_eq!(skipped.len(), 4, "{skipped:?}");
    assert_eq!(skipped[0].0, 5);
    assert!(
        skipped[0].1.contains("is not a valid manifest"),
        "{skipped:?}"
    );
    assert_eq!(skipped[1].0, 4);
    assert!(
        skipped[1]
            .1
            .contains(&format!("{truncated} is not an Arrow file")),
        "{skipped:?}"
    );
    assert_eq!(skipped[2].0, 3);
    assert!(skipped[2].1.contains(missing.as_str()), "{skipped:?}");
    assert_eq!(skipped[3], (2, "it has no manifest (it never completed)"));
    assert_eq!(store.highest_id().await.unwrap(), Some(5));
}

#[tokio::test]
async fn no_usable_checkpoint_is_an_error_not_a_fresh_start() {
    let dir = tempfile::tempdir().unwrap();
    let store = CheckpointStore::open(dir.path().to_str().unwrap()).unwrap();
    let only = checkpoint(&store, 1, &[1, 2], true).await;
    std::fs::remove_file(dir.path().join(&only.nodes[0].subtasks[0].files[0].path)).unwrap();
    let error = store.latest().await.unwrap_err().to_string();
    assert!(
        error.starts_with(&format!(
            "cannot restore: no usable checkpoint in {}: checkpoint 1: checkpoint failed: reading chk-0000000001/w/0/t-",
            dir.path().display()
        )),
        "{error}"
    );
    // A location holding only checkpoints that never completed is a fresh start.
    let fresh = tempfile::tempdir().unwrap();
    let store = CheckpointStore::open(fresh.path().to_str().unwrap()).unwrap();
    checkpoint(&store, 1, &[1], false).await;
    assert!(store.latest().await.unwrap().is_none());
}

fn immutable(values: &[i64], id: u64) -> StateChunk {
    let chunk = snapshot(values, 0).chunks.remove(0);
    StateChunk::immutable("t", chunk.batch, id)
}

#[tokio::test]
async fn incremental_checkpoints_reference_unchanged_chunks_and_retention_keeps_them() {
    let dir = tempfile::tempdir().unwrap();
    let store = CheckpointStore::open(dir.path().to_str().unwrap()).unwrap();
    let mut writer = store.subtask_writer("w", 0);
    // Chunk 7 lives through every checkpoint; chunk `id + 100` only through checkpoint
    // `id`; the mutable chunk changes every time.
    let mut manifests = Vec::new();
    for id in 1..=5u64 {
        let mut state = snapshot(&[id as i64], id as i64);
        state.chunks.push(immutable(&[70, 71], 7));
        state.chunks.push(immutable(&[id as i64 * 100], id + 100));
        let subtask = writer.write(id, state).await.unwrap();
        let manifest = Manifest {
            checkpoint_id: id,
            timestamp_ms: 0,
            max_parallelism: 128,
            nodes: vec![NodeState {
                name: "w".into(),
                parallelism: 1,
                tables: Vec::new(),
                subtasks: vec![subtask],
            }],
        };
        if id != 2 {
            store.write_manifest(&manifest).await.unwrap();
        }
        manifests.push(manifest);
    }
    // Checkpoint 1 wrote 3 files; every later one 2 (chunk 7 is referenced, not rewritten).
    let written = |id: u64| {
        manifests[id as usize - 1]
            .files()
            .filter(|f| f.path.starts_with(&format!("chk-{id:010}/")))
            .count()
    };
    assert_eq!(
        (1..=5).map(written).collect::<Vec<_>>(),
        vec![3, 2, 2, 2, 2]
    );
    let shared = manifests[0].files().next().unwrap().path.clone();
    assert!(manifests
        .iter()
        .all(|m| m.files().any(|f| f.path == shared)));

    store.retain(3).await.unwrap();
    let mut left = walk(dir.path());
    left.sort();
    let mut expected: Vec<String> = manifests[2..]
        .iter()
        .flat_map(|m| m.files().map(|f| f.path.clone()))
        .chain((3..=5).map(|id| format!("chk-{id:010}/_manifest.json")))
        .collect();
    expected.sort();
    expected.dedup();
    assert_eq!(left, expected);
    assert!(left.contains(&shared));
    // Checkpoint 2's folder went with its files; checkpoint 1's holds the shared chunk.
    assert_eq!(
        folders(dir.path()),
        [1, 3, 4, 5].map(|id| format!("chk-{id:010}"))
    );

    // Restoring the newest reads the shared chunk from checkpoint 1's folder.
    let restored = store.latest().await.unwrap().unwrap();
    assert_eq!(restored.manifest.checkpoint_id, 5);
    assert_eq!(values(&restored.state["w"]), vec![70, 71, 500, 5]);
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

/// The top-level folders of a checkpoint location, sorted.
fn folders(root: &std::path::Path) -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir(root)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    out.sort();
    out
}

/// Retention removes the folders of the checkpoints it drops, and the empty folders that
/// runs before it left behind, so a long-running job's location stays as small as
/// `retained` says and a checkpoint does not list thousands of folders.
#[tokio::test]
async fn retention_removes_old_folders_so_a_location_does_not_grow() {
    let dir = tempfile::tempdir().unwrap();
    // 2,000 empty folders, as earlier versions left them (an hour at 1 s checkpoints).
    for id in 1..=2_000u64 {
        std::fs::create_dir_all(dir.path().join(format!("chk-{id:010}/w/0"))).unwrap();
    }
    let store = CheckpointStore::open(dir.path().to_str().unwrap()).unwrap();
    // One retention drops at most 128 old checkpoints, oldest first: the leftovers go
    // over the next checkpoints, then the location holds the 3 kept ones.
    for (k, id) in (2_001..=2_050u64).enumerate() {
        checkpoint(&store, id, &[id as i64, 1], true).await;
        store.retain(3).await.unwrap();
        let bound = (2_000 + k + 1).saturating_sub(128 * (k + 1)).max(3);
        assert!(
            folders(dir.path()).len() <= bound,
            "{k}: {}",
            folders(dir.path()).len()
        );
    }
    // One without a manifest (in progress) is newer than the newest complete one: kept.
    checkpoint(&store, 2_051, &[1], false).await;
    store.retain(3).await.unwrap();
    assert_eq!(
        folders(dir.path()),
        [2_048, 2_049, 2_050, 2_051].map(|id| format!("chk-{id:010}"))
    );
    let restored = store.latest().await.unwrap().unwrap();
    assert_eq!(restored.manifest.checkpoint_id, 2_050);
    assert_eq!(values(&restored.state["w"]), vec![2_050, 1]);
}
