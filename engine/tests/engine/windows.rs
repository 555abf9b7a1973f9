//! Golden tests of window semantics with exact expected rows.

use std::time::Duration;

use weir_engine::{WindowAggregateConfig, WindowSpec};

use super::common::{lines, row_batches, run_window, strings};

fn config(window: WindowSpec, lateness: Duration) -> WindowAggregateConfig {
    WindowAggregateConfig {
        key: vec!["key".into()],
        event_time: "ts".into(),
        window,
        aggregates: vec!["count(*) AS n".into(), "sum(value) AS total".into()],
        allowed_lateness: lateness,
    }
}

fn tumbling(size_ms: u64) -> WindowSpec {
    WindowSpec::Tumbling {
        size: Duration::from_millis(size_ms),
    }
}

#[tokio::test]
async fn out_of_order_rows_within_the_bound_are_all_counted() {
    let rows = row_batches(&[
        ("a", 1_000, 1),
        ("b", 3_000, 5),
        ("a", 12_000, 3), // watermark 6_999
        ("a", 8_000, 2),  // 4 s behind the newest row: within the 5 s bound
        ("b", 14_000, 7), // watermark 8_999
        ("a", 16_000, 1), // watermark 10_999: [0 s, 10 s) fires
        ("b", 21_000, 1),
    ]);
    let run = run_window(
        vec![rows],
        config(tumbling(10_000), Duration::ZERO),
        Duration::from_secs(5),
        1,
    )
    .await;
    assert_eq!(
        lines(&run.results),
        strings(&[
            "a|0|10000|2|3",
            "b|0|10000|1|5",
            "a|10000|20000|2|4",
            "b|10000|20000|1|7",
            "b|20000|30000|1|1",
        ])
    );
    assert!(run.late.is_empty());
}

#[tokio::test]
async fn late_rows_update_within_allowed_lateness_and_go_to_the_side_output_after() {
    let rows = row_batches(&[
        ("a", 1_000, 1),
        ("a", 11_000, 1),  // watermark 10_999: [0, 10 s) fires with n=1
        ("a", 2_000, 10),  // late but within 5 s of lateness: updated result n=2
        ("a", 16_000, 1),  // watermark 15_999: [0, 10 s) closes for good
        ("a", 3_000, 100), // beyond lateness: late side output
    ]);
    let run = run_window(
        vec![rows],
        config(tumbling(10_000), Duration::from_secs(5)),
        Duration::ZERO,
        1,
    )
    .await;
    assert_eq!(
        lines(&run.results),
        strings(&["a|0|10000|1|1", "a|0|10000|2|11", "a|10000|20000|2|2"])
    );
    let late = lines(&run.late);
    assert_eq!(late.len(), 1);
    assert_eq!(
        late[0],
        "a|3000|100|event time 1970-01-01T00:00:03.000Z is too late: the watermark is \
         1970-01-01T00:00:15.999Z and every window of the row closed (allowed lateness 5000ms)"
    );
}

#[tokio::test]
async fn sliding_windows_count_each_row_in_every_window_it_falls_in() {
    let rows = row_batches(&[
        ("a", 500, 1),
        ("a", 1_500, 2),
        ("a", 2_500, 4),
        ("b", 1_200, 8),
    ]);
    let window = WindowSpec::Sliding {
        size: Duration::from_millis(2_000),
        slide: Duration::from_millis(1_000),
    };
    let run = run_window(
        vec![rows],
        config(window, Duration::ZERO),
        Duration::from_secs(1),
        1,
    )
    .await;
    assert_eq!(
        lines(&run.results),
        strings(&[
            "a|-1000|1000|1|1",
            "a|0|2000|2|3",
            "a|1000|3000|2|6",
            "a|2000|4000|1|4",
            "b|0|2000|1|8",
            "b|1000|3000|1|8",
        ])
    );
}

#[tokio::test]
async fn a_row_bridging_two_sessions_merges_them() {
    let mut batches = row_batches(&[
        ("a", 1_000, 1),
        ("b", 2_000, 32),
        ("a", 3_000, 2),
        ("a", 20_000, 4), // watermark 9_999: session a [1 s, 8 s) and b [2 s, 7 s) fire
    ]);
    // One batch, out of order: 11 s opens a session, 15.5 s bridges it with the one at 20 s.
    batches.push(super::common::batch(&[("a", 15_500, 16), ("a", 11_000, 8)]));
    let window = WindowSpec::Session {
        gap: Duration::from_millis(5_000),
    };
    let run = run_window(
        vec![batches],
        config(window, Duration::ZERO),
        Duration::from_secs(10),
        1,
    )
    .await;
    assert_eq!(
        lines(&run.results),
        strings(&["a|1000|8000|2|3", "b|2000|7000|1|32", "a|11000|25000|3|28"])
    );
    assert!(run.late.is_empty());
}

#[tokio::test]
async fn a_late_row_reopens_a_session_within_allowed_lateness() {
    let rows = row_batches(&[
        ("a", 1_000, 1),
        ("a", 10_000, 2), // watermark 9_999: session [1 s, 3 s) fires
        ("a", 2_500, 4),  // extends the fired session to [1 s, 4.5 s): emitted again
        ("a", 30_000, 8), // watermark 29_999: everything before closes
        ("a", 1_500, 16), // its session is gone: late
    ]);
    let window = WindowSpec::Session {
        gap: Duration::from_millis(2_000),
    };
    let run = run_window(
        vec![rows],
        config(window, Duration::from_secs(10)),
        Duration::ZERO,
        1,
    )
    .await;
    assert_eq!(
        lines(&run.results),
        strings(&[
            "a|1000|3000|1|1",
            "a|1000|4500|2|5",
            "a|10000|12000|1|2",
            "a|30000|32000|1|8"
        ])
    );
    assert_eq!(run.late.iter().map(|b| b.num_rows()).sum::<usize>(), 1);
}

#[tokio::test]
async fn rows_without_event_time_go_to_the_late_output_with_the_reason() {
    use arrow::array::{Int64Array, StringArray, TimestampMillisecondArray};
    use std::sync::Arc;
    let batch = arrow::record_batch::RecordBatch::try_new(
        super::common::schema(),
        vec![
            Arc::new(StringArray::from(vec!["a", "a"])),
            Arc::new(TimestampMillisecondArray::from(vec![Some(1_000), None])),
            Arc::new(Int64Array::from(vec![1, 2])),
        ],
    )
    .unwrap();
    let run = run_window(
        vec![vec![batch]],
        config(tumbling(10_000), Duration::ZERO),
        Duration::ZERO,
        1,
    )
    .await;
    assert_eq!(lines(&run.results), strings(&["a|0|10000|1|1"]));
    assert_eq!(lines(&run.late), strings(&["a|null|2|event time is null"]));
}

#[tokio::test]
async fn approximate_and_distinct_aggregates_match_datafusion() {
    use datafusion::prelude::SessionContext;
    let rows: Vec<(String, i64, i64)> = (0..300)
        .map(|i| {
            (
                ["x", "y"][i % 2].to_string(),
                (i as i64) * 97 % 30_000,
                (i as i64 * 7919) % 97,
            )
        })
        .collect();
    let refs: Vec<(&str, i64, i64)> = rows.iter().map(|(k, t, v)| (k.as_str(), *t, *v)).collect();
    let all = super::common::batch(&refs);
    let mut cfg = config(tumbling(10_000), Duration::ZERO);
    cfg.aggregates = vec![
        "count(DISTINCT value) AS exact".into(),
        "approx_distinct(value) AS approx".into(),
        "approx_percentile_cont(value, 0.5) AS median".into(),
    ];
    let run = run_window(vec![vec![all.clone()]], cfg, Duration::from_secs(60), 2).await;

    let ctx = SessionContext::new();
    ctx.register_batch("rows", all).unwrap();
    let expected = ctx
        .sql(
            "SELECT key, date_bin(interval '10 seconds', ts, TIMESTAMP '1970-01-01') AS ws, \
                    date_bin(interval '10 seconds', ts, TIMESTAMP '1970-01-01') + interval '10 seconds' AS we, \
                    count(DISTINCT value), approx_distinct(value), approx_percentile_cont(value, 0.5) \
             FROM rows GROUP BY key, ws",
        )
        .await
        .unwrap()
        .collect()
        .await
        .unwrap();
    assert_eq!(lines(&run.results), lines(&expected));
}
