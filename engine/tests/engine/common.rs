//! Helpers shared by the engine tests.

use std::sync::Arc;
use std::time::Duration;

use arrow::array::{ArrayRef, Int64Array, StringArray, TimestampMillisecondArray};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use arrow::record_batch::RecordBatch;
use arrow::util::display::{ArrayFormatter, FormatOptions};
use weir_engine::sinks::CollectSink;
use weir_engine::sources::MemorySource;
use weir_engine::{
    GraphBuilder, RuntimeConfig, WatermarkStrategy, WindowAggregateConfig, LATE_PORT,
};

/// `key: Utf8, ts: Timestamp(ms), value: Int64`.
pub fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("key", DataType::Utf8, false),
        Field::new("ts", DataType::Timestamp(TimeUnit::Millisecond, None), true),
        Field::new("value", DataType::Int64, false),
    ]))
}

/// A batch of `(key, event time ms, value)` rows.
pub fn batch(rows: &[(&str, i64, i64)]) -> RecordBatch {
    let columns: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.0))),
        Arc::new(TimestampMillisecondArray::from_iter_values(
            rows.iter().map(|r| r.1),
        )),
        Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.2))),
    ];
    RecordBatch::try_new(schema(), columns).unwrap()
}

/// One batch per row: a watermark follows every row.
pub fn row_batches(rows: &[(&str, i64, i64)]) -> Vec<RecordBatch> {
    rows.iter()
        .map(|r| batch(std::slice::from_ref(r)))
        .collect()
}

/// Every row of the batches as `a|b|c`, timestamps as integer milliseconds, sorted.
pub fn lines(batches: &[RecordBatch]) -> Vec<String> {
    let mut out = Vec::new();
    for b in batches {
        let columns: Vec<ArrayRef> = b
            .columns()
            .iter()
            .map(|c| match c.data_type() {
                DataType::Timestamp(_, _) => cast(
                    &cast(c, &DataType::Timestamp(TimeUnit::Millisecond, None)).unwrap(),
                    &DataType::Int64,
                )
                .unwrap(),
                _ => c.clone(),
            })
            .collect();
        let options = FormatOptions::default().with_null("null");
        let formatters: Vec<_> = columns
            .iter()
            .map(|c| ArrayFormatter::try_new(c.as_ref(), &options).unwrap())
            .collect();
        for row in 0..b.num_rows() {
            out.push(
                formatters
                    .iter()
                    .map(|f| f.value(row).to_string())
                    .collect::<Vec<_>>()
                    .join("|"),
            );
        }
    }
    out.sort();
    out
}

/// The results and late rows of a window aggregation over in-memory partitions.
pub struct WindowRun {
    pub results: Vec<RecordBatch>,
    pub late: Vec<RecordBatch>,
}

/// Runs `partitions` through a window aggregation keyed as configured, with watermarks
/// `max_delay` behind, at `parallelism` (source and window).
pub async fn run_window(
    partitions: Vec<Vec<RecordBatch>>,
    config: WindowAggregateConfig,
    max_delay: Duration,
    parallelism: usize,
) -> WindowRun {
    let mut g = GraphBuilder::new();
    let source = g
        .source(
            "rows",
            MemorySource::new(schema(), partitions).unwrap(),
            parallelism,
            Some(WatermarkStrategy::bounded("ts", max_delay)),
        )
        .unwrap();
    let keys = config.key.clone();
    let window = g
        .operator(
            "window",
            &config,
            vec![source.main().hash(keys)],
            parallelism,
        )
        .unwrap();
    let results = CollectSink::new();
    let late = CollectSink::new();
    g.operator("results", &results, vec![window.main().rebalance()], 1)
        .unwrap();
    g.operator(
        "late",
        &late,
        vec![window.port(LATE_PORT).unwrap().rebalance()],
        1,
    )
    .unwrap();
    g.build()
        .unwrap()
        .run(&RuntimeConfig::default())
        .await
        .unwrap();
    WindowRun {
        results: results.batches(),
        late: late.batches(),
    }
}

pub fn strings(v: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = v.iter().map(|s| s.to_string()).collect();
    v.sort();
    v
}
