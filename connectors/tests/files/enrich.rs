//! `enrich`: exact rows joined from CSV, Parquet and Delta dimension tables (the same as a
//! batch LEFT JOIN in DataFusion, at parallelism 1 and 2), keys not found both ways,
//! reloads when the table changes, failed reloads keeping the last good version, and the
//! build-time errors.

use std::sync::Arc;

use arrow::array::{ArrayRef, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::util::pretty::pretty_format_batches;
use deltalake::datafusion::prelude::SessionContext;
use weir_connectors::enrich::operator::EnrichPlan;
use weir_connectors::enrich::EnrichConfig;
use weir_engine::expr::ExprCompiler;
use weir_engine::sinks::CollectSink;
use weir_engine::sources::MemorySource;
use weir_engine::{
    Collector, GraphBuilder, OperatorPlan, PlanContext, RuntimeConfig, SubtaskInfo,
    DEAD_LETTER_PORT,
};

const SERVICES: &str =
    "service,team,tier\ncheckout,payments,1\nsearch,discovery,2\ncart,payments,2\n";

fn input_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("service", DataType::Utf8, true),
        Field::new("status", DataType::Int64, false),
    ]))
}

fn input(rows: &[(Option<&str>, i64)]) -> RecordBatch {
    let columns: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from_iter(rows.iter().map(|r| r.0))),
        Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.1))),
    ];
    RecordBatch::try_new(input_schema(), columns).unwrap()
}

fn requests() -> RecordBatch {
    input(&[
        (Some("checkout"), 200),
        (Some("search"), 500),
        (Some("billing"), 200),
        (None, 404),
        (Some("cart"), 201),
    ])
}

fn config(yaml: &str) -> EnrichConfig {
    serde_saphyr::from_str(yaml).unwrap()
}

fn open(config: &EnrichConfig) -> Result<Arc<EnrichPlan>, String> {
    let compiler = ExprCompiler::default();
    config
        .open(&PlanContext {
            node: "enriched",
            inputs: &[input_schema()],
            compiler: &compiler,
        })
        .map_err(|e| e.to_string())
}

fn subtask() -> SubtaskInfo {
    SubtaskInfo {
        gauges: Default::default(),
        node: "enriched".into(),
        index: 0,
        parallelism: 1,
        max_parallelism: 128,
    }
}

/// One subtask of `plan` fed `batch`: the main rows and the dead letters' reasons, as
/// aligned text tables (rows sorted by the first column).
async fn enrich_once(
    operator: &mut Box<dyn weir_engine::Operator>,
    ports: usize,
    batch: RecordBatch,
) -> (String, Vec<String>) {
    let mut out = Collector::new(ports);
    operator.process_batch(0, batch, &mut out).await.unwrap();
    let rows = pretty_format_batches(&out.take_port(0))
        .unwrap()
        .to_string();
    let mut reasons = Vec::new();
    if ports > 1 {
        for letters in out.take_port(1) {
            for row in 0..letters.num_rows() {
                let column = |i: usize| {
                    arrow::array::AsArray::as_string::<i32>(letters.column(i).as_ref())
                        .value(row)
                        .to_string()
                };
                let raw = String::from_utf8(
                    arrow::array::AsArray::as_binary::<i32>(letters.column(0).as_ref())
                        .value(row)
                        .to_vec(),
                )
                .unwrap();
                reasons.push(format!("{} {} {}", column(1), raw, column(2)));
            }
        }
    }
    (rows, reasons)
}

fn write(dir: &std::path::Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

#[tokio::test]
async fn a_csv_dimension_adds_its_columns_and_missing_keys_give_nulls() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "services.csv", SERVICES);
    let plan = open(&config(&format!("path: {path}\non: service\n"))).unwrap();
    let mut operator = plan.create(&subtask()).unwrap();
    let (rows, _) = enrich_once(&mut operator, 1, requests()).await;
    assert_eq!(
        rows,
        "+----------+--------+-----------+------+\n\
         | service  | status | team      | tier |\n\
         +----------+--------+-----------+------+\n\
         | checkout | 200    | payments  | 1    |\n\
         | search   | 500    | discovery | 2    |\n\
         | billing  | 200    |           |      |\n\
         |          | 404    |           |      |\n\
         | cart     | 201    | payments  | 2    |\n\
         +----------+--------+-----------+------+"
    );
    assert_eq!(plan.dimension().reloads(), 0);
}

#[tokio::test]
async fn missing_keys_go_to_dead_letters_with_the_reason_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "services.csv", SERVICES);
    let plan = open(&config(&format!(
        "path: {path}\non: service\ncolumns: [team]\nmissing: dead_letter\n"
    )))
    .unwrap();
    assert_eq!(plan.outputs()[1].name, DEAD_LETTER_PORT);
    let mut operator = plan.create(&subtask()).unwrap();
    let (rows, letters) = enrich_once(&mut operator, 2, requests()).await;
    assert_eq!(
        rows,
        "+----------+--------+-----------+\n\
         | service  | status | team      |\n\
         +----------+--------+-----------+\n\
         | checkout | 200    | payments  |\n\
         | search   | 500    | discovery |\n\
         | cart     | 201    | payments  |\n\
         +----------+--------+-----------+"
    );
    assert_eq!(
        letters,
        vec![
            format!(
                "enriched:2 {{\"service\":\"billing\",\"status\":200}} no row of dimension table '{path}' has service = 'billing'"
            ),
            "enriched:3 {\"status\":404} the join key has a null value (service = null)"
                .to_string(),
        ]
    );
    // Origins count on over batches.
    let (_, letters) = enrich_once(&mut operator, 2, input(&[(Some("x"), 1)])).await;
    assert!(letters[0].starts_with("enriched:5 "), "{letters:?}");
}

/// The enriched rows of `batches` run through the engine at `parallelism`, next to the
/// same LEFT JOIN done by DataFusion over the CSV file.
async fn engine_and_reference(path: &str, parallelism: usize) -> (String, String) {
    let mut g = GraphBuilder::new();
    let all = requests();
    let partitions = vec![vec![all.slice(0, 2)], vec![all.slice(2, 3)]];
    let source = g
        .source(
            "requests",
            MemorySource::new(input_schema(), partitions).unwrap(),
            2,
            None,
        )
        .unwrap();
    let enrich = config(&format!("path: {path}\non: service\nprefix: svc_\n"));
    let node = g
        .operator(
            "enriched",
            &enrich,
            vec![source.main().rebalance()],
            parallelism,
        )
        .unwrap();
    let sink = CollectSink::new();
    g.operator("out", &sink, vec![node.main().rebalance()], 1)
        .unwrap();
    g.build()
        .unwrap()
        .run(&RuntimeConfig::default())
        .await
        .unwrap();
    let ctx = SessionContext::new();
    ctx.register_batch("streamed", sink.concat().unwrap())
        .unwrap();
    ctx.register_batch("requests", all).unwrap();
    ctx.register_csv("services", path, Default::default())
        .await
        .unwrap();
    let text = |sql: &'static str| {
        let ctx = ctx.clone();
        async move {
            let batches = ctx.sql(sql).await.unwrap().collect().await.unwrap();
            pretty_format_batches(&batches).unwrap().to_string()
        }
    };
    (
        text("SELECT * FROM streamed ORDER BY status, service").await,
        text(
            "SELECT r.service, r.status, s.team AS svc_team, s.tier AS svc_tier \
             FROM requests r LEFT JOIN services s ON r.service = s.service ORDER BY status, service",
        )
        .await,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_engine_gives_the_rows_of_a_batch_left_join_at_any_parallelism() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "services.csv", SERVICES);
    let (one, reference) = engine_and_reference(&path, 1).await;
    assert_eq!(one, reference);
    assert_eq!(one.lines().count(), 9, "{one}");
    let (two, _) = engine_and_reference(&path, 2).await;
    assert_eq!(two, one);
}

#[tokio::test]
async fn a_parquet_dimension_joins_on_differently_named_columns() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("owners.parquet");
    let schema = Arc::new(Schema::new(vec![
        Field::new("name", DataType::Utf8, false),
        Field::new("owner", DataType::Utf8, true),
        Field::new("status", DataType::Int64, true),
    ]));
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(StringArray::from(vec!["cart", "checkout"])),
            Arc::new(StringArray::from(vec![Some("ana"), None])),
            Arc::new(Int64Array::from(vec![1, 2])),
        ],
    )
    .unwrap();
    let mut writer =
        parquet::arrow::ArrowWriter::try_new(std::fs::File::create(&path).unwrap(), schema, None)
            .unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
    let path = path.display().to_string();
    // `status` clashes with the input's column.
    let e = open(&config(&format!("path: {path}\non: {{service: name}}\n"))).unwrap_err();
    assert_eq!(
        e,
        "invalid configuration of node 'enriched': added column 'status' is also an input column; set a `prefix` or leave it out of `columns`"
    );
    let plan = open(&config(&format!(
        "path: {path}\non: {{service: name}}\nprefix: dim_\n"
    )))
    .unwrap();
    let mut operator = plan.create(&subtask()).unwrap();
    let (rows, _) = enrich_once(&mut operator, 1, requests()).await;
    assert_eq!(
        rows,
        "+----------+--------+-----------+------------+\n\
         | service  | status | dim_owner | dim_status |\n\
         +----------+--------+-----------+------------+\n\
         | checkout | 200    |           | 2          |\n\
         | search   | 500    |           |            |\n\
         | billing  | 200    |           |            |\n\
         |          | 404    |           |            |\n\
         | cart     | 201    | ana       | 1          |\n\
         +----------+--------+-----------+------------+"
    );
}

async fn write_delta(path: &str, rows: &[(&str, &str)], mode: deltalake::protocol::SaveMode) {
    let schema = Arc::new(Schema::new(vec![
        Field::new("service", DataType::Utf8, false),
        Field::new("team", DataType::Utf8, false),
    ]));
    let batch = RecordBatch::try_new(
        schema,
        vec![
            Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.0))),
            Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.1))),
        ],
    )
    .unwrap();
    let url = deltalake::ensure_table_uri(path).unwrap();
    deltalake::DeltaTable::try_from_url(url)
        .await
        .unwrap()
        .write(vec![batch])
        .with_save_mode(mode)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delta_dimension_is_read_and_reloaded_at_its_new_version() {
    use deltalake::protocol::SaveMode;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("teams").display().to_string();
    write_delta(
        &path,
        &[("checkout", "payments"), ("search", "discovery")],
        SaveMode::Append,
    )
    .await;
    let plan = open(&config(&format!(
        "path: {path}\non: service\nreload_interval: 0s\n"
    )))
    .unwrap();
    let mut operator = plan.create(&subtask()).unwrap();
    let batch = || input(&[(Some("checkout"), 200), (Some("cart"), 201)]);
    let (rows, _) = enrich_once(&mut operator, 1, batch()).await;
    assert_eq!(
        rows,
        "+----------+--------+----------+\n\
         | service  | status | team     |\n\
         +----------+--------+----------+\n\
         | checkout | 200    | payments |\n\
         | cart     | 201    |          |\n\
         +----------+--------+----------+"
    );
    // A check the first batch started (the interval is 0 s) may still be reading the log:
    // done before the commit, it finds nothing new and must not be the one waited for.
    plan.dimension().wait_for_reload().await;
    assert_eq!(plan.dimension().reloads(), 0);
    write_delta(&path, &[("cart", "shop")], SaveMode::Append).await;
    // This batch starts the check; it is served by the version loaded before.
    let (before, _) = enrich_once(&mut operator, 1, batch()).await;
    assert_eq!(before, rows);
    plan.dimension().wait_for_reload().await;
    assert_eq!(plan.dimension().reloads(), 1);
    let (after, _) = enrich_once(&mut operator, 1, batch()).await;
    assert_eq!(
        after,
        "+----------+--------+----------+\n\
         | service  | status | team     |\n\
         +----------+--------+----------+\n\
         | checkout | 200    | payments |\n\
         | cart     | 201    | shop     |\n\
         +----------+--------+----------+"
    );
}

/// The team column of `batch` enriched by one subtask.
async fn teams(operator: &mut Box<dyn weir_engine::Operator>) -> Vec<Option<String>> {
    let mut out = Collector::new(1);
    let batch = input(&[(Some("checkout"), 200), (Some("search"), 200)]);
    operator.process_batch(0, batch, &mut out).await.unwrap();
    let rows = out.take_port(0);
    let teams = rows[0].column_by_name("team").unwrap();
    arrow::array::AsArray::as_string::<i32>(teams.as_ref())
        .iter()
        .map(|t| t.map(String::from))
        .collect()
}

#[tokio::test]
async fn a_changed_file_is_reloaded_and_a_broken_one_keeps_the_last_good_version() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "services.csv", SERVICES);
    let plan = open(&config(&format!(
        "path: {path}\non: service\ncolumns: [team]\nreload_interval: 0s\n"
    )))
    .unwrap();
    let dimension = plan.dimension().clone();
    let mut operator = plan.create(&subtask()).unwrap();
    let first = vec![Some("payments".to_string()), Some("discovery".to_string())];
    assert_eq!(teams(&mut operator).await, first);
    // Unchanged: the check loads nothing.
    dimension.wait_for_reload().await;
    assert_eq!(teams(&mut operator).await, first);
    dimension.wait_for_reload().await;
    assert_eq!((dimension.reloads(), dimension.failed_reloads()), (0, 0));

    write(
        dir.path(),
        "services.csv",
        "service,team\ncheckout,orders\n",
    );
    assert_eq!(teams(&mut operator).await, first);
    dimension.wait_for_reload().await;
    let second = vec![Some("orders".to_string()), None];
    assert_eq!(teams(&mut operator).await, second);
    assert_eq!((dimension.reloads(), dimension.failed_reloads()), (1, 0));

    // Each broken version fails once and leaves the table as it was.
    for broken in [
        "service,owner\ncheckout,ana\n",
        "service,team\ncheckout,a\ncheckout,b\n",
        "service,team\n\"checkout,orders\n",
    ] {
        write(dir.path(), "services.csv", broken);
        teams(&mut operator).await;
        dimension.wait_for_reload().await;
        assert_eq!(teams(&mut operator).await, second, "{broken}");
        dimension.wait_for_reload().await;
    }
    assert_eq!((dimension.reloads(), dimension.failed_reloads()), (1, 3));
    // A file that is gone fails at every check.
    std::fs::remove_file(&path).unwrap();
    teams(&mut operator).await;
    dimension.wait_for_reload().await;
    assert_eq!(teams(&mut operator).await, second);
    dimension.wait_for_reload().await;
    assert_eq!(dimension.failed_reloads(), 5);

    write(dir.path(), "services.csv", "service,team\nsearch,found\n");
    teams(&mut operator).await;
    dimension.wait_for_reload().await;
    assert_eq!(
        teams(&mut operator).await,
        vec![None, Some("found".to_string())]
    );
    assert_eq!(dimension.reloads(), 2);
}

#[test]
fn build_errors_name_the_node_the_file_and_the_column() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "services.csv", SERVICES);
    let missing = dir.path().join("nope.csv").display().to_string();
    let e = open(&config(&format!("path: {missing}\non: service\n"))).unwrap_err();
    assert_eq!(
        e,
        format!(
            "invalid configuration of node 'enriched': dimension table '{missing}' does not exist"
        )
    );
    let e = open(&config(&format!("path: {path}\non: svc\n"))).unwrap_err();
    assert_eq!(
        e,
        "invalid configuration of node 'enriched': join column 'svc' is not in the input (it has: service, status)"
    );
    let e = open(&config(&format!("path: {path}\non: {{service: name}}\n"))).unwrap_err();
    assert_eq!(
        e,
        format!("invalid configuration of node 'enriched': join column 'name' is not in dimension table '{path}' (it has: service, team, tier)")
    );
    let e = open(&config(&format!(
        "path: {path}\non: service\ncolumns: [owner]\n"
    )))
    .unwrap_err();
    assert_eq!(
        e,
        format!("invalid configuration of node 'enriched': column 'owner' is not in dimension table '{path}' (it has: service, team, tier)")
    );
    let duplicates = write(
        dir.path(),
        "dup.csv",
        "service,team\ncheckout,a\nsearch,b\ncheckout,c\n",
    );
    let e = open(&config(&format!("path: {duplicates}\non: service\n"))).unwrap_err();
    assert_eq!(
        e,
        format!("invalid configuration of node 'enriched': dimension table '{duplicates}' has the key service = 'checkout' in rows 1 and 3; keys must be unique")
    );
    let text = write(dir.path(), "services.txt", SERVICES);
    let e = open(&config(&format!("path: {text}\non: service\n"))).unwrap_err();
    assert!(e.contains("cannot tell the format of"), "{e}");
    assert!(open(&config(&format!(
        "path: {text}\nformat: csv\non: service\n"
    )))
    .is_ok());
}
