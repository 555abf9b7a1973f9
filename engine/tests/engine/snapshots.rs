//! Window and dedup state survives a snapshot and a restore, also into a different
//! parallelism: the output of a run cut in two equals the output of the uninterrupted run.

use std::time::Duration;

use arrow::array::ArrayRef;
use arrow::array::UInt32Array;
use arrow::compute::take_record_batch;
use arrow::record_batch::RecordBatch;
use proptest::prelude::*;
use weir_engine::expr::ExprCompiler;
use weir_engine::keys::{hash_columns, key_group, subtask_for_key_group};
use weir_engine::state::{redistribute, OperatorSnapshot};
use weir_engine::{
    Collector, DedupConfig, Operator, OperatorFactory, PlanContext, SubtaskInfo,
    WindowAggregateConfig, WindowSpec,
};

use super::common::{batch, lines, schema};

const MAX_PARALLELISM: usize = 128;

struct Subtasks {
    operators: Vec<Box<dyn Operator>>,
    ports: usize,
    main: Vec<RecordBatch>,
    late: Vec<RecordBatch>,
}

fn subtasks(config: &dyn OperatorFactory, parallelism: usize) -> Subtasks {
    let compiler = ExprCompiler::default();
    let plan = config
        .plan(&PlanContext {
            node: "window",
            inputs: &[schema()],
            compiler: &compiler,
        })
        .unwrap();
    let operators = (0..parallelism)
        .map(|index| {
            plan.create(&SubtaskInfo {
                gauges: Default::default(),
                node: "window".into(),
                index,
                parallelism,
                max_parallelism: MAX_PARALLELISM,
            })
            .unwrap()
        })
        .collect();
    Subtasks {
        operators,
        ports: plan.outputs().len(),
        main: Vec::new(),
        late: Vec::new(),
    }
}

impl Subtasks {
    /// Routes a batch by key to the subtasks, then moves every subtask to `watermark`.
    async fn step(&mut self, batch: &RecordBatch, watermark: i64) {
        let parallelism = self.operators.len();
        let mut hashes = Vec::new();
        hash_columns(&[batch.column(0).clone() as ArrayRef], &mut hashes).unwrap();
        let mut rows = vec![Vec::new(); parallelism];
        for (row, &h) in hashes.iter().enumerate() {
            let owner =
                subtask_for_key_group(key_group(h, MAX_PARALLELISM), MAX_PARALLELISM, parallelism);
            rows[owner].push(row as u32);
        }
        for (operator, rows) in self.operators.iter_mut().zip(rows) {
            let mut out = Collector::new(self.ports);
            if !rows.is_empty() {
                let part = take_record_batch(batch, &UInt32Array::from(rows)).unwrap();
                operator.process_batch(0, part, &mut out).await.unwrap();
            }
            operator.on_watermark(watermark, &mut out).await.unwrap();
            self.main.extend(out.take_port(0));
            if self.ports > 1 {
                self.late.extend(out.take_port(1));
            }
        }
    }

    async fn snapshot(&mut self) -> Vec<OperatorSnapshot> {
        let mut snapshots = Vec::new();
        for operator in &mut self.operators {
            snapshots.push(operator.snapshot().await.unwrap());
        }
        snapshots
    }

    async fn restore(&mut self, snapshots: &[OperatorSnapshot]) {
        let parallelism = self.operators.len();
        for (index, operator) in self.operators.iter_mut().enumerate() {
            let mine = redistribute(snapshots, index, parallelism, MAX_PARALLELISM).unwrap();
            operator.restore(mine).await.unwrap();
        }
    }
}

/// Batches of `(key, time, value)` rows and the watermark (bound `delay`) after each batch.
fn stream(rows: &[(usize, i64, i64)], batch_size: usize, delay: i64) -> Vec<(RecordBatch, i64)> {
    let named: Vec<(String, i64, i64)> = rows
        .iter()
        .map(|(k, t, v)| (format!("k{k}"), *t, *v))
        .collect();
    let mut max = i64::MIN;
    named
        .chunks(batch_size)
        .map(|chunk| {
            let refs: Vec<(&str, i64, i64)> =
                chunk.iter().map(|(k, t, v)| (k.as_str(), *t, *v)).collect();
            max = max.max(refs.iter().map(|r| r.1).max().unwrap());
            (batch(&refs), max - delay - 1)
        })
        .collect()
}

fn window_strategy() -> impl Strategy<Value = WindowSpec> {
    prop_oneof![
        Just(WindowSpec::Tumbling {
            size: Duration::from_millis(1_000)
        }),
        Just(WindowSpec::Sliding {
            size: Duration::from_millis(1_500),
            slide: Duration::from_millis(500)
        }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 40, ..ProptestConfig::default() })]

    #[test]
    fn a_restored_run_equals_the_uninterrupted_run(
        steps in prop::collection::vec((0usize..8, 0i64..150, 0i64..1_500, 0i64..50), 1..250),
        batch_size in 1usize..30,
        cut in 0.0f64..1.0,
        before in 1usize..4,
        after in 1usize..4,
        lateness in prop::sample::select(vec![0u64, 400]),
        window in window_strategy(),
    ) {
        // Rows move back up to 1.5 s against a 600 ms bound: some are late, some within
        // the allowed lateness, so updates and the late output are covered too.
        let mut base = 10_000i64;
        let rows: Vec<(usize, i64, i64)> = steps
            .iter()
            .map(|&(k, advance, back, v)| {
                base += advance;
                (k, base - back, v)
            })
            .collect();
        let batches = stream(&rows, batch_size, 600);
        let config = WindowAggregateConfig {
            key: vec!["key".into()],
            event_time: "ts".into(),
            window,
            aggregates: vec!["count(*) AS n".into(), "sum(value) AS total".into(), "count(DISTINCT value) AS d".into()],
            allowed_lateness: Duration::from_millis(lateness),
        };
        let split = ((batches.len() as f64) * cut) as usize;
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        runtime.block_on(async {
            let mut straight = subtasks(&config, before);
            for (b, w) in &batches {
                straight.step(b, *w).await;
            }
            straight.step(&batch(&[]), i64::MAX).await;

            let mut first = subtasks(&config, before);
            for (b, w) in &batches[..split] {
                first.step(b, *w).await;
            }
            let snapshots = first.snapshot().await;
            let mut second = subtasks(&config, after);
            second.restore(&snapshots).await;
            for (b, w) in &batches[split..] {
                second.step(b, *w).await;
            }
            second.step(&batch(&[]), i64::MAX).await;

            let mut main = first.main.clone();
            main.extend(second.main.clone());
            let mut late = first.late.clone();
            late.extend(second.late.clone());
            prop_assert_eq!(lines(&main), lines(&straight.main));
            prop_assert_eq!(lines(&late), lines(&straight.late));
            Ok(())
        })?;
    }
}

/// Dedup by hand: per key, a row is kept unless it falls before the end of the period
/// started by the last kept row of its key.
fn dedup_reference(rows: &[(usize, i64, i64)], within: i64) -> Vec<RecordBatch> {
    let mut ends = std::collections::HashMap::new();
    let mut kept = Vec::new();
    for &(k, t, v) in rows {
        let key = format!("k{k}");
        if ends.get(&key).is_some_and(|&end| t < end) {
            continue;
        }
        ends.insert(key.clone(), t + within);
        kept.push(batch(&[(key.as_str(), t, v)]));
    }
    kept
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 40, ..ProptestConfig::default() })]

    #[test]
    fn dedup_matches_the_reference_across_restores_and_parallelism(
        steps in prop::collection::vec((0usize..8, 0i64..150, 0i64..1_500, 0i64..50), 1..250),
        batch_size in 1usize..30,
        cut in 0.0f64..1.0,
        before in 1usize..4,
        after in 1usize..4,
    ) {
        let mut base = 10_000i64;
        let rows: Vec<(usize, i64, i64)> = steps
            .iter()
            .map(|&(k, advance, back, v)| {
                base += advance;
                (k, base - back, v)
            })
            .collect();
        // The watermark bound covers the disorder, so no row is late.
        let batches = stream(&rows, batch_size, 1_500);
        let config = DedupConfig {
            key: vec!["key".into()],
            event_time: "ts".into(),
            within: Duration::from_millis(700),
        };
        let split = ((batches.len() as f64) * cut) as usize;
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        runtime.block_on(async {
            let mut first = subtasks(&config, before);
            for (b, w) in &batches[..split] {
                first.step(b, *w).await;
            }
            let snapshots = first.snapshot().await;
            let mut second = subtasks(&config, after);
            second.restore(&snapshots).await;
            for (b, w) in &batches[split..] {
                second.step(b, *w).await;
            }
            let mut main = first.main.clone();
            main.extend(second.main.clone());
            prop_assert_eq!(lines(&main), lines(&dedup_reference(&rows, 700)));
            Ok(())
        })?;
    }
}

#[test]
fn windows_declare_their_state_tables() {
    let config = WindowAggregateConfig {
        key: vec!["key".into()],
        event_time: "ts".into(),
        window: WindowSpec::Tumbling {
            size: Duration::from_secs(1),
        },
        aggregates: vec!["count(*) AS n".into()],
        allowed_lateness: Duration::ZERO,
    };
    assert_eq!(
        state_table(&config),
        (
            "panes".to_string(),
            "_key_group,pane_start,key,__state_0_0".to_string()
        )
    );
    let sessions = WindowAggregateConfig {
        window: WindowSpec::Session {
            gap: Duration::from_secs(1),
        },
        ..config
    };
    assert_eq!(
        state_table(&sessions),
        (
            "sessions".to_string(),
            "_key_group,key,session_start,session_last,fired,__state_0_0".to_string()
        )
    );
}

/// The single state table a window declares: its name and column names.
fn state_table(config: &WindowAggregateConfig) -> (String, String) {
    let tables = subtasks(config, 1).operators[0].state_tables();
    assert_eq!(tables.len(), 1);
    let names = tables[0]
        .schema
        .fields()
        .iter()
        .map(|f| f.name().as_str())
        .collect::<Vec<_>>()
        .join(",");
    (tables[0].name.clone(), names)
}
