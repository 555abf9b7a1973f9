//! Overlapping closed ranges of one column ORed in a filter are merged
//! (`weir.merged_ranges`): the rows are DataFusion's, with and without the rule.

use crate::averages::OrdersLake;
use crate::support::lake_fixture::text;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overlapping_ranges_merged_give_datafusions_rows() {
    let lake = OrdersLake::new().await;
    // TPC-H Q19's three quantity ranges, one written with BETWEEN.
    let q19 = "SELECT flag, count(*) AS n, sum(price) AS total FROM orders \
               WHERE (qty >= 1 AND qty <= 11) OR (qty >= 10 AND qty <= 20) \
               OR qty BETWEEN 20 AND 30 GROUP BY flag ORDER BY flag";
    let plan = lake.same_rows_as_datafusion(q19).await;
    let filter = plan
        .lines()
        .find(|line| line.contains("Filter:"))
        .unwrap_or_default();
    assert!(
        filter.contains(
            "orders.qty >= Decimal128(1.00,15,2) AND orders.qty <= Decimal128(30.00,15,2)"
        ) && !filter.contains(" OR "),
        "{plan}"
    );
    // The ranges as DataFusion derives them from a join's condition (as in Q19), for the
    // filter below the join: merged, and the merged range kept once.
    let joined = "SELECT a.flag, count(*) AS n FROM orders a JOIN orders b ON a.price = b.price \
                  WHERE (b.flag = 'A' AND a.qty >= 1 AND a.qty <= 11) \
                  OR (b.flag = 'N' AND a.qty >= 10 AND a.qty <= 20) \
                  OR (b.flag = 'R' AND a.qty >= 20 AND a.qty <= 30) GROUP BY a.flag ORDER BY a.flag";
    let plan = lake.same_rows_as_datafusion(joined).await;
    let below_join = plan
        .lines()
        .find(|line| line.contains("Filter: orders.qty"))
        .unwrap_or_default();
    assert_eq!(
        below_join.matches("qty >= Decimal128(1.00,15,2)").count(),
        1,
        "{plan}"
    );
    assert!(
        below_join.contains("orders.qty <= Decimal128(30.00,15,2)"),
        "{plan}"
    );

    // Ranges apart stay two.
    let apart = "SELECT count(*) AS n FROM orders WHERE qty BETWEEN 1 AND 2 \
                 OR (qty >= 40 AND qty <= 45) OR (qty >= 44 AND qty <= 46)";
    let plan = lake.same_rows_as_datafusion(apart).await;
    assert!(plan.contains(" OR "), "{plan}");

    text(&lake.session, "SET weir.merged_ranges = false").await;
    let plan = lake.same_rows_as_datafusion(q19).await;
    assert!(plan.contains(" OR "), "{plan}");
}
