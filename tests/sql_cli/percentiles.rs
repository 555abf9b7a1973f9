//! Percentiles: the approximate ones give the same answer on every run over the same
//! table version (DataFusion's changed from run to run), close to the exact ones, which
//! DataFusion computes as DuckDB's `quantile_cont` does.

use std::sync::Arc;

use arrow::array::{Float64Array, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};

use crate::support::lake_fixture::table;
use crate::{session, slt_rows};

/// Eight files of 40,000 latencies each in three services, long-tailed and differently
/// spread per file, with a weight per row.
async fn latencies(path: &std::path::Path) {
    let schema = Arc::new(Schema::new(vec![
        Field::new("service", DataType::Utf8, false),
        Field::new("latency", DataType::Float64, false),
        Field::new("weight", DataType::Int64, false),
    ]));
    let batches: Vec<RecordBatch> = (0..8u64)
        .map(|file| {
            let rows = (file * 40_000)..(file * 40_000 + 40_000);
            // A deterministic spread: a hash of the row, squared for a long tail.
            let unit =
                |i: u64| (i.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 11) as f64 / (1u64 << 53) as f64;
            RecordBatch::try_new(
                schema.clone(),
                vec![
                    Arc::new(StringArray::from_iter_values(
                        rows.clone().map(|i| ["api", "web", "db"][(i % 3) as usize]),
                    )),
                    Arc::new(Float64Array::from_iter_values(
                        rows.clone()
                            .map(|i| (1.0 + file as f64) * 1000.0 * unit(i).powi(2)),
                    )),
                    Arc::new(Int64Array::from_iter_values(
                        rows.map(|i| (i % 5) as i64 + 1),
                    )),
                ],
            )
            .unwrap()
        })
        .collect();
    table(path, &schema, &batches).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approximate_percentiles_are_the_same_every_run_and_near_the_exact_ones() {
    let dir = tempfile::tempdir().unwrap();
    latencies(&dir.path().join("latencies")).await;
    let s = session(dir.path()).await;
    let approximate = "SELECT service, approx_percentile_cont(latency, 0.99) AS p99, \
        approx_percentile_cont(0.5) WITHIN GROUP (ORDER BY latency) AS p50, \
        approx_median(latency) AS median, \
        approx_percentile_cont_with_weight(latency, weight, 0.9) AS weighted_p90 \
        FROM latencies GROUP BY service ORDER BY service";
    let overall = "SELECT approx_percentile_cont(latency, 0.99) AS p99 FROM latencies";
    let first = slt_rows(&s.sql(approximate).await.unwrap()[0]);
    let first_overall = slt_rows(&s.sql(overall).await.unwrap()[0]);
    for _ in 0..12 {
        assert_eq!(slt_rows(&s.sql(approximate).await.unwrap()[0]), first);
        assert_eq!(slt_rows(&s.sql(overall).await.unwrap()[0]), first_overall);
    }

    let exact = s
        .sql(
            "SELECT service, percentile_cont(0.99) WITHIN GROUP (ORDER BY latency) AS p99, \
             median(latency) AS p50 FROM latencies GROUP BY service ORDER BY service",
        )
        .await
        .unwrap();
    let exact = slt_rows(&exact[0]);
    assert_eq!(exact.len(), 3);
    for (approx, exact) in first.iter().zip(&exact) {
        let a: Vec<&str> = approx.split(' ').collect();
        let e: Vec<&str> = exact.split(' ').collect();
        assert_eq!(a[0], e[0]);
        for (a, e) in [(a[1], e[1]), (a[2], e[2]), (a[3], e[2])] {
            let (a, e): (f64, f64) = (a.parse().unwrap(), e.parse().unwrap());
            assert!(
                (a - e).abs() / e < 0.02,
                "{approx} against the exact {exact}"
            );
        }
    }
}
