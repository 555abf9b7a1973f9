//! SQL over the lake through the read-only query surface and `weir sql`: a fixture lake of
//! Delta tables with several versions, queried by the library and by the binary.

mod support;

#[path = "sql_cli/aggregated_before_join.rs"]
mod aggregated_before_join;
#[path = "sql_cli/averages.rs"]
mod averages;
#[path = "sql_cli/decimal_literals.rs"]
mod decimal_literals;
#[path = "sql_cli/direct_scan.rs"]
mod direct_scan;
#[path = "sql_cli/joins.rs"]
mod joins;
#[path = "sql_cli/lake_listing.rs"]
mod lake_listing;
#[path = "sql_cli/merged_ranges.rs"]
mod merged_ranges;
#[path = "sql_cli/percentiles.rs"]
mod percentiles;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use arrow::array::RecordBatch;
use deltalake::writer::{DeltaWriter as _, RecordBatchWriter};
use support::lake_fixture::{bids, bids_schema, lake, table, text};
use weir_lake::table::{commit_epoch, open_or_create};
use weir_sql::{Lake, Limits, QuerySession};

async fn session(root: &Path) -> QuerySession {
    Lake::new(root)
        .unwrap()
        .query_session(Limits::default())
        .await
        .unwrap()
}

fn lines(text: &str) -> Vec<&str> {
    text.lines().collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queries_join_nested_tables_and_travel_in_time() {
    let dir = tempfile::tempdir().unwrap();
    let times = lake(dir.path()).await;
    let s = session(dir.path()).await;

    assert_eq!(
        lines(&text(&s, "SELECT b.channel, a.owner, count(*) AS bids, sum(price) AS total FROM bids b JOIN logs.access a ON a.channel = b.channel GROUP BY 1, 2 ORDER BY 1").await),
        [
            "+---------+-------+------+-------+",
            "| channel | owner | bids | total |",
            "+---------+-------+------+-------+",
            "| app     | bo    | 1    | 20    |",
            "| partner | cy    | 1    | 50    |",
            "| web     | ana   | 3    | 80    |",
            "+---------+-------+------+-------+",
        ]
    );
    // Version 2 holds the first two commits; the current table all three.
    assert_eq!(
        lines(
            &text(
                &s,
                "SELECT count(*) AS n, max(auction) AS last FROM table_version('bids', 2)"
            )
            .await
        ),
        [
            "+---+------+",
            "| n | last |",
            "+---+------+",
            "| 3 | 3    |",
            "+---+------+"
        ]
    );
    assert_eq!(
        lines(
            &text(
                &s,
                "SELECT count(*) AS n FROM table_version('public.bids', 0)"
            )
            .await
        ),
        ["+---+", "| n |", "+---+", "| 0 |", "+---+"]
    );
    // As of just after version 1, and just after version 3.
    let at = |t: &str| format!("SELECT count(*) AS n FROM table_timestamp('bids', '{t}')");
    assert_eq!(
        lines(&text(&s, &at(&times[0])).await),
        ["+---+", "| n |", "+---+", "| 2 |", "+---+"]
    );
    assert_eq!(
        lines(&text(&s, &at(&times[2])).await),
        ["+---+", "| n |", "+---+", "| 5 |", "+---+"]
    );
    // The Delta/Databricks syntax, with and without an alias.
    assert_eq!(
        lines(
            &text(
                &s,
                "SELECT count(*) AS n, max(bids.auction) AS last FROM bids VERSION AS OF 2"
            )
            .await
        ),
        [
            "+---+------+",
            "| n | last |",
            "+---+------+",
            "| 3 | 3    |",
            "+---+------+"
        ]
    );
    assert_eq!(
        lines(&text(&s, "SELECT count(*) AS kept FROM bids JOIN BIDS VERSION AS OF 1 AS old USING (auction) WHERE old.price = bids.price").await),
        ["+------+", "| kept |", "+------+", "| 2    |", "+------+"]
    );
    assert_eq!(
        lines(
            &text(
                &s,
                &format!(
                    "SELECT count(*) AS n FROM bids TIMESTAMP AS OF '{}'",
                    times[1]
                )
            )
            .await
        ),
        ["+---+", "| n |", "+---+", "| 3 |", "+---+"]
    );
    assert_eq!(
        text(&s, "SELECT * FROM logs.access VERSION AS OF 4").await,
        "error: table 'logs.access' has versions 0 to 1; there is no version 4"
    );
    assert_eq!(
        text(&s, "SELECT * FROM bids FOR SYSTEM_TIME AS OF '2026-01-01'").await,
        "error: FOR SYSTEM_TIME AS OF '2026-01-01' is not allowed: time travel is `t VERSION AS OF 3` or `t TIMESTAMP AS OF '2026-01-01 00:00:00'`"
    );
    // Time travel joins the current version of another table.
    assert_eq!(
        lines(&text(&s, "SELECT v.auction, a.owner FROM table_version('bids', 1) v JOIN logs.access a USING (channel) ORDER BY 1").await),
        [
            "+---------+-------+",
            "| auction | owner |",
            "+---------+-------+",
            "| 1       | ana   |",
            "| 2       | bo    |",
            "+---------+-------+",
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_lists_every_commit_newest_first() {
    let dir = tempfile::tempdir().unwrap();
    lake(dir.path()).await;
    let s = session(dir.path()).await;
    assert_eq!(
        lines(&text(&s, "SELECT version, operation, files_added, files_removed, rows_added, app_id, app_version FROM table_history('bids')").await),
        [
            "+---------+--------------+-------------+---------------+------------+---------+-------------+",
            "| version | operation    | files_added | files_removed | rows_added | app_id  | app_version |",
            "+---------+--------------+-------------+---------------+------------+---------+-------------+",
            "| 3       | WRITE        | 1           | 0             | 2          | fixture | 3           |",
            "| 2       | WRITE        | 1           | 0             | 1          | fixture | 2           |",
            "| 1       | WRITE        | 1           | 0             | 2          | fixture | 1           |",
            "| 0       | CREATE TABLE | 0           | 0             | 0          |         |             |",
            "+---------+--------------+-------------+---------------+------------+---------+-------------+",
        ]
    );
    // Every commit has a time, in order.
    assert_eq!(
        lines(
            &text(
                &s,
                "SELECT count(*) AS n FROM table_history('logs.access') WHERE timestamp <= now()"
            )
            .await
        ),
        ["+---+", "| n |", "+---+", "| 2 |", "+---+"]
    );
    assert_eq!(
        lines(
            &text(
                &s,
                "SELECT parameters FROM table_history('bids') WHERE version = 1"
            )
            .await
        ),
        [
            "+-------------------+",
            "| parameters        |",
            "+-------------------+",
            "| {\"mode\":\"Append\"} |",
            "+-------------------+",
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn details_describe_the_current_version() {
    let dir = tempfile::tempdir().unwrap();
    lake(dir.path()).await;
    // A partitioned table: one file per channel and commit.
    let path = dir.path().join("sales").join("by_channel");
    let mut table = open_or_create(path.to_str().unwrap(), &bids_schema(), &["channel".into()])
        .await
        .unwrap();
    let mut writer = RecordBatchWriter::for_table(&table).unwrap();
    writer
        .write(bids(&[(1, 10, "web"), (2, 20, "app"), (3, 30, "web")]))
        .await
        .unwrap();
    let adds = writer.flush().await.unwrap();
    commit_epoch(&mut table, "fixture", 1, adds, None)
        .await
        .unwrap();
    let s = session(dir.path()).await;
    let details = "SELECT \"table\", version, files, size_bytes > 0 AS has_bytes, rows, partition_columns, schema FROM ";
    assert_eq!(
        lines(&text(&s, &format!("{details} table_details('bids')")).await),
        [
            "+-------+---------+-------+-----------+------+-------------------+---------------------------------------------+",
            "| table | version | files | has_bytes | rows | partition_columns | schema                                      |",
            "+-------+---------+-------+-----------+------+-------------------+---------------------------------------------+",
            "| bids  | 3       | 3     | true      | 5    |                   | auction: long, price: long, channel: string |",
            "+-------+---------+-------+-----------+------+-------------------+---------------------------------------------+",
        ]
    );
    assert_eq!(
        lines(&text(&s, &format!("{details} table_details('sales.by_channel')")).await),
        [
            "+------------------+---------+-------+-----------+------+-------------------+---------------------------------------------+",
            "| table            | version | files | has_bytes | rows | partition_columns | schema                                      |",
            "+------------------+---------+-------+-----------+------+-------------------+---------------------------------------------+",
            "| sales.by_channel | 1       | 2     | true      | 3    | channel           | auction: long, price: long, channel: string |",
            "+------------------+---------+-------+-----------+------+-------------------+---------------------------------------------+",
        ]
    );
    // The partitioned table answers queries like any other.
    assert_eq!(
        lines(&text(&s, "SELECT channel, sum(price) AS total FROM sales.by_channel GROUP BY channel ORDER BY channel").await),
        [
            "+---------+-------+",
            "| channel | total |",
            "+---------+-------+",
            "| app     | 20    |",
            "| web     | 40    |",
            "+---------+-------+",
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_sees_commits_and_tables_made_after_it_opened() {
    let dir = tempfile::tempdir().unwrap();
    lake(dir.path()).await;
    let s = session(dir.path()).await;
    let count = "SELECT count(*) AS n FROM bids";
    assert_eq!(
        lines(&text(&s, count).await),
        ["+---+", "| n |", "+---+", "| 5 |", "+---+"]
    );
    // A commit to bids and a new table, while the session is open.
    let mut bids_table = open_or_create(
        dir.path().join("bids").to_str().unwrap(),
        &bids_schema(),
        &[],
    )
    .await
    .unwrap();
    let mut writer = RecordBatchWriter::for_table(&bids_table).unwrap();
    writer.write(bids(&[(6, 60, "app")])).await.unwrap();
    let adds = writer.flush().await.unwrap();
    commit_epoch(&mut bids_table, "fixture", 4, adds, None)
        .await
        .unwrap();
    table(
        &dir.path().join("late"),
        &bids_schema(),
        &[bids(&[(7, 70, "web")])],
    )
    .await;

    assert_eq!(
        lines(&text(&s, count).await),
        ["+---+", "| n |", "+---+", "| 6 |", "+---+"]
    );
    assert_eq!(
        lines(&text(&s, "SELECT auction FROM late").await),
        [
            "+---------+",
            "| auction |",
            "+---------+",
            "| 7       |",
            "+---------+"
        ]
    );
    assert_eq!(
        lines(&text(&s, "SELECT table_schema, table_name FROM information_schema.tables WHERE table_schema <> 'information_schema' ORDER BY 1, 2").await),
        [
            "+--------------+------------+",
            "| table_schema | table_name |",
            "+--------------+------------+",
            "| logs         | access     |",
            "| public       | bids       |",
            "| public       | late       |",
            "+--------------+------------+",
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn time_travel_errors_say_what_exists() {
    let dir = tempfile::tempdir().unwrap();
    lake(dir.path()).await;
    let s = session(dir.path()).await;
    let cases = [
        (
            "SELECT * FROM table_version('bids', 7)",
            "error: table 'bids' has versions 0 to 3; there is no version 7",
        ),
        (
            "SELECT * FROM table_version('logs.access', 5)",
            "error: table 'logs.access' has versions 0 to 1; there is no version 5",
        ),
        (
            "SELECT * FROM table_version('nope', 1)",
            "error: no table 'nope' in the lake (tables: bids, logs.access)",
        ),
        (
            "SELECT * FROM table_version('../bids', 1)",
            "error: table name '../bids' is not allowed: '..' would leave the lake root",
        ),
        (
            "SELECT * FROM table_history('/etc')",
            "error: table name '/etc' is not allowed: absolute paths cannot be queried; tables are named by their folder in the lake",
        ),
        (
            "SELECT * FROM table_timestamp('bids', 'yesterday')",
            "error: table_timestamp: 'yesterday' is not a time: use RFC 3339 ('2026-01-01T00:00:00Z') or '2026-01-01 00:00:00' (UTC)",
        ),
        (
            "SELECT * FROM table_version('bids', 1 + 1)",
            "error: Error during planning: table_version: takes literal arguments: table_version('table', 3) or table VERSION AS OF 3",
        ),
        (
            "SELECT * FROM table_version('bids')",
            "error: table_version: wrong number of arguments: table_version('table', 3) or table VERSION AS OF 3",
        ),
    ];
    for (sql, expected) in cases {
        assert_eq!(text(&s, sql).await, expected, "{sql}");
    }
    let before = text(
        &s,
        "SELECT * FROM table_timestamp('bids', '2020-01-01 00:00:00')",
    )
    .await;
    assert!(
        before.starts_with("error: table_timestamp: table 'bids' did not exist yet at 2020-01-01 00:00:00 UTC: its first version (0) was committed at "),
        "{before}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_surface_is_read_only_and_bounded() {
    let dir = tempfile::tempdir().unwrap();
    lake(dir.path()).await;
    let s = session(dir.path()).await;
    let cases = [
        ("INSERT INTO bids VALUES (9, 9, 'x')", "error: INSERT is not allowed: the query surface is read-only"),
        ("DELETE FROM bids", "error: DELETE is not allowed: the query surface is read-only"),
        ("DROP TABLE bids", "error: DROP TABLE is not allowed: the query surface is read-only"),
        ("CREATE VIEW v AS SELECT 1", "error: CREATE VIEW is not allowed: the query surface is read-only"),
        (
            "CREATE EXTERNAL TABLE x STORED AS CSV LOCATION '/etc/passwd'",
            "error: CREATE EXTERNAL TABLE is not allowed: the query surface is read-only; every Delta table of the lake is already in the catalog",
        ),
        ("COPY bids TO '/tmp/x.csv'", "error: COPY is not allowed: the query surface is read-only"),
        (
            "SELECT * FROM '/etc/passwd'",
            "error: table name '/etc/passwd' is not allowed: absolute paths cannot be queried; tables are named by their folder in the lake",
        ),
        (
            "SELECT * FROM 'bids/_delta_log/00000000000000000000.json'",
            "error: table name 'bids/_delta_log/00000000000000000000.json' is not allowed: paths cannot be queried; a nested table is named schema.table",
        ),
        (
            "SELECT 1; DROP TABLE bids",
            "error: DROP TABLE is not allowed: the query surface is read-only",
        ),
    ];
    for (sql, expected) in cases {
        assert_eq!(text(&s, sql).await, expected, "{sql}");
    }
    // Allowed settings change; the session keeps answering.
    assert_eq!(
        lines(
            &text(
                &s,
                "SET datafusion.execution.batch_size = 2; SELECT count(*) AS n FROM bids"
            )
            .await
        ),
        ["+---+", "| n |", "+---+", "| 5 |", "+---+"]
    );
    assert_eq!(
        lines(&text(&s, "SHOW TABLES; SELECT table_schema, table_name FROM information_schema.tables WHERE table_schema <> 'information_schema' ORDER BY 1, 2").await),
        [
            "+--------------+------------+",
            "| table_schema | table_name |",
            "+--------------+------------+",
            "| logs         | access     |",
            "| public       | bids       |",
            "+--------------+------------+",
        ]
    );
    assert_eq!(
        lines(&text(&s, "DESCRIBE logs.access").await),
        [
            "+-------------+-----------+-------------+",
            "| column_name | data_type | is_nullable |",
            "+-------------+-----------+-------------+",
            "| channel     | Utf8View  | NO          |",
            "| owner       | Utf8View  | NO          |",
            "+-------------+-----------+-------------+",
        ]
    );

    // A query over the memory limit fails cleanly.
    let small = Lake::new(dir.path())
        .unwrap()
        .query_session(Limits {
            memory: 64 * 1024,
            ..Limits::default()
        })
        .await
        .unwrap();
    let over = text(
        &small,
        "SELECT v, count(*) FROM (SELECT value % 200000 AS v FROM generate_series(1, 2000000)) GROUP BY v ORDER BY v",
    )
    .await;
    assert_eq!(
        over,
        "error: the statement needs more than the memory limit of 64 KiB; raise it with --memory-limit"
    );
    assert_eq!(
        lines(&text(&small, "SELECT count(*) AS n FROM bids").await),
        ["+---+", "| n |", "+---+", "| 5 |", "+---+"]
    );

    // And one over the time limit is cancelled.
    let quick = Lake::new(dir.path())
        .unwrap()
        .query_session(Limits {
            timeout: Duration::from_millis(50),
            ..Limits::default()
        })
        .await
        .unwrap();
    let slow = text(
        &quick,
        "SELECT count(*) FROM generate_series(1, 100000000000) a WHERE a.value % 7 = 123",
    )
    .await;
    assert_eq!(
        slow,
        "error: query cancelled after 50ms: over the time limit (raise it with --timeout)"
    );
}

fn weir(args: &[&str], lake: &Path) -> (String, String, bool) {
    let out = Command::new(env!("CARGO_BIN_EXE_weir"))
        .arg("sql")
        .args(args)
        .env("WEIR_LAKE", lake)
        .output()
        .unwrap();
    (
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
        out.status.success(),
    )
}

/// stderr with the milliseconds replaced by `X`.
fn timings(stderr: &str) -> Vec<String> {
    stderr
        .lines()
        .map(|l| match l.rsplit_once(" in ") {
            Some((rows, ms)) if ms.ends_with(" ms") => format!("{rows} in X ms"),
            _ => l.to_string(),
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn weir_sql_prints_tables_csv_and_json_lines() {
    let dir = tempfile::tempdir().unwrap();
    lake(dir.path()).await;
    let query = "SELECT auction, price, channel FROM bids WHERE price >= 30 ORDER BY auction";

    let (out, err, ok) = weir(&["-e", query], dir.path());
    assert!(ok, "{err}");
    assert_eq!(
        lines(&out),
        [
            "+---------+-------+---------+",
            "| auction | price | channel |",
            "+---------+-------+---------+",
            "| 3       | 30    | web     |",
            "| 4       | 40    | web     |",
            "| 5       | 50    | partner |",
            "+---------+-------+---------+",
        ]
    );
    assert_eq!(timings(&err), ["3 rows in X ms"]);

    let (out, _, ok) = weir(&["--format", "csv", "-e", query], dir.path());
    assert!(ok);
    assert_eq!(
        out,
        "auction,price,channel\n3,30,web\n4,40,web\n5,50,partner\n"
    );
    let (out, _, ok) = weir(&["--format", "json", "-e", query], dir.path());
    assert!(ok);
    assert_eq!(
        out,
        "{\"auction\":3,\"price\":30,\"channel\":\"web\"}\n\
         {\"auction\":4,\"price\":40,\"channel\":\"web\"}\n\
         {\"auction\":5,\"price\":50,\"channel\":\"partner\"}\n"
    );
    // Nulls are written as null, nested ones too.
    let (out, _, ok) = weir(
        &[
            "--format",
            "json",
            "-e",
            "SELECT * FROM (VALUES (1, 'a', [1, NULL]), (2, NULL, NULL)) AS t(n, s, l) ORDER BY n",
        ],
        dir.path(),
    );
    assert!(ok);
    assert_eq!(
        out,
        "{\"n\":1,\"s\":\"a\",\"l\":[1,null]}\n{\"n\":2,\"s\":null,\"l\":null}\n"
    );
    // Nested values go into CSV as the table shows them.
    let (out, _, ok) = weir(
        &["--format", "csv", "-e", "SELECT * FROM (SELECT [1, 2] AS l, named_struct('a', 1) AS s, 'x' AS t UNION ALL SELECT NULL, NULL, 'y') ORDER BY t"],
        dir.path(),
    );
    assert!(ok);
    assert_eq!(out, "l,s,t\n\"[1, 2]\",{a: 1},x\n,,y\n");
    // An empty result still has its header.
    let (out, err, ok) = weir(
        &[
            "--format",
            "csv",
            "-e",
            "SELECT channel FROM bids WHERE price > 99",
        ],
        dir.path(),
    );
    assert!(ok);
    assert_eq!(out, "channel\n");
    assert_eq!(timings(&err), ["0 rows in X ms"]);

    // A file of statements, --lake over WEIR_LAKE.
    let file = dir.path().join("report.sql");
    std::fs::write(
        &file,
        "-- bids per channel, then the history\n\
         SELECT channel, count(*) AS n FROM bids GROUP BY channel ORDER BY channel;\n\
         SELECT version, operation FROM table_history('logs.access');\n",
    )
    .unwrap();
    let (out, err, ok) = weir(
        &[
            "--lake",
            dir.path().to_str().unwrap(),
            "--format",
            "csv",
            "-f",
            file.to_str().unwrap(),
        ],
        Path::new("/nonexistent"),
    );
    assert!(ok, "{err}");
    assert_eq!(
        out,
        "channel,n\napp,1\npartner,1\nweb,3\nversion,operation\n1,WRITE\n0,CREATE TABLE\n"
    );
    assert_eq!(timings(&err), ["3 rows in X ms", "2 rows in X ms"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn weir_sql_errors_name_what_is_wrong_and_exit_non_zero() {
    let dir = tempfile::tempdir().unwrap();
    lake(dir.path()).await;
    let cases = [
        (
            "SELECT nope FROM bids",
            "error: Schema error: No field named nope.\nValid fields are bids.auction, bids.price, bids.channel.",
        ),
        (
            "SELECT * FROM bidz",
            "error: Error during planning: table 'datafusion.public.bidz' not found",
        ),
        (
            "SELECT * FROM bids WHERE",
            "error: SQL error: ParserError(\"Expected: an expression, found: EOF\")",
        ),
        (
            "DELETE FROM bids WHERE price > 1",
            "error: DELETE is not allowed: the query surface is read-only",
        ),
        (
            "SELECT * FROM table_version('bids', 9)",
            "error: table 'bids' has versions 0 to 3; there is no version 9",
        ),
    ];
    for (sql, expected) in cases {
        let (out, err, ok) = weir(&["-e", sql], dir.path());
        assert!(!ok, "{sql}");
        assert_eq!(out, "", "{sql}");
        assert_eq!(err.trim_end(), expected, "{sql}");
    }
    let (_, err, ok) = weir(
        &[
            "--timeout",
            "20ms",
            "-e",
            "SELECT count(*) FROM generate_series(1, 100000000000)",
        ],
        dir.path(),
    );
    assert!(!ok);
    assert_eq!(
        err.trim_end(),
        "error: query cancelled after 20ms: over the time limit (raise it with --timeout)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn weir_sql_writes_parquet_and_stops_on_ctrl_c() {
    let dir = tempfile::tempdir().unwrap();
    lake(dir.path()).await;
    let file = dir.path().join("out.parquet");
    let (out, err, ok) = weir(
        &[
            "--format",
            "parquet",
            "--output",
            file.to_str().unwrap(),
            "-e",
            "SELECT channel, count(*) AS n FROM bids GROUP BY channel ORDER BY channel",
        ],
        dir.path(),
    );
    assert!(ok, "{err}");
    assert_eq!(out, "");
    assert_eq!(timings(&err), ["3 rows in X ms"]);
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
        std::fs::File::open(&file).unwrap(),
    )
    .unwrap()
    .build()
    .unwrap();
    let batches: Vec<RecordBatch> = reader.map(Result::unwrap).collect();
    assert_eq!(
        lines(
            &arrow::util::pretty::pretty_format_batches(&batches)
                .unwrap()
                .to_string()
        ),
        [
            "+---------+---+",
            "| channel | n |",
            "+---------+---+",
            "| app     | 1 |",
            "| partner | 1 |",
            "| web     | 3 |",
            "+---------+---+",
        ]
    );
    let (_, err, ok) = weir(&["--format", "parquet", "-e", "SELECT 1"], dir.path());
    assert!(!ok);
    assert_eq!(
        err.trim_end(),
        "error: --format parquet writes one statement's result to a file: give one statement and --output FILE"
    );
    let (_, err, ok) = weir(&["-e", "SELECT 1"], &dir.path().join("nope"));
    assert!(!ok);
    assert_eq!(
        err.trim_end(),
        format!(
            "error: no lake at {}: give its folder with --lake DIR or WEIR_LAKE",
            dir.path().join("nope").display()
        )
    );

    // Ctrl-C (SIGINT) cancels the running statement: the command ends at once, non-zero.
    let child = Command::new(env!("CARGO_BIN_EXE_weir"))
        .args([
            "sql",
            "-e",
            "SELECT count(*) FROM generate_series(1, 100000000000)",
        ])
        .env("WEIR_LAKE", dir.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let started = std::time::Instant::now();
    let killed = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let out = child.wait_with_output().unwrap();
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(!out.status.success());
    assert_eq!(
        String::from_utf8(out.stderr).unwrap().trim_end(),
        "error: query cancelled (Ctrl-C)"
    );
}

/// `clicks`, partitioned by `day`, for the `.slt` files: version 1 adds a file for each of
/// 2026-01-01 and 2026-01-02, version 2 one for each of 2026-01-02 and 2026-01-03.
async fn clicks(root: &Path) {
    use arrow::array::{Int64Array, StringArray};
    use arrow::datatypes::{DataType, Field, Schema};
    let schema = std::sync::Arc::new(Schema::new(vec![
        Field::new("day", DataType::Utf8, false),
        Field::new("page", DataType::Utf8, false),
        Field::new("ms", DataType::Int64, false),
    ]));
    let path = root.join("clicks");
    let mut table = open_or_create(path.to_str().unwrap(), &schema, &["day".to_string()])
        .await
        .unwrap();
    let commits = [
        [("2026-01-01", "home", 5), ("2026-01-02", "cart", 7)],
        [("2026-01-02", "home", 9), ("2026-01-03", "cart", 11)],
    ];
    for (epoch, rows) in commits.iter().enumerate() {
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                std::sync::Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.0))),
                std::sync::Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.1))),
                std::sync::Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.2))),
            ],
        )
        .unwrap();
        let mut writer = RecordBatchWriter::for_table(&table).unwrap();
        writer.write(batch).await.unwrap();
        let adds = writer.flush().await.unwrap();
        commit_epoch(&mut table, "fixture", epoch as i64 + 1, adds, None)
            .await
            .unwrap()
            .unwrap();
    }
}

/// The `.slt` files of `tests/slt/` over the fixture lake plus `clicks`: sqllogictest's
/// format, the part of it these tests use: `query [rowsort]` with rows of space-separated
/// values (`NULL`, `(empty)`), `statement ok`, and `statement error <text>` (the text the
/// error contains, where sqllogictest has a regular expression). Of an `EXPLAIN`, only the
/// `lake_file_skipping` rows are compared (the plans themselves change with DataFusion).
/// `WEIR_SLT_COMPLETE=1` rewrites the files with the results (review the diff).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slt_files_over_the_fixture_lake() {
    let complete = std::env::var_os("WEIR_SLT_COMPLETE").is_some();
    let folder = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("slt");
    let mut files: Vec<_> = std::fs::read_dir(&folder)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "slt"))
        .collect();
    files.sort();
    assert!(!files.is_empty());
    for file in files {
        let dir = tempfile::tempdir().unwrap();
        lake(dir.path()).await;
        clicks(dir.path()).await;
        let s = session(dir.path()).await;
        let text = std::fs::read_to_string(&file).unwrap();
        let mut completed = String::new();
        let mut failures = Vec::new();
        for record in text.split("\n\n") {
            let record = record.trim_matches('\n');
            let mut lines = record.lines().peekable();
            let mut header = Vec::new();
            while let Some(line) = lines.next_if(|l| l.starts_with('#') || l.is_empty()) {
                header.push(line);
            }
            let Some(kind) = lines.next() else {
                completed.push_str(record);
                completed.push_str("\n\n");
                continue;
            };
            let sql: Vec<&str> = lines.by_ref().take_while(|l| *l != "----").collect();
            let sql = sql.join("\n");
            let expected: Vec<&str> = lines.collect();
            let result = s.sql(&sql).await;
            let (got, pass) = if let Some(pattern) = kind.strip_prefix("statement error ") {
                match &result {
                    Err(e) => {
                        let matched = e.to_string().contains(pattern);
                        (vec![], matched)
                    }
                    Ok(_) => (vec![], false),
                }
            } else if kind == "statement ok" {
                (vec![], result.is_ok())
            } else if kind.starts_with("query") {
                match &result {
                    Ok(outputs) => {
                        let mut rows = slt_rows(outputs.last().unwrap());
                        if sql.trim_start().to_uppercase().starts_with("EXPLAIN") {
                            rows.retain(|r| r.starts_with(weir_sql::skipping::PLAN_TYPE));
                        }
                        if kind.contains("rowsort") {
                            rows.sort();
                        }
                        let pass = rows == expected;
                        (rows, pass)
                    }
                    Err(_) => (vec![], false),
                }
            } else {
                panic!("{}: unknown record '{kind}'", file.display())
            };
            if !pass {
                failures.push(format!(
                    "{sql}\n  expected: {expected:?}\n  got: {:?}",
                    result
                        .as_ref()
                        .map(|_| got.clone())
                        .map_err(|e| e.to_string())
                ));
            }
            for line in &header {
                completed.push_str(line);
                completed.push('\n');
            }
            completed.push_str(kind);
            completed.push('\n');
            completed.push_str(&sql);
            completed.push('\n');
            if kind.starts_with("query") {
                completed.push_str("----\n");
                let rows: Vec<String> = if complete {
                    got.clone()
                } else {
                    expected.iter().map(|r| r.to_string()).collect()
                };
                for row in &rows {
                    completed.push_str(row);
                    completed.push('\n');
                }
            }
            completed.push('\n');
        }
        if complete {
            std::fs::write(&file, completed.trim_end().to_string() + "\n").unwrap();
        } else {
            assert!(
                failures.is_empty(),
                "{}:\n{}",
                file.display(),
                failures.join("\n")
            );
        }
    }
}

/// A row per line, values separated by a space: `NULL` for null, `(empty)` for ''.
fn slt_rows(output: &weir_sql::QueryOutput) -> Vec<String> {
    use arrow::util::display::{ArrayFormatter, FormatOptions};
    let options = FormatOptions::default().with_null("NULL");
    let mut rows = Vec::new();
    for batch in &output.batches {
        let formatters: Vec<_> = batch
            .columns()
            .iter()
            .map(|c| ArrayFormatter::try_new(c.as_ref(), &options).unwrap())
            .collect();
        for r in 0..batch.num_rows() {
            let values: Vec<String> = formatters
                .iter()
                .map(|f| match f.value(r).to_string() {
                    v if v.is_empty() => "(empty)".to_string(),
                    v => v,
                })
                .collect();
            rows.push(values.join(" "));
        }
    }
    rows
}

/// A lake holding [`events`] as `events`, and a query session over it.
async fn events_session() -> (tempfile::TempDir, QuerySession) {
    let dir = tempfile::tempdir().unwrap();
    events(&dir.path().join("events")).await;
    let s = session(dir.path()).await;
    (dir, s)
}

/// A table whose string columns are grouped by: strings of up to 7 bytes, of 8-12 bytes
/// (inlined in their views) and longer, nulls, and a column of 11,000 distinct strings,
/// over three files.
async fn events(path: &Path) {
    use arrow::array::{Int64Array, StringArray};
    use arrow::datatypes::{DataType, Field, Schema};
    use std::sync::Arc;
    let schema = Arc::new(Schema::new(vec![
        Field::new("level", DataType::Utf8, true),
        Field::new("path", DataType::Utf8, true),
        Field::new("session", DataType::Utf8, false),
        Field::new("status", DataType::Int64, false),
    ]));
    // Up to 12 bytes (inline in their views), and null.
    let levels = [
        Some("INFO"),
        Some("WARNING"),
        None,
        Some("CRITICAL"),
        Some("INFO"),
    ];
    let batches: Vec<RecordBatch> = (0..3i64)
        .map(|file| {
            let rows = (file * 4000)..(file * 4000 + 4000);
            RecordBatch::try_new(
                schema.clone(),
                vec![
                    Arc::new(StringArray::from_iter(
                        rows.clone().map(|i| levels[(i % 5) as usize]),
                    )),
                    Arc::new(StringArray::from_iter(rows.clone().map(|i| {
                        (i % 13 != 0).then(|| format!("/api/v1/resources/{}", (i * 7) % 61))
                    }))),
                    Arc::new(StringArray::from_iter_values(
                        rows.clone()
                            .map(|i| format!("session-{:08}", (i * 7919) % 11_000)),
                    )),
                    Arc::new(Int64Array::from_iter_values(
                        rows.map(|i| [200, 200, 404, 500][(i % 4) as usize]),
                    )),
                ],
            )
            .unwrap()
        })
        .collect();
    table(path, &schema, &batches).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grouping_strings_by_ids_gives_datafusions_rows() {
    let (dir, s) = events_session().await;
    let events_path = dir.path().join("events");
    // (query, the string columns grouped by ids)
    let cases = [
        (
            "SELECT path, count(*) AS n, sum(status) AS s FROM events GROUP BY path ORDER BY path",
            Some("[path]"),
        ),
        // Several columns: DataFusion groups them as fast by strings.
        (
            "SELECT level, path, count(*) AS n FROM events GROUP BY level, path \
             ORDER BY level, path",
            None,
        ),
        // Aggregates read `path`, the groups are `level`s.
        (
            "SELECT level, max(path) AS p, count(DISTINCT path) AS paths FROM events \
             GROUP BY level ORDER BY level",
            Some("[level]"),
        ),
        // An aggregate reads the grouped column itself.
        (
            "SELECT path, min(path) AS same FROM events GROUP BY path ORDER BY path",
            Some("[path]"),
        ),
        // Filtered aggregates, and aggregates over columns with nulls.
        (
            "SELECT level, count(*) FILTER (WHERE status = 404) AS not_found, \
             avg(status) AS s, count(path) AS paths, max(session) AS last FROM events \
             GROUP BY level ORDER BY level",
            Some("[level]"),
        ),
        (
            "SELECT session, count(*) AS n FROM events GROUP BY session \
             ORDER BY n DESC, session LIMIT 5",
            Some("[session]"),
        ),
        // The first groups in the strings' order are kept: by strings.
        (
            "SELECT DISTINCT path FROM events ORDER BY path LIMIT 4",
            None,
        ),
        (
            "SELECT count(*) AS n FROM (SELECT DISTINCT path FROM events LIMIT 40)",
            Some("[path]"),
        ),
        (
            "SELECT level, count(*) AS n FROM events WHERE status = 404 GROUP BY level \
             HAVING count(*) > 10 ORDER BY n, level",
            Some("[level]"),
        ),
        // Aggregations over aggregations, windows and unions of them.
        (
            "SELECT level, count(*) AS paths FROM (SELECT level, path FROM events \
             GROUP BY level, path) GROUP BY level ORDER BY level",
            Some("[level]"),
        ),
        (
            "SELECT path, count(*) AS n, rank() OVER (ORDER BY count(*) DESC, path) AS r \
             FROM events GROUP BY path ORDER BY r LIMIT 5",
            Some("[path]"),
        ),
        (
            "SELECT level AS s, count(*) AS n FROM events GROUP BY level UNION ALL \
             SELECT path, count(*) FROM events WHERE status = 500 GROUP BY path \
             ORDER BY s, n",
            Some("[level]"),
        ),
        // Grouping sets group by strings.
        (
            "SELECT level, path, count(*) AS n FROM events GROUP BY ROLLUP(level, path) \
             ORDER BY level, path, n",
            None,
        ),
    ];
    let uri = events_path.to_str().unwrap();
    for (sql, encoded) in cases {
        let reference = support::delta::query_text(&[("events", uri)], sql).await;
        assert_eq!(text(&s, sql).await, reference, "{sql}");
        let plan = text(&s, &format!("EXPLAIN {sql}")).await;
        let by_ids = plan
            .split("IndexedGroupAggregateExec: mode=Partial, gby=")
            .nth(1)
            .map(|rest| format!("{}]", rest.split(']').next().unwrap()));
        assert_eq!(by_ids.as_deref(), encoded, "{sql}\n{plan}");
    }
    // On one partition the aggregations are single-phase, split in two around the operator.
    let partitions = |n: usize| {
        let state = s.context().state_ref();
        state
            .write()
            .config_mut()
            .options_mut()
            .execution
            .target_partitions = n;
    };
    partitions(1);
    for (sql, encoded) in &cases[..3] {
        let reference = support::delta::query_text(&[("events", uri)], sql).await;
        assert_eq!(text(&s, sql).await, reference, "{sql}");
        let plan = text(&s, &format!("EXPLAIN {sql}")).await;
        let split = encoded.map(|column| {
            plan.contains(&format!(
                "IndexedGroupAggregateExec: mode=Partial, gby={column}"
            )) && plan.contains("AggregateExec: mode=Final,")
        });
        assert_eq!(
            split.unwrap_or(plan.contains("IndexedGroupAggregateExec")),
            encoded.is_some(),
            "{sql}\n{plan}"
        );
    }
    partitions(2);
    // Off, the plans group by strings, with the same rows.
    let sql = cases[0].0;
    let by_ids = text(&s, sql).await;
    text(&s, "SET weir.group_by_string_ids = false").await;
    assert!(!text(&s, &format!("EXPLAIN {sql}"))
        .await
        .contains("IndexedGroupAggregateExec"));
    assert_eq!(text(&s, sql).await, by_ids);
    assert_eq!(
        text(&s, "SELECT count(DISTINCT session) AS sessions FROM events").await,
        "+----------+\n| sessions |\n+----------+\n| 11000    |\n+----------+"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grouping_integers_by_indices_gives_datafusions_rows() {
    let (dir, s) = events_session().await;
    let events_path = dir.path().join("events");
    let uri = events_path.to_str().unwrap();
    // A few dense values, 32-bit ones, nulls, the ends of i64, and 11,000 values spread
    // over billions (looked up in the map, not the window).
    let cases = [
        "SELECT status, count(*) AS n, sum(length(session)) AS chars FROM events \
         GROUP BY status ORDER BY status",
        "SELECT s, max(p) AS p FROM (SELECT CAST(status AS INT) AS s, path AS p \
         FROM events) GROUP BY s ORDER BY s",
        "SELECT k, count(*) AS n FROM (SELECT CASE WHEN level IS NULL THEN NULL \
         ELSE status END AS k FROM events) GROUP BY k ORDER BY k",
        "SELECT k, count(*) AS n FROM (SELECT CASE WHEN status = 200 \
         THEN 9223372036854775807 WHEN status = 404 THEN -9223372036854775807 - 1 \
         ELSE -status END AS k FROM events) GROUP BY k ORDER BY k",
        "SELECT k, count(*) AS n FROM (SELECT CAST(substr(session, 9) AS BIGINT) * 1000003 \
         AS k FROM events) GROUP BY k ORDER BY n DESC, k LIMIT 5",
        "SELECT count(*) AS groups, sum(n) AS rows, max(k) AS top FROM (SELECT k, \
         count(*) AS n FROM (SELECT CAST(substr(session, 9) AS BIGINT) AS k FROM events) \
         GROUP BY k)",
    ];
    let check = |sql: &'static str| {
        let s = &s;
        async move {
            let reference = support::delta::query_text(&[("events", uri)], sql).await;
            assert_eq!(text(s, sql).await, reference, "{sql}");
            let plan = text(s, &format!("EXPLAIN {sql}")).await;
            assert!(
                plan.contains("IndexedGroupAggregateExec: mode=Partial"),
                "{sql}\n{plan}"
            );
        }
    };
    for sql in cases {
        check(sql).await;
    }
    assert_eq!(
        text(&s, cases[0]).await,
        "+--------+------+-------+\n\
         | status | n    | chars |\n\
         +--------+------+-------+\n\
         | 200    | 6000 | 96000 |\n\
         | 404    | 3000 | 48000 |\n\
         | 500    | 3000 | 48000 |\n\
         +--------+------+-------+"
    );
    // Groups that hardly repeat are passed on batch by batch past the probe's rows.
    s.context()
        .state_ref()
        .write()
        .config_mut()
        .options_mut()
        .execution
        .skip_partial_aggregation_probe_rows_threshold = 1000;
    for sql in &cases[4..] {
        check(sql).await;
    }
    text(&s, "SET weir.group_by_integer_indices = false").await;
    let plan = text(&s, &format!("EXPLAIN {}", cases[0])).await;
    assert!(!plan.contains("IndexedGroupAggregateExec"), "{plan}");
    assert_eq!(
        text(&s, cases[0]).await,
        support::delta::query_text(&[("events", uri)], cases[0]).await
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filters_test_their_cheapest_conditions_first() {
    let (dir, s) = events_session().await;
    let events_path = dir.path().join("events");
    let uri = events_path.to_str().unwrap();
    // (query, the filter EXPLAIN shows)
    let cases = [
        (
            "SELECT count(*) AS n FROM events WHERE level = 'INFO' AND status = 404",
            "FilterExec: status@1 = 404 AND level@0 = INFO (on views)",
        ),
        (
            "SELECT count(*) AS n FROM events WHERE path <> '/api/v1/resources/3' \
             AND level IS NOT NULL AND status >= 404 AND session < 'session-00005000'",
            "FilterExec: (level@0 IS NOT NULL AND status@3 >= 404) (on all rows) \
             AND path@1 != /api/v1/resources/3 (on views) AND session@2 < session-00005000",
        ),
        (
            "SELECT count(*) AS n FROM events WHERE status >= 404 AND path IS NULL \
             AND status <> 500 AND level IS NOT NULL",
            "FilterExec: (status@2 >= 404 AND path@1 IS NULL AND status@2 != 500 \
             AND level@0 IS NOT NULL) (on all rows)",
        ),
        (
            "SELECT count(*) AS n FROM events WHERE (level = 'INFO' OR path = '/api/v1/resources/3') \
             AND status IN (404, 500, 501, 502) AND session <> 'session-00000007' AND status <> 500",
            "FilterExec: (status@3 IN (SET) ([404, 500, 501, 502]) AND status@3 != 500) \
             (on all rows) AND (level@0 = INFO (on views) OR path@1 = /api/v1/resources/3 \
             (on views)) AND session@2 != session-00000007 (on views)",
        ),
        (
            "SELECT count(*) AS n FROM events WHERE status = 300 AND level IS NULL",
            "FilterExec: (status@1 = 300 AND level@0 IS NULL) (on all rows)",
        ),
    ];
    for (sql, filter) in cases {
        let reference = support::delta::query_text(&[("events", uri)], sql).await;
        assert_eq!(text(&s, sql).await, reference, "{sql}");
        let plan = text(&s, &format!("EXPLAIN {sql}")).await;
        assert!(plan.contains(filter), "{sql}\n{plan}");
    }
    // A function call's cost is not known: such a filter stays as DataFusion planned it.
    let with_function = "EXPLAIN SELECT count(*) AS n FROM events \
                         WHERE upper(level) = 'INFO' AND status = 404";
    let planned = text(&s, with_function).await;
    text(&s, "SET weir.cheap_conjuncts_first = false").await;
    assert_eq!(text(&s, with_function).await, planned);
    let plan = text(&s, &format!("EXPLAIN {}", cases[0].0)).await;
    assert!(
        plan.contains("FilterExec: level@0 = INFO (on views) AND status@1 = 404"),
        "{plan}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn string_equality_on_views_gives_datafusions_rows() {
    let (dir, s) = events_session().await;
    let events_path = dir.path().join("events");
    let uri = events_path.to_str().unwrap();
    // Inline literals (up to 12 bytes) and longer ones, present and absent, one sharing
    // its first 4 bytes and length with present strings; `=` and `<>` over a column
    // with nulls.
    let conditions = [
        "level = 'INFO'",
        "level = 'CRITICAL'",
        "level = 'INF'",
        "level <> 'WARNING'",
        "'WARNING' = level",
        "path = '/api/v1/resources/3'",
        "path <> '/api/v1/resources/3'",
        "path = '/api/v1/resources/61'",
        "session = 'session-00005000'",
        "session = 'session-0000500X'",
        "session <> 'session-00000007' AND level = 'INFO'",
    ];
    for condition in conditions {
        let sql = format!("SELECT count(*) AS n FROM events WHERE {condition}");
        let reference = support::delta::query_text(&[("events", uri)], &sql).await;
        assert_eq!(text(&s, &sql).await, reference, "{sql}");
        let plan = text(&s, &format!("EXPLAIN {sql}")).await;
        assert!(plan.contains("(on views)"), "{sql}\n{plan}");
    }
    text(&s, "SET weir.view_equality = false").await;
    let plan = text(
        &s,
        "EXPLAIN SELECT count(*) FROM events WHERE level = 'INFO'",
    )
    .await;
    assert!(!plan.contains("(on views)"), "{plan}");
}

/// A lake holding [`events`] and two small tables it joins: `levels (level, rank)` (4
/// rows) and `statuses (status, class)` (3 rows), a session over it, and the three
/// tables' paths by name.
async fn events_with_dimensions() -> (tempfile::TempDir, QuerySession, Vec<(&'static str, String)>)
{
    use arrow::array::{Int64Array, StringArray};
    use arrow::datatypes::{DataType, Field, Schema};
    use std::sync::Arc;
    let dir = tempfile::tempdir().unwrap();
    events(&dir.path().join("events")).await;
    let levels = Arc::new(Schema::new(vec![
        Field::new("level", DataType::Utf8, false),
        Field::new("rank", DataType::Int64, false),
    ]));
    let level_rows = RecordBatch::try_new(
        levels.clone(),
        vec![
            Arc::new(StringArray::from(vec![
                "INFO", "WARNING", "CRITICAL", "DEBUG",
            ])),
            Arc::new(Int64Array::from(vec![1, 2, 3, 4])),
        ],
    )
    .unwrap();
    table(&dir.path().join("levels"), &levels, &[level_rows]).await;
    let statuses = Arc::new(Schema::new(vec![
        Field::new("status", DataType::Int64, false),
        Field::new("class", DataType::Utf8, false),
    ]));
    let status_rows = RecordBatch::try_new(
        statuses.clone(),
        vec![
            Arc::new(Int64Array::from(vec![200, 404, 500])),
            Arc::new(StringArray::from(vec![
                "ok",
                "client error",
                "server error",
            ])),
        ],
    )
    .unwrap();
    table(&dir.path().join("statuses"), &statuses, &[status_rows]).await;
    let s = session(dir.path()).await;
    let paths = ["events", "levels", "statuses"]
        .into_iter()
        .map(|t| (t, dir.path().join(t).to_str().unwrap().to_string()))
        .collect();
    (dir, s, paths)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn joins_of_a_filtered_dimension_go_first_with_the_same_rows() {
    let (_dir, s, paths) = events_with_dimensions().await;
    // Named events first, the query joins levels to every event before the one status
    // class keeps a quarter of them; the join order joins statuses first.
    let sql = "SELECT s.class, l.rank, count(*) AS n FROM levels l, events e, statuses s \
               WHERE e.level = l.level AND e.status = s.status AND s.class = 'server error' \
               GROUP BY s.class, l.rank ORDER BY l.rank";
    let tables: Vec<(&str, &str)> = paths.iter().map(|(t, p)| (*t, p.as_str())).collect();
    let reference = support::delta::query_text(&tables, sql).await;
    assert_eq!(
        text(&s, sql).await,
        "+--------------+------+------+\n\
         | class        | rank | n    |\n\
         +--------------+------+------+\n\
         | server error | 1    | 1200 |\n\
         | server error | 2    | 600  |\n\
         | server error | 3    | 600  |\n\
         +--------------+------+------+"
    );
    assert_eq!(text(&s, sql).await, reference);
    // The join whose key reads statuses sits below (after) the one that reads levels.
    let join_lines = |plan: &str| -> (usize, usize) {
        let position = |word: &str| {
            plan.lines()
                .position(|l| l.contains("Inner Join") && l.contains(word))
                .unwrap_or_else(|| panic!("no join on {word}:\n{plan}"))
        };
        (position("s.status"), position("l.level"))
    };
    let reordered = text(&s, &format!("EXPLAIN {sql}")).await;
    let (statuses_join, levels_join) = join_lines(&reordered);
    assert!(statuses_join > levels_join, "{reordered}");
    text(&s, "SET weir.join_order = false").await;
    assert_eq!(text(&s, sql).await, reference);
    let as_named = text(&s, &format!("EXPLAIN {sql}")).await;
    let (statuses_join, levels_join) = join_lines(&as_named);
    assert!(statuses_join < levels_join, "{as_named}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_correlated_aggregate_groups_only_the_keys_it_is_joined_with() {
    let (_dir, s, paths) = events_with_dimensions().await;
    let tables: Vec<(&str, &str)> = paths.iter().map(|(t, p)| (*t, p.as_str())).collect();
    // The subquery becomes a join with events grouped by level; the two levels kept
    // narrow its input to their rows.
    let sql = "SELECT l.level, (SELECT count(*) FROM events e \
               WHERE e.level = l.level AND e.status = 500) AS n \
               FROM levels l WHERE l.rank <= 2 ORDER BY l.level";
    let reference = support::delta::query_text(&tables, sql).await;
    assert_eq!(
        text(&s, sql).await,
        "+---------+------+\n\
         | level   | n    |\n\
         +---------+------+\n\
         | INFO    | 1200 |\n\
         | WARNING | 600  |\n\
         +---------+------+"
    );
    assert_eq!(text(&s, sql).await, reference);
    let narrowed = text(&s, &format!("EXPLAIN {sql}")).await;
    assert!(narrowed.contains("__weir_joined_keys"), "{narrowed}");
    // Narrowed once, not again in each of the optimizer's passes, though the keys'
    // source loses a column (`class`, wanted only above the join) after the first.
    let trimmed_source = "SELECT s.status FROM statuses s WHERE length(s.class) * 100 < \
                          (SELECT count(*) FROM events e WHERE e.status = s.status) \
                          ORDER BY s.status";
    assert_eq!(
        text(&s, trimmed_source).await,
        support::delta::query_text(&tables, trimmed_source).await
    );
    let plan = text(&s, &format!("EXPLAIN {trimmed_source}")).await;
    assert_eq!(
        plan.matches("SubqueryAlias: __weir_joined_keys").count(),
        1,
        "{plan}"
    );
    text(&s, "SET weir.joined_groups_only = false").await;
    assert_eq!(text(&s, sql).await, reference);
    let whole = text(&s, &format!("EXPLAIN {sql}")).await;
    assert!(!whole.contains("__weir_joined_keys"), "{whole}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_aggregate_named_twice_is_computed_once_with_the_same_rows() {
    let (_dir, s, paths) = events_with_dimensions().await;
    let tables: Vec<(&str, &str)> = paths.iter().map(|(t, p)| (*t, p.as_str())).collect();
    let sql = "WITH per_level AS (SELECT level, count(*) AS n FROM events GROUP BY level) \
               SELECT level, n FROM per_level \
               WHERE n = (SELECT max(n) FROM per_level) ORDER BY level";
    let reference = support::delta::query_text(&tables, sql).await;
    assert_eq!(
        text(&s, sql).await,
        "+-------+------+\n\
         | level | n    |\n\
         +-------+------+\n\
         | INFO  | 4800 |\n\
         +-------+------+"
    );
    assert_eq!(text(&s, sql).await, reference);
    let analyzed = text(&s, &format!("EXPLAIN ANALYZE {sql}")).await;
    assert_eq!(analyzed.matches("SharedExec").count(), 2, "{analyzed}");
    // One of the two aggregates never runs (it has no metrics), the other runs once.
    let idle =
        |l: &&str| l.contains("AggregateExec: mode=FinalPartitioned") && l.contains("metrics=[]");
    assert_eq!(analyzed.lines().filter(idle).count(), 1, "{analyzed}");
    text(&s, "SET weir.shared_aggregates = false").await;
    assert_eq!(text(&s, sql).await, reference);
    let whole = text(&s, &format!("EXPLAIN {sql}")).await;
    assert!(!whole.contains("SharedExec"), "{whole}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exact_percentiles_from_counted_values_are_datafusions() {
    let (dir, s) = events_session().await;
    let events_path = dir.path().join("events");
    let uri = events_path.to_str().unwrap();
    // Few distinct values (statuses, interpolated between) and about 11,000 (a status plus
    // a session number in thousandths, over the count at which a group holds its values
    // one by one); grouped, global, filtered, descending, over no rows and as a window.
    let few = "CAST(status AS DOUBLE)";
    let many = "CAST(status AS DOUBLE) + CAST(substr(session, 9) AS DOUBLE) / 1000.0";
    for value in [few, many] {
        let queries = [
            format!(
                "SELECT level, median({value}) AS m, \
                 percentile_cont(0.9) WITHIN GROUP (ORDER BY {value}) AS p90, \
                 percentile_cont(0.25) WITHIN GROUP (ORDER BY {value} DESC) AS p25d, \
                 percentile_cont({value}, 0.999) AS p999 \
                 FROM events GROUP BY level ORDER BY level"
            ),
            format!(
                "SELECT median({value}) AS m, percentile_cont(0.5) WITHIN GROUP \
                 (ORDER BY {value}) AS p50, percentile_cont(0.0) WITHIN GROUP \
                 (ORDER BY {value}) AS p0, percentile_cont(1.0) WITHIN GROUP \
                 (ORDER BY {value}) AS p100 FROM events"
            ),
            format!(
                "SELECT status, median({value}) FILTER (WHERE level = 'INFO') AS m \
                 FROM events GROUP BY status ORDER BY status"
            ),
            format!("SELECT median({value}) AS m FROM events WHERE status = 999"),
            format!(
                "SELECT max(m) AS m FROM (SELECT median({value}) OVER (ORDER BY session \
                 ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS m FROM events \
                 WHERE status = 404)"
            ),
        ];
        for sql in &queries {
            let reference = support::delta::query_text(&[("events", uri)], sql).await;
            assert_eq!(text(&s, sql).await, reference, "{sql}");
        }
    }
}
