//! A hash join on one integer key looks its probe rows up in an array indexed by the key
//! when the build side's keys span fewer values than 1/128 of the statement's memory
//! (DataFusion's perfect hash join): the same rows as a hashed join, and no array where
//! the memory limit leaves no room for one.

use weir_sql::{Lake, Limits};

use crate::support::lake_fixture::text;

/// Three build keys spanning 900,000 values (3.6 MB of slots) joined with a million rows.
const JOIN: &str = "SELECT count(*) AS n, sum(p.value) AS s \
    FROM generate_series(1, 1000000) p JOIN (VALUES (1), (450000), (900000)) b(k) \
    ON p.value = b.k";

/// How many arrays the statement's hash joins built, from `EXPLAIN ANALYZE`.
fn arrays_built(analyzed: &str) -> Vec<&str> {
    analyzed
        .split("array_map_created_count=")
        .skip(1)
        .map(|rest| rest.split(',').next().unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_join_on_a_narrow_key_span_probes_an_array_within_the_memory_limit() {
    let dir = tempfile::tempdir().unwrap();
    let lake = Lake::new(dir.path()).unwrap();
    let rows = "+---+---------+\n\
                | n | s       |\n\
                +---+---------+\n\
                | 3 | 1350001 |\n\
                +---+---------+";
    for (memory, arrays) in [(Limits::default().memory, "1"), (64 << 20, "0")] {
        let limits = Limits {
            memory,
            ..Limits::default()
        };
        let session = lake.query_session(limits).await.unwrap();
        assert_eq!(text(&session, JOIN).await, rows, "memory {memory}");
        let analyzed = text(&session, &format!("EXPLAIN ANALYZE {JOIN}")).await;
        assert_eq!(
            arrays_built(&analyzed),
            [arrays],
            "memory {memory}: {analyzed}"
        );
    }
}
