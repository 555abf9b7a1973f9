//! Reading a Parquet sink's output back as a reader that knows Hive partitioning does:
//! paths starting with `_` or `.` are skipped, partition values come from the
//! `col=value` directories (unescaped; the null marker is null).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{ArrayRef, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use arrow::record_batch::RecordBatch;
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use weir_connectors::parquet_sink::{unescape_path_name, NULL_PARTITION};

/// Every visible `.parquet` file under `root`, sorted.
pub fn committed_files(root: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries {
            let entry = entry.unwrap();
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('_') || name.starts_with('.') {
                continue;
            }
            if entry.file_type().unwrap().is_dir() {
                dirs.push(entry.path());
            } else if name.ends_with(".parquet") {
                files.push(entry.path());
            }
        }
    }
    files.sort();
    files
}

/// The files' rows, each batch followed by its partition columns (as strings).
pub fn read_committed(root: &Path) -> Vec<RecordBatch> {
    let mut out = Vec::new();
    for path in committed_files(root) {
        let partitions: Vec<(String, Option<String>)> = path
            .parent()
            .unwrap()
            .strip_prefix(root)
            .unwrap()
            .components()
            .map(|c| {
                let part = c.as_os_str().to_string_lossy();
                let (name, value) = part.split_once('=').expect("a col=value directory");
                let value = (value != NULL_PARTITION).then(|| unescape_path_name(value));
                (unescape_path_name(name), value)
            })
            .collect();
        let file = std::fs::File::open(&path).unwrap();
        let reader = ParquetRecordBatchReaderBuilder::try_new(file)
            .unwrap()
            .build()
            .unwrap();
        for batch in reader {
            let batch = batch.unwrap();
            let mut fields: Vec<Field> = batch
                .schema()
                .fields()
                .iter()
                .map(|f| f.as_ref().clone())
                .collect();
            let mut columns: Vec<ArrayRef> = batch.columns().to_vec();
            for (name, value) in &partitions {
                fields.push(Field::new(name, DataType::Utf8, true));
                columns.push(Arc::new(StringArray::from(vec![
                    value.clone();
                    batch.num_rows()
                ])));
            }
            out.push(RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).unwrap());
        }
    }
    out
}

/// The files left in the sink's in-progress directory.
pub fn in_progress_files(root: &Path) -> Vec<String> {
    let dir = root.join(weir_connectors::parquet_sink::IN_PROGRESS_DIR);
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}
