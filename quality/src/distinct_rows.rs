//! `count_distinct_rows(a, b, ...)`: how many distinct value combinations the columns
//! hold (rows with a null in any of them left out). Uniqueness rules on a key of several
//! columns use it: DataFusion's `count(DISTINCT struct(a, b))` keeps each key as a
//! `ScalarValue` and cost a streaming job 89% of its throughput; this keeps the 128-bit
//! XXH3 hash of each key's Arrow row encoding in one hash set (no allocation per key).
//! Two different keys would have to share all 128 bits to be counted once: about one
//! chance in 10^20 for a billion keys. Partial states are the hashes, so parts merge
//! exactly as one pass over all rows would count.
//!
//! `distinct_row_keys(a, b, ...)` is the same aggregate evaluated to the hashes
//! themselves: a streaming uniqueness rule with a horizon compares an epoch's keys with
//! the keys of earlier epochs.

use std::collections::HashSet;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, FixedSizeBinaryArray, ListArray};
use arrow::buffer::OffsetBuffer;
use arrow::datatypes::{DataType, Field, FieldRef};
use arrow::row::{RowConverter, SortField};
use datafusion::common::{Result, ScalarValue};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, Signature, Volatility,
};

/// The counting function's name in SQL.
pub const NAME: &str = "count_distinct_rows";

/// The name in SQL of the function giving the keys' hashes.
pub const KEYS_NAME: &str = "distinct_row_keys";

/// The counting function, to register in a session.
pub fn udaf() -> AggregateUDF {
    AggregateUDF::from(CountDistinctRows {
        signature: Signature::variadic_any(Volatility::Immutable),
        keys: false,
    })
}

/// The function giving the distinct keys' hashes, to register in a session.
pub fn keys_udaf() -> AggregateUDF {
    AggregateUDF::from(CountDistinctRows {
        signature: Signature::variadic_any(Volatility::Immutable),
        keys: true,
    })
}

/// The type of the hashes `distinct_row_keys` returns.
fn keys_type() -> DataType {
    DataType::List(Arc::new(Field::new_list_field(
        DataType::FixedSizeBinary(16),
        true,
    )))
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct CountDistinctRows {
    signature: Signature,
    /// Whether it evaluates to the keys' hashes rather than their number.
    keys: bool,
}

impl AggregateUDFImpl for CountDistinctRows {
    fn name(&self) -> &str {
        if self.keys {
            KEYS_NAME
        } else {
            NAME
        }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(if self.keys {
            keys_type()
        } else {
            DataType::Int64
        })
    }

    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        let fields = args
            .expr_fields
            .iter()
            .map(|f| SortField::new(f.data_type().clone()))
            .collect();
        Ok(Box::new(DistinctRows {
            converter: RowConverter::new(fields)?,
            keys: HashSet::new(),
            evaluate_keys: self.keys,
        }))
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        Ok(vec![Arc::new(Field::new(
            format!("{}[keys]", args.name),
            keys_type(),
            true,
        ))])
    }
}

#[derive(Debug)]
struct DistinctRows {
    converter: RowConverter,
    /// The hash of every key seen.
    keys: HashSet<u128>,
    /// Whether `evaluate` gives the hashes rather than their number.
    evaluate_keys: bool,
}

impl Accumulator for DistinctRows {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let rows = self.converter.convert_columns(values)?;
        for (i, row) in rows.iter().enumerate() {
            if values.iter().all(|column| column.is_valid(i)) {
                self.keys.insert(xxhash_rust::xxh3::xxh3_128(row.as_ref()));
            }
        }
        Ok(())
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        self.keys.extend(key_hashes(&states[0])?);
        Ok(())
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        let keys = FixedSizeBinaryArray::try_from_iter(self.keys.iter().map(|k| k.to_le_bytes()))
            .unwrap_or_else(|_| FixedSizeBinaryArray::new_null(16, 0));
        let list = ListArray::new(
            Arc::new(Field::new_list_field(DataType::FixedSizeBinary(16), true)),
            OffsetBuffer::from_lengths([keys.len()]),
            Arc::new(keys),
            None,
        );
        Ok(vec![ScalarValue::List(Arc::new(list))])
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        if self.evaluate_keys {
            return Ok(self.state()?.remove(0));
        }
        Ok(ScalarValue::Int64(Some(self.keys.len() as i64)))
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self) + self.converter.size() + self.keys.capacity() * 24
    }
}

/// The key hashes in a list of `distinct_row_keys` (or a partial state of either
/// function).
pub fn key_hashes(list: &ArrayRef) -> Result<Vec<u128>> {
    let mut hashes = Vec::new();
    let Some(lists) = list.as_list_opt::<i32>() else {
        return Err(datafusion::error::DataFusionError::Internal(format!(
            "{KEYS_NAME}: keys of type {}",
            list.data_type()
        )));
    };
    for list in lists.iter().flatten() {
        for key in list.as_fixed_size_binary().iter().flatten() {
            let bytes: [u8; 16] = key.try_into().map_err(|_| {
                datafusion::error::DataFusionError::Internal(format!(
                    "{NAME}: a key hash of {} bytes",
                    key.len()
                ))
            })?;
            hashes.push(u128::from_le_bytes(bytes));
        }
    }
    Ok(hashes)
}

#[cfg(test)]
mod tests {
    use arrow::array::{Int64Array, RecordBatch, StringArray};
    use arrow::datatypes::Schema;
    use datafusion::prelude::SessionContext;

    use super::*;

    #[tokio::test]
    async fn counts_each_key_once_and_leaves_out_keys_with_a_null() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("a", DataType::Int64, true),
            Field::new("b", DataType::Utf8, true),
        ]));
        let batch = RecordBatch::try_new(
            schema,
            vec![
                Arc::new(Int64Array::from(vec![
                    Some(1),
                    Some(1),
                    Some(2),
                    None,
                    Some(1),
                    Some(3),
                ])),
                Arc::new(StringArray::from(vec![
                    Some("x"),
                    Some("y"),
                    Some("x"),
                    Some("x"),
                    Some("x"),
                    None,
                ])),
            ],
        )
        .unwrap();
        let ctx = SessionContext::new();
        ctx.register_udaf(udaf());
        // Two partitions, so partial states are merged: (1, x) is in both.
        ctx.register_batch("t", batch.slice(0, 3)).unwrap();
        ctx.register_batch("u", batch.slice(3, 3)).unwrap();
        let counted = ctx
            .sql("SELECT count_distinct_rows(a, b) AS n FROM (SELECT * FROM t UNION ALL SELECT * FROM u)")
            .await
            .unwrap()
            .collect()
            .await
            .unwrap();
        let n = counted[0]
            .column(0)
            .as_primitive::<arrow::datatypes::Int64Type>()
            .value(0);
        assert_eq!(n, 3, "(1, x), (1, y), (2, x)");
    }
}
