//! The exactly-once Delta sink on real Delta tables on disk: a generator job killed at
//! random moments and restored commits every row exactly once; committing an epoch twice
//! or from two jobs with the same app id changes nothing the second time.

mod support;

use std::time::Duration;

use arrow::compute::cast;
use arrow::datatypes::{DataType, TimeUnit};
use arrow::record_batch::RecordBatch;
use arrow::util::display::{ArrayFormatter, FormatOptions};
use deltalake::writer::{DeltaWriter as _, RecordBatchWriter};
use support::delta::query_table;
use weir_connectors::delta::{add_delta_sink, DeltaSinkConfig};
use weir_connectors::generator::{BidGenerator, BidGeneratorConfig};
use weir_engine::sinks::CollectSink;
use weir_engine::{GraphBuilder, JobGraph, RuntimeConfig};
use weir_lake::table::{commit_epoch, committed_epoch, open_or_create};

fn generator() -> std::sync::Arc<BidGenerator> {
    BidGenerator::new(BidGeneratorConfig {
        events: Some(60_000),
        batch_size: 500,
        rate_limit: Some(300_000),
        ..Default::default()
    })
    .unwrap()
}

fn job(table: &str, parallelism: usize) -> JobGraph {
    let mut g = GraphBuilder::new();
    let bids = g.source("bids", generator(), parallelism, None).unwrap();
    add_delta_sink(
        &mut g,
        "lake",
        DeltaSinkConfig::new(table, "bids-job"),
        bids.main().forward(),
        parallelism,
    )
    .unwrap();
    g.build().unwrap()
}

/// Rows as `a|b|c` lines with timestamps in milliseconds, sorted.
fn lines(batches: &[RecordBatch]) -> Vec<String> {
    let mut out = Vec::new();
    for b in batches {
        let columns: Vec<_> = b
            .columns()
            .iter()
            .map(|c| match c.data_type() {
                DataType::Timestamp(_, tz) => {
                    cast(c, &DataType::Timestamp(TimeUnit::Millisecond, tz.clone())).unwrap()
                }
                _ => c.clone(),
            })
            .collect();
        let options = FormatOptions::default();
        let formatters: Vec<_> = columns
            .iter()
            .map(|c| ArrayFormatter::try_new(c.as_ref(), &options).unwrap())
            .collect();
        for r in 0..b.num_rows() {
            out.push(
                formatters
                    .iter()
                    .map(|f| f.value(r).to_string())
                    .collect::<Vec<_>>()
                    .join("|"),
            );
        }
    }
    out.sort();
    out
}

async fn table_rows(table: &str) -> Vec<String> {
    lines(
        &query_table(
            table,
            "SELECT auction, bidder, price, channel, event_time FROM t",
        )
        .await,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_jobs_commit_every_row_exactly_once() {
    let expected = {
        let mut g = GraphBuilder::new();
        let bids = g.source("bids", generator(), 2, None).unwrap();
        let out = CollectSink::new();
        g.operator("out", &out, vec![bids.main().forward()], 1)
            .unwrap();
        g.build()
            .unwrap()
            .run(&RuntimeConfig::default())
            .await
            .unwrap();
        lines(&out.batches())
    };
    assert_eq!(expected.len(), 60_000);

    let dir = tempfile::tempdir().unwrap();
    let table = dir.path().join("bids").to_str().unwrap().to_string();
    let config = RuntimeConfig {
        checkpoint_interval: Some(Duration::from_millis(25)),
        checkpoint_location: Some(dir.path().join("checkpoints").to_str().unwrap().to_string()),
        ..RuntimeConfig::default()
    };
    for (after_ms, parallelism) in [(60u64, 2usize), (45, 3), (70, 1), (50, 2)] {
        let job = job(&table, parallelism).start(&config).await.unwrap();
        let _ = tokio::time::timeout(Duration::from_millis(after_ms), job.join()).await;
    }
    job(&table, 2).run(&config).await.unwrap();

    let got = table_rows(&table).await;
    assert_eq!(got.len(), expected.len(), "rows in the table");
    assert!(
        got == expected,
        "the table's rows differ from the generated ones"
    );
}

async fn stage(table: &deltalake::DeltaTable, rows: &[&str]) -> Vec<deltalake::kernel::Add> {
    let schema = std::sync::Arc::new(arrow::datatypes::Schema::new(vec![
        arrow::datatypes::Field::new("v", DataType::Utf8, false),
    ]));
    let batch = RecordBatch::try_new(
        schema,
        vec![std::sync::Arc::new(arrow::array::StringArray::from(
            rows.to_vec(),
        ))],
    )
    .unwrap();
    let mut writer = RecordBatchWriter::for_table(table).unwrap();
    writer.write(batch).await.unwrap();
    writer.flush().await.unwrap()
}

/// Writers racing to create a missing table: exactly one creation commit (version 0),
/// and every writer opens that one table. A loser used to retry its creation as version
/// 1, giving the table a second table id.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_creators_make_exactly_one_table() {
    let schema = support::lake_fixture::bids_schema();
    for round in 0..25 {
        let dir = tempfile::tempdir().unwrap();
        let uri = dir.path().join("t").display().to_string();
        let creators: Vec<_> = (0..4)
            .map(|_| {
                let (uri, schema) = (uri.clone(), schema.clone());
                tokio::spawn(async move { open_or_create(&uri, &schema, &[]).await.unwrap() })
            })
            .collect();
        let mut ids = std::collections::HashSet::new();
        for creator in creators {
            let table = creator.await.unwrap();
            ids.insert(table.snapshot().unwrap().metadata().id().to_string());
        }
        let mut commits: Vec<String> = std::fs::read_dir(dir.path().join("t/_delta_log"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|name| name.ends_with(".json"))
            .collect();
        commits.sort();
        assert_eq!(commits, ["00000000000000000000.json"], "round {round}");
        assert_eq!(ids.len(), 1, "round {round}: {ids:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_epoch_is_committed_once_whoever_tries_again() {
    let dir = tempfile::tempdir().unwrap();
    let uri = dir.path().join("t").to_str().unwrap().to_string();
    let schema = std::sync::Arc::new(arrow::datatypes::Schema::new(vec![
        arrow::datatypes::Field::new("v", DataType::Utf8, false),
    ]));
    let mut table = open_or_create(&uri, &schema, &[]).await.unwrap();
    assert_eq!(committed_epoch(&mut table, "job").await.unwrap(), None);

    let first = stage(&table, &["a", "b"]).await;
    assert_eq!(
        commit_epoch(&mut table, "job", 5, first.clone(), None)
            .await
            .unwrap(),
        Some(1)
    );
    // Replaying the committed epoch (a restore after the commit) is a no-op.
    assert_eq!(
        commit_epoch(&mut table, "job", 5, first, None)
            .await
            .unwrap(),
        None
    );
    // So is an older epoch.
    let older = stage(&table, &["old"]).await;
    assert_eq!(
        commit_epoch(&mut table, "job", 4, older, None)
            .await
            .unwrap(),
        None
    );

    // Two writers with the same app id race for epoch 6: exactly one commits.
    let mut other = open_or_create(&uri, &schema, &[]).await.unwrap();
    let mine = stage(&table, &["mine"]).await;
    let theirs = stage(&other, &["theirs"]).await;
    let (a, b) = tokio::join!(
        commit_epoch(&mut table, "job", 6, mine, None),
        commit_epoch(&mut other, "job", 6, theirs, None)
    );
    let committed = [a.unwrap(), b.unwrap()];
    assert_eq!(
        committed.iter().filter(|c| c.is_some()).count(),
        1,
        "{committed:?}"
    );
    // Another app id has epochs of its own.
    let elsewhere = stage(&table, &["c"]).await;
    assert_eq!(
        commit_epoch(&mut table, "other-job", 1, elsewhere, None)
            .await
            .unwrap(),
        Some(3)
    );

    let rows = lines(&query_table(&uri, "SELECT v FROM t").await);
    assert_eq!(rows.len(), 4, "{rows:?}");
    assert_eq!(&rows[..2], ["a", "b"]);
    assert!(rows.contains(&"c".to_string()));
    assert!(rows.contains(&"mine".to_string()) != rows.contains(&"theirs".to_string()));
    assert_eq!(committed_epoch(&mut table, "job").await.unwrap(), Some(6));
}

/// Runs `batches` (one partition) through a Delta sink into `table`, as a job of its own
/// (each run is a new application: a run's epochs start at 1).
async fn write_rows(
    table: &str,
    batches: Vec<RecordBatch>,
    configure: impl FnOnce(&mut DeltaSinkConfig),
) -> weir_engine::Result<()> {
    use weir_engine::sources::memory::MemorySource;
    let schema = batches[0].schema();
    static RUNS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let run = RUNS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let mut config = DeltaSinkConfig::new(table, &format!("rows-{run}"));
    configure(&mut config);
    let mut g = GraphBuilder::new();
    let rows = g
        .source("rows", MemorySource::new(schema, vec![batches])?, 1, None)
        .unwrap();
    add_delta_sink(&mut g, "lake", config, rows.main().forward(), 1)?;
    g.build()?.run(&RuntimeConfig::default()).await.map(|_| ())
}

fn batch(columns: Vec<(&str, arrow::array::ArrayRef)>) -> RecordBatch {
    RecordBatch::try_from_iter(columns).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schema_evolution_adds_nullable_columns_only_when_asked() {
    use arrow::array::{Int64Array, StringArray};
    use std::sync::Arc;
    let dir = tempfile::tempdir().unwrap();
    let table = dir.path().join("t").display().to_string();
    let first = batch(vec![
        ("id", Arc::new(Int64Array::from(vec![1, 2])) as _),
        ("name", Arc::new(StringArray::from(vec!["a", "b"])) as _),
    ]);
    write_rows(&table, vec![first], |_| {}).await.unwrap();
    let wider = batch(vec![
        ("id", Arc::new(Int64Array::from(vec![3])) as _),
        ("name", Arc::new(StringArray::from(vec!["c"])) as _),
        ("region", Arc::new(StringArray::from(vec!["eu"])) as _),
    ]);
    let refused = write_rows(&table, vec![wider.clone()], |_| {})
        .await
        .unwrap_err()
        .to_string();
    assert!(
        refused.contains(&format!(
            "the stream has columns table {table} does not: region; set `schema_evolution: true` to add them"
        )),
        "{refused}"
    );
    write_rows(&table, vec![wider], |c| c.schema_evolution = true)
        .await
        .unwrap();
    assert_eq!(
        lines(&query_table(&table, "SELECT id, name, region FROM t").await),
        ["1|a|", "2|b|", "3|c|eu"]
    );
    let narrower = batch(vec![("id", Arc::new(Int64Array::from(vec![4])) as _)]);
    let refused = write_rows(&table, vec![narrower], |c| c.schema_evolution = true)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        refused.contains("the table has columns the stream does not produce: name, region"),
        "{refused}"
    );
    let retyped = batch(vec![
        ("id", Arc::new(StringArray::from(vec!["5"])) as _),
        ("name", Arc::new(StringArray::from(vec!["e"])) as _),
        ("region", Arc::new(StringArray::from(vec!["us"])) as _),
    ]);
    let refused = write_rows(&table, vec![retyped], |_| {})
        .await
        .unwrap_err()
        .to_string();
    assert!(
        refused.contains("column 'id' is long in the table but string in the stream"),
        "{refused}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partitioned_tables_get_one_folder_per_value_and_file_statistics() {
    let dir = tempfile::tempdir().unwrap();
    let table = dir.path().join("bids").display().to_string();
    let mut g = GraphBuilder::new();
    let bids = g.source("bids", generator(), 2, None).unwrap();
    let mut config = DeltaSinkConfig::new(&table, "partitioned");
    config.partition_by = vec!["channel".into()];
    add_delta_sink(&mut g, "lake", config, bids.main().forward(), 2).unwrap();
    g.build()
        .unwrap()
        .run(&RuntimeConfig::default())
        .await
        .unwrap();
    let mut folders: Vec<String> = std::fs::read_dir(&table)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .filter(|n| !n.starts_with('_'))
        .collect();
    folders.sort();
    assert_eq!(
        folders,
        [
            "channel=apple",
            "channel=baidu",
            "channel=facebook",
            "channel=google"
        ]
    );
    // Every add action carries statistics a reader can skip files with.
    let mut adds = 0;
    for entry in std::fs::read_dir(format!("{table}/_delta_log")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "json") {
            for line in std::fs::read_to_string(&path).unwrap().lines() {
                let action: serde_json::Value = serde_json::from_str(line).unwrap();
                if let Some(add) = action.get("add") {
                    adds += 1;
                    let stats: serde_json::Value =
                        serde_json::from_str(add["stats"].as_str().unwrap()).unwrap();
                    assert!(stats["numRecords"].as_i64().unwrap() > 0, "{stats}");
                    assert!(stats["minValues"]["price"].is_number(), "{stats}");
                    assert!(stats["maxValues"]["auction"].is_number(), "{stats}");
                    assert_eq!(stats["nullCount"]["bidder"], 0, "{stats}");
                    assert!(add["partitionValues"]["channel"].is_string(), "{add}");
                }
            }
        }
    }
    assert!(adds >= 4, "{adds} files");
    let per_channel = query_table(
        &table,
        "SELECT channel, count(*) AS n FROM t GROUP BY channel ORDER BY channel",
    )
    .await;
    let total: i64 = per_channel
        .iter()
        .map(|b| {
            arrow::compute::sum(
                b.column(1)
                    .as_any()
                    .downcast_ref::<arrow::array::Int64Array>()
                    .unwrap(),
            )
            .unwrap_or(0)
        })
        .sum();
    assert_eq!(total, 60_000);
    assert_eq!(per_channel.iter().map(|b| b.num_rows()).sum::<usize>(), 4);
}

/// Runs rows `a, b` (strings) and `x` (1 and 22) through `project(x, column)` into a Delta
/// sink on `table`; returns the type the projection gives column `s`.
async fn write_derived(table: &str, column: &str) -> weir_engine::Result<DataType> {
    use arrow::array::{Int64Array, StringArray};
    use std::sync::Arc;
    use weir_engine::sources::memory::MemorySource;
    use weir_engine::ProjectConfig;
    let rows = batch(vec![
        ("a", Arc::new(StringArray::from(vec!["a1", "a2"])) as _),
        ("b", Arc::new(StringArray::from(vec!["b1", "b2"])) as _),
        ("x", Arc::new(Int64Array::from(vec![1, 22])) as _),
    ]);
    let mut g = GraphBuilder::new();
    let source = MemorySource::new(rows.schema(), vec![vec![rows]])?;
    let rows = g.source("rows", source, 1, None)?;
    let derived = g.operator(
        "derive",
        &ProjectConfig::new(["x", column]),
        vec![rows.main().forward()],
        1,
    )?;
    let input = derived.main().forward();
    let produced = input.schema().field_with_name("s")?.data_type().clone();
    add_delta_sink(
        &mut g,
        "lake",
        DeltaSinkConfig::new(table, "derive"),
        input,
        1,
    )?;
    g.build()?.run(&RuntimeConfig::default()).await?;
    Ok(produced)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn derived_strings_are_written_to_new_tables_and_tables_of_the_other_flavour() {
    use arrow::array::{Int64Array, StringArray, StringViewArray};
    use std::sync::Arc;
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("concat(a, b) AS s", ["1|a1b1", "22|a2b2"]),
        ("CAST(x AS VARCHAR) || 'xx' AS s", ["1|1xx", "22|22xx"]),
        ("CAST(x AS TEXT) AS s", ["1|1", "22|22"]),
        ("arrow_cast(x, 'Utf8') AS s", ["1|1", "22|22"]),
        ("arrow_cast(x, 'LargeUtf8') AS s", ["1|1", "22|22"]),
    ];
    let mut flavours = Vec::new();
    for (n, (column, expected)) in cases.into_iter().enumerate() {
        let fresh = dir.path().join(format!("new-{n}")).display().to_string();
        let produced = write_derived(&fresh, column).await.unwrap();
        let rows = lines(&query_table(&fresh, "SELECT x, s FROM t").await);
        assert_eq!(rows, expected, "{column} ({produced}) into a new table");
        flavours.push(produced);

        // Tables an earlier run created from a `Utf8` and from a `Utf8View` column.
        let earlier: [(&str, arrow::array::ArrayRef); 2] = [
            ("utf8", Arc::new(StringArray::from(vec!["old"]))),
            ("view", Arc::new(StringViewArray::from(vec!["old"]))),
        ];
        for (flavour, old) in earlier {
            let existing = dir
                .path()
                .join(format!("{flavour}-{n}"))
                .display()
                .to_string();
            let first = batch(vec![
                ("x", Arc::new(Int64Array::from(vec![0])) as _),
                ("s", old),
            ]);
            write_rows(&existing, vec![first], |_| {}).await.unwrap();
            write_derived(&existing, column).await.unwrap();
            let rows = lines(&query_table(&existing, "SELECT x, s FROM t").await);
            assert_eq!(
                rows,
                ["0|old", expected[0], expected[1]],
                "{column} into a table of {flavour}"
            );
        }
    }
    // The expressions give every string flavour.
    for flavour in [DataType::Utf8, DataType::LargeUtf8, DataType::Utf8View] {
        assert!(flavours.contains(&flavour), "{flavours:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_flavour_and_narrower_integers_and_timestamps_fit_a_table() {
    use arrow::array::{
        ArrayRef, BinaryArray, BinaryViewArray, Int32Array, Int64Array, LargeBinaryArray,
        LargeListArray, LargeStringArray, ListArray, StringArray, StringViewArray,
        TimestampMillisecondArray, TimestampNanosecondArray, TimestampSecondArray, UInt32Array,
        UInt8Array,
    };
    use arrow::datatypes::Int64Type;
    use std::sync::Arc;
    let dir = tempfile::tempdir().unwrap();
    let table = dir.path().join("t").display().to_string();
    let list = |v: i64| Some(vec![Some(v), Some(v + 1)]);
    let first = batch(vec![
        ("n", Arc::new(Int64Array::from(vec![1])) as ArrayRef),
        ("s", Arc::new(StringArray::from(vec!["a"])) as _),
        ("bin", Arc::new(BinaryArray::from(vec![b"a".as_ref()])) as _),
        (
            "l",
            Arc::new(ListArray::from_iter_primitive::<Int64Type, _, _>([list(
                10,
            )])) as _,
        ),
        (
            "t",
            Arc::new(TimestampMillisecondArray::from(vec![1_000]).with_timezone("UTC")) as _,
        ),
    ]);
    write_rows(&table, vec![first], |_| {}).await.unwrap();
    let large = batch(vec![
        ("n", Arc::new(Int32Array::from(vec![2])) as ArrayRef),
        ("s", Arc::new(LargeStringArray::from(vec!["b"])) as _),
        (
            "bin",
            Arc::new(BinaryViewArray::from(vec![b"b".as_ref()])) as _,
        ),
        (
            "l",
            Arc::new(LargeListArray::from_iter_primitive::<Int64Type, _, _>([
                list(20),
            ])) as _,
        ),
        (
            "t",
            Arc::new(TimestampSecondArray::from(vec![2]).with_timezone("UTC")) as _,
        ),
    ]);
    write_rows(&table, vec![large], |_| {}).await.unwrap();
    let view = batch(vec![
        ("n", Arc::new(UInt8Array::from(vec![3])) as ArrayRef),
        ("s", Arc::new(StringViewArray::from(vec!["c"])) as _),
        (
            "bin",
            Arc::new(LargeBinaryArray::from(vec![b"c".as_ref()])) as _,
        ),
        (
            "l",
            Arc::new(ListArray::from_iter_primitive::<Int64Type, _, _>([list(
                30,
            )])) as _,
        ),
        (
            "t",
            Arc::new(TimestampNanosecondArray::from(vec![3_000_000_000]).with_timezone("UTC")) as _,
        ),
    ]);
    write_rows(&table, vec![view], |_| {}).await.unwrap();
    assert_eq!(
        lines(&query_table(&table, "SELECT n, s, bin, l, t FROM t").await),
        [
            "1|a|61|[10, 11]|1970-01-01T00:00:01Z",
            "2|b|62|[20, 21]|1970-01-01T00:00:02Z",
            "3|c|63|[30, 31]|1970-01-01T00:00:03Z",
        ]
    );

    // A column narrower than the stream's is refused before anything is written.
    let narrow = dir.path().join("narrow").display().to_string();
    let int = |n: i32| batch(vec![("n", Arc::new(Int32Array::from(vec![n])) as ArrayRef)]);
    write_rows(&narrow, vec![int(1)], |_| {}).await.unwrap();
    let wide = batch(vec![("n", Arc::new(Int64Array::from(vec![2])) as ArrayRef)]);
    let refused = write_rows(&narrow, vec![wide], |_| {})
        .await
        .unwrap_err()
        .to_string();
    assert!(
        refused.contains("column 'n' is integer in the table but long in the stream"),
        "{refused}"
    );
    // An unsigned value the column cannot hold is an error naming the column, not a null.
    let big = batch(vec![(
        "n",
        Arc::new(UInt32Array::from(vec![7, 3_000_000_000])) as ArrayRef,
    )]);
    let refused = write_rows(&narrow, vec![big], |_| {})
        .await
        .unwrap_err()
        .to_string();
    assert!(
        refused.contains(&format!("writing column 'n' (UInt32) to {narrow} as Int32")),
        "{refused}"
    );
    assert_eq!(lines(&query_table(&narrow, "SELECT n FROM t").await), ["1"]);
}
