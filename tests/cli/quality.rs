//! `weir quality check` on a lake table: verdicts, exit codes, the `_quality` table, and
//! rules files with mistakes.

use std::path::Path;
use std::process::{Command, Output};

use crate::support::delta::query_text;
use crate::support::lake_fixture::{bids, bids_schema, table};

fn weir(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_weir"))
        .args(args)
        .output()
        .expect("run weir")
}

fn check(lake: &Path, rules: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "quality",
        "check",
        "--lake",
        lake.to_str().unwrap(),
        "bids",
        "--rules",
        rules.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    weir(&args)
}

const RULES: &str = "rules:
  - name: prices_positive
    range: {column: price, min: 1}
    severity: fail
  - name: channels_known
    referential: {column: channel, table: channels, key: channel}
  - name: channel_names
    in_set: {column: channel, values: [web, app]}
  - name: enough_bids
    volume: {min: 2, stddevs: 1, min_history: 2}
  - name: no_free_lunch
    sql: \"SELECT * FROM epoch WHERE price > 900\"
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_table_is_judged_recorded_and_gated_by_its_fail_rules() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    let rows = [
        (1, 10, "web"),
        (2, 20, "app"),
        (3, 950, "api"),
        (4, 40, "web"),
    ];
    table(
        &lake.join("bids"),
        &bids_schema(),
        &[bids(&rows[..2]), bids(&rows[2..])],
    )
    .await;
    table(
        &lake.join("channels"),
        &bids_schema(),
        &[bids(&[(0, 0, "web"), (0, 0, "app")])],
    )
    .await;
    let rules = dir.path().join("rules.yaml");
    std::fs::write(&rules, RULES).unwrap();

    let output = check(&lake, &rules, &[]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{output:?}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines,
        [
            "rule             severity  result  observed        threshold                              failing",
            "prices_positive  fail      pass    0 failing rows  0 failing rows                         0/4",
            "channels_known   warn      FAIL    1 rows          0 rows                                 1/4",
            "channel_names    warn      FAIL    1 failing rows  0 failing rows                         1/4",
            "enough_bids      warn      pass    4 rows          >= 2 and history of 0 < 2: not judged  0/4",
            "no_free_lunch    warn      FAIL    1 rows          0 rows                                 1/4",
            "bids at version 2: 2 of 5 rules passed",
        ]
    );
    // Version 1 held two bids; the history then has two evaluations of 4 and 2 rows.
    assert!(check(&lake, &rules, &["--version", "1"]).status.success());
    let output = check(&lake, &rules, &["--json"]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let volume = stdout.lines().find(|l| l.contains("enough_bids")).unwrap();
    assert_eq!(
        volume,
        r#"{"rule":"enough_bids","severity":"warn","passed":true,"observed":"4 rows","threshold":">= 2 and [1.6, 4.4] (1 sd of 2 earlier)","rows_checked":4,"rows_failing":0}"#
    );
    let quality = lake.join("_quality").display().to_string();
    assert_eq!(
        query_text(
            &[("q", &quality)],
            "SELECT \"table\", to_version, count(*) AS rules, sum(CAST(passed AS INT)) AS passed, \
             sum(rows_failing) AS failing FROM q GROUP BY 1, 2, time ORDER BY time"
        )
        .await,
        "+-------+------------+-------+--------+---------+\n\
         | table | to_version | rules | passed | failing |\n\
         +-------+------------+-------+--------+---------+\n\
         | bids  | 2          | 5     | 2      | 3       |\n\
         | bids  | 1          | 5     | 5      | 0       |\n\
         | bids  | 2          | 5     | 2      | 3       |\n\
         +-------+------------+-------+--------+---------+"
    );

    // A `fail` rule failing: exit 1, and the verdict says why.
    std::fs::write(
        &rules,
        RULES.replace(
            "range: {column: price, min: 1}",
            "range: {column: price, max: 100}",
        ),
    )
    .unwrap();
    let output = check(&lake, &rules, &[]);
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("prices_positive  fail      FAIL    1 failing rows"),
        "{stdout}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mistakes_in_a_rules_file_are_refused_with_where_they_are() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    table(
        &lake.join("bids"),
        &bids_schema(),
        &[bids(&[(1, 10, "web")])],
    )
    .await;
    let rules = dir.path().join("rules.yaml");
    let refused = |text: &str| {
        std::fs::write(&rules, text).unwrap();
        let output = check(&lake, &rules, &[]);
        assert_eq!(output.status.code(), Some(1), "{output:?}");
        assert!(!lake.join("_quality").exists(), "nothing is recorded");
        String::from_utf8_lossy(&output.stderr)
            .trim_end()
            .to_string()
    };
    let file = rules.display().to_string();
    assert_eq!(
        refused("rules:\n  - name: r\n    range: {column: cost, min: 1}\n"),
        format!("error: {file}: rule 'r': no column 'cost' (columns: auction, price, channel)")
    );
    let ddl = refused("rules:\n  - name: r\n    sql: \"DROP TABLE bids\"\n");
    assert!(
        ddl.starts_with(&format!("error: {file}: rule 'r': ")),
        "{ddl}"
    );
    assert!(ddl.contains("DROP"), "{ddl}");
    let typo = refused("rules:\n  - name: r\n    rnage: {column: price, min: 1}\n");
    assert!(
        typo.starts_with(&format!(
            "error: {file}:3:5: rules[0]: unknown field `rnage`"
        )),
        "{typo}"
    );
    assert!(typo.contains("rnage"), "{typo}");
}

/// Appends `rows` to the bids table at `path` as epoch `epoch` of app `more`.
async fn append(path: &Path, epoch: i64, rows: &[(i64, i64, &str)]) {
    use deltalake::writer::{DeltaWriter as _, RecordBatchWriter};
    let mut table = weir_lake::table::open_existing(path.to_str().unwrap())
        .await
        .unwrap()
        .unwrap();
    let mut writer = RecordBatchWriter::for_table(&table).unwrap();
    writer.write(bids(rows)).await.unwrap();
    let adds = writer.flush().await.unwrap();
    weir_lake::table::commit_epoch(&mut table, "more", epoch, adds, None)
        .await
        .unwrap()
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_incremental_check_reads_only_new_files_and_equals_a_full_one() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    let path = lake.join("bids");
    table(
        &path,
        &bids_schema(),
        &[
            bids(&[(1, 10, "web"), (2, 20, "app")]),
            bids(&[(3, 30, "web"), (4, 35, "web")]),
        ],
    )
    .await;
    let rules = dir.path().join("rules.yaml");
    std::fs::write(
        &rules,
        "rules:
  - {name: cheap, range: {column: price, max: 100}}
  - {name: channels, in_set: {column: channel, values: [web, app]}}
  - {name: one_bid_per_auction, unique: {columns: [auction]}}
  - {name: one_per_pair, unique: {columns: [auction, channel]}}
  - {name: mean_price, distribution: {column: price, statistic: mean, max: 60}}
  - {name: p90_price, distribution: {column: price, statistic: p90, max: 300}}
  - {name: enough, volume: {min: 3}}
  - {name: no_free_lunch, sql: \"SELECT * FROM epoch WHERE price = 0\"}
",
    )
    .unwrap();
    let verdicts = |extra: &[&str]| -> Vec<String> {
        let mut args = vec!["--json"];
        args.extend_from_slice(extra);
        let output = check(&lake, &rules, &args);
        assert!(output.status.success(), "{output:?}");
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .map(str::to_string)
            .collect()
    };
    let read = |extra: &[&str]| -> String {
        let mut args = vec!["--incremental"];
        args.extend_from_slice(extra);
        let output = check(&lake, &rules, &args);
        assert!(output.status.success(), "{output:?}");
        let stdout = String::from_utf8_lossy(&output.stdout).to_string();
        stdout.lines().last().unwrap().to_string()
    };
    // The first incremental check reads every file; then only what was appended.
    assert_eq!(read(&[]), "incremental: read the files of versions 0 to 2");
    assert_eq!(verdicts(&["--incremental"]), verdicts(&[]));
    assert_eq!(read(&[]), "incremental: no version since the last check");

    append(&path, 1, &[(3, 900, "partner"), (5, 0, "web")]).await;
    append(&path, 2, &[(6, 50, "app")]).await;
    assert_eq!(read(&[]), "incremental: read the files of versions 3 to 4");
    let full = verdicts(&[]);
    assert_eq!(verdicts(&["--incremental"]), full);
    let failing: Vec<&str> = full
        .iter()
        .filter(|l| l.contains(r#""passed":false"#))
        .map(|l| l.split('"').nth(3).unwrap())
        .collect();
    assert_eq!(
        failing,
        [
            "cheap",
            "channels",
            "one_bid_per_auction",
            "mean_price",
            "p90_price",
            "no_free_lunch"
        ]
    );
    assert!(
        full[0].contains(r#""sample":["900"]"#),
        "the failing value is sampled: {}",
        full[0]
    );

    // Compaction rewrites files without changing data: nothing new to read.
    let compacted = weir(&["compact", "--lake", lake.to_str().unwrap(), "bids"]);
    assert!(compacted.status.success(), "{compacted:?}");
    assert_eq!(read(&[]), "incremental: read the files of versions 5 to 5");
    assert_eq!(verdicts(&["--incremental"]), verdicts(&[]));

    // A delete removes rows the kept metrics counted: the next check is a full one.
    let table = weir_lake::table::open_existing(path.to_str().unwrap())
        .await
        .unwrap()
        .unwrap();
    table.delete().with_predicate("auction = 3").await.unwrap();
    assert_eq!(read(&[]), "incremental: read the files of versions 0 to 6");
    let full = verdicts(&[]);
    assert_eq!(verdicts(&["--incremental"]), full);
    assert!(
        full[2].contains(r#""rule":"one_bid_per_auction","severity":"warn","passed":true"#),
        "{}",
        full[2]
    );
}
