//! Exactly once inside the engine: a windowed job killed at any point and restarted from
//! its newest checkpoint (also at another parallelism, or from a savepoint) commits exactly
//! the output of an uninterrupted run: tumbling windows with allowed-lateness updates,
//! their late side output, sliding and session windows.

use std::time::Duration;

mod support;

use support::committing_sink::{lines, Committed, CommittingSink};
use weir_connectors::generator::{BidGenerator, BidGeneratorConfig};
use weir_engine::{
    GraphBuilder, RestoreFrom, RuntimeConfig, WatermarkStrategy, WindowAggregateConfig, WindowSpec,
};

/// What the job commits, per sink.
#[derive(Default, Clone)]
struct Outputs {
    tumbling: Committed,
    late: Committed,
    sliding: Committed,
    sessions: Committed,
}

impl Outputs {
    fn lines(&self) -> [Vec<String>; 4] {
        [
            lines(&self.tumbling),
            lines(&self.late),
            lines(&self.sliding),
            lines(&self.sessions),
        ]
    }
}

fn sink(committed: &Committed) -> CommittingSink {
    CommittingSink::new(committed)
}

/// Bids with events up to 2 s out of order against a 1 s watermark bound: some rows update
/// fired windows within their allowed lateness, some are too late. The source runs as one
/// subtask so that what is late does not depend on thread timing; the windows run at
/// `parallelism`.
fn graph(seed: u64, parallelism: usize, out: &Outputs) -> weir_engine::JobGraph {
    let generator = BidGeneratorConfig {
        seed,
        events: Some(200_000),
        auctions: 50,
        bidders: 3_000,
        events_per_second: 10_000,
        partitions: 4,
        batch_size: 1_000,
        max_disorder: Duration::from_secs(2),
        rate_limit: Some(1_000_000),
        ..Default::default()
    };
    let mut g = GraphBuilder::new();
    let bids = g
        .source(
            "bids",
            BidGenerator::new(generator).unwrap(),
            1,
            Some(WatermarkStrategy::bounded(
                "event_time",
                Duration::from_secs(1),
            )),
        )
        .unwrap();
    let windows = [
        (
            "tumbling",
            "auction",
            WindowSpec::Tumbling {
                size: Duration::from_secs(1),
            },
            Duration::from_millis(500),
            &out.tumbling,
        ),
        (
            "sliding",
            "channel",
            WindowSpec::Sliding {
                size: Duration::from_secs(2),
                slide: Duration::from_secs(1),
            },
            Duration::ZERO,
            &out.sliding,
        ),
        (
            "sessions",
            "bidder",
            WindowSpec::Session {
                gap: Duration::from_millis(500),
            },
            Duration::ZERO,
            &out.sessions,
        ),
    ];
    for (name, key, window, allowed_lateness, committed) in windows {
        let config = WindowAggregateConfig {
            key: vec![key.into()],
            event_time: "event_time".into(),
            window,
            aggregates: vec!["count(*) AS bids".into(), "sum(price) AS total".into()],
            allowed_lateness,
        };
        let w = g
            .operator(name, &config, vec![bids.main().hash([key])], parallelism)
            .unwrap();
        g.operator(
            &format!("{name}_sink"),
            &sink(committed),
            vec![w.main().rebalance()],
            1,
        )
        .unwrap();
        if name == "tumbling" {
            g.operator(
                "late_sink",
                &sink(&out.late),
                vec![w.port("late").unwrap().rebalance()],
                1,
            )
            .unwrap();
        }
    }
    g.build().unwrap()
}

async fn straight_run(seed: u64) -> [Vec<String>; 4] {
    let out = Outputs::default();
    graph(seed, 2, &out)
        .run(&RuntimeConfig::default())
        .await
        .unwrap();
    out.lines()
}

fn checkpointed(dir: &tempfile::TempDir) -> RuntimeConfig {
    RuntimeConfig {
        checkpoint_location: Some(dir.path().to_str().unwrap().to_string()),
        ..RuntimeConfig::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_and_restored_runs_commit_exactly_the_uninterrupted_output() {
    let expected = straight_run(42).await;
    let [tumbling, late, sliding, sessions] = &expected;
    assert!(tumbling.len() > 2_000, "{} tumbling rows", tumbling.len());
    assert!(
        !late.is_empty() && late.len() < 10_000,
        "{} late rows",
        late.len()
    );
    assert!(sliding.len() > 80, "{} sliding rows", sliding.len());
    assert!(sessions.len() > 1_000, "{} sessions", sessions.len());

    // Kill after 1, 2 and 3 checkpoints, then finish at another parallelism each time.
    for (kills, restart_parallelism) in [(1usize, 2usize), (2, 3), (3, 1)] {
        let dir = tempfile::tempdir().unwrap();
        let config = checkpointed(&dir);
        let out = Outputs::default();
        for _ in 0..kills {
            let job = graph(42, 2, &out).start(&config).await.unwrap();
            tokio::time::sleep(Duration::from_millis(30)).await;
            job.checkpoint().await.unwrap();
            tokio::time::sleep(Duration::from_millis(15)).await;
            drop(job); // killed: every task aborted, no final checkpoint
        }
        let job = graph(42, restart_parallelism, &out)
            .start(&config)
            .await
            .unwrap();
        // Each run completed its checkpoint (a run that reached the end of its input also
        // completed the final one).
        let restored = job.restored().expect("restored from a checkpoint");
        assert!(restored.checkpoint_id >= kills as u64, "{restored:?}");
        job.join().await.unwrap();
        assert!(
            out.lines() == expected,
            "killed {kills} times, restarted at {restart_parallelism}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_savepoint_resumes_the_job_elsewhere() {
    let expected = straight_run(7).await;
    let checkpoints = tempfile::tempdir().unwrap();
    let savepoint = tempfile::tempdir().unwrap();
    let savepoint_location = savepoint.path().to_str().unwrap().to_string();
    let out = Outputs::default();
    let job = graph(7, 2, &out)
        .start(&checkpointed(&checkpoints))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(40)).await;
    let id = job.stop_with_savepoint(&savepoint_location).await.unwrap();

    // Resume at parallelism 3 with a new checkpoint location; the old one is gone.
    drop(checkpoints);
    let elsewhere = tempfile::tempdir().unwrap();
    let config = RuntimeConfig {
        restore_from: RestoreFrom::Savepoint(savepoint_location.clone()),
        ..checkpointed(&elsewhere)
    };
    let job = graph(7, 3, &out).start(&config).await.unwrap();
    let restored = job.restored().unwrap();
    assert_eq!(
        (restored.location.as_str(), restored.checkpoint_id),
        (savepoint_location.as_str(), id)
    );
    job.join().await.unwrap();
    assert!(out.lines() == expected, "resumed from savepoint {id}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restore_skips_a_damaged_checkpoint_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let config = checkpointed(&dir);
    let out = Outputs::default();
    let job = graph(1, 2, &out).start(&config).await.unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert_eq!(job.checkpoint().await.unwrap(), 1);
    assert_eq!(job.checkpoint().await.unwrap(), 2);
    drop(job);
    let manifest = dir.path().join("chk-0000000002/_manifest.json");
    let text = std::fs::read_to_string(&manifest).unwrap();
    let victim = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("\"path\": \"chk-0000000002/"))
        .map(|rest| format!("chk-0000000002/{}", rest.trim_end_matches(['"', ','])))
        .unwrap();
    std::fs::write(dir.path().join(&victim), b"not arrow").unwrap();

    let job = graph(1, 2, &Outputs::default())
        .start(&config)
        .await
        .unwrap();
    let restored = job.restored().unwrap().clone();
    drop(job);
    assert_eq!(restored.checkpoint_id, 1);
    assert_eq!(restored.skipped.len(), 1);
    assert_eq!(restored.skipped[0].checkpoint_id, 2);
    assert!(
        restored.skipped[0].reason.contains(&victim),
        "{:?}",
        restored.skipped
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_job_is_refused_with_what_differs() {
    let dir = tempfile::tempdir().unwrap();
    let config = checkpointed(&dir);
    let job = graph(1, 2, &Outputs::default())
        .start(&config)
        .await
        .unwrap();
    job.checkpoint().await.unwrap();
    drop(job);

    // The same job with one more aggregate in the tumbling window and a renamed sink.
    let mut g = GraphBuilder::new();
    let bids = g
        .source(
            "bids",
            BidGenerator::new(BidGeneratorConfig::default()).unwrap(),
            1,
            Some(WatermarkStrategy::bounded("event_time", Duration::ZERO)),
        )
        .unwrap();
    let config_changed = WindowAggregateConfig {
        key: vec!["auction".into()],
        event_time: "event_time".into(),
        window: WindowSpec::Tumbling {
            size: Duration::from_secs(1),
        },
        aggregates: vec![
            "count(*) AS bids".into(),
            "sum(price) AS total".into(),
            "max(price) AS top".into(),
        ],
        allowed_lateness: Duration::from_millis(500),
    };
    let w = g
        .operator(
            "tumbling",
            &config_changed,
            vec![bids.main().hash(["auction"])],
            2,
        )
        .unwrap();
    let out = Outputs::default();
    g.operator(
        "tumbling_out",
        &sink(&out.tumbling),
        vec![w.main().rebalance()],
        1,
    )
    .unwrap();
    let error = g.build().unwrap().start(&config).await.unwrap_err();
    let message = error.to_string();
    assert!(
        message.starts_with("cannot restore: checkpoint 1 was taken by a different job: "),
        "{message}"
    );
    for expected in [
        "node 'tumbling': state table 'panes' had columns [",
        "node 'tumbling_out' is new",
        "node 'tumbling_sink' is gone",
        "node 'late_sink' is gone",
        "node 'sliding' is gone",
        "node 'sessions' is gone",
    ] {
        assert!(
            message.contains(expected),
            "{expected} missing in: {message}"
        );
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig {
        cases: 6,
        failure_persistence: None,
        ..Default::default()
    })]

    /// Checkpoints every 10 ms and kills at random moments (mid-checkpoint included),
    /// restarts at random parallelism: the committed output is always the straight run's.
    #[test]
    fn random_kill_points_never_change_the_output(
        seed in 0u64..1_000,
        kills in proptest::collection::vec((2u64..60, 1usize..4), 1..4),
        last_parallelism in 1usize..4,
    ) {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let expected = straight_run(seed).await;
            let dir = tempfile::tempdir().unwrap();
            let config = RuntimeConfig {
                checkpoint_interval: Some(Duration::from_millis(10)),
                ..checkpointed(&dir)
            };
            let out = Outputs::default();
            for (after_ms, parallelism) in &kills {
                let job = graph(seed, *parallelism, &out).start(&config).await.unwrap();
                // Killed after `after_ms`, or earlier if the job finished by then.
                let _ = tokio::time::timeout(Duration::from_millis(*after_ms), job.join()).await;
            }
            graph(seed, last_parallelism, &out).run(&config).await.unwrap();
            assert!(out.lines() == expected, "seed {seed}, kills {kills:?}");
        });
    }
}
