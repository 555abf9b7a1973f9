//! A lake table is scanned as its Parquet files by DataFusion's own scan
//! (`weir.direct_scan`): the same rows, types and skipped files as through deltalake's
//! provider, partition columns (a date, a string with nulls) in the middle of the schema.

use std::sync::Arc;

use arrow::array::{Date32Array, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use deltalake::writer::{DeltaWriter as _, RecordBatchWriter};
use weir_lake::table::{commit_epoch, open_or_create};

use crate::session;
use crate::support::lake_fixture::text;

/// The table `events` at `path`, partitioned by `day` and `region` (null for every fifth
/// row): three commits of 40 rows over three days.
async fn events(path: &std::path::Path) {
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("day", DataType::Date32, false),
        Field::new("amount", DataType::Int64, true),
        Field::new("region", DataType::Utf8, true),
        Field::new("note", DataType::Utf8, false),
    ]));
    let partitions = ["day".to_string(), "region".to_string()];
    let mut table = open_or_create(path.to_str().unwrap(), &schema, &partitions)
        .await
        .unwrap();
    for commit in 0..3i64 {
        let ids: Vec<i64> = (commit * 40..commit * 40 + 40).collect();
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(Int64Array::from(ids.clone())),
                Arc::new(Date32Array::from_iter_values(
                    ids.iter().map(|i| 20_454 + (i % 3) as i32),
                )),
                Arc::new(Int64Array::from_iter(
                    ids.iter().map(|i| (i % 7 != 0).then_some(i * 13 % 100)),
                )),
                Arc::new(StringArray::from_iter(ids.iter().map(|i| {
                    (i % 5 != 0).then_some(["north", "south"][(i % 2) as usize])
                }))),
                Arc::new(StringArray::from_iter_values(
                    ids.iter().map(|i| format!("note {i}")),
                )),
            ],
        )
        .unwrap();
        let mut writer = RecordBatchWriter::for_table(&table).unwrap();
        writer.write(batch).await.unwrap();
        let adds = writer.flush().await.unwrap();
        commit_epoch(&mut table, "fixture", commit + 1, adds, None)
            .await
            .unwrap()
            .unwrap();
    }
}

#[tokio::test]
async fn a_direct_scan_gives_the_rows_types_and_skipping_of_deltalakes_provider() {
    let dir = tempfile::tempdir().unwrap();
    events(&dir.path().join("events")).await;
    let lake = session(dir.path()).await;
    let direct = |on: bool, sql: &str| format!("SET weir.direct_scan = {on}; {sql}");

    let queries = [
        "SELECT * FROM events ORDER BY id",
        "SELECT region, day, count(*) AS n, sum(amount) AS total FROM events \
         GROUP BY region, day ORDER BY region NULLS FIRST, day",
        "SELECT count(*) AS n FROM events",
        "SELECT id, note, region FROM events WHERE day = DATE '2026-01-02' AND amount > 50 \
         ORDER BY id",
        "SELECT id FROM events WHERE region IS NULL ORDER BY id",
        "SELECT count(*) AS n FROM events WHERE id BETWEEN 10 AND 20",
        "SELECT count(*) AS n FROM (SELECT note FROM events LIMIT 7)",
        "SELECT min(region), max(region), min(day), max(day), count(region) FROM events",
        "SELECT arrow_typeof(id), arrow_typeof(day), arrow_typeof(region), \
         arrow_typeof(note) FROM events LIMIT 1",
    ];
    for sql in queries {
        let through_deltalake = text(&lake, &direct(false, sql)).await;
        assert!(!through_deltalake.contains("error"), "{through_deltalake}");
        assert_eq!(
            text(&lake, &direct(true, sql)).await,
            through_deltalake,
            "{sql}"
        );
    }
    assert_eq!(
        text(
            &lake,
            "SELECT count(*) AS n, count(region) AS r FROM events"
        )
        .await,
        "+-----+----+\n\
         | n   | r  |\n\
         +-----+----+\n\
         | 120 | 96 |\n\
         +-----+----+"
    );

    // The files of one day and region, and none for a count of every row (the log's row
    // counts answer it), as through deltalake's provider.
    for sql in [
        "SELECT * FROM events WHERE day = DATE '2026-01-02' AND region = 'north'",
        "SELECT count(*) FROM events",
    ] {
        let skipping = |plan: String| {
            plan.lines()
                .filter(|line| line.contains("lake_file_skipping"))
                .map(|line| {
                    line.split('|')
                        .nth(2)
                        .unwrap_or_default()
                        .trim()
                        .to_string()
                })
                .collect::<Vec<_>>()
        };
        let through_deltalake =
            skipping(text(&lake, &direct(false, &format!("EXPLAIN {sql}"))).await);
        let plan = text(&lake, &direct(true, &format!("EXPLAIN {sql}"))).await;
        assert!(!plan.contains("DeltaScan"), "{plan}");
        assert_eq!(skipping(plan), through_deltalake, "{sql}");
    }
    let one_partition = text(
        &lake,
        "EXPLAIN SELECT * FROM events WHERE day = DATE '2026-01-02' AND region = 'north'",
    )
    .await;
    assert!(
        one_partition.contains("events: reads 3 of 27 files (24 skipped"),
        "{one_partition}"
    );
    assert!(text(&lake, "EXPLAIN SELECT count(*) FROM events")
        .await
        .contains("events: reads 0 of 27 files"),);
    assert!(
        text(&lake, &direct(false, "EXPLAIN SELECT note FROM events"))
            .await
            .contains("DeltaScan")
    );
}
