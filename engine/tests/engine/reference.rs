//! Property test: for random input whose disorder stays within the watermark bound, every
//! window flavour equals the same aggregation computed in one batch by DataFusion SQL, at
//! any parallelism.

use std::sync::Arc;
use std::time::Duration;

use arrow::array::{Int64Array, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use arrow::record_batch::RecordBatch;
use datafusion::prelude::SessionContext;
use proptest::prelude::*;
use weir_engine::{WindowAggregateConfig, WindowSpec};

use super::common::{batch, lines, run_window};

const AGGREGATES: &str = "count(*), sum(value), min(value), max(value), count(DISTINCT value)";

#[derive(Debug, Clone)]
struct Case {
    /// (key, event time ms, value) in arrival order.
    rows: Vec<(String, i64, i64)>,
    /// Bound on how far a row's event time is behind the newest earlier row.
    max_delay: i64,
    partitions: usize,
    batch_size: usize,
    parallelism: usize,
    window: WindowSpec,
}

fn window_strategy() -> impl Strategy<Value = WindowSpec> {
    prop_oneof![
        prop::sample::select(vec![500u64, 1_000, 2_000]).prop_map(|s| WindowSpec::Tumbling {
            size: Duration::from_millis(s)
        }),
        prop::sample::select(vec![(1_000u64, 500u64), (1_500, 500), (2_000, 1_000)]).prop_map(
            |(size, slide)| {
                WindowSpec::Sliding {
                    size: Duration::from_millis(size),
                    slide: Duration::from_millis(slide),
                }
            }
        ),
        prop::sample::select(vec![100u64, 300, 700]).prop_map(|g| WindowSpec::Session {
            gap: Duration::from_millis(g)
        }),
    ]
}

fn case_strategy() -> impl Strategy<Value = Case> {
    (
        prop::collection::vec((0usize..5, 0i64..200, 0i64..1000, 0i64..20), 1..300),
        0i64..800,
        1usize..4,
        1usize..40,
        1usize..4,
        window_strategy(),
    )
        .prop_map(
            |(steps, max_delay, partitions, batch_size, parallelism, window)| {
                let mut base = 10_000i64;
                let rows = steps
                    .into_iter()
                    .map(|(key, advance, back, value)| {
                        base += advance;
                        let t = base - back.min(max_delay);
                        (format!("k{key}"), t, value)
                    })
                    .collect();
                Case {
                    rows,
                    max_delay,
                    partitions,
                    batch_size,
                    parallelism,
                    window,
                }
            },
        )
}

/// DataFusion SQL computing the same windows over all rows at once.
fn reference_sql(window: &WindowSpec) -> String {
    match window {
        WindowSpec::Tumbling { size } => {
            let s = size.as_millis();
            format!(
                "SELECT key, t - t % {s} AS ws, t - t % {s} + {s} AS we, {AGGREGATES} FROM rows GROUP BY key, t - t % {s}"
            )
        }
        WindowSpec::Sliding { size, slide } => {
            let (size, slide) = (size.as_millis(), slide.as_millis());
            format!(
                "SELECT key, ws, ws + {size} AS we, {AGGREGATES} FROM \
                   (SELECT key, value, t - t % {slide} - k * {slide} AS ws FROM rows CROSS JOIN offsets WHERE k < {n}) \
                 GROUP BY key, ws",
                n = size / slide
            )
        }
        WindowSpec::Session { gap } => {
            let g = gap.as_millis();
            format!(
                "WITH marked AS (SELECT key, t, value, \
                    CASE WHEN t - lag(t) OVER (PARTITION BY key ORDER BY t) < {g} THEN 0 ELSE 1 END AS starts FROM rows), \
                 numbered AS (SELECT key, t, value, sum(starts) OVER (PARTITION BY key ORDER BY t \
                    ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS session FROM marked) \
                 SELECT key, min(t) AS ws, max(t) + {g} AS we, {AGGREGATES} FROM numbered GROUP BY key, session"
            )
        }
    }
}

async fn reference(case: &Case) -> Vec<String> {
    let ctx = SessionContext::new();
    let schema = Arc::new(Schema::new(vec![
        Field::new("key", DataType::Utf8, false),
        Field::new("t", DataType::Int64, false),
        Field::new("value", DataType::Int64, false),
    ]));
    let rows = RecordBatch::try_new(
        schema,
        vec![
            Arc::new(StringArray::from_iter_values(
                case.rows.iter().map(|r| r.0.as_str()),
            )),
            Arc::new(Int64Array::from_iter_values(case.rows.iter().map(|r| r.1))),
            Arc::new(Int64Array::from_iter_values(case.rows.iter().map(|r| r.2))),
        ],
    )
    .unwrap();
    ctx.register_batch("rows", rows).unwrap();
    let offsets =
        RecordBatch::try_from_iter([("k", Arc::new(Int64Array::from_iter_values(0..16)) as _)])
            .unwrap();
    ctx.register_batch("offsets", offsets).unwrap();
    let result = ctx
        .sql(&reference_sql(&case.window))
        .await
        .unwrap()
        .collect()
        .await
        .unwrap();
    lines(&result)
}

async fn engine(case: &Case) -> (Vec<String>, usize) {
    // Rows go round-robin to partitions, keeping arrival order within each partition.
    let mut partitions: Vec<Vec<(&str, i64, i64)>> = vec![Vec::new(); case.partitions];
    for (i, (k, t, v)) in case.rows.iter().enumerate() {
        partitions[i % case.partitions].push((k.as_str(), *t, *v));
    }
    let batches = partitions
        .iter()
        .map(|rows| rows.chunks(case.batch_size).map(batch).collect())
        .collect();
    let config = WindowAggregateConfig {
        key: vec!["key".into()],
        event_time: "ts".into(),
        window: case.window.clone(),
        aggregates: AGGREGATES.split(", ").map(String::from).collect(),
        allowed_lateness: Duration::ZERO,
    };
    let delay = Duration::from_millis(case.max_delay as u64);
    let run = run_window(batches, config, delay, case.parallelism).await;
    (
        lines(&run.results),
        run.late.iter().map(|b| b.num_rows()).sum(),
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn windows_equal_the_batch_aggregation(case in case_strategy()) {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let (expected, (actual, late)) = runtime.block_on(async { (reference(&case).await, engine(&case).await) });
        prop_assert_eq!(late, 0);
        prop_assert_eq!(actual, expected);
    }
}
