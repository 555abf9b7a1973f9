//! A large table joined with a small one and grouped by the small one's columns is
//! aggregated by its join key before the join (`weir.aggregate_before_join`): the rows
//! are plain DataFusion's, with and without the rule.

use crate::events_with_dimensions;
use crate::support;
use crate::support::lake_fixture::text;

const PRE_AGGREGATE: &str = "__weir_before_join_";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_aggregate_before_a_join_gives_datafusions_rows() {
    let (_dir, s, paths) = events_with_dimensions().await;
    let tables: Vec<(&str, &str)> = paths.iter().map(|(t, p)| (*t, p.as_str())).collect();
    // A string key (its distinct values bounded by the 4 rows of levels; events has a
    // null level and a level levels lacks), every aggregate the rule combines, a decimal
    // sum whose type must stay the statement's.
    let by_rank = "SELECT l.rank, count(*) AS n, count(e.path) AS paths, sum(e.status) AS total, \
                   sum(CAST(e.status AS DECIMAL(10, 2)) / 3) AS third, min(e.session) AS first, \
                   max(e.status) AS top FROM events e JOIN levels l ON e.level = l.level \
                   GROUP BY l.rank ORDER BY l.rank";
    let reference = support::delta::query_text(&tables, by_rank).await;
    assert_eq!(
        text(&s, by_rank).await,
        "+------+------+-------+---------+---------------+------------------+-----+\n\
         | rank | n    | paths | total   | third         | first            | top |\n\
         +------+------+-------+---------+---------------+------------------+-----+\n\
         | 1    | 4800 | 4430  | 1564800 | 521599.996800 | session-00000000 | 500 |\n\
         | 2    | 2400 | 2215  | 782400  | 260799.998400 | session-00000004 | 500 |\n\
         | 3    | 2400 | 2215  | 782400  | 260799.998400 | session-00000002 | 500 |\n\
         +------+------+-------+---------+---------------+------------------+-----+"
    );
    assert_eq!(text(&s, by_rank).await, reference);
    let plan = text(&s, &format!("EXPLAIN {by_rank}")).await;
    assert!(plan.contains(PRE_AGGREGATE), "{plan}");
    let types = "SELECT arrow_typeof(n) AS n, arrow_typeof(third) AS third FROM \
                 (SELECT count(*) AS n, sum(CAST(e.status AS DECIMAL(10, 2))) AS third \
                 FROM events e JOIN levels l ON e.level = l.level GROUP BY l.rank) LIMIT 1";
    assert_eq!(
        text(&s, types).await,
        support::delta::query_text(&tables, types).await
    );

    // An integer key bounded by its span (200 to 500), grouped by both sides' key, the
    // small side on the left.
    let by_class = "SELECT s.class, e.status, count(*) AS n, sum(length(e.session)) AS chars \
                    FROM statuses s JOIN events e ON s.status = e.status \
                    GROUP BY s.class, e.status ORDER BY s.class";
    assert_eq!(
        text(&s, by_class).await,
        "+--------------+--------+------+-------+\n\
         | class        | status | n    | chars |\n\
         +--------------+--------+------+-------+\n\
         | client error | 404    | 3000 | 48000 |\n\
         | ok           | 200    | 6000 | 96000 |\n\
         | server error | 500    | 3000 | 48000 |\n\
         +--------------+--------+------+-------+"
    );
    assert_eq!(
        text(&s, by_class).await,
        support::delta::query_text(&tables, by_class).await
    );
    let plan = text(&s, &format!("EXPLAIN {by_class}")).await;
    assert!(plan.contains(PRE_AGGREGATE), "{plan}");

    // Left as they are: an average, a group column of the large side that is not its
    // key, an aggregate of the small side, a small side filtered to a quarter of its rows.
    for unchanged in [
        "SELECT l.rank, count(*) AS n FROM events e JOIN levels l ON e.level = l.level \
         WHERE l.rank = 2 GROUP BY l.rank",
        "SELECT l.rank, avg(e.status) AS a FROM events e JOIN levels l ON e.level = l.level \
         GROUP BY l.rank ORDER BY l.rank",
        "SELECT l.rank, e.status, count(*) AS n FROM events e JOIN levels l \
         ON e.level = l.level GROUP BY l.rank, e.status ORDER BY l.rank, e.status",
        "SELECT e.status, sum(l.rank) AS r FROM events e JOIN levels l ON e.level = l.level \
         GROUP BY e.status ORDER BY e.status",
    ] {
        assert_eq!(
            text(&s, unchanged).await,
            support::delta::query_text(&tables, unchanged).await
        );
        let plan = text(&s, &format!("EXPLAIN {unchanged}")).await;
        assert!(!plan.contains(PRE_AGGREGATE), "{unchanged}\n{plan}");
    }

    text(&s, "SET weir.aggregate_before_join = false").await;
    assert_eq!(text(&s, by_rank).await, reference);
    let plan = text(&s, &format!("EXPLAIN {by_rank}")).await;
    assert!(!plan.contains(PRE_AGGREGATE), "{plan}");
}
