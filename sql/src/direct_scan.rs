//! A Delta table version scanned as the Parquet files its log lists, by DataFusion's own
//! Parquet scan: no per-batch work beyond reading the files.
//!
//! deltalake's provider wraps DataFusion's Parquet scan in a scan of its own that adds a
//! file-id column to every batch (a dictionary array as long as the batch), splits each
//! batch by it and strips it again, so that it can apply deletion vectors and per-file
//! transforms: about a tenth of the CPU of a scan that filters one column. A version
//! without deletion vectors and without column mapping needs none of that: its files hold
//! the table's columns under their own names, and its partition values are constants per
//! file, which DataFusion's scan adds itself. [`DirectScanTable`] reads such a version
//! that way; any other version, and every scan when `weir.direct_scan` is off, goes to
//! deltalake's provider, whose schema both share.
//!
//! Files are skipped with the filters the planner hands over, against the partition
//! values and file statistics of the log (deltalake's [`PruningStatistics`] over them);
//! the filters stay above the scan (inexact), as with deltalake's provider. The scan
//! reports each file's row count, size and, for the filtered columns, its inexact bounds,
//! as deltalake's does.

use std::borrow::Cow;
use std::collections::HashSet;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, FieldRef, Schema, SchemaRef};
use datafusion::arrow::record_batch::{RecordBatch, RecordBatchOptions};
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::stats::Precision;
use datafusion::common::{Column, ColumnStatistics, DFSchema, Result, ScalarValue, Statistics};
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::file_format::FileFormat;
use datafusion::datasource::listing::PartitionedFile;
use datafusion::datasource::memory::MemorySourceConfig;
use datafusion::datasource::physical_plan::{FileGroup, FileScanConfigBuilder};
use datafusion::datasource::table_schema::TableSchema;
use datafusion::execution::object_store::ObjectStoreUrl;
use datafusion::logical_expr::utils::conjunction;
use datafusion::logical_expr::{Expr, LogicalPlan, TableProviderFilterPushDown, TableType};
use datafusion::physical_optimizer::pruning::{PruningPredicateBuilder, PruningStatistics};
use datafusion::physical_plan::empty::EmptyExec;
use datafusion::physical_plan::ExecutionPlan;
use deltalake::kernel::LogDataHandler;
use deltalake::table::state::DeltaTableState;
use object_store::path::Path;
use url::Url;

use crate::options::physical_rule_on;

/// Reader features a version may use and still be read as plain Parquet files: none of
/// them changes what a data file's rows or columns mean.
const PLAIN_READER_FEATURES: [&str; 5] = [
    "timestampNtz",
    "v2Checkpoint",
    "vacuumProtocolCheck",
    "typeWidening",
    "typeWidening-preview",
];

/// A Delta table version as a table provider that scans its Parquet files directly when
/// the version allows it (see the module's doc), and through `fallback` (deltalake's
/// provider for the same version) otherwise. Its schema is `fallback`'s.
#[derive(Debug)]
pub struct DirectScanTable {
    snapshot: DeltaTableState,
    fallback: Arc<dyn TableProvider>,
    /// `None` when the version must be read by `fallback`.
    layout: Option<Layout>,
}

/// Where a version's files are and how the table's columns map onto DataFusion's scan.
#[derive(Debug)]
struct Layout {
    store: ObjectStoreUrl,
    /// The table's folder in `store`.
    root: Path,
    /// The table's columns that the files hold, in the table's order.
    file_schema: SchemaRef,
    /// The partition columns, in the order of [`PartitionedFile::partition_values`].
    partition_fields: Vec<FieldRef>,
    /// For each table column, its index in the scan's columns (`file_schema`'s, then
    /// `partition_fields`).
    scan_index: Vec<usize>,
}

impl DirectScanTable {
    /// The provider for `snapshot`, the version `fallback` reads, of the table whose
    /// folder is `root_url`.
    pub fn new(
        snapshot: DeltaTableState,
        fallback: Arc<dyn TableProvider>,
        root_url: &Url,
    ) -> Self {
        let layout = plain_parquet(&snapshot)
            .then(|| Layout::new(&snapshot, &fallback.schema(), root_url))
            .flatten();
        Self {
            snapshot,
            fallback,
            layout,
        }
    }

    /// For each of `files` (in the log's order), whether `filters` may hold in it; `None`
    /// when nothing can be skipped.
    fn files_kept(
        &self,
        state: &dyn Session,
        files: &LogDataHandler<'_>,
        filters: &[Expr],
    ) -> Option<Vec<bool>> {
        let predicate = conjunction(filters.iter().cloned())?;
        let schema = self.schema();
        let df_schema = DFSchema::try_from(schema.clone()).ok()?;
        let physical = state.create_physical_expr(predicate, &df_schema).ok()?;
        let pruning = PruningPredicateBuilder::new()
            .with_file_schema(schema)
            .with_max_in_list_size(state.config_options().execution.parquet.max_in_list_size)
            .build(physical)?;
        pruning.prune(files).ok()
    }
}

/// Whether `snapshot`'s files can be read as plain Parquet files: no column mapping, no
/// deletion vectors, no reader feature outside [`PLAIN_READER_FEATURES`].
fn plain_parquet(snapshot: &DeltaTableState) -> bool {
    let Ok(protocol) = serde_json::to_value(snapshot.protocol()) else {
        return false;
    };
    let reader_version = protocol["minReaderVersion"].as_i64().unwrap_or(i64::MAX);
    let features_plain = match &protocol["readerFeatures"] {
        serde_json::Value::Null => true,
        serde_json::Value::Array(features) => features.iter().all(|feature| {
            feature
                .as_str()
                .is_some_and(|name| PLAIN_READER_FEATURES.contains(&name))
        }),
        _ => false,
    };
    let column_mapping = serde_json::to_value(snapshot.table_config().column_mapping_mode)
        .ok()
        .and_then(|mode| mode.as_str().map(str::to_lowercase));
    reader_version <= 3 && features_plain && column_mapping.is_none_or(|mode| mode == "none")
}

impl Layout {
    /// The layout of `snapshot`'s table with the provider schema `schema`; `None` when its
    /// folder is not a URL an object store serves.
    fn new(snapshot: &DeltaTableState, schema: &SchemaRef, root_url: &Url) -> Option<Self> {
        let store = ObjectStoreUrl::parse(format!(
            "{}://{}",
            root_url.scheme(),
            &root_url[url::Position::BeforeHost..url::Position::AfterPort]
        ))
        .ok()?;
        let root = Path::from_url_path(root_url.path()).ok()?;
        let partition_columns = snapshot.metadata().partition_columns();
        let is_partition = |name: &String| partition_columns.contains(name);
        let file_fields: Vec<FieldRef> = schema
            .fields()
            .iter()
            .filter(|field| !is_partition(field.name()))
            .cloned()
            .collect();
        let partition_fields: Vec<FieldRef> = partition_columns
            .iter()
            .map(|name| {
                schema
                    .field_with_name(name)
                    .ok()
                    .map(|f| Arc::new(f.clone()))
            })
            .collect::<Option<_>>()?;
        let scan_index = schema
            .fields()
            .iter()
            .map(
                |field| match partition_columns.iter().position(|p| p == field.name()) {
                    Some(partition) => file_fields.len() + partition,
                    None => file_fields
                        .iter()
                        .position(|f| f.name() == field.name())
                        .expect("every column that is not a partition column is a file column"),
                },
            )
            .collect();
        Some(Self {
            store,
            root,
            file_schema: Arc::new(Schema::new(file_fields)),
            partition_fields,
            scan_index,
        })
    }

    /// The scan's file for the log's file `view`, with its partition values and
    /// statistics (`column_statistics` for the file's columns); `None` when it cannot be
    /// read directly (a path outside the table's folder, a deletion vector, a partition
    /// value of an unexpected form).
    fn file(
        &self,
        view: &deltalake::kernel::LogicalFileView,
        column_statistics: Vec<ColumnStatistics>,
    ) -> Option<PartitionedFile> {
        if view.deletion_vector_descriptor().is_some() || view.path().contains("://") {
            return None;
        }
        let relative = view.object_store_path();
        let location = Path::from_iter(self.root.parts().chain(relative.parts()));
        let size = u64::try_from(view.size()).ok()?;
        let mut file = PartitionedFile::new(location.to_string(), size);
        file.object_meta.location = location;
        let values = view.partition_values_map();
        let rows = view.num_records().map(|n| n as u64);
        let mut statistics = Statistics {
            num_rows: rows.map_or(Precision::Absent, |n| Precision::Exact(n as usize)),
            total_byte_size: Precision::Exact(size as usize),
            column_statistics,
        };
        for field in &self.partition_fields {
            let value = partition_value(values.get(field.name()).cloned().flatten(), field)?;
            statistics
                .column_statistics
                .push(partition_statistics(&value, rows));
            file.partition_values.push(value);
        }
        file.statistics = Some(Arc::new(statistics));
        Some(file)
    }
}

/// A partition value as the log writes it (`None` for null), as a value of `field`'s type.
fn partition_value(value: Option<String>, field: &FieldRef) -> Option<ScalarValue> {
    let (key, value_type) = match field.data_type() {
        DataType::Dictionary(key, value_type) => (Some(key), value_type.as_ref()),
        other => (None, other),
    };
    let value = match value {
        None => ScalarValue::try_new_null(value_type).ok()?,
        Some(text) => ScalarValue::try_from_string(text, value_type).ok()?,
    };
    Some(match key {
        Some(key) => ScalarValue::Dictionary(key.clone(), Box::new(value)),
        None => value,
    })
}

/// The statistics of a partition column in a file of `rows` rows: its one value, or
/// only the null count when that value is null.
fn partition_statistics(value: &ScalarValue, rows: Option<u64>) -> ColumnStatistics {
    if value.is_null() {
        return ColumnStatistics {
            null_count: rows.map_or(Precision::Absent, |rows| Precision::Exact(rows as usize)),
            ..ColumnStatistics::new_unknown()
        };
    }
    ColumnStatistics {
        null_count: Precision::Exact(0),
        max_value: Precision::Exact(value.clone()),
        min_value: Precision::Exact(value.clone()),
        distinct_count: Precision::Exact(1),
        ..ColumnStatistics::new_unknown()
    }
}

/// For each file of `files` (in the log's order), the statistics of each of
/// `file_schema`'s columns: bounds (inexact) and null counts for the columns named in
/// `wanted`, unknown for the others.
fn file_column_statistics(
    files: &LogDataHandler<'_>,
    file_schema: &Schema,
    wanted: &HashSet<String>,
) -> Vec<Vec<ColumnStatistics>> {
    let count = files.num_containers();
    let mut per_file =
        vec![vec![ColumnStatistics::new_unknown(); file_schema.fields().len()]; count];
    for (index, field) in file_schema.fields().iter().enumerate() {
        if !wanted.contains(field.name()) {
            continue;
        }
        let column = Column::from_name(field.name());
        let typed = |array: Option<datafusion::arrow::array::ArrayRef>, data_type: &DataType| {
            array
                .filter(|a| a.len() == count)
                .and_then(|a| cast(&a, data_type).ok())
        };
        let min = typed(files.min_values(&column), field.data_type());
        let max = typed(files.max_values(&column), field.data_type());
        let nulls = typed(files.null_counts(&column), &DataType::UInt64);
        for (file, statistics) in per_file.iter_mut().enumerate() {
            let bound = |array: &Option<datafusion::arrow::array::ArrayRef>| {
                array
                    .as_ref()
                    .filter(|a| a.is_valid(file))
                    .and_then(|a| ScalarValue::try_from_array(a, file).ok())
                    .map_or(Precision::Absent, Precision::Inexact)
            };
            let null_count = match bound(&nulls) {
                Precision::Inexact(ScalarValue::UInt64(Some(n))) => Precision::Exact(n as usize),
                _ => Precision::Absent,
            };
            statistics[index] = ColumnStatistics {
                null_count,
                min_value: bound(&min),
                max_value: bound(&max),
                ..ColumnStatistics::new_unknown()
            };
        }
    }
    per_file
}

#[async_trait]
impl TableProvider for DirectScanTable {
    fn schema(&self) -> SchemaRef {
        self.fallback.schema()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    fn get_logical_plan(&self) -> Option<Cow<'_, LogicalPlan>> {
        None
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> Result<Vec<TableProviderFilterPushDown>> {
        Ok(vec![TableProviderFilterPushDown::Inexact; filters.len()])
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let direct = physical_rule_on(state.config_options(), |o| o.direct_scan);
        let Some(layout) = self.layout.as_ref().filter(|_| direct) else {
            return self.fallback.scan(state, projection, filters, limit).await;
        };
        let files = self.snapshot.log_data();
        let kept = self.files_kept(state, &files, filters);
        let wanted: HashSet<String> = filters
            .iter()
            .flat_map(|filter| filter.column_refs())
            .map(|column| column.name.clone())
            .collect();
        let column_statistics = file_column_statistics(&files, &layout.file_schema, &wanted);
        let mut scanned = Vec::new();
        for (index, (view, statistics)) in files.iter().zip(column_statistics).enumerate() {
            if kept.as_ref().is_some_and(|kept| !kept[index]) {
                continue;
            }
            match layout.file(&view, statistics) {
                Some(file) => scanned.push(file),
                None => return self.fallback.scan(state, projection, filters, limit).await,
            }
        }
        if projection.is_some_and(|columns| columns.is_empty()) && filters.is_empty() {
            let rows: Option<u64> = scanned
                .iter()
                .map(|file| match file.statistics.as_ref()?.num_rows {
                    Precision::Exact(rows) => Some(rows as u64),
                    _ => None,
                })
                .sum();
            if let Some(rows) = rows {
                let rows = limit.map_or(rows, |limit| rows.min(limit as u64));
                return row_count_only(rows, state.config_options().execution.batch_size.get());
            }
        }
        let table_projection: Vec<usize> = match projection {
            Some(columns) => columns.clone(),
            None => (0..layout.scan_index.len()).collect(),
        };
        if scanned.is_empty() {
            let schema = self.schema().project(&table_projection)?;
            return Ok(Arc::new(EmptyExec::new(Arc::new(schema))));
        }
        let scan_projection = table_projection
            .iter()
            .map(|&column| layout.scan_index[column])
            .collect();
        let table_schema = TableSchema::builder(layout.file_schema.clone())
            .with_table_partition_cols(layout.partition_fields.clone())
            .build();
        let statistics = Statistics::try_merge_iter(
            scanned.iter().filter_map(|file| file.statistics.as_deref()),
            table_schema.table_schema(),
        )?;
        let format = ParquetFormat::default().with_options(state.table_options().parquet.clone());
        let config =
            FileScanConfigBuilder::new(layout.store.clone(), format.file_source(table_schema))
                .with_file_groups(vec![FileGroup::new(scanned)])
                .with_statistics(statistics)
                .with_projection_indices(Some(scan_projection))?
                .with_limit(limit)
                .build();
        format.create_physical_plan(state, config).await
    }
}

/// A scan of no columns that yields `rows` rows, in batches of at most `batch_size` (not 0),
/// without reading a file: what a scan for `count(*)` needs when every file's row count
/// is known.
fn row_count_only(rows: u64, batch_size: usize) -> Result<Arc<dyn ExecutionPlan>> {
    let schema = Arc::new(Schema::empty());
    let batch_size = batch_size as u64;
    let batches = (0..rows.div_ceil(batch_size))
        .map(|index| {
            let count = (rows - index * batch_size).min(batch_size) as usize;
            RecordBatch::try_new_with_options(
                schema.clone(),
                vec![],
                &RecordBatchOptions::new().with_row_count(Some(count)),
            )
        })
        .collect::<std::result::Result<Vec<_>, _>>()?;
    Ok(MemorySourceConfig::try_new_exec(&[batches], schema, None)?)
}
