//! Clickstream: sessions a session window with the configured gap finds exactly.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use arrow::array::{Array, AsArray};
use arrow::datatypes::{Int64Type, TimestampMillisecondType};
use weir_connectors::generator::{ClickstreamConfig, ClickstreamGenerator};
use weir_engine::SourcePlan;

use super::support::{check_determinism, concat, read_all};

fn config() -> ClickstreamConfig {
    ClickstreamConfig {
        events: Some(200_000),
        partitions: 4,
        batch_size: 4096,
        events_per_second: 1000,
        concurrent_sessions: 200,
        users: 40_000,
        mean_session_events: 8,
        session_gap: Duration::from_secs(10),
        ..Default::default()
    }
}

fn small(seed: u64) -> Arc<dyn SourcePlan> {
    ClickstreamGenerator::new(ClickstreamConfig {
        seed,
        events: Some(20_011),
        batch_size: 1000,
        ..config()
    })
    .unwrap()
}

#[test]
fn clickstream_is_deterministic_at_any_parallelism_and_restores_exactly() {
    check_determinism(small, 9);
}

#[test]
fn sessions_are_ordered_within_and_a_gap_apart_between() {
    let config = config();
    let gap = config.session_gap.as_millis() as i64;
    let plan = ClickstreamGenerator::new(config).unwrap();
    let batches = read_all(plan.as_ref(), 1);

    // Within a partition, each session's events arrive in strictly increasing time.
    let mut last_seen: HashMap<i64, i64> = HashMap::new();
    for (_, batch) in &batches {
        let session = batch.column(1).as_primitive::<Int64Type>();
        let time = batch.column(5).as_primitive::<TimestampMillisecondType>();
        for r in 0..batch.num_rows() {
            if let Some(before) = last_seen.insert(session.value(r), time.value(r)) {
                assert!(
                    before < time.value(r),
                    "session {} goes back",
                    session.value(r)
                );
            }
        }
    }

    // Per user in time order: the same session continues within the gap, a new session
    // starts at least the gap later. So a session window keyed by user with this gap finds
    // exactly the generated sessions.
    let all = concat(plan.as_ref(), &batches);
    let user = all.column(0).as_primitive::<Int64Type>();
    let session = all.column(1).as_primitive::<Int64Type>();
    let time = all.column(5).as_primitive::<TimestampMillisecondType>();
    let action = all.column(4).as_string::<i32>();
    let referrer = all.column(3).as_string::<i32>();
    let mut per_user: BTreeMap<i64, Vec<(i64, i64, usize)>> = BTreeMap::new();
    for r in 0..all.num_rows() {
        per_user
            .entry(user.value(r))
            .or_default()
            .push((time.value(r), session.value(r), r));
    }
    // A session opens with a view, coming from outside (or a direct visit).
    let opens = |r: usize| {
        action.value(r) == "view"
            && (referrer.is_null(r) || referrer.value(r).starts_with("https://"))
    };
    let (mut sessions, mut returning) = (0, 0);
    for events in per_user.values_mut() {
        events.sort_unstable();
        sessions += 1;
        assert!(opens(events[0].2));
        for pair in events.windows(2) {
            let ((t0, s0, _), (t1, s1, r1)) = (pair[0], pair[1]);
            if s0 == s1 {
                assert!(t1 > t0 && t1 - t0 < gap, "{pair:?}");
                assert!(referrer.value(r1).starts_with('/'));
            } else {
                assert!(t1 - t0 >= gap, "{pair:?}");
                assert!(opens(r1));
                sessions += 1;
                returning += 1;
            }
        }
    }
    // Every session id belongs to one user.
    let distinct: std::collections::HashSet<i64> = session.values().iter().copied().collect();
    assert_eq!(sessions, distinct.len());
    assert!(
        returning > 1000,
        "users come back: {returning} later sessions"
    );
    // Sessions average 8 events.
    let mean = all.num_rows() as f64 / sessions as f64;
    assert!((7.6..8.4).contains(&mean), "mean session length {mean}");
    let purchases = action.iter().filter(|a| *a == Some("purchase")).count();
    assert!(purchases > 0 && purchases < sessions, "{purchases}");
    println!(
        "clickstream: {} events, {sessions} sessions (mean {mean:.2} events), {returning} \
         returning, {purchases} purchases",
        all.num_rows()
    );
}

#[test]
fn a_gap_the_users_cannot_keep_is_refused() {
    let error = ClickstreamGenerator::new(ClickstreamConfig {
        users: 2000,
        ..config()
    })
    .unwrap_err();
    assert_eq!(
        error.to_string(),
        "invalid clickstream generator configuration: users must be at least 22800 \
         (concurrent_sessions x 114) so that a user's sessions stay session_gap apart, got 2000"
    );
}
