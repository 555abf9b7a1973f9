//! A decimal literal added to or subtracted from a decimal column of a larger scale is
//! written at the column's scale (`weir.scaled_decimal_literals`): the rows, their types
//! and their column names are DataFusion's, with and without the rule.

use crate::averages::OrdersLake;
use crate::support::lake_fixture::text;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn decimal_literals_at_the_columns_scale_give_datafusions_rows() {
    let lake = OrdersLake::new().await;
    // (query, the literal as the logical plan shows it)
    let cases = [
        (
            "SELECT flag, sum(price * (1 - qty / 100)) AS disc, sum(qty + 1), sum(1 - price), \
             min(price - 1.5) FROM orders GROUP BY flag ORDER BY flag",
            "Decimal128(1.000000,26,6) - orders.qty / Decimal128(100,20,0)",
        ),
        (
            "SELECT 1 - price, price + 2 AS plus, arrow_typeof(1 - price) AS t FROM orders \
             ORDER BY 1 NULLS FIRST, plus LIMIT 4",
            "orders.price + Decimal128(2.00,22,2)",
        ),
        (
            "SELECT count(*) FROM orders WHERE 100 - qty > 51",
            "Decimal128(100.00,22,2) - orders.qty",
        ),
        // A product's scale is the sum of its sides': left alone.
        (
            "SELECT sum(2 * qty) FROM orders",
            "Decimal128(2,20,0) * orders.qty",
        ),
    ];
    for (sql, literal) in cases {
        let plan = lake.same_rows_as_datafusion(sql).await;
        assert!(plan.contains(literal), "{sql}\n{plan}");
    }
    text(&lake.session, "SET weir.scaled_decimal_literals = false").await;
    let plan = lake.same_rows_as_datafusion(cases[0].0).await;
    assert!(plan.contains("(Decimal128(1,20,0) - orders.qty"), "{plan}");
}
