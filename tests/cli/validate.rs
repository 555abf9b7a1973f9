//! `weir validate`, and the places `weir run` gives for the same mistakes.

use std::path::Path;
use std::process::{Command, Output};

const BROKEN: &str = "name: v
sources:
  bids: {type: generator, kind: bids, events: 10}
transforms:
  cheap:
    type: filter
    inputs: [bids]
    predicate: price + 1
sinks:
  out: {type: discard, inputs: [cheap]}
  errors: {type: discard, inputs: [bids.dead_letters]}
";

fn weir(args: &[&str], lake: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_weir"))
        .args(args)
        .env("LAKE", lake)
        .output()
        .expect("run weir")
}

#[test]
fn a_valid_job_file_prints_its_graph() {
    let lake = tempfile::tempdir().unwrap();
    let job = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/jobs/bids_to_lake.yaml"
    );
    let output = weir(&["validate", job], lake.path());
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        stdout,
        format!(
            "job 'bids-to-lake' is valid
nodes:
  bids         source     generator, parallelism 2
  per_channel  transform  window_aggregate, parallelism 2
  late         sink       stdout, parallelism 1
  raw          sink       delta, parallelism 2
  windows      sink       delta, parallelism 2
edges:
  bids -> per_channel (hash(channel))
  per_channel.late -> late (rebalance)
  bids -> raw (forward)
  per_channel -> windows (forward)
outputs:
  late: standard output
  raw: delta table {lake}/bids
  windows: delta table {lake}/bid_windows
",
            lake = lake.path().display()
        )
    );
}

#[test]
fn every_mistake_is_printed_at_its_place_and_the_exit_code_is_1() {
    let dir = tempfile::tempdir().unwrap();
    let job = dir.path().join("job.yaml");
    std::fs::write(&job, BROKEN).unwrap();
    let file = job.display().to_string();
    let output = weir(&["validate", &file], dir.path());
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        format!(
            "{file}:8:16: transforms.cheap: invalid filter predicate `price + 1`: must be boolean, but it is Int64
{file}:11:36: sinks.errors: invalid job graph: node 'bids' has no output 'dead_letters'; it has: main
{file}: 2 mistakes
"
        )
    );
}

#[test]
fn weir_run_places_the_same_mistakes() {
    let dir = tempfile::tempdir().unwrap();
    let job = dir.path().join("job.yaml");
    let file = job.display().to_string();
    std::fs::write(&job, BROKEN).unwrap();
    let output = weir(&["run", &file], dir.path());
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!(
            "error: building job 'v': {file}:8:16: transforms.cheap: invalid filter predicate `price + 1`: must be boolean, but it is Int64\n{file}:11:36: sinks.errors:"
        )),
        "{stderr}"
    );
    std::fs::write(&job, BROKEN.replace("events: 10", "evnts: 10")).unwrap();
    let output = weir(&["run", &file], dir.path());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!(
            "error: {file}:3:39: sources.bids: unknown field `evnts`"
        )),
        "{stderr}"
    );
}
