//! `weir compact` on a lake table, checked through `weir sql`.

use std::path::Path;
use std::process::{Command, Output};

use crate::support::lake_fixture::{bids, bids_schema, table};

fn weir(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_weir"))
        .args(args)
        .output()
        .expect("run weir")
}

fn sql(lake: &Path, query: &str) -> String {
    let output = weir(&["sql", "--lake", lake.to_str().unwrap(), "-e", query]);
    assert!(output.status.success(), "{output:?}");
    String::from_utf8(output.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compact_merges_small_files_and_every_answer_stays_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path();
    let batches: Vec<_> = (0..12)
        .map(|i| {
            let rows: Vec<(i64, i64, &str)> = (0..100)
                .map(|r| {
                    let n = i * 100 + r;
                    (
                        n % 37,
                        (n * 7919) % 1000,
                        ["web", "app", "api"][n as usize % 3],
                    )
                })
                .collect();
            bids(&rows)
        })
        .collect();
    table(&lake.join("bids"), &bids_schema(), &batches).await;
    let query = "SELECT channel, count(*) AS n, sum(price) AS total, min(auction) AS lo, max(auction) AS hi, \
                 sum(auction * price) AS mixed FROM bids GROUP BY channel ORDER BY channel";
    let before = sql(lake, query);
    assert!(before.contains("| api     | 400 |"), "{before}");

    let lake_arg = lake.to_str().unwrap();
    let output = weir(&["compact", "--lake", lake_arg, "bids"]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{output:?}");
    assert!(stdout.starts_with("bids: 12 files ("), "{stdout}");
    assert!(
        stdout.contains("-> 1 file (") && stdout.contains("1200 rows in 1 partition,"),
        "{stdout}"
    );
    assert!(stdout.trim_end().ends_with("; version 13"), "{stdout}");
    assert_eq!(sql(lake, query), before);
    let history = sql(
        lake,
        "SELECT version, operation, files_added, files_removed, rows_added, \
         compaction LIKE '{\"bytesAdded\":%' AS recorded FROM table_history('bids') WHERE version = 13",
    );
    assert!(
        history.contains(
            "| 13      | OPTIMIZE  | 1           | 12            | 1200       | true     |"
        ),
        "{history}"
    );
    let details = sql(
        lake,
        "SELECT files, rows, last_compaction LIKE '%\"filesRemoved\":12%\"version\":13}' AS last \
         FROM table_details('bids')",
    );
    assert!(details.contains("| 1     | 1200 | true |"), "{details}");

    // The 12 small files are removed from the table but still on disk for older versions,
    // until a vacuum with a retention shorter than the table's (7 days) deletes them.
    let refused = weir(&["vacuum", "--lake", lake_arg, "bids", "--retain", "0s"]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains(
            "--retain 0h is shorter than the table's delta.deletedFileRetentionDuration (168h)"
        ),
        "{refused:?}"
    );
    let vacuum = |dry: bool| {
        let mut args = vec!["vacuum", "--lake", lake_arg, "bids", "--retain", "0s"];
        args.push("--allow-unsafe-retention");
        if dry {
            args.push("--dry-run");
        }
        let output = weir(&args);
        assert!(output.status.success(), "{output:?}");
        String::from_utf8(output.stdout).unwrap()
    };
    let listed = vacuum(true);
    assert_eq!(listed.matches("would delete part-").count(), 12, "{listed}");
    assert!(
        listed
            .ends_with("bids: would delete 12 files removed more than 0s ago, 0 never committed\n"),
        "{listed}"
    );
    let parquet_files = || {
        std::fs::read_dir(lake.join("bids"))
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .path()
                    .extension()
                    .is_some_and(|x| x == "parquet")
            })
            .count()
    };
    assert_eq!(parquet_files(), 13);
    let deleted = vacuum(false);
    assert!(
        deleted.ends_with("bids: deleted 12 files removed more than 0s ago, 0 never committed\n"),
        "{deleted}"
    );
    assert_eq!(parquet_files(), 1);
    assert_eq!(sql(lake, query), before);

    // Nothing new: nothing to do, nothing committed.
    let again = weir(&["compact", "--lake", lake_arg, "bids", "--json"]);
    assert!(again.status.success(), "{again:?}");
    let json: serde_json::Value = serde_json::from_slice(&again.stdout).unwrap();
    assert_eq!(json["version"], serde_json::Value::Null);
    assert_eq!(json["filesRemoved"], 0);

    // Clustering rewrites the file that is not clustered yet, into files of about 2 KiB.
    let clustered = weir(&[
        "compact",
        "--lake",
        lake_arg,
        "bids",
        "--cluster-by",
        "auction,price",
        "--target-size",
        "2KiB",
    ]);
    let stdout = String::from_utf8_lossy(&clustered.stdout);
    assert!(clustered.status.success(), "{clustered:?}");
    assert!(
        stdout.contains("clustered on auction, price: a point filter skips about auction "),
        "{stdout}"
    );
    assert_eq!(sql(lake, query), before);

    // Mistakes are the user's: exit 1 and why.
    let wrong = weir(&[
        "compact",
        "--lake",
        lake_arg,
        "bids",
        "--cluster-by",
        "bidder",
    ]);
    assert_eq!(wrong.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&wrong.stderr);
    assert!(
        stderr.starts_with(&format!(
            "error: compacting bids in the lake at {lake_arg}: --cluster-by: table "
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains("has no column 'bidder' (columns: auction, price, channel)"),
        "{stderr}"
    );
    let missing = weir(&["compact", "--lake", lake_arg, "nothing"]);
    let stderr = String::from_utf8_lossy(&missing.stderr);
    assert!(
        stderr.contains("there is no Delta table at file://"),
        "{stderr}"
    );
}
