//! The Delta source's positions in checkpoints, by key group (a data file's key group is a
//! hash of its path), so that they can be re-split at any parallelism:
//!
//! - `delta_versions`: per key group, the first version whose files of that group are not
//!   all read (every earlier version is done for the group);
//! - `delta_files`: per file of that version already started, the rows read and whether
//!   it is finished.
//!
//! A file of key group `g` in version `v` is read after a restore exactly when `v` is at
//! least the group's version, from its saved row count if `v` is that version.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{ArrayRef, AsArray, BooleanArray, StringArray, UInt32Array, UInt64Array};
use arrow::datatypes::{DataType, Field, UInt32Type, UInt64Type};
use weir_engine::state::{state_batch, StateChunk, StateTable};
use xxhash_rust::xxh3::xxh3_64;

const VERSIONS_TABLE: &str = "delta_versions";
const FILES_TABLE: &str = "delta_files";

fn field(name: &str, data_type: DataType) -> Arc<Field> {
    Arc::new(Field::new(name, data_type, false))
}

fn versions_table() -> StateTable {
    StateTable::new(VERSIONS_TABLE, [field("version", DataType::UInt64)])
}

fn files_table() -> StateTable {
    StateTable::new(
        FILES_TABLE,
        [
            field("version", DataType::UInt64),
            field("path", DataType::Utf8),
            field("rows", DataType::UInt64),
            field("finished", DataType::Boolean),
        ],
    )
}

/// The key group of a data file: a pinned hash of its path (as the log spells it).
pub(super) fn key_group_of(path: &str, max_parallelism: usize) -> usize {
    weir_engine::keys::key_group(xxh3_64(path.as_bytes()), max_parallelism)
}

/// How far a started file of a group's current version is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct FileProgress {
    pub(super) group: usize,
    pub(super) rows: u64,
    pub(super) finished: bool,
}

/// Started files by (version, path).
pub(super) type Progress = HashMap<(u64, String), FileProgress>;

/// The positions of some key groups.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Positions {
    /// (key group, first version not fully read for it).
    pub(super) versions: Vec<(usize, u64)>,
    pub(super) files: Progress,
}

/// The positions as state chunks.
pub(super) fn snapshot(positions: &Positions) -> weir_engine::Result<Vec<StateChunk>> {
    let mut chunks = Vec::new();
    if !positions.versions.is_empty() {
        let v = &positions.versions;
        let shard = Arc::new(UInt32Array::from_iter_values(v.iter().map(|p| p.0 as u32)));
        let versions = Arc::new(UInt64Array::from_iter_values(v.iter().map(|p| p.1)));
        chunks.push(StateChunk::new(
            VERSIONS_TABLE,
            state_batch(&versions_table(), shard, vec![versions])?,
        ));
    }
    if !positions.files.is_empty() {
        let mut files: Vec<(&(u64, String), &FileProgress)> = positions.files.iter().collect();
        files.sort_by(|a, b| a.0.cmp(b.0));
        let shard = Arc::new(UInt32Array::from_iter_values(
            files.iter().map(|f| f.1.group as u32),
        ));
        let columns: Vec<ArrayRef> = vec![
            Arc::new(UInt64Array::from_iter_values(files.iter().map(|f| f.0 .0))),
            Arc::new(StringArray::from_iter_values(
                files.iter().map(|f| f.0 .1.as_str()),
            )),
            Arc::new(UInt64Array::from_iter_values(
                files.iter().map(|f| f.1.rows),
            )),
            Arc::new(BooleanArray::from(
                files.iter().map(|f| f.1.finished).collect::<Vec<_>>(),
            )),
        ];
        chunks.push(StateChunk::new(
            FILES_TABLE,
            state_batch(&files_table(), shard, columns)?,
        ));
    }
    Ok(chunks)
}

/// The positions in `chunks` (of every old subtask) of the key groups `owns` accepts.
pub(super) fn restore(chunks: &[StateChunk], owns: impl Fn(usize) -> bool) -> Positions {
    let mut positions = Positions::default();
    for chunk in chunks {
        let b = &chunk.batch;
        let groups = b.column(0).as_primitive::<UInt32Type>();
        let u64s = |i: usize| b.column(i).as_primitive::<UInt64Type>();
        match chunk.table.as_str() {
            VERSIONS_TABLE => {
                let versions = u64s(1);
                for row in 0..b.num_rows() {
                    let group = groups.value(row) as usize;
                    if owns(group) {
                        positions.versions.push((group, versions.value(row)));
                    }
                }
            }
            FILES_TABLE => {
                let (versions, rows) = (u64s(1), u64s(3));
                let paths = b.column(2).as_string::<i32>();
                let finished = b.column(4).as_boolean();
                for row in 0..b.num_rows() {
                    let group = groups.value(row) as usize;
                    if owns(group) {
                        positions.files.insert(
                            (versions.value(row), paths.value(row).to_string()),
                            FileProgress {
                                group,
                                rows: rows.value(row),
                                finished: finished.value(row),
                            },
                        );
                    }
                }
            }
            _ => {}
        }
    }
    positions.versions.sort_unstable();
    positions
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_round_trip_and_split_by_key_group() {
        let mut files = Progress::new();
        files.insert(
            (4, "a/part-1.parquet".into()),
            FileProgress {
                group: 3,
                rows: 70,
                finished: false,
            },
        );
        files.insert(
            (5, "part-2.parquet".into()),
            FileProgress {
                group: 90,
                rows: 12,
                finished: true,
            },
        );
        let positions = Positions {
            versions: vec![(3, 4), (90, 5), (100, 6)],
            files,
        };
        let chunks = snapshot(&positions).unwrap();
        assert_eq!(restore(&chunks, |_| true), positions);
        let low = restore(&chunks, |g| g < 64);
        assert_eq!(low.versions, [(3, 4)]);
        assert_eq!(low.files.len(), 1);
        assert!(low.files.contains_key(&(4, "a/part-1.parquet".to_string())));
        assert!(snapshot(&Positions::default()).unwrap().is_empty());
    }

    #[test]
    fn key_groups_of_paths_are_pinned() {
        // Pinned: checkpoints keep positions in the key group of this hash.
        assert_eq!(
            [
                key_group_of("part-00000-1.snappy.parquet", 128),
                key_group_of("date=2026-12-06/part-00001-7.parquet", 128)
            ],
            [50, 125]
        );
        assert_eq!(
            key_group_of("x", 128),
            weir_engine::keys::key_group(xxh3_64(b"x"), 128)
        );
    }
}
