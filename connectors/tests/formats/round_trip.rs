//! Property: any rows encoded as JSON or CSV decode back to the same rows.

use std::sync::Arc;

use arrow::array::{BooleanArray, Float64Array, Int64Array, StringArray};
use arrow::record_batch::RecordBatch;
use proptest::prelude::*;

use crate::support::{decode, format};

type Row = (Option<String>, i64, Option<f64>, Option<bool>);

const COLUMNS: &str = "columns: [{name: s, type: string}, {name: n, type: int64, nullable: false}, {name: x, type: float64}, {name: b, type: boolean}]";

fn batch(rows: &[Row]) -> RecordBatch {
    let format = format(&format!("type: json\n{COLUMNS}"));
    RecordBatch::try_new(
        format.schema().unwrap(),
        vec![
            Arc::new(rows.iter().map(|r| r.0.clone()).collect::<StringArray>()),
            Arc::new(rows.iter().map(|r| r.1).collect::<Int64Array>()),
            Arc::new(rows.iter().map(|r| r.2).collect::<Float64Array>()),
            Arc::new(rows.iter().map(|r| r.3).collect::<BooleanArray>()),
        ],
    )
    .unwrap()
}

fn row() -> impl Strategy<Value = Row> {
    (
        proptest::option::of(any::<String>()),
        any::<i64>(),
        proptest::option::of(prop_oneof![
            any::<f64>().prop_filter("finite", |x| x.is_finite()),
            -1e3..1e3f64
        ]),
        proptest::option::of(any::<bool>()),
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn rows_survive_encoding(rows in proptest::collection::vec(row(), 0..20), csv in any::<bool>()) {
        let yaml = if csv {
            format!("type: csv\ndelimiter: ';'\n{COLUMNS}")
        } else {
            format!("type: json\n{COLUMNS}")
        };
        let format = format(&yaml);
        let original = batch(&rows);
        let records = format.encoder().unwrap().encode(&original).unwrap();
        prop_assert_eq!(records.len(), rows.len());
        let records: Vec<&[u8]> = records.iter().map(Vec::as_slice).collect();
        let run = decode(&format, usize::MAX, &records);
        prop_assert_eq!(run.dead, vec![]);
        prop_assert_eq!(run.batch, original);
    }
}
