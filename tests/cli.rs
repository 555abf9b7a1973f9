//! The `weir` binary as a user runs it.

use std::process::Command;

#[path = "cli/backfill.rs"]
mod backfill;
#[path = "cli/compact.rs"]
mod compact;
#[path = "cli/console.rs"]
mod console;
#[path = "cli/quality.rs"]
mod quality;
#[path = "cli/server.rs"]
mod server;
mod support;
#[path = "cli/validate.rs"]
mod validate;

#[test]
fn the_demo_streams_into_the_lake_and_queries_it() {
    let lake = tempfile::tempdir().unwrap();
    let demo = || {
        Command::new(env!("CARGO_BIN_EXE_weir"))
            .args(["demo", "--events", "20000", "--lake"])
            .arg(lake.path())
            .output()
            .expect("run weir demo")
    };
    // Twice: the second run replaces what the first made.
    for _ in 0..2 {
        let output = demo();
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "{stdout}\n{stderr}");
        // Nothing to warn about in a demo that went well.
        assert!(!stderr.contains("WARN"), "{stderr}");
        assert!(
            stdout.starts_with("weir demo: three jobs side by side, parallelism 2 each"),
            "{stdout}"
        );
        assert!(stdout.contains("\ncompacted logs.requests: "), "{stdout}");
        for header in [
            "| service  | requests | errors | error_pct |",
            "| endpoint ",
            "| rank | path ",
            "| sessions | avg_minutes | avg_page_views | bounce_pct |",
            "| status_known         | fail       |",
            "| latency_non_negative | quarantine |",
            "| quality_failed_rules | quality_reason ",
            "| reason ",
        ] {
            assert!(stdout.contains(header), "{header}: {stdout}");
        }
        assert!(
            stdout.contains(
                "Checked: every one of the 20000 log lines is one request row, one quarantined row or one dead letter; \
                 the per-service minutes (newest rows) equal the same query run in one batch."
            ),
            "{stdout}"
        );
    }
    for table in [
        "logs/requests",
        "logs/dead_letters",
        "analytics/top_paths",
        "clickstream/sessions",
    ] {
        assert!(
            lake.path().join(table).join("_delta_log").is_dir(),
            "{table}"
        );
    }

    // The example rules pass on the demo's requests, and are recorded.
    let rules = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/quality/requests.yaml"
    );
    let checked = Command::new(env!("CARGO_BIN_EXE_weir"))
        .args(["quality", "check", "--lake"])
        .arg(lake.path())
        .args(["logs.requests", "--rules", rules])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&checked.stdout);
    assert!(checked.status.success(), "{checked:?}");
    assert!(text.ends_with(": 10 of 10 rules passed\n"), "{text}");
    assert!(lake.path().join("_quality/_delta_log").is_dir());

    // EXPLAIN says how many files partition values let the scan skip: those of the other
    // services.
    let explain = Command::new(env!("CARGO_BIN_EXE_weir"))
        .args(["sql", "--lake"])
        .arg(lake.path())
        .args([
            "-e",
            "EXPLAIN SELECT path FROM logs.requests WHERE service = 'auth'",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&explain.stdout);
    let line = text
        .lines()
        .find(|l| l.contains("lake_file_skipping"))
        .unwrap_or_else(|| panic!("{text}"));
    let numbers: Vec<usize> = line
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|n| n.parse().ok())
        .collect();
    let [read, total, skipped] = numbers[..] else {
        panic!("{line}");
    };
    assert!(line.contains("requests: reads "), "{line}");
    assert!(read > 0 && read * 3 < total, "{line}");
    assert_eq!(skipped, total - read, "{line}");
}

#[test]
fn the_demo_leaves_folders_it_did_not_make_alone() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("precious.txt"), "keep me").unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_weir"))
        .args(["demo", "--lake"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(
        String::from_utf8_lossy(&output.stderr)
            .contains("exists and was not made by `weir demo`; choose another folder with --lake"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(dir.path().join("precious.txt").exists());
}

#[test]
fn an_unknown_command_fails_with_usage() {
    let output = Command::new(env!("CARGO_BIN_EXE_weir"))
        .arg("nope")
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("unrecognized subcommand 'nope'"));
}
