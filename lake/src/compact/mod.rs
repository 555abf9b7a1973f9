//! Compaction: small files bin-packed into files of a target size, or rows clustered on
//! up to four columns ([`layout`]) so point predicates skip most files. Incremental:
//! files already clustered on the asked columns, and files already of the target size,
//! are left alone, so a second compaction with nothing new commits nothing. One commit
//! per compaction (`OPTIMIZE`, no data change: concurrent appends do not conflict with
//! it), whose commit info records what it did under `weir.compaction`
//! ([`CompactMetrics::to_json`]).

mod candidates;
mod concat;
mod figure;
mod filter;
mod layout;
mod rewrite;
#[cfg(test)]
mod tests;

use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::sync::Arc;

use arrow::array::ArrayRef;
use arrow::compute::{concat_batches, take_record_batch};
use arrow::datatypes::{DataType, SchemaRef};
use deltalake::kernel::transaction::{CommitBuilder, CommitProperties, TableReference};
use deltalake::kernel::{Action, Add, Remove};
use deltalake::protocol::DeltaOperation;
use deltalake::table::state::DeltaTableState;
use deltalake::DeltaTable;
use futures::{StreamExt, TryStreamExt};

pub use candidates::CLUSTER_TAG;
use candidates::{Group, Pick};
use concat::Fetched;
use figure::Skipping;
use rewrite::FileToRead;

use crate::error::{LakeError, Result};
use crate::table::open_existing;

/// The default size of a compacted file.
pub const DEFAULT_TARGET_SIZE: u64 = 128 * 1024 * 1024;

/// The most columns rows are clustered on.
pub const MAX_CLUSTER_COLUMNS: usize = 4;

/// The key under which a compaction's commit info holds its metrics.
pub const COMMIT_INFO_KEY: &str = "weir.compaction";

/// Files read or written at once.
const PARALLEL: usize = 4;

/// Compacts the Delta table at a location: `Compact::new(uri)` with the settings below,
/// awaited, returns what it did. Nothing is committed when there is nothing to do.
#[derive(Debug, Clone)]
pub struct Compact {
    uri: String,
    target_size: u64,
    cluster_by: Vec<String>,
    predicate: Option<String>,
    max_group_bytes: u64,
    min_files: Option<usize>,
}

/// What a compaction did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CompactMetrics {
    /// The table version it committed; `None` when there was nothing to do.
    pub version: Option<u64>,
    pub files_removed: u64,
    pub bytes_removed: u64,
    pub files_added: u64,
    pub bytes_added: u64,
    /// Rows rewritten (read from the removed files, all written to the added ones).
    pub rows: u64,
    /// Partitions it rewrote files in.
    pub partitions: u64,
    /// The clustering columns; empty for bin-packing.
    pub cluster_by: Vec<String>,
    /// Per clustering column, the expected fraction of the new files a point predicate
    /// on it skips by their statistics (see [`figure`]).
    pub skipping: Vec<(String, f64)>,
}

impl CompactMetrics {
    /// The metrics as the JSON object a compaction commit records.
    pub fn to_json(&self) -> serde_json::Value {
        let skipping: serde_json::Map<String, serde_json::Value> = self
            .skipping
            .iter()
            .map(|(column, fraction)| (column.clone(), serde_json::json!(round4(*fraction))))
            .collect();
        serde_json::json!({
            "filesRemoved": self.files_removed,
            "bytesRemoved": self.bytes_removed,
            "filesAdded": self.files_added,
            "bytesAdded": self.bytes_added,
            "rows": self.rows,
            "partitions": self.partitions,
            "clusterBy": self.cluster_by,
            "pointSkipping": skipping,
        })
    }
}

fn round4(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

impl Compact {
    /// A compaction of the table at `uri` (a path, `file://` or `s3://` URL) into files
    /// of [`DEFAULT_TARGET_SIZE`], bin-packing, over every partition.
    pub fn new(uri: impl Into<String>) -> Self {
        Self {
            uri: uri.into(),
            target_size: DEFAULT_TARGET_SIZE,
            cluster_by: Vec::new(),
            predicate: None,
            max_group_bytes: 512 * 1024 * 1024,
            min_files: None,
        }
    }

    /// The size of the files it writes, in bytes (more than 0); files at least this
    /// large are not bin-packed.
    pub fn with_target_size(mut self, bytes: u64) -> Self {
        self.target_size = bytes;
        self
    }

    /// Cluster the rows on these columns (1 to [`MAX_CLUSTER_COLUMNS`], not partition
    /// columns, of ordered scalar types) instead of bin-packing.
    pub fn with_cluster_by(mut self, columns: Vec<String>) -> Self {
        self.cluster_by = columns;
        self
    }

    /// Only partitions where this SQL predicate over the partition columns holds.
    pub fn with_where(mut self, predicate: impl Into<String>) -> Self {
        self.predicate = Some(predicate.into());
        self
    }

    /// Rewrite a partition only when it holds at least this many files to rewrite
    /// (files under the target size, or not clustered on the asked columns). Default: 2
    /// for bin-packing, 1 for clustering. A compaction job's trigger.
    pub fn with_min_files(mut self, files: usize) -> Self {
        self.min_files = Some(files);
        self
    }

    /// The most bytes of files clustered together (default 512 MiB): bounds the memory a
    /// clustering takes; a partition with more unclustered bytes is clustered in
    /// several groups, each laid out on its own.
    pub fn with_max_group_size(mut self, bytes: u64) -> Self {
        self.max_group_bytes = bytes;
        self
    }

    async fn run(self) -> Result<CompactMetrics> {
        let table = open_existing(&self.uri)
            .await?
            .ok_or_else(|| LakeError::NoTable(self.uri.clone()))?;
        match self.rewrite(&table).await? {
            Some(rewritten) => rewritten.commit(&table, &self).await,
            None => Ok(CompactMetrics {
                cluster_by: self.cluster_by.clone(),
                ..CompactMetrics::default()
            }),
        }
    }

    /// Writes the new files for the table as it is now; `None` when there is nothing to
    /// do. Nothing is visible until [`Rewritten::commit`].
    async fn rewrite(&self, table: &DeltaTable) -> Result<Option<Rewritten>> {
        let uri = &self.uri;
        if self.target_size == 0 {
            return Err(LakeError::Invalid(
                "the target size must be more than 0 bytes".into(),
            ));
        }
        let snapshot = table
            .snapshot()
            .map_err(|e| LakeError::Delta(format!("reading table {uri}: {e}")))?
            .clone();
        let partitions = snapshot.metadata().partition_columns().to_vec();
        let full_schema = snapshot.snapshot().arrow_schema();
        self.check_cluster_columns(&full_schema, &partitions)?;
        let mut files: Vec<_> = snapshot.log_data().iter().collect();
        if let Some(predicate) = &self.predicate {
            files = filter::keep(files, predicate, &full_schema, &partitions, uri)?;
        }
        let pick = if self.cluster_by.is_empty() {
            Pick::BinPack {
                target: self.target_size,
                min_files: self.min_files.unwrap_or(2),
            }
        } else {
            Pick::Cluster {
                columns: &self.cluster_by,
                max_group: self.max_group_bytes.max(self.target_size),
                min_files: self.min_files.unwrap_or(1),
            }
        };
        let groups = candidates::groups(files, &pick);
        if groups.is_empty() {
            return Ok(None);
        }
        let schema = rewrite::file_schema(table)?;
        let removes: Vec<Remove> = groups
            .iter()
            .flat_map(|g| &g.files)
            .map(|f| f.remove_action(false))
            .collect();
        let expected_rows: Option<u64> = groups
            .iter()
            .flat_map(|g| &g.files)
            .map(|f| f.num_records().map(|n| n as u64))
            .sum();
        let (adds, skipping) = if self.cluster_by.is_empty() {
            (self.bin_pack(table, groups, schema).await?, None)
        } else {
            let mut skipping = Skipping::new(self.cluster_by.len());
            let mut adds = Vec::new();
            for group in &groups {
                adds.extend(
                    self.cluster(table, group, schema.clone(), &mut skipping)
                        .await?,
                );
            }
            (adds, Some(skipping))
        };
        let rows = written_rows(&adds, uri)?;
        if let Some(expected) = expected_rows.filter(|&e| e != rows) {
            return Err(LakeError::Invalid(format!(
                "compacting {uri}: the new files hold {rows} rows where the old held {expected}; nothing was committed"
            )));
        }
        let metrics = CompactMetrics {
            version: None,
            files_removed: removes.len() as u64,
            bytes_removed: removes.iter().filter_map(|r| r.size).sum::<i64>() as u64,
            files_added: adds.len() as u64,
            bytes_added: adds.iter().map(|a| a.size).sum::<i64>() as u64,
            rows,
            partitions: partitions_of(&removes),
            cluster_by: self.cluster_by.clone(),
            skipping: match skipping {
                Some(skipping) => self
                    .cluster_by
                    .iter()
                    .cloned()
                    .zip(skipping.fractions())
                    .collect(),
                None => Vec::new(),
            },
        };
        Ok(Some(Rewritten {
            snapshot,
            removes,
            adds,
            metrics,
        }))
    }

    /// Checks the clustering columns against the table.
    fn check_cluster_columns(&self, schema: &SchemaRef, partitions: &[String]) -> Result<()> {
        let invalid = |what: String| LakeError::Invalid(format!("--cluster-by: {what}"));
        if self.cluster_by.len() > MAX_CLUSTER_COLUMNS {
            return Err(invalid(format!(
                "{} columns given, at most {MAX_CLUSTER_COLUMNS} are supported",
                self.cluster_by.len()
            )));
        }
        for (i, column) in self.cluster_by.iter().enumerate() {
            if self.cluster_by[..i].contains(column) {
                return Err(invalid(format!("column '{column}' is named twice")));
            }
            if partitions.contains(column) {
                return Err(invalid(format!(
                    "'{column}' is a partition column of {}; its values are already apart",
                    self.uri
                )));
            }
            let field = schema.field_with_name(column).map_err(|_| {
                let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
                invalid(format!(
                    "table {} has no column '{column}' (columns: {})",
                    self.uri,
                    names.join(", ")
                ))
            })?;
            if !orderable(field.data_type()) {
                return Err(invalid(format!(
                    "column '{column}' is {}; clustering needs a number, string, date, timestamp or boolean",
                    field.data_type()
                )));
            }
        }
        Ok(())
    }

    /// Writes each bin as one file, bins in parallel.
    async fn bin_pack(
        &self,
        table: &DeltaTable,
        bins: Vec<Group>,
        schema: SchemaRef,
    ) -> Result<Vec<Add>> {
        let tasks = bins.into_iter().map(|bin| {
            let table = table.clone();
            let schema = schema.clone();
            let files: Vec<FileToRead> = bin
                .files
                .iter()
                .map(|f| FileToRead::new(&table, f))
                .collect();
            tokio::spawn(async move {
                let owned = files.clone().into_iter().zip(bin.files.clone());
                let fetches = owned.map(|(file, view)| async move {
                    Fetched::new(file.fetch().await?, &view, &file.place())
                });
                let fetched: Vec<Fetched> = futures::stream::iter(fetches)
                    .buffered(PARALLEL)
                    .try_collect()
                    .await?;
                if concat::concatenable(&fetched) {
                    let add = concat::write_concatenated(&table, &bin.files[0], fetched).await?;
                    return Ok(vec![add]);
                }
                // Decoded in order, a few files ahead: at most that many files' rows in
                // memory besides the fetched bytes.
                let batches = futures::stream::iter(fetched.into_iter().zip(files))
                    .map(move |(fetched, file)| {
                        rewrite::decode(fetched.bytes, schema.clone(), file.place())
                    })
                    .buffered(PARALLEL)
                    .map_ok(|batches| futures::stream::iter(batches.into_iter().map(Ok)))
                    .try_flatten();
                rewrite::write_file(&table, &bin.files[0], batches, None).await
            })
        });
        joined(
            futures::stream::iter(tasks)
                .buffer_unordered(PARALLEL)
                .collect()
                .await,
        )
    }

    /// Reads a group, lays its rows out on the clustering columns and writes a file per
    /// tile, tiles in parallel.
    async fn cluster(
        &self,
        table: &DeltaTable,
        group: &Group,
        schema: SchemaRef,
        skipping: &mut Skipping,
    ) -> Result<Vec<Add>> {
        let files: Vec<FileToRead> = group
            .files
            .iter()
            .map(|file| FileToRead::new(table, file))
            .collect();
        let reads = files.into_iter().map(|file| file.read(schema.clone()));
        let reads: Vec<Vec<_>> = futures::stream::iter(reads)
            .buffered(PARALLEL)
            .try_collect()
            .await?;
        let batches: Vec<_> = reads.into_iter().flatten().collect();
        let rows = concat_batches(&schema, &batches)?;
        drop(batches);
        let files = (group.bytes.div_ceil(self.target_size) as usize).max(1);
        let keys: Vec<ArrayRef> = self
            .cluster_by
            .iter()
            .map(|c| rows.column_by_name(c).cloned())
            .collect::<Option<_>>()
            .ok_or_else(|| LakeError::Invalid("a clustering column is not in the files".into()))?;
        let (tiles, keys) = tokio::task::spawn_blocking(move || {
            layout::tiles(&keys, files).map(|tiles| (tiles, keys))
        })
        .await
        .map_err(|e| LakeError::Io(format!("a clustering task: {e}")))??;
        skipping.add(&keys, &tiles)?;
        let tag = self.cluster_by.join(",");
        let rows = Arc::new(rows);
        let tasks = tiles.into_iter().map(|tile| {
            let table = table.clone();
            let partition = group.files[0].clone();
            let rows = rows.clone();
            let tag = tag.clone();
            tokio::spawn(async move {
                let batch = take_record_batch(&rows, &tile)?;
                let batches = futures::stream::iter([Ok(batch)]);
                rewrite::write_file(&table, &partition, batches, Some(&tag)).await
            })
        });
        joined(
            futures::stream::iter(tasks)
                .buffered(PARALLEL)
                .collect()
                .await,
        )
    }
}

/// New files written for a table version, not yet committed.
struct Rewritten {
    /// The version the files were chosen from.
    snapshot: DeltaTableState,
    removes: Vec<Remove>,
    adds: Vec<Add>,
    metrics: CompactMetrics,
}

impl Rewritten {
    /// Commits the removes and adds as one `OPTIMIZE` on top of whatever was committed
    /// since `snapshot`: appends meanwhile do not conflict; a concurrent removal of one
    /// of the same files does (the compaction fails, its files are left for vacuum).
    async fn commit(self, table: &DeltaTable, compact: &Compact) -> Result<CompactMetrics> {
        let mut metrics = self.metrics;
        let operation = DeltaOperation::Optimize {
            predicate: compact.predicate.clone(),
            target_size: i64::try_from(compact.target_size).unwrap_or(i64::MAX),
        };
        let properties = CommitProperties::default()
            .with_metadata([(COMMIT_INFO_KEY.to_string(), metrics.to_json())]);
        let actions: Vec<Action> = self
            .removes
            .into_iter()
            .map(Action::Remove)
            .chain(self.adds.into_iter().map(Action::Add))
            .collect();
        let done = CommitBuilder::from(properties)
            .with_actions(actions)
            .build(
                Some(&self.snapshot as &dyn TableReference),
                table.log_store(),
                operation,
            )
            .await
            .map_err(|e| {
                LakeError::Delta(format!("committing the compaction of {}: {e}", compact.uri))
            })?;
        metrics.version = Some(done.version());
        Ok(metrics)
    }
}

/// How many partitions the removed files come from.
fn partitions_of(removes: &[Remove]) -> u64 {
    let mut keys: Vec<Vec<(String, Option<String>)>> = removes
        .iter()
        .map(|r| {
            let mut key: Vec<_> = r
                .partition_values
                .clone()
                .unwrap_or_default()
                .into_iter()
                .collect();
            key.sort();
            key
        })
        .collect();
    keys.sort();
    keys.dedup();
    keys.len() as u64
}

/// The adds of finished write tasks, or the first failure.
fn joined(
    results: Vec<std::result::Result<Result<Vec<Add>>, tokio::task::JoinError>>,
) -> Result<Vec<Add>> {
    let mut adds = Vec::new();
    for result in results {
        adds.extend(result.map_err(|e| LakeError::Io(format!("a compaction task failed: {e}")))??);
    }
    Ok(adds)
}

/// The rows the new files hold, from their statistics.
fn written_rows(adds: &[Add], uri: &str) -> Result<u64> {
    adds.iter()
        .map(|add| match add.get_stats() {
            Ok(Some(stats)) => Ok(stats.num_records as u64),
            _ => Err(LakeError::Delta(format!(
                "compacting {uri}: the new file {} has no row count in its statistics",
                add.path
            ))),
        })
        .sum()
}

/// Whether rows can be ordered by a column of this type.
fn orderable(data_type: &DataType) -> bool {
    data_type.is_primitive()
        || matches!(
            data_type,
            DataType::Boolean
                | DataType::Utf8
                | DataType::LargeUtf8
                | DataType::Utf8View
                | DataType::Binary
                | DataType::LargeBinary
                | DataType::BinaryView
                | DataType::FixedSizeBinary(_)
        )
}

impl IntoFuture for Compact {
    type Output = Result<CompactMetrics>;
    type IntoFuture = Pin<Box<dyn Future<Output = Self::Output> + Send>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.run())
    }
}
