//! The `weir` binary as a user runs it.

use std::process::Command;

#[test]
fn the_demo_runs_end_to_end_and_prints_its_windows() {
    let output = Command::new(env!("CARGO_BIN_EXE_weir"))
        .args(["demo", "--events", "50000", "--show", "3"])
        .output()
        .expect("run weir demo");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.starts_with(
            "weir demo: 50000 bids over 10000 auctions, 10% of them up to 2s out of order"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains("| channel  | window_start         | window_end           | bids | auctions | max_price | avg_price | p95_price |"),
        "{stdout}"
    );
    // 0.5 s of event time: one window per channel, plus one before the start for the rows
    // moved back by the disorder.
    assert!(stdout.contains("8 windows from 50000 bids"), "{stdout}");
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
