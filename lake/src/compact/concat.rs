//! Bin-packing without decoding: when every file of a bin has the same Parquet schema and
//! row groups big enough to scan well, the new file is the old files' row groups copied
//! byte for byte (column chunks spliced, a new footer written), as `parquet-concat` does.
//! No page is decompressed, decoded or encoded, so a bin costs little more than its bytes
//! read and written. The new file's statistics are the old files' merged (the rows are
//! the same), its row count the written footer's.

use std::sync::Arc;

use bytes::Bytes;
use deltalake::kernel::{Add, LogicalFileView};
use deltalake::logstore::object_store::ObjectStoreExt as _;
use deltalake::{DeltaTable, Path};
use parquet::column::writer::ColumnCloseResult;
use parquet::file::metadata::{ParquetMetaData, ParquetMetaDataReader};
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use serde_json::{Map, Value};

use crate::error::{LakeError, Result};

/// Row groups with fewer rows than this are re-encoded (with others) rather than copied:
/// a file of many tiny row groups scans slowly. One DataFusion batch.
pub const MIN_COPIED_ROW_GROUP_ROWS: i64 = 8_192;

/// A fetched file of a bin: its bytes, footer and Delta statistics.
pub struct Fetched {
    pub bytes: Bytes,
    metadata: ParquetMetaData,
    stats: Option<Value>,
}

impl Fetched {
    /// Parses the footer of `bytes`, the file of `file`.
    pub fn new(bytes: Bytes, file: &LogicalFileView, place: &str) -> Result<Self> {
        let metadata = ParquetMetaDataReader::new()
            .parse_and_finish(&bytes)
            .map_err(|e| LakeError::Io(format!("reading the footer of {place}: {e}")))?;
        #[allow(deprecated)] // statistics are only reachable through the add action
        let stats = file
            .add_action()
            .stats
            .and_then(|s| serde_json::from_str(&s).ok());
        Ok(Self {
            bytes,
            metadata,
            stats,
        })
    }

    fn copyable(&self) -> bool {
        self.stats.is_some()
            && self
                .metadata
                .row_groups()
                .iter()
                .all(|rg| rg.num_rows() >= MIN_COPIED_ROW_GROUP_ROWS)
    }
}

/// Whether the bin's files can be concatenated: same Parquet schema, statistics known,
/// no tiny row groups.
pub fn concatenable(files: &[Fetched]) -> bool {
    let Some(first) = files.first() else {
        return false;
    };
    let schema = first.metadata.file_metadata().schema();
    files
        .iter()
        .all(|f| f.copyable() && f.metadata.file_metadata().schema() == schema)
}

/// Concatenates `files` (a bin of the partition of `partition`, [`concatenable`]) into
/// one new file of the table, uploaded; returns its `add` (no data change).
pub async fn write_concatenated(
    table: &DeltaTable,
    partition: &LogicalFileView,
    files: Vec<Fetched>,
) -> Result<Add> {
    let uri = table.table_url().to_string();
    let failed = |e: &dyn std::fmt::Display| {
        LakeError::Io(format!("concatenating files of table {uri}: {e}"))
    };
    let stats = merged_stats(files.iter().map(|f| f.stats.as_ref()));
    let (bytes, rows) = tokio::task::spawn_blocking(move || concat(&files))
        .await
        .map_err(|e| failed(&e))?
        .map_err(|e| failed(&e))?;
    let folder = partition
        .path()
        .rsplit_once('/')
        .map(|(folder, _)| format!("{folder}/"))
        .unwrap_or_default();
    let name = format!(
        "{folder}part-00000-{}-c000.snappy.parquet",
        uuid::Uuid::new_v4()
    );
    let size = bytes.len() as i64;
    table
        .object_store()
        .put(&Path::from(name.as_str()), bytes.into())
        .await
        .map_err(|e| failed(&e))?;
    #[allow(deprecated)] // the partition values are only reachable through the add action
    let mut add = partition.add_action();
    let mut stats = stats;
    stats.insert("numRecords".into(), Value::from(rows));
    add.path = name;
    add.size = size;
    add.stats = Some(Value::Object(stats).to_string());
    add.data_change = false;
    add.modification_time = chrono::Utc::now().timestamp_millis();
    add.tags = None;
    add.deletion_vector = None;
    add.base_row_id = None;
    add.default_row_commit_version = None;
    Ok(add)
}

/// The files' row groups, copied into one file; returns it and its rows.
fn concat(files: &[Fetched]) -> parquet::errors::Result<(Bytes, i64)> {
    let first = &files[0].metadata;
    let properties = WriterProperties::builder()
        .set_key_value_metadata(first.file_metadata().key_value_metadata().cloned())
        .set_created_by(
            first
                .file_metadata()
                .created_by()
                .unwrap_or("weir")
                .to_string(),
        )
        .build();
    let schema = first.file_metadata().schema_descr().root_schema_ptr();
    let capacity = files.iter().map(|f| f.bytes.len()).sum::<usize>() + 4096;
    let mut writer =
        SerializedFileWriter::new(Vec::with_capacity(capacity), schema, Arc::new(properties))?;
    let mut rows = 0;
    for file in files {
        for group in file.metadata.row_groups() {
            let mut out = writer.next_row_group()?;
            for column in group.columns() {
                out.append_column(
                    &file.bytes,
                    ColumnCloseResult {
                        bytes_written: column.compressed_size() as u64,
                        rows_written: group.num_rows() as u64,
                        metadata: column.clone(),
                        bloom_filter: None,
                        column_index: None,
                        offset_index: None,
                    },
                )?;
            }
            out.close()?;
            rows += group.num_rows();
        }
    }
    let bytes = writer.into_inner()?;
    Ok((Bytes::from(bytes), rows))
}

/// Delta statistics of the files' rows together: per column the least minimum, the
/// greatest maximum and the summed null count. A column some file has no statistic for
/// (or of another kind) gets none: no statistic never skips wrongly.
fn merged_stats<'a>(stats: impl Iterator<Item = Option<&'a Value>>) -> Map<String, Value> {
    let stats: Vec<&Value> = stats.flatten().collect();
    let mut merged = Map::new();
    for (key, combine) in [
        ("minValues", Combine::Min),
        ("maxValues", Combine::Max),
        ("nullCount", Combine::Sum),
    ] {
        let parts: Vec<&Value> = stats.iter().filter_map(|s| s.get(key)).collect();
        if parts.len() == stats.len() {
            if let Some(value) = combined(&parts, combine) {
                merged.insert(key.to_string(), value);
            }
        }
    }
    merged
}

#[derive(Clone, Copy)]
enum Combine {
    Min,
    Max,
    Sum,
}

/// `values` (one per file) combined; objects field by field.
fn combined(values: &[&Value], combine: Combine) -> Option<Value> {
    match values.first()? {
        Value::Object(first) => {
            let mut out = Map::new();
            for key in first.keys() {
                let parts: Option<Vec<&Value>> = values.iter().map(|v| v.get(key)).collect();
                if let Some(value) = parts.and_then(|p| combined(&p, combine)) {
                    out.insert(key.clone(), value);
                }
            }
            Some(Value::Object(out))
        }
        _ => values[1..]
            .iter()
            .try_fold((*values[0]).clone(), |acc, v| pair(&acc, v, combine)),
    }
}

fn pair(a: &Value, b: &Value, combine: Combine) -> Option<Value> {
    use std::cmp::Ordering;
    let order = match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            if let Combine::Sum = combine {
                return Some(match (x.as_i64(), y.as_i64()) {
                    (Some(x), Some(y)) => Value::from(x.checked_add(y)?),
                    _ => Value::from(x.as_f64()? + y.as_f64()?),
                });
            }
            match (x.as_i64(), y.as_i64()) {
                (Some(x), Some(y)) => x.cmp(&y),
                _ => x.as_f64()?.partial_cmp(&y.as_f64()?)?,
            }
        }
        (Value::String(x), Value::String(y)) if !matches!(combine, Combine::Sum) => x.cmp(y),
        (Value::Bool(x), Value::Bool(y)) if !matches!(combine, Combine::Sum) => x.cmp(y),
        _ => return None,
    };
    let keep_a = match combine {
        Combine::Min => order != Ordering::Greater,
        Combine::Max => order != Ordering::Less,
        Combine::Sum => unreachable!("sums returned above"),
    };
    Some(if keep_a { a.clone() } else { b.clone() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merged_statistics_bound_every_file_and_drop_what_one_lacks() {
        let a: Value = serde_json::from_str(
            r#"{"numRecords":2,"minValues":{"n":3,"s":"b","t":"2026-01-02T00:00:00.000Z","x":1,"nested":{"f":1.5}},
                "maxValues":{"n":9,"s":"k","t":"2026-01-05T00:00:00.000Z","x":2,"nested":{"f":2.5}},
                "nullCount":{"n":0,"s":1,"t":0,"x":0,"nested":{"f":0}}}"#,
        )
        .unwrap();
        let b: Value = serde_json::from_str(
            r#"{"numRecords":3,"minValues":{"n":-1,"s":"c","t":"2026-01-01T00:00:00.000Z","nested":{"f":0.5}},
                "maxValues":{"n":4,"s":"z","t":"2026-01-03T00:00:00.000Z","x":"oops","nested":{"f":9.0}},
                "nullCount":{"n":2,"s":0,"t":1,"x":3,"nested":{"f":1}}}"#,
        )
        .unwrap();
        let merged = Value::Object(merged_stats([Some(&a), Some(&b)].into_iter()));
        let expected: Value = serde_json::from_str(
            r#"{"minValues":{"n":-1,"s":"b","t":"2026-01-01T00:00:00.000Z","nested":{"f":0.5}},
                "maxValues":{"n":9,"s":"z","t":"2026-01-05T00:00:00.000Z","nested":{"f":9.0}},
                "nullCount":{"n":2,"s":1,"t":1,"x":3,"nested":{"f":1}}}"#,
        )
        .unwrap();
        assert_eq!(merged, expected);
    }
}
