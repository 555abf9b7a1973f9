//! Files dealt to readers by size: equal files go to different subtasks every time, and
//! files of varied sizes leave each subtask the bytes greedy placement gives it.

use std::collections::BTreeMap;
use std::path::Path;

use arrow::array::AsArray;
use arrow::record_batch::RecordBatch;
use weir_connectors::files::{FileSource, FileSourceConfig};
use weir_engine::{SourcePlan, SubtaskInfo};

use super::common::{append, config, lines_of, seqs};

/// The batches each of `parallelism` subtasks reads to the end, by subtask.
async fn read_by_subtask(dir: &Path, parallelism: usize) -> Vec<Vec<RecordBatch>> {
    let plan = FileSource::new(FileSourceConfig {
        metadata_columns: true,
        batch_size: 100,
        ..config(dir)
    })
    .await
    .unwrap();
    let mut read = Vec::new();
    for index in 0..parallelism {
        let mut reader = plan
            .create(&SubtaskInfo {
                gauges: Default::default(),
                node: "files".into(),
                index,
                parallelism,
                max_parallelism: 128,
            })
            .unwrap();
        let mut batches = Vec::new();
        while let Some(b) = reader.next_batch().await.unwrap() {
            batches.push(b.batch);
        }
        read.push(batches);
    }
    read
}

/// The file names (`file_path`'s last part) in `batches`, sorted, each once.
fn files_in(batches: &[RecordBatch]) -> Vec<String> {
    let mut names: Vec<String> = batches
        .iter()
        .flat_map(|b| {
            let column = b.column_by_name("file_path").unwrap().as_string::<i32>();
            column
                .iter()
                .map(|p| {
                    let path = Path::new(p.unwrap());
                    path.file_name().unwrap().to_string_lossy().into_owned()
                })
                .collect::<Vec<_>>()
        })
        .collect();
    names.sort();
    names.dedup();
    names
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_equal_files_are_read_by_two_subtasks_every_time() {
    // Whatever the files' identities, in eight directories.
    for round in 0..8 {
        let dir = tempfile::tempdir().unwrap();
        append(&dir.path().join("a.jsonl"), &lines_of(1000..1500));
        append(&dir.path().join("b.jsonl"), &lines_of(2000..2500));
        let read = read_by_subtask(dir.path(), 2).await;
        let files: Vec<Vec<String>> = read.iter().map(|b| files_in(b)).collect();
        assert_eq!(files.len(), 2);
        assert_eq!(files[0].len(), 1, "round {round}: {files:?}");
        assert_eq!(files[1].len(), 1, "round {round}: {files:?}");
        assert_ne!(files[0], files[1], "round {round}");
        let all: Vec<RecordBatch> = read.concat();
        let expected: Vec<i64> = (1000..1500).chain(2000..2500).collect();
        assert_eq!(seqs(&all), expected, "round {round}");
    }
}

/// The bytes each subtask gets by greedy placement: biggest first (sizes are distinct),
/// each to the subtask with the fewest bytes, ties to the lowest index.
fn greedy(sizes: &[u64], parallelism: usize) -> Vec<u64> {
    let mut sorted = sizes.to_vec();
    sorted.sort_unstable_by(|a, b| b.cmp(a));
    let mut load = vec![0; parallelism];
    for size in sorted {
        let least = (0..parallelism).min_by_key(|&s| (load[s], s)).unwrap();
        load[least] += size;
    }
    load
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_of_varied_sizes_are_balanced_by_bytes() {
    let dir = tempfile::tempdir().unwrap();
    // Lines of one length each (four-digit sequence numbers), so the sizes are distinct.
    let lines = [900i64, 50, 410, 400, 120, 700, 260];
    let mut sizes = BTreeMap::new();
    let mut first = 1000;
    for (f, n) in lines.iter().enumerate() {
        let name = format!("part-{f}.jsonl");
        let path = dir.path().join(&name);
        append(&path, &lines_of(first..first + n));
        first += n;
        sizes.insert(name, std::fs::metadata(&path).unwrap().len());
    }
    assert_eq!(sizes["part-1.jsonl"] * 18, sizes["part-0.jsonl"]);

    let read = read_by_subtask(dir.path(), 3).await;
    let mut seen = Vec::new();
    let load: Vec<u64> = read
        .iter()
        .map(|batches| {
            let files = files_in(batches);
            seen.extend(files.clone());
            files.iter().map(|f| sizes[f]).sum()
        })
        .collect();
    seen.sort();
    assert_eq!(
        seen,
        sizes.keys().cloned().collect::<Vec<_>>(),
        "each file once"
    );
    let all: Vec<u64> = sizes.values().copied().collect();
    assert_eq!(load, greedy(&all, 3));
    // The greedy bound: no subtask has more than the largest file over another.
    let largest = *all.iter().max().unwrap();
    assert!(
        load.iter().max().unwrap() - load.iter().min().unwrap() <= largest,
        "{load:?}"
    );
    assert_eq!(seqs(&read.concat()), (1000..first).collect::<Vec<_>>());
}
