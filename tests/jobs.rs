//! Job files run by the `weir` binary as a user runs them: the example jobs' results are
//! checked against the same aggregation done in one batch by DataFusion SQL, at
//! parallelism 1 and 3.

mod support;

use std::path::Path;
use std::process::Command;

use support::delta::query_text;

fn run_job(job: &str, lake: &Path, env: &[(&str, &str)]) {
    let output = Command::new(env!("CARGO_BIN_EXE_weir"))
        .args(["run", "--progress", "0s", job])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("LAKE", lake)
        .envs(env.iter().copied())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(stderr.contains("started fresh"), "{stderr}");
    assert!(
        stderr.contains("finished: bids read 200000 rows"),
        "{stderr}"
    );
}

/// The windows table next to the same aggregation over the raw bids table.
async fn windows_and_reference(lake: &Path) -> (String, String) {
    let windows = lake.join("bid_windows").display().to_string();
    let bids = lake.join("bids").display().to_string();
    let tables = [("windows", windows.as_str()), ("bids", bids.as_str())];
    let streamed = query_text(
        &tables,
        "SELECT channel, CAST(window_start AS VARCHAR) AS window_start, \
                CAST(window_end AS VARCHAR) AS window_end, bids, auctions, max_price, total_price \
         FROM windows ORDER BY window_start, channel",
    )
    .await;
    let reference = query_text(
        &tables,
        "SELECT channel, CAST(date_bin(INTERVAL '10 seconds', event_time) AS VARCHAR) AS window_start, \
                CAST(date_bin(INTERVAL '10 seconds', event_time) + INTERVAL '10 seconds' AS VARCHAR) AS window_end, \
                count(*) AS bids, count(DISTINCT auction) AS auctions, max(price) AS max_price, \
                sum(price) AS total_price \
         FROM bids GROUP BY 1, 2, 3 ORDER BY window_start, channel",
    )
    .await;
    (streamed, reference)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bids_example_job_matches_a_batch_aggregation_at_any_parallelism() {
    let mut results = Vec::new();
    for parallelism in ["1", "3"] {
        let lake = tempfile::tempdir().unwrap();
        run_job(
            "examples/jobs/bids_to_lake.yaml",
            lake.path(),
            &[("PARALLELISM", parallelism), ("EVENTS", "200000")],
        );
        let (streamed, reference) = windows_and_reference(lake.path()).await;
        assert_eq!(streamed, reference, "parallelism {parallelism}");
        // 2 s of event time plus the rows moved back before the start: 2 windows per channel.
        assert_eq!(streamed.lines().count(), 4 + 8, "{streamed}");
        results.push(streamed);
    }
    assert_eq!(results[0], results[1]);
}
