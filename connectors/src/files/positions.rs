//! Read positions of files in checkpoints: one state row per file, in the key group of the
//! file's partition id.

use std::sync::Arc;

use arrow::array::{ArrayRef, AsArray, StringArray, UInt32Array, UInt64Array};
use arrow::datatypes::{DataType, Field, UInt64Type};
use weir_engine::state::{state_batch, StateChunk, StateTable};

use super::identity::FileId;

/// State table of the file source.
const POSITIONS_TABLE: &str = "files";

fn positions_table() -> StateTable {
    let field = |name: &str, data_type| Arc::new(Field::new(name, data_type, false));
    StateTable::new(
        POSITIONS_TABLE,
        [
            field("path", DataType::Utf8),
            field("dev", DataType::UInt64),
            field("ino", DataType::UInt64),
            field("offset", DataType::UInt64),
            field("line", DataType::UInt64),
        ],
    )
}

/// Where reading a file continues.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Position {
    /// The file's path when the position was taken (for messages).
    pub path: String,
    pub id: FileId,
    /// Line files: the byte offset after the last line handed out. Parquet: rows read.
    pub offset: u64,
    /// Lines handed out (or skipped), or Parquet rows read.
    pub line: u64,
}

/// The positions as one state chunk (none when there are no positions).
pub fn snapshot(positions: &[Position]) -> weir_engine::Result<Vec<StateChunk>> {
    if positions.is_empty() {
        return Ok(Vec::new());
    }
    let shard = Arc::new(UInt32Array::from_iter_values(
        positions.iter().map(|p| p.id.partition_id()),
    ));
    let u64s = |f: fn(&Position) -> u64| -> ArrayRef {
        Arc::new(UInt64Array::from_iter_values(positions.iter().map(f)))
    };
    let columns = vec![
        Arc::new(StringArray::from_iter_values(
            positions.iter().map(|p| p.path.as_str()),
        )) as ArrayRef,
        u64s(|p| p.id.dev),
        u64s(|p| p.id.ino),
        u64s(|p| p.offset),
        u64s(|p| p.line),
    ];
    Ok(vec![StateChunk::new(
        POSITIONS_TABLE,
        state_batch(&positions_table(), shard, columns)?,
    )])
}

/// Every position in `chunks` (of all subtasks).
pub fn restore(chunks: &[StateChunk]) -> Vec<Position> {
    let mut positions = Vec::new();
    for chunk in chunks.iter().filter(|c| c.table == POSITIONS_TABLE) {
        let b = &chunk.batch;
        let paths = b.column(1).as_string::<i32>();
        let u64s = |i: usize| b.column(i).as_primitive::<UInt64Type>();
        let (dev, ino, offset, line) = (u64s(2), u64s(3), u64s(4), u64s(5));
        for row in 0..b.num_rows() {
            positions.push(Position {
                path: paths.value(row).to_string(),
                id: FileId {
                    dev: dev.value(row),
                    ino: ino.value(row),
                },
                offset: offset.value(row),
                line: line.value(row),
            });
        }
    }
    positions
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_round_trip() {
        let positions = vec![
            Position {
                path: "/logs/a.log".into(),
                id: FileId { dev: 1, ino: 2 },
                offset: 300,
                line: 7,
            },
            Position {
                path: "/logs/b.log".into(),
                id: FileId { dev: 1, ino: 3 },
                offset: 0,
                line: 0,
            },
        ];
        assert_eq!(restore(&snapshot(&positions).unwrap()), positions);
        assert!(snapshot(&[]).unwrap().is_empty());
    }
}
