//! `top_n` over windowed results: the newest revision of each group equals the same top N
//! computed in one batch by DataFusion (`ROW_NUMBER()` for `ties: first`, `RANK()` for
//! `ties: include`), at parallelism 1 and 3; late rows go to the `late` port with a reason;
//! a run restored from a snapshot (into another parallelism) equals the uninterrupted run.

use std::sync::Arc;
use std::time::Duration;

use arrow::array::{ArrayRef, Int64Array, StringArray, TimestampMillisecondArray, UInt32Array};
use arrow::compute::take_record_batch;
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use arrow::record_batch::RecordBatch;
use datafusion::prelude::SessionContext;
use weir_engine::expr::ExprCompiler;
use weir_engine::keys::{hash_columns, key_group, subtask_for_key_group};
use weir_engine::sinks::CollectSink;
use weir_engine::sources::MemorySource;
use weir_engine::state::redistribute;
use weir_engine::{
    Collector, GraphBuilder, Operator, OperatorFactory, PlanContext, RuntimeConfig, SubtaskInfo,
    Ties, TopNConfig, WatermarkStrategy, LATE_PORT,
};

use super::common::{lines, strings};

const WINDOW_MS: i64 = 10_000;
const MAX_PARALLELISM: usize = 128;

/// Rows as a `window_aggregate` emits them: `window_start, window_end, path, hits, bytes`.
fn schema() -> SchemaRef {
    let ts = DataType::Timestamp(TimeUnit::Millisecond, None);
    Arc::new(Schema::new(vec![
        Field::new("window_start", ts.clone(), false),
        Field::new("window_end", ts, true),
        Field::new("path", DataType::Utf8, false),
        Field::new("hits", DataType::Int64, false),
        Field::new("bytes", DataType::Int64, true),
    ]))
}

/// `(window index, path, hits, bytes)` rows; a window index of -1 gives a null end.
type Row = (i64, String, i64, Option<i64>);

fn batch(rows: &[Row]) -> RecordBatch {
    let end = |w: i64| (w >= 0).then_some((w + 1) * WINDOW_MS);
    let columns: Vec<ArrayRef> = vec![
        Arc::new(TimestampMillisecondArray::from_iter_values(
            rows.iter().map(|r| r.0.max(0) * WINDOW_MS),
        )),
        Arc::new(TimestampMillisecondArray::from_iter(
            rows.iter().map(|r| end(r.0)),
        )),
        Arc::new(StringArray::from_iter_values(rows.iter().map(|r| &r.1))),
        Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.2))),
        Arc::new(Int64Array::from_iter(rows.iter().map(|r| r.3))),
    ];
    RecordBatch::try_new(schema(), columns).unwrap()
}

/// Six windows of twelve paths with few distinct hit counts (so ties abound) and some null
/// bytes. Returns the arrival batches, one per window: first versions of its rows (a third
/// of them lower than their final value) plus the final versions of the previous window's
/// updated rows, which arrive after that window was emitted. Also returns the final rows.
fn stream() -> (Vec<RecordBatch>, Vec<Row>) {
    let mut finals = Vec::new();
    let mut batches = Vec::new();
    let mut updates: Vec<Row> = Vec::new();
    for w in 0..6i64 {
        let mut arriving = std::mem::take(&mut updates);
        for p in 0..12i64 {
            let h = (w * 31 + p * 17) * 2_654_435_761 % 1_000_003;
            let row: Row = (w, format!("/p{p}"), h % 5, (h % 7 != 0).then_some(h % 3));
            if p % 3 == 0 {
                arriving.push((w, row.1.clone(), row.2 - 2, row.3));
                updates.push(row.clone());
            } else {
                arriving.push(row.clone());
            }
            finals.push(row);
        }
        batches.push(batch(&arriving));
    }
    batches.push(batch(&updates));
    (batches, finals)
}

fn config(ties: Ties, key: &[&str]) -> TopNConfig {
    TopNConfig {
        partition_by: vec!["window_start".into()],
        until: "window_end".into(),
        order_by: vec!["hits DESC".into(), "bytes".into()],
        limit: 3,
        key: key.iter().map(|k| k.to_string()).collect(),
        ties,
        allowed_lateness: Duration::from_secs(20),
    }
}

struct Run {
    results: Vec<RecordBatch>,
    late: Vec<RecordBatch>,
}

/// Runs the batches (one source partition, watermark = the newest `window_end` - 1 ms after
/// each batch) through `top_n` at `parallelism`.
async fn run(batches: Vec<RecordBatch>, config: &TopNConfig, parallelism: usize) -> Run {
    let mut g = GraphBuilder::new();
    let source = g
        .source(
            "rows",
            MemorySource::new(schema(), vec![batches]).unwrap(),
            1,
            Some(WatermarkStrategy::bounded("window_end", Duration::ZERO)),
        )
        .unwrap();
    let keys = config.key_columns().unwrap();
    let top = g
        .operator("top", config, vec![source.main().hash(keys)], parallelism)
        .unwrap();
    let results = CollectSink::new();
    let late = CollectSink::new();
    g.operator("results", &results, vec![top.main().rebalance()], 1)
        .unwrap();
    g.operator(
        "late",
        &late,
        vec![top.port(LATE_PORT).unwrap().rebalance()],
        1,
    )
    .unwrap();
    g.build()
        .unwrap()
        .run(&RuntimeConfig::default())
        .await
        .unwrap();
    Run {
        results: results.batches(),
        late: late.batches(),
    }
}

async fn sql(tables: &[(&str, Vec<RecordBatch>)], query: &str) -> Vec<String> {
    let ctx = SessionContext::new();
    for (name, batches) in tables {
        let schema = batches[0].schema();
        let table =
            datafusion::datasource::MemTable::try_new(schema, vec![batches.clone()]).unwrap();
        ctx.register_table(*name, Arc::new(table)).unwrap();
    }
    lines(&ctx.sql(query).await.unwrap().collect().await.unwrap())
}

/// The reader's pattern: per group, the rows of its newest revision.
const NEWEST: &str = "SELECT t.window_start, t.window_end, t.path, t.hits, t.bytes, t.rank \
    FROM top t JOIN (SELECT window_start, window_end, max(revision) AS revision FROM top \
                     GROUP BY window_start, window_end) newest \
    ON t.window_start = newest.window_start AND t.window_end = newest.window_end \
       AND t.revision = newest.revision";

/// The top 3 in one batch: `ROW_NUMBER()` ordered by `order_by` then the rest of the row
/// (ties: first), or `RANK()` ordered by `order_by` alone (ties: include).
fn reference(ties: Ties) -> String {
    let function = match ties {
        Ties::First => {
            "ROW_NUMBER() OVER (PARTITION BY window_start, window_end \
                        ORDER BY hits DESC, bytes ASC, window_start, window_end, path)"
        }
        Ties::Include => {
            "RANK() OVER (PARTITION BY window_start, window_end \
                          ORDER BY hits DESC, bytes ASC)"
        }
    };
    format!(
        "SELECT window_start, window_end, path, hits, bytes, rank FROM ( \
           SELECT *, {function} AS rank FROM rows) WHERE rank <= 3"
    )
}

#[tokio::test]
async fn the_newest_revision_equals_row_number_and_rank_at_any_parallelism() {
    let (batches, finals) = stream();
    let rows = vec![batch(&finals)];
    for ties in [Ties::First, Ties::Include] {
        let expected = sql(&[("rows", rows.clone())], &reference(ties)).await;
        let cfg = config(ties, &["path"]);
        let one = run(batches.clone(), &cfg, 1).await;
        let three = run(batches.clone(), &cfg, 3).await;
        let newest = sql(&[("top", one.results.clone())], NEWEST).await;
        assert_eq!(newest, expected, "{ties:?}");
        assert_eq!(lines(&one.results), lines(&three.results), "{ties:?}");
        assert!(one.late.is_empty() && three.late.is_empty());
        // Updates after a window fired changed some top lists: they were emitted again.
        let revised = sql(
            &[("top", one.results.clone())],
            "SELECT count(DISTINCT window_start) FROM top WHERE revision > 0",
        )
        .await;
        assert_ne!(revised, ["0"], "{ties:?}");
    }
    // Without a key every row counts: over the final rows alone, the first emission is it.
    let cfg = config(Ties::First, &[]);
    let once = run(rows.clone(), &cfg, 2).await;
    let all = sql(
        &[("top", once.results.clone())],
        "SELECT window_start, window_end, path, hits, bytes, rank FROM top",
    )
    .await;
    assert_eq!(all, sql(&[("rows", rows)], &reference(Ties::First)).await);
}

#[tokio::test]
async fn rows_of_a_closed_group_or_without_end_go_to_the_late_port() {
    let row = |w: i64, path: &str, hits: i64| (w, path.to_string(), hits, Some(1));
    let batches = vec![
        batch(&[row(0, "/a", 5), row(0, "/b", 3)]),
        // Window 0 emitted (watermark 9.999 s); /b's update arrives within the lateness.
        batch(&[row(1, "/a", 1), row(0, "/b", 9)]),
        // Watermark 39.999 s: window 0 closed (9.999 s + 20 s) and window 1 too.
        batch(&[row(3, "/c", 1)]),
        batch(&[row(0, "/a", 7), row(-1, "/d", 1)]),
    ];
    let cfg = config(Ties::First, &["path"]);
    let run = run(batches, &cfg, 2).await;
    assert_eq!(
        lines(&run.results),
        strings(&[
            "0|10000|/a|5|1|1|0",
            "0|10000|/b|3|1|2|0",
            "0|10000|/b|9|1|1|1",
            "0|10000|/a|5|1|2|1",
            "10000|20000|/a|1|1|1|0",
            "30000|40000|/c|1|1|1|0",
        ])
    );
    assert_eq!(
        lines(&run.late),
        [
            "0|10000|/a|7|1|window_end 1970-01-01T00:00:10.000Z is too late: the watermark is \
             1970-01-01T00:00:39.999Z and the group closed (allowed lateness 20000ms)",
            "0|null|/d|1|1|window_end is null",
        ]
    );
}

/// Subtasks driven by hand: rows routed by the hash of `window_start`, then a watermark.
struct Subtasks {
    operators: Vec<Box<dyn Operator>>,
    main: Vec<RecordBatch>,
    late: Vec<RecordBatch>,
}

impl Subtasks {
    fn new(config: &TopNConfig, parallelism: usize) -> Self {
        let compiler = ExprCompiler::default();
        let plan = config
            .plan(&PlanContext {
                node: "top",
                inputs: &[schema()],
                compiler: &compiler,
            })
            .unwrap();
        let operators = (0..parallelism)
            .map(|index| {
                plan.create(&SubtaskInfo {
                    gauges: Default::default(),
                    node: "top".into(),
                    index,
                    parallelism,
                    max_parallelism: MAX_PARALLELISM,
                })
                .unwrap()
            })
            .collect();
        Self {
            operators,
            main: Vec::new(),
            late: Vec::new(),
        }
    }

    async fn step(&mut self, batch: &RecordBatch, watermark: i64) {
        let parallelism = self.operators.len();
        let mut hashes = Vec::new();
        hash_columns(&[batch.column(0).clone()], &mut hashes).unwrap();
        let mut rows = vec![Vec::new(); parallelism];
        for (row, &h) in hashes.iter().enumerate() {
            let owner =
                subtask_for_key_group(key_group(h, MAX_PARALLELISM), MAX_PARALLELISM, parallelism);
            rows[owner].push(row as u32);
        }
        for (operator, rows) in self.operators.iter_mut().zip(rows) {
            let mut out = Collector::new(2);
            if !rows.is_empty() {
                let part = take_record_batch(batch, &UInt32Array::from(rows)).unwrap();
                operator.process_batch(0, part, &mut out).await.unwrap();
            }
            operator.on_watermark(watermark, &mut out).await.unwrap();
            self.main.extend(out.take_port(0));
            self.late.extend(out.take_port(1));
        }
    }
}

#[tokio::test]
async fn a_restored_run_equals_the_uninterrupted_run_at_another_parallelism() {
    let (batches, _) = stream();
    let watermarks: Vec<i64> = (1..=batches.len() as i64)
        .map(|w| w * WINDOW_MS - 1)
        .collect();
    for ties in [Ties::First, Ties::Include] {
        for key in [&["path"][..], &[][..]] {
            let cfg = config(ties, key);
            let mut straight = Subtasks::new(&cfg, 2);
            for (b, w) in batches.iter().zip(&watermarks) {
                straight.step(b, *w).await;
            }
            straight.step(&batch(&[]), i64::MAX).await;
            for cut in 1..batches.len() {
                let mut first = Subtasks::new(&cfg, 2);
                for (b, w) in batches[..cut].iter().zip(&watermarks) {
                    first.step(b, *w).await;
                }
                let mut snapshots = Vec::new();
                for operator in &mut first.operators {
                    snapshots.push(operator.snapshot().await.unwrap());
                }
                let mut second = Subtasks::new(&cfg, 3);
                for (index, operator) in second.operators.iter_mut().enumerate() {
                    let mine = redistribute(&snapshots, index, 3, MAX_PARALLELISM).unwrap();
                    operator.restore(mine).await.unwrap();
                }
                for (b, w) in batches[cut..].iter().zip(&watermarks[cut..]) {
                    second.step(b, *w).await;
                }
                second.step(&batch(&[]), i64::MAX).await;
                let mut main = first.main;
                main.extend(second.main);
                assert_eq!(
                    lines(&main),
                    lines(&straight.main),
                    "{ties:?} {key:?} {cut}"
                );
                let mut late = first.late;
                late.extend(second.late);
                assert_eq!(lines(&late), lines(&straight.late));
            }
        }
    }
}

#[test]
fn configuration_errors_name_the_field_and_column() {
    let compiler = ExprCompiler::default();
    let error = |change: &dyn Fn(&mut TopNConfig)| {
        let mut cfg = config(Ties::First, &["path"]);
        change(&mut cfg);
        match cfg.plan(&PlanContext {
            node: "top",
            inputs: &[schema()],
            compiler: &compiler,
        }) {
            Ok(_) => panic!("{cfg:?} was accepted"),
            Err(e) => e.to_string(),
        }
    };
    assert_eq!(
        error(&|c| c.order_by = vec!["hits DOWN".into()]),
        "invalid configuration of node 'top': order_by column 'hits DOWN' is not in the input \
         (window_start, window_end, path, hits, bytes)"
    );
    assert_eq!(
        error(&|c| c.until = "hits".into()),
        "invalid configuration of node 'top': until column 'hits' must be a timestamp, but it is Int64"
    );
    assert_eq!(
        error(&|c| c.limit = 0),
        "invalid configuration of node 'top': limit must be at least 1"
    );
    assert_eq!(
        error(&|c| c.key = vec!["route".into()]),
        "invalid configuration of node 'top': key column 'route' is not in the input \
         (window_start, window_end, path, hits, bytes)"
    );
    let parsed: weir_engine::OperatorConfig = serde_saphyr::from_str(
        "type: top_n\npartition_by: [window_start]\nuntil: window_end\norder_by: [hits DESC, bytes]\n\
         limit: 3\nkey: [path]\nallowed_lateness: 20s\n",
    )
    .unwrap();
    assert_eq!(
        parsed,
        weir_engine::OperatorConfig::TopN(config(Ties::First, &["path"]))
    );
}
