//! A decimal average is computed from the sum and count its aggregate has anyway
//! (`weir.averages_from_sums`): the rows are DataFusion's, with and without the rule.

use std::sync::Arc;

use arrow::array::{Decimal128Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};

use crate::session;
use crate::support::lake_fixture::{table, text};

/// Two files of quantities (never null) and prices (null every seventh row) in three
/// groups, as Decimal(15, 2).
async fn orders(path: &std::path::Path) {
    let decimal = DataType::Decimal128(15, 2);
    let schema = Arc::new(Schema::new(vec![
        Field::new("flag", DataType::Utf8, false),
        Field::new("qty", decimal.clone(), false),
        Field::new("price", decimal, true),
    ]));
    let batches: Vec<RecordBatch> = (0..2i128)
        .map(|file| {
            let rows = (file * 5_000)..(file * 5_000 + 5_000);
            let decimals = |values: Vec<Option<i128>>| {
                Arc::new(
                    Decimal128Array::from(values)
                        .with_precision_and_scale(15, 2)
                        .unwrap(),
                )
            };
            RecordBatch::try_new(
                schema.clone(),
                vec![
                    Arc::new(StringArray::from_iter_values(
                        rows.clone().map(|i| ["A", "N", "R"][(i % 3) as usize]),
                    )),
                    decimals(rows.clone().map(|i| Some(100 + (i * 37) % 4_900)).collect()),
                    decimals(
                        rows.map(|i| (i % 7 != 0).then_some(99_999 + (i * 7_919) % 9_000_001))
                            .collect(),
                    ),
                ],
            )
            .unwrap()
        })
        .collect();
    table(path, &schema, &batches).await;
}

/// A lake holding the table `orders` ([`orders`]) and a query session over it.
pub(crate) struct OrdersLake {
    _dir: tempfile::TempDir,
    uri: String,
    pub(crate) session: weir_sql::QuerySession,
}

impl OrdersLake {
    pub(crate) async fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("orders");
        orders(&path).await;
        let uri = path.to_str().unwrap().to_string();
        let session = session(dir.path()).await;
        Self {
            _dir: dir,
            uri,
            session,
        }
    }

    /// Runs `sql` in the session, asserting its rows are DataFusion's over the same
    /// table; returns the session's `EXPLAIN` of it.
    pub(crate) async fn same_rows_as_datafusion(&self, sql: &str) -> String {
        let reference = crate::support::delta::query_text(&[("orders", &self.uri)], sql).await;
        assert!(!reference.contains("error"), "{reference}");
        assert_eq!(text(&self.session, sql).await, reference, "{sql}");
        text(&self.session, &format!("EXPLAIN {sql}")).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn decimal_averages_from_sums_are_datafusions() {
    let lake = OrdersLake::new().await;
    // (query, whether an average is computed from a sum)
    let cases = [
        (
            "SELECT flag, sum(qty) AS sum_qty, sum(price) AS sum_price, avg(qty) AS avg_qty, \
             avg(price) AS avg_price, avg(price * 2) AS avg_double, count(*) AS n \
             FROM orders GROUP BY flag ORDER BY flag",
            true,
        ),
        (
            "SELECT sum(qty), avg(qty), count(price), avg(price), sum(price) FROM orders",
            true,
        ),
        (
            "SELECT sum(qty), avg(qty) FROM orders WHERE flag = 'none'",
            true,
        ),
        // The count shared, the sum added.
        (
            "SELECT flag, avg(qty), count(*) FROM orders GROUP BY flag ORDER BY flag",
            true,
        ),
        // Nothing to share: avg(price) has no sum and no count(price) beside it; DISTINCT.
        (
            "SELECT flag, avg(price), avg(DISTINCT qty), count(*) FROM orders \
             GROUP BY flag ORDER BY flag",
            false,
        ),
    ];
    for (sql, from_sums) in cases {
        let plan = lake.same_rows_as_datafusion(sql).await;
        assert_eq!(
            plan.contains("weir_decimal_avg"),
            from_sums,
            "{sql}\n{plan}"
        );
    }
    text(&lake.session, "SET weir.averages_from_sums = false").await;
    let plan = lake.same_rows_as_datafusion(cases[0].0).await;
    assert!(!plan.contains("weir_decimal_avg"), "{plan}");
}
