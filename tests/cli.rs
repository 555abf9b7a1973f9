//! The `weir` binary as a user runs it.

use std::process::Command;

#[test]
fn the_demo_streams_into_the_lake_and_queries_it() {
    let lake = tempfile::tempdir().unwrap();
    let demo = || {
        Command::new(env!("CARGO_BIN_EXE_weir"))
            .args(["demo", "--events", "50000", "--show", "3", "--lake"])
            .arg(lake.path())
            .output()
            .expect("run weir demo")
    };
    // Twice: the second run replaces what the first made.
    for _ in 0..2 {
        let output = demo();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "{stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(
            stdout
                .starts_with("weir demo: 50000 generated bids, 10% of them up to 2 s out of order"),
            "{stdout}"
        );
        assert!(
            stdout.contains("| channel  | window_start         | window_end           | bids | auctions | max_price | avg_price |"),
            "{stdout}"
        );
        // 0.5 s of event time: one window per channel, plus one before the start for the
        // rows moved back by the disorder.
        assert!(
            stdout.contains("8 windows; they equal the same aggregation run in one batch over the 50000 raw bids"),
            "{stdout}"
        );
    }
    assert!(lake.path().join("bid_windows/_delta_log").is_dir());
    assert!(lake.path().join("bids/channel=apple").is_dir());

    // EXPLAIN says how many files partition values let the scan skip: one channel of four.
    let explain = Command::new(env!("CARGO_BIN_EXE_weir"))
        .args(["sql", "--lake"])
        .arg(lake.path())
        .args([
            "-e",
            "EXPLAIN SELECT auction FROM bids WHERE channel = 'apple'",
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
    assert!(line.contains("bids: reads "), "{line}");
    assert_eq!((read * 4, skipped), (total, total - read), "{line}");
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
