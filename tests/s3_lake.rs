//! Lakes on S3: the SQL tests' fixture lake, uploaded to a real S3 server (moto, which
//! `scripts/test.sh` starts) and queried at `s3://bucket/lake`, by the library and by
//! `weir sql`.

mod support;

use std::process::Command;

use arrow::util::pretty::pretty_format_batches_with_schema;
use deltalake::writer::{DeltaWriter as _, RecordBatchWriter};
use support::lake_fixture::{bids, bids_schema, lake, table, text};
use support::s3;
use weir_lake::table::{commit_epoch, open_or_create};
use weir_sql::{Lake, Limits, QuerySession};

/// The result of the last statement of `sql` as lines of an aligned table, or the error.
async fn lines(session: &QuerySession, sql: &str) -> Vec<String> {
    text(session, sql).await.lines().map(String::from).collect()
}

/// The fixture lake in a new bucket, under `lake/`, with folders around it that hold no
/// tables of the lake: `_staging/bids` and `.trash/bids` (hidden), `a/b/bids` (too deep),
/// and a file at the root. Returns the bucket and the local copy of the lake.
async fn bucket_with_lake() -> (String, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    lake(dir.path()).await;
    let bucket = s3::unique_bucket("weir-lake");
    s3::create_bucket(&bucket);
    s3::upload(dir.path(), &bucket, "lake").await;
    let bids = dir.path().join("bids");
    for hidden in ["lake/_staging/bids", "lake/.trash/bids", "lake/a/b/bids"] {
        s3::upload(&bids, &bucket, hidden).await;
    }
    let notes = tempfile::tempdir().unwrap();
    std::fs::write(notes.path().join("README"), "not a table").unwrap();
    s3::upload(notes.path(), &bucket, "lake").await;
    (bucket, dir)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lake_on_s3_lists_queries_travels_and_explains() {
    let (bucket, local) = bucket_with_lake().await;
    let lake = Lake::open_with_options(&format!("s3://{bucket}/lake"), s3::options()).unwrap();
    assert_eq!(lake.root().as_str(), format!("s3://{bucket}/lake/"));
    let tables: Vec<(String, String)> = lake
        .tables()
        .await
        .unwrap()
        .into_iter()
        .map(|t| (t.qualified_name(), t.url.to_string()))
        .collect();
    assert_eq!(
        tables,
        [
            ("bids".to_string(), format!("s3://{bucket}/lake/bids/")),
            (
                "logs.access".to_string(),
                format!("s3://{bucket}/lake/logs/access/")
            ),
        ]
    );

    // The bucket itself as the root: `lake/bids` is then a table nested one level down.
    let whole = Lake::open_with_options(&format!("s3://{bucket}"), s3::options()).unwrap();
    let names: Vec<String> = whole
        .tables()
        .await
        .unwrap()
        .iter()
        .map(|t| t.qualified_name())
        .collect();
    assert_eq!(names, ["lake.bids"]);

    let s = lake.query_session(Limits::default()).await.unwrap();
    assert_eq!(
        lines(&s, "SELECT b.channel, a.owner, count(*) AS bids, sum(price) AS total FROM bids b JOIN logs.access a ON a.channel = b.channel GROUP BY 1, 2 ORDER BY 1").await,
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
    // Version 2 holds the first two commits.
    assert_eq!(
        lines(
            &s,
            "SELECT count(*) AS n, max(auction) AS last FROM bids VERSION AS OF 2"
        )
        .await,
        [
            "+---+------+",
            "| n | last |",
            "+---+------+",
            "| 3 | 3    |",
            "+---+------+",
        ]
    );
    assert_eq!(
        lines(
            &s,
            "SELECT version, operation, rows_added FROM table_history('bids')"
        )
        .await,
        [
            "+---------+--------------+------------+",
            "| version | operation    | rows_added |",
            "+---------+--------------+------------+",
            "| 3       | WRITE        | 2          |",
            "| 2       | WRITE        | 1          |",
            "| 1       | WRITE        | 2          |",
            "| 0       | CREATE TABLE | 0          |",
            "+---------+--------------+------------+",
        ]
    );
    // One file per commit: statistics on auction skip the two older ones.
    let explained = s
        .sql("EXPLAIN SELECT auction FROM bids WHERE auction >= 4")
        .await
        .unwrap();
    let text =
        pretty_format_batches_with_schema(explained[0].schema.clone(), &explained[0].batches)
            .unwrap()
            .to_string();
    let skipping: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("lake_file_skipping"))
        .collect();
    assert_eq!(skipping.len(), 1, "{text}");
    assert!(
        skipping[0]
            .contains("| bids: reads 1 of 3 files (2 skipped by partition values and statistics) "),
        "{text}"
    );

    // A commit and a new table, made after the session opened, are in its next statement.
    let bids_path = local.path().join("bids");
    let mut bids_table = open_or_create(bids_path.to_str().unwrap(), &bids_schema(), &[])
        .await
        .unwrap();
    let mut writer = RecordBatchWriter::for_table(&bids_table).unwrap();
    writer.write(bids(&[(6, 60, "app")])).await.unwrap();
    let adds = writer.flush().await.unwrap();
    commit_epoch(&mut bids_table, "fixture", 4, adds, None)
        .await
        .unwrap()
        .unwrap();
    table(
        &local.path().join("logs").join("late"),
        &bids_schema(),
        &[bids(&[(7, 70, "web")])],
    )
    .await;
    s3::upload(local.path(), &bucket, "lake").await;
    assert_eq!(
        lines(
            &s,
            "SELECT (SELECT count(*) FROM bids) AS bids, (SELECT max(auction) FROM logs.late) AS late"
        )
        .await,
        [
            "+------+------+",
            "| bids | late |",
            "+------+------+",
            "| 6    | 7    |",
            "+------+------+",
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn weir_sql_reads_a_lake_on_s3_with_the_aws_environment() {
    let (bucket, _local) = bucket_with_lake().await;
    let weir = |lake: &str, sql: &str| {
        let output = Command::new(env!("CARGO_BIN_EXE_weir"))
            .args(["sql", "--lake", lake, "--format", "csv", "-e", sql])
            .env_remove("WEIR_LAKE")
            .envs(s3::env())
            .output()
            .unwrap();
        (
            String::from_utf8(output.stdout).unwrap(),
            String::from_utf8(output.stderr).unwrap(),
            output.status.success(),
        )
    };
    let (out, err, ok) = weir(
        &format!("s3://{bucket}/lake"),
        "SELECT channel, count(*) AS n FROM bids GROUP BY channel ORDER BY channel",
    );
    assert!(ok, "{err}");
    assert_eq!(out, "channel,n\napp,1\npartner,1\nweb,3\n");

    let missing = s3::unique_bucket("weir-missing");
    let (out, err, ok) = weir(&format!("s3://{missing}/lake"), "SELECT 1");
    assert!(!ok);
    assert_eq!(out, "");
    let expected = format!(
        "error: opening the lake at s3://{missing}/lake: lake s3://{missing}/lake/: listing lake: "
    );
    assert!(err.starts_with(&expected), "{err}");
    assert!(err.contains("NoSuchBucket"), "{err}");
}

#[test]
fn locations_that_are_no_lake_are_named() {
    let error = |location: &str| Lake::open(location).unwrap_err().to_string();
    assert_eq!(
        error("gs://bucket/lake"),
        "lake location 'gs://bucket/lake': the scheme 'gs' is not supported: a lake is a \
         local folder, file:///path or s3://bucket/prefix"
    );
    assert_eq!(
        error("s3:///lake"),
        "lake location 's3:///lake': no bucket: an S3 lake is s3://bucket or s3://bucket/prefix"
    );
    assert_eq!(
        error("s3://bad bucket/lake"),
        "lake location 's3://bad bucket/lake': invalid domain character"
    );
    let output = Command::new(env!("CARGO_BIN_EXE_weir"))
        .args(["sql", "--lake", "http://example.com/lake", "-e", "SELECT 1"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert_eq!(
        String::from_utf8(output.stderr).unwrap().trim_end(),
        "error: lake location 'http://example.com/lake': the scheme 'http' is not supported: \
         a lake is a local folder, file:///path or s3://bucket/prefix"
    );
}

/// `weir` with the S3 server's environment, in `dir`; returns stdout, or fails with stderr.
fn weir_in(dir: &std::path::Path, args: &[&str]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_weir"))
        .args(args)
        .current_dir(dir)
        .env_remove("WEIR_LAKE")
        .envs(s3::env())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "weir {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

#[test]
fn a_job_writes_a_table_on_s3_that_sql_reads_and_compaction_rewrites() {
    let bucket = s3::unique_bucket("weir-job");
    s3::create_bucket(&bucket);
    let dir = tempfile::tempdir().unwrap();
    let s3_lake = format!("s3://{bucket}/lake");
    // The same job into a lake on S3 and into a local one.
    for (name, lake) in [("s3", s3_lake.as_str()), ("local", "local-lake")] {
        let job = format!(
            "name: bids-{name}\nparallelism: 2\n\
             checkpoints: {{interval: 100ms, location: checkpoints-{name}}}\n\
             sources:\n  bids: {{type: generator, kind: bids, events: 50000}}\n\
             sinks:\n  lake: {{type: delta, inputs: [bids], table: '{lake}/bids'}}\n"
        );
        std::fs::write(dir.path().join(format!("{name}.yaml")), job).unwrap();
        weir_in(dir.path(), &["run", &format!("{name}.yaml")]);
    }
    let query = "SELECT channel, count(*) AS n, sum(price) AS total, max(bidder) AS last \
                 FROM bids GROUP BY channel ORDER BY channel";
    let sql = |lake: &str, query: &str| {
        weir_in(
            dir.path(),
            &["sql", "--lake", lake, "--format", "csv", "-e", query],
        )
    };
    let local = sql("local-lake", query);
    assert_eq!(sql(&s3_lake, query), local);
    assert_eq!(
        sql(&s3_lake, "SELECT count(*) AS n FROM bids"),
        "n\n50000\n"
    );

    let compacted = weir_in(dir.path(), &["compact", "--lake", &s3_lake, "bids"]);
    assert!(compacted.starts_with("bids: "), "{compacted}");
    assert!(compacted.contains(" MiB) -> 1 file ("), "{compacted}");
    assert!(
        compacted.contains("50000 rows in 1 partition"),
        "{compacted}"
    );
    assert_eq!(sql(&s3_lake, query), local);
    assert_eq!(
        sql(&s3_lake, "SELECT files FROM table_details('bids')"),
        "files\n1\n"
    );
}
