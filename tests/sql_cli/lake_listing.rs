//! Listing a local lake stays inside it: a symbolic link out of the lake is not followed,
//! a link loop and an unreadable folder are skipped with a warning naming them, and the
//! other tables still open and answer queries.

use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::Path;
use std::process::Command;

use crate::support::lake_fixture::{bids, bids_schema, lake, table, text};
use weir_sql::Lake;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listing_stays_in_the_lake_and_skips_what_it_cannot_follow() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().canonicalize().unwrap();
    let root = base.join("lake");
    lake(&root).await;
    let outside = base.join("outside");
    table(
        &outside.join("secret"),
        &bids_schema(),
        &[bids(&[(9, 90, "x")])],
    )
    .await;
    // Out of the lake: a table, and a folder of tables.
    symlink(outside.join("secret"), root.join("secret")).unwrap();
    symlink(&outside, root.join("elsewhere")).unwrap();
    // Loops: a link to itself, and a link to the folder holding it.
    symlink(root.join("loop"), root.join("loop")).unwrap();
    symlink(root.join("logs"), root.join("logs").join("again")).unwrap();
    // A link to a table inside the lake is that table under another name.
    symlink(root.join("bids"), root.join("mirror")).unwrap();
    // A folder of tables that cannot be read (by anyone but root).
    let locked = root.join("locked");
    table(&locked.join("t"), &bids_schema(), &[bids(&[(8, 80, "y")])]).await;
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o000)).unwrap();
    // Tests may run as root, who reads it all the same: then it is listed.
    let locked_readable = std::fs::read_dir(&locked).is_ok();

    let listed: Vec<String> = Lake::new(&root)
        .unwrap()
        .tables()
        .await
        .unwrap()
        .iter()
        .map(|t| t.qualified_name())
        .collect();
    let mut expected = vec!["bids", "locked.t", "logs.access", "mirror"];
    if !locked_readable {
        expected.retain(|t| *t != "locked.t");
    }
    assert_eq!(listed, expected);

    // The command warns about each, once, and queries the rest.
    let out = Command::new(env!("CARGO_BIN_EXE_weir"))
        .args(["sql", "--format", "csv", "--lake"])
        .arg(&root)
        .args([
            "-e",
            "SELECT count(*) AS n FROM bids; SELECT count(*) AS n FROM mirror; SHOW TABLES",
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o755)).unwrap();
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.starts_with("n\n5\nn\n5\n"), "{stdout}");
    assert!(!stdout.contains("secret"), "{stdout}");
    let skipped = |path: &Path, reason: &str| format!("skipping {}: {reason}", path.display());
    let mut warnings = vec![
        skipped(
            &root.join("elsewhere"),
            &format!(
                "a symbolic link to {}, outside the lake",
                outside.display()
            ),
        ),
        skipped(
            &root.join("logs").join("again"),
            &format!(
                "a symbolic link loop (to {}, which holds the link)",
                root.join("logs").display()
            ),
        ),
        skipped(
            &root.join("loop"),
            "a symbolic link that cannot be followed (Too many levels of symbolic links (os error 40))",
        ),
        skipped(
            &root.join("secret"),
            &format!(
                "a symbolic link to {}, outside the lake",
                outside.join("secret").display()
            ),
        ),
    ];
    if !locked_readable {
        warnings.push(skipped(
            &locked,
            "cannot be read (Permission denied (os error 13))",
        ));
    }
    for warning in &warnings {
        assert_eq!(
            stderr.matches(warning.as_str()).count(),
            1,
            "{warning}\n{stderr}"
        );
    }
    let warned = stderr.lines().filter(|l| l.contains("WARN")).count();
    assert_eq!(warned, warnings.len(), "{stderr}");
}

/// `SHOW TABLES` answers from the listing: a table whose log cannot be read is still
/// listed (nothing is loaded to list it), and a statement reading it fails naming it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn show_tables_lists_without_loading_and_a_broken_log_fails_only_its_reader() {
    let dir = tempfile::tempdir().unwrap();
    lake(dir.path()).await;
    let log = dir.path().join("broken").join("_delta_log");
    std::fs::create_dir_all(&log).unwrap();
    std::fs::write(log.join("00000000000000000000.json"), "not a commit\n").unwrap();
    let s = crate::session(dir.path()).await;
    assert_eq!(
        crate::lines(&text(&s, "SHOW TABLES").await),
        [
            "+---------------+--------------------+-------------+------------+",
            "| table_catalog | table_schema       | table_name  | table_type |",
            "+---------------+--------------------+-------------+------------+",
            "| datafusion    | public             | bids        | BASE TABLE |",
            "| datafusion    | public             | broken      | BASE TABLE |",
            "| datafusion    | logs               | access      | BASE TABLE |",
            "| datafusion    | information_schema | tables      | VIEW       |",
            "| datafusion    | information_schema | views       | VIEW       |",
            "| datafusion    | information_schema | columns     | VIEW       |",
            "| datafusion    | information_schema | df_settings | VIEW       |",
            "| datafusion    | information_schema | schemata    | VIEW       |",
            "| datafusion    | information_schema | routines    | VIEW       |",
            "| datafusion    | information_schema | parameters  | VIEW       |",
            "+---------------+--------------------+-------------+------------+",
        ]
    );
    let failed = text(&s, "SELECT count(*) FROM broken").await;
    assert!(
        failed.starts_with("error: ") && failed.contains("reading the log of table 'broken'"),
        "{failed}"
    );
    assert_eq!(
        crate::lines(&text(&s, "SELECT count(*) AS n FROM bids").await),
        ["+---+", "| n |", "+---+", "| 5 |", "+---+"]
    );
    // The command says so once, without the Delta kernel's own error logs.
    let out = Command::new(env!("CARGO_BIN_EXE_weir"))
        .args(["sql", "--lake"])
        .arg(dir.path())
        .args(["-e", "SELECT count(*) FROM broken"])
        // Asked for, the kernel's errors carry backtraces; the default log is wanted.
        .env_remove("RUST_BACKTRACE")
        .env_remove("RUST_LIB_BACKTRACE")
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(!out.status.success());
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("reading the log of table 'broken': Kernel error: Json error"),
        "{stderr}"
    );
}
