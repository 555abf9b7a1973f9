//! Key hashing and key groups.
//!
//! A key (the values of the key columns of one row) hashes to one of `max_parallelism` key
//! groups; a key group belongs to exactly one subtask. The hash is our own, portable and
//! stable across machines and releases, because checkpointed state is stored by key group:
//! a key must land in the same key group after a restore on another machine.

use arrow::array::{Array, ArrayRef, AsArray};
use arrow::datatypes::*;
use xxhash_rust::xxh3::xxh3_64;

use crate::error::{EngineError, Result};

/// Default number of key groups, the upper bound of a keyed operator's parallelism.
pub const DEFAULT_MAX_PARALLELISM: usize = 128;

const NULL_HASH: u64 = 0x9e37_79b9_7f4a_7c15;

/// splitmix64 finaliser: a fast, well-distributed, portable 64-bit mix.
#[inline]
pub fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[inline]
fn combine(acc: u64, h: u64) -> u64 {
    mix64(acc.rotate_left(23) ^ h)
}

/// Whether a column of this type can be a key column.
pub fn is_hashable(data_type: &DataType) -> bool {
    matches!(
        data_type,
        DataType::Boolean
            | DataType::Int8
            | DataType::Int16
            | DataType::Int32
            | DataType::Int64
            | DataType::UInt8
            | DataType::UInt16
            | DataType::UInt32
            | DataType::UInt64
            | DataType::Float32
            | DataType::Float64
            | DataType::Date32
            | DataType::Date64
            | DataType::Timestamp(_, _)
            | DataType::Utf8
            | DataType::LargeUtf8
            | DataType::Utf8View
            | DataType::Binary
            | DataType::LargeBinary
    )
}

macro_rules! hash_primitive {
    ($column:expr, $t:ty, $hashes:expr, $first:expr, $to_u64:expr) => {{
        let array = $column.as_primitive::<$t>();
        let to_u64 = $to_u64;
        for (i, h) in $hashes.iter_mut().enumerate() {
            let v = if array.is_null(i) {
                NULL_HASH
            } else {
                mix64(to_u64(array.value(i)))
            };
            *h = if $first { v } else { combine(*h, v) };
        }
    }};
}

macro_rules! hash_bytes {
    ($array:expr, $hashes:expr, $first:expr) => {{
        let array = $array;
        for (i, h) in $hashes.iter_mut().enumerate() {
            let v = if array.is_null(i) {
                NULL_HASH
            } else {
                xxh3_64(AsRef::<[u8]>::as_ref(array.value(i)))
            };
            *h = if $first { v } else { combine(*h, v) };
        }
    }};
}

/// Hashes the key columns of every row into `hashes` (resized to the number of rows).
pub fn hash_columns(columns: &[ArrayRef], hashes: &mut Vec<u64>) -> Result<()> {
    let rows = columns.first().map(|c| c.len()).unwrap_or(0);
    hashes.clear();
    hashes.resize(rows, 0);
    for (n, column) in columns.iter().enumerate() {
        let first = n == 0;
        match column.data_type() {
            DataType::Boolean => {
                let array = column.as_boolean();
                for (i, h) in hashes.iter_mut().enumerate() {
                    let v = if array.is_null(i) {
                        NULL_HASH
                    } else {
                        mix64(array.value(i) as u64 + 1)
                    };
                    *h = if first { v } else { combine(*h, v) };
                }
            }
            DataType::Int8 => hash_primitive!(column, Int8Type, hashes, first, |v: i8| v as u64),
            DataType::Int16 => hash_primitive!(column, Int16Type, hashes, first, |v: i16| v as u64),
            DataType::Int32 => hash_primitive!(column, Int32Type, hashes, first, |v: i32| v as u64),
            DataType::Int64 => hash_primitive!(column, Int64Type, hashes, first, |v: i64| v as u64),
            DataType::UInt8 => hash_primitive!(column, UInt8Type, hashes, first, |v: u8| v as u64),
            DataType::UInt16 => {
                hash_primitive!(column, UInt16Type, hashes, first, |v: u16| v as u64)
            }
            DataType::UInt32 => {
                hash_primitive!(column, UInt32Type, hashes, first, |v: u32| v as u64)
            }
            DataType::UInt64 => hash_primitive!(column, UInt64Type, hashes, first, |v: u64| v),
            DataType::Float32 => {
                hash_primitive!(column, Float32Type, hashes, first, |v: f32| v.to_bits()
                    as u64)
            }
            DataType::Float64 => {
                hash_primitive!(column, Float64Type, hashes, first, |v: f64| v.to_bits())
            }
            DataType::Date32 => {
                hash_primitive!(column, Date32Type, hashes, first, |v: i32| v as u64)
            }
            DataType::Date64 => {
                hash_primitive!(column, Date64Type, hashes, first, |v: i64| v as u64)
            }
            DataType::Timestamp(unit, _) => match unit {
                TimeUnit::Second => {
                    hash_primitive!(column, TimestampSecondType, hashes, first, |v: i64| v
                        as u64)
                }
                TimeUnit::Millisecond => {
                    hash_primitive!(column, TimestampMillisecondType, hashes, first, |v: i64| v
                        as u64)
                }
                TimeUnit::Microsecond => {
                    hash_primitive!(column, TimestampMicrosecondType, hashes, first, |v: i64| v
                        as u64)
                }
                TimeUnit::Nanosecond => {
                    hash_primitive!(column, TimestampNanosecondType, hashes, first, |v: i64| v
                        as u64)
                }
            },
            DataType::Utf8 => hash_bytes!(column.as_string::<i32>(), hashes, first),
            DataType::LargeUtf8 => hash_bytes!(column.as_string::<i64>(), hashes, first),
            DataType::Utf8View => hash_bytes!(column.as_string_view(), hashes, first),
            DataType::Binary => hash_bytes!(column.as_binary::<i32>(), hashes, first),
            DataType::LargeBinary => hash_bytes!(column.as_binary::<i64>(), hashes, first),
            other => {
                return Err(EngineError::Graph(format!(
                    "cannot hash a key column of type {other}"
                )))
            }
        }
    }
    Ok(())
}

/// The key group of a key hash, in `0..max_parallelism`.
#[inline]
pub fn key_group(hash: u64, max_parallelism: usize) -> usize {
    (mix64(hash) % max_parallelism as u64) as usize
}

/// The subtask owning `key_group` when an operator runs with `parallelism` subtasks.
///
/// Key groups are split into contiguous ranges, so changing the parallelism moves whole
/// ranges between subtasks.
#[inline]
pub fn subtask_for_key_group(
    key_group: usize,
    max_parallelism: usize,
    parallelism: usize,
) -> usize {
    key_group * parallelism / max_parallelism
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Int64Array, StringArray};
    use std::sync::Arc;

    #[test]
    fn hashes_are_stable_across_releases() {
        let ints: ArrayRef = Arc::new(Int64Array::from(vec![Some(1), None, Some(42)]));
        let strs: ArrayRef = Arc::new(StringArray::from(vec![Some("a"), Some("b"), None]));
        let mut hashes = Vec::new();
        hash_columns(std::slice::from_ref(&ints), &mut hashes).unwrap();
        assert_eq!(hashes, vec![mix64(1), NULL_HASH, mix64(42)]);
        hash_columns(&[ints, strs], &mut hashes).unwrap();
        assert_eq!(hashes[2], combine(mix64(42), NULL_HASH));
        assert_eq!(hashes[0], combine(mix64(1), xxh3_64(b"a")));
        // Pinned values: changing them breaks restoring checkpoints written before.
        assert_eq!(key_group(mix64(1), 128), 125);
        assert_eq!(key_group(xxh3_64(b"apple"), 128), 110);
    }

    #[test]
    fn key_groups_split_into_contiguous_ranges() {
        let owners: Vec<usize> = (0..8).map(|kg| subtask_for_key_group(kg, 8, 3)).collect();
        assert_eq!(owners, vec![0, 0, 0, 1, 1, 1, 2, 2]);
    }
}
