//! Hive-style partition directories: rows are grouped by the values of the partition
//! columns into `col=value/` directories, and the partition columns are left out of the
//! files (readers recover them from the path, as Hive and Spark do).
//!
//! Names and values are escaped so that a directory name never contains `/`, `=`, `%` or a
//! control character: every directory is exactly one path component starting with
//! `col=`, so no value (not even `..`) can leave the sink's directory. Null and the empty
//! string are both written as [`NULL_PARTITION`], as Hive does.

use std::collections::HashMap;

use arrow::array::{ArrayRef, UInt32Array};
use arrow::compute::take;
use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use arrow::row::{RowConverter, SortField};
use arrow::util::display::{ArrayFormatter, FormatOptions};

use crate::error::Result;

/// The directory value of a null (or empty) partition value.
pub const NULL_PARTITION: &str = "__HIVE_DEFAULT_PARTITION__";

/// Characters escaped as `%XX`, besides control characters: Hive's set
/// (`FileUtils.escapePathName`), which Spark uses too.
const ESCAPED: &[char] = &[
    '"', '#', '%', '\'', '*', '/', ':', '=', '?', '\\', '\u{7f}', '{', '[', ']', '^',
];

/// Escapes a partition column name or value for use in a directory name.
pub fn escape_path_name(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        if c.is_ascii_control() || ESCAPED.contains(&c) {
            out.push_str(&format!("%{:02X}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

/// Undoes [`escape_path_name`]; a `%` not followed by two hex digits stays as it is.
pub fn unescape_path_name(name: &str) -> String {
    let bytes = name.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Splits batches by partition and drops the partition columns from what is written.
#[derive(Debug)]
pub(super) struct Partitioner {
    /// Indices of the partition columns in the input, in `partition_by` order.
    keys: Vec<usize>,
    /// Escaped partition column names, in the same order.
    names: Vec<String>,
    /// Indices of the columns written to files.
    kept: Vec<usize>,
    /// The schema of the files: the input without the partition columns.
    file_schema: SchemaRef,
}

impl Partitioner {
    /// A partitioner of `input` by the columns `partition_by`, which must be in it.
    pub fn new(input: &SchemaRef, partition_by: &[String]) -> Result<Self> {
        let keys = partition_by
            .iter()
            .map(|c| input.index_of(c))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        let kept: Vec<usize> = (0..input.fields().len())
            .filter(|i| !keys.contains(i))
            .collect();
        Ok(Self {
            names: partition_by.iter().map(|c| escape_path_name(c)).collect(),
            file_schema: std::sync::Arc::new(input.project(&kept)?),
            keys,
            kept,
        })
    }

    pub fn file_schema(&self) -> &SchemaRef {
        &self.file_schema
    }

    /// The rows of `batch` per partition directory (relative to the sink's directory,
    /// `""` when unpartitioned), without the partition columns: each directory once, in
    /// the order of its first row, its rows in their order in `batch`.
    pub fn split(&self, batch: &RecordBatch) -> Result<Vec<(String, RecordBatch)>> {
        let data = batch.project(&self.kept)?;
        if self.keys.is_empty() {
            return Ok(vec![(String::new(), data)]);
        }
        let columns: Vec<ArrayRef> = self.keys.iter().map(|&i| batch.column(i).clone()).collect();
        let converter = RowConverter::new(
            columns
                .iter()
                .map(|c| SortField::new(c.data_type().clone()))
                .collect(),
        )?;
        let rows = converter.convert_columns(&columns)?;
        let mut groups: HashMap<&[u8], usize> = HashMap::new();
        let mut indices: Vec<Vec<u32>> = Vec::new();
        for (row, key) in rows.iter().enumerate() {
            let group = *groups.entry(key.data()).or_insert_with(|| {
                indices.push(Vec::new());
                indices.len() - 1
            });
            indices[group].push(row as u32);
        }
        let options = FormatOptions::default();
        let formatters = columns
            .iter()
            .map(|c| ArrayFormatter::try_new(c.as_ref(), &options))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        // Null and the empty string share a directory: their rows go together.
        let mut dirs: Vec<(String, Vec<u32>)> = Vec::with_capacity(indices.len());
        let mut by_dir: HashMap<String, usize> = HashMap::new();
        for rows in indices {
            let first = rows[0] as usize;
            let dir = self
                .names
                .iter()
                .zip(&columns)
                .zip(&formatters)
                .map(|((name, column), formatter)| {
                    let value = match column.is_null(first) {
                        true => String::new(),
                        false => formatter.value(first).to_string(),
                    };
                    match value.is_empty() {
                        true => format!("{name}={NULL_PARTITION}"),
                        false => format!("{name}={}", escape_path_name(&value)),
                    }
                })
                .collect::<Vec<_>>()
                .join("/");
            match by_dir.get(&dir) {
                Some(&i) => {
                    dirs[i].1.extend(rows);
                    dirs[i].1.sort_unstable();
                }
                None => {
                    by_dir.insert(dir.clone(), dirs.len());
                    dirs.push((dir, rows));
                }
            }
        }
        let mut out = Vec::with_capacity(dirs.len());
        for (dir, rows) in dirs {
            let take_rows = UInt32Array::from(rows);
            let columns = data
                .columns()
                .iter()
                .map(|c| take(c.as_ref(), &take_rows, None))
                .collect::<std::result::Result<Vec<_>, _>>()?;
            out.push((dir, RecordBatch::try_new(data.schema(), columns)?));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{AsArray, Int64Array, StringArray};
    use arrow::datatypes::{DataType, Field, Int64Type, Schema};

    use super::*;

    #[test]
    fn escaped_names_are_one_safe_path_component_and_unescape_to_the_value() {
        for value in [
            "a/b",
            "..",
            "x=y",
            "100%",
            "line\nbreak",
            "tab\t",
            "\\",
            "é/ü",
            "%2F",
            "plain",
        ] {
            let escaped = escape_path_name(value);
            assert!(
                !escaped.contains(['/', '=', '\n', '\t', '\\']),
                "{value:?} -> {escaped:?}"
            );
            assert_eq!(unescape_path_name(&escaped), value);
        }
        assert_eq!(escape_path_name("a/b=c%"), "a%2Fb%3Dc%25");
        assert_eq!(escape_path_name(".."), "..");
    }

    #[test]
    fn rows_split_by_partition_without_the_partition_columns() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("v", DataType::Int64, false),
            Field::new("k", DataType::Utf8, true),
        ]));
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(Int64Array::from(vec![1, 2, 3, 4, 5])),
                Arc::new(StringArray::from(vec![
                    Some("a/b"),
                    None,
                    Some("a/b"),
                    Some(""),
                    Some(".."),
                ])),
            ],
        )
        .unwrap();
        let partitioner = Partitioner::new(&schema, &["k".into()]).unwrap();
        let parts: Vec<(String, Vec<i64>)> = partitioner
            .split(&batch)
            .unwrap()
            .into_iter()
            .map(|(dir, b)| {
                assert_eq!(b.schema(), *partitioner.file_schema());
                let values = b.column(0).as_primitive::<Int64Type>().values().to_vec();
                (dir, values)
            })
            .collect();
        assert_eq!(
            parts,
            vec![
                ("k=a%2Fb".to_string(), vec![1, 3]),
                (format!("k={NULL_PARTITION}"), vec![2, 4]),
                ("k=..".to_string(), vec![5]),
            ]
        );
    }
}
