//! One partition's groups of one integer column: each distinct value's dense index, found
//! by the value's offset in a window of slots where the values are dense.

use std::marker::PhantomData;
use std::mem::size_of;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, PrimitiveArray, PrimitiveBuilder};
use arrow::datatypes::ArrowPrimitiveType;
use datafusion::common::{DataFusionError, HashMap, Result};

use super::GroupIndices;

/// A window of at least this many slots is taken whatever the groups.
const MIN_WINDOW: i128 = 1 << 16;
/// The window spans at most this many slots per group (with the batch's rows counted as
/// groups): values sparser than that are looked up in the map instead.
const SLOTS_PER_GROUP: i128 = 8;
/// The most slots a window has (64 MiB of them).
const MAX_WINDOW: i128 = 1 << 24;
/// One more than the most groups there may be (indices fit in 32 bits).
const MAX_GROUPS: usize = u32::MAX as usize;
/// What a group costs besides its slot: its value and the map entry it may have.
const PER_GROUP_BYTES: usize = 24;

/// The groups of one integer column (`T`: `Int32` or `Int64`) within one partition: each
/// distinct value (and null) gets the next index, `0..len()`, in the order they are
/// first seen.
///
/// A value inside the window `base..base + slots.len()` finds its index in its slot, one
/// array read where the values are dense (keys written in order, as TPC-H's order keys in
/// lineitem, or a small span as a dimension's keys); the window grows to cover a batch's
/// values while it keeps at most [`SLOTS_PER_GROUP`] slots per group, and values outside
/// it are looked up in a hash map.
///
/// Invariant: a value has its index in its slot or in `others`, never both.
pub struct IntegerGroups<T: ArrowPrimitiveType> {
    /// The groups' values by index; `None` is the null group.
    values: Vec<Option<i64>>,
    /// The index + 1 of the value `base + i` at `slots[i]`, 0 when it has none.
    slots: Vec<u32>,
    base: i64,
    /// The index of each value outside the window.
    others: HashMap<i64, u32>,
    null_group: Option<u32>,
    kind: PhantomData<fn() -> T>,
}

impl<T: ArrowPrimitiveType> Default for IntegerGroups<T> {
    fn default() -> Self {
        Self {
            values: Vec::new(),
            slots: Vec::new(),
            base: 0,
            others: HashMap::default(),
            null_group: None,
            kind: PhantomData,
        }
    }
}

impl<T> IntegerGroups<T>
where
    T: ArrowPrimitiveType,
    T::Native: Into<i64> + TryFrom<i64>,
{
    /// The window covering `low..=high` too, grown by at least its length (so that keys
    /// arriving in order copy it a logarithmic number of times), when it would keep at
    /// most [`SLOTS_PER_GROUP`] slots per group for `rows` more rows.
    fn widen(&mut self, low: i64, high: i64, rows: usize) {
        let (old_low, old_high) = if self.slots.is_empty() {
            (i128::from(low), i128::from(low) - 1)
        } else {
            let base = i128::from(self.base);
            (base, base + self.slots.len() as i128 - 1)
        };
        if i128::from(low) >= old_low && i128::from(high) <= old_high {
            return;
        }
        let allowed =
            (SLOTS_PER_GROUP * (self.values.len() + rows) as i128).clamp(MIN_WINDOW, MAX_WINDOW);
        let needed_low = old_low.min(i128::from(low));
        let needed_high = old_high.max(i128::from(high));
        let needed = needed_high - needed_low + 1;
        if needed > allowed {
            return;
        }
        let grown = needed.max(2 * self.slots.len() as i128).min(allowed);
        let extra = grown - needed;
        // The extra slots go where the window grew: above for values above it.
        let (new_low, new_high) = if i128::from(high) > old_high {
            (needed_low, needed_high + extra)
        } else {
            (needed_low - extra, needed_high)
        };
        let (Ok(new_base), Ok(_)) = (i64::try_from(new_low), i64::try_from(new_high)) else {
            return;
        };
        // Written, not zeroed on allocation: a page of lazily zeroed memory is first read
        // (as the shared zero page) and then written, which remaps it on every core.
        let mut slots: Vec<u32> = std::iter::repeat_n(0, grown as usize).collect();
        if !self.slots.is_empty() {
            let at = (old_low - new_low) as usize;
            slots[at..at + self.slots.len()].copy_from_slice(&self.slots);
        }
        self.slots = slots;
        self.base = new_base;
        // Values of the map now inside the window move to their slots.
        let base = self.base;
        let slots = &mut self.slots;
        self.others.retain(|&value, &mut group| {
            match usize::try_from(i128::from(value) - i128::from(base)) {
                Ok(offset) if offset < slots.len() => {
                    slots[offset] = group + 1;
                    false
                }
                _ => true,
            }
        });
    }

    #[inline]
    fn index_of(&mut self, value: i64) -> Result<usize> {
        let offset = value.wrapping_sub(self.base) as u64 as usize;
        if let Some(slot) = self.slots.get(offset) {
            // `wrapping_sub` maps exactly the window's values into `0..slots.len()`, as
            // the window lies within `i64`.
            if *slot != 0 {
                return Ok(*slot as usize - 1);
            }
            let group = self.push(Some(value))?;
            self.slots[offset] = group + 1;
            return Ok(group as usize);
        }
        if let Some(group) = self.others.get(&value) {
            return Ok(*group as usize);
        }
        let group = self.push(Some(value))?;
        self.others.insert(value, group);
        Ok(group as usize)
    }

    fn push(&mut self, value: Option<i64>) -> Result<u32> {
        let group = self.values.len();
        if group + 1 >= MAX_GROUPS {
            return Err(DataFusionError::ResourcesExhausted(format!(
                "grouping by one integer column: over {MAX_GROUPS} groups in one partition"
            )));
        }
        self.values.push(value);
        Ok(group as u32)
    }
}

impl<T> GroupIndices for IntegerGroups<T>
where
    T: ArrowPrimitiveType,
    T::Native: Into<i64> + TryFrom<i64>,
{
    fn len(&self) -> usize {
        self.values.len()
    }

    fn size(&self) -> usize {
        self.slots.len() * size_of::<u32>() + self.values.len() * PER_GROUP_BYTES
    }

    fn intern(&mut self, column: &ArrayRef, indices: &mut Vec<usize>) -> Result<()> {
        let values: &PrimitiveArray<T> = column.as_primitive_opt().ok_or_else(|| {
            DataFusionError::Internal(format!(
                "IntegerGroups<{}> given a {} column",
                T::DATA_TYPE,
                column.data_type()
            ))
        })?;
        let bounds = (arrow::compute::min(values), arrow::compute::max(values));
        if let (Some(low), Some(high)) = bounds {
            self.widen(low.into(), high.into(), values.len() - values.null_count());
        }
        indices.clear();
        indices.reserve(values.len());
        if values.null_count() == 0 {
            for value in values.values().iter() {
                let group = self.index_of((*value).into())?;
                indices.push(group);
            }
            return Ok(());
        }
        for value in values.iter() {
            let group = match value {
                Some(value) => self.index_of(value.into())?,
                None => match self.null_group {
                    Some(group) => group as usize,
                    None => {
                        let group = self.push(None)?;
                        self.null_group = Some(group);
                        group as usize
                    }
                },
            };
            indices.push(group);
        }
        Ok(())
    }

    fn emit(&mut self) -> Result<ArrayRef> {
        let mut column = PrimitiveBuilder::<T>::with_capacity(self.values.len());
        for value in self.values.drain(..) {
            match value {
                Some(value) => {
                    let native = T::Native::try_from(value).map_err(|_| {
                        DataFusionError::Internal(format!(
                            "group value {value} does not fit {}",
                            T::DATA_TYPE
                        ))
                    })?;
                    column.append_value(native);
                }
                None => column.append_null(),
            }
        }
        self.slots = Vec::new();
        self.others.clear();
        self.null_group = None;
        Ok(Arc::new(column.finish()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::Int64Array;
    use arrow::datatypes::{Int32Type, Int64Type};

    fn indices_of<T>(groups: &mut IntegerGroups<T>, column: ArrayRef) -> Vec<usize>
    where
        T: ArrowPrimitiveType,
        T::Native: Into<i64> + TryFrom<i64>,
    {
        let mut indices = Vec::new();
        groups.intern(&column, &mut indices).unwrap();
        indices
    }

    #[test]
    fn equal_values_share_an_index_in_and_out_of_the_window() {
        let mut groups = IntegerGroups::<Int64Type>::default();
        let first: ArrayRef = Arc::new(Int64Array::from(vec![Some(5), None, Some(7), Some(5)]));
        assert_eq!(indices_of(&mut groups, first), [0, 1, 2, 0]);
        // Far outside any window this few groups may take, at both ends of i64.
        let far: ArrayRef = Arc::new(Int64Array::from(vec![
            Some(i64::MAX),
            Some(7),
            None,
            Some(i64::MIN),
            Some(i64::MAX),
        ]));
        assert_eq!(indices_of(&mut groups, far), [3, 2, 1, 4, 3]);
        // Below the window, near enough to widen it downwards.
        let below: ArrayRef = Arc::new(Int64Array::from(vec![-100, 5, -100]));
        assert_eq!(indices_of(&mut groups, below), [5, 0, 5]);
        assert_eq!(groups.len(), 6);
        let emitted = groups.emit().unwrap();
        assert_eq!(
            emitted.as_primitive::<Int64Type>(),
            &Int64Array::from(vec![
                Some(5),
                None,
                Some(7),
                Some(i64::MAX),
                Some(i64::MIN),
                Some(-100)
            ])
        );
        assert_eq!(groups.len(), 0);
        let again: ArrayRef = Arc::new(Int64Array::from(vec![7, 5]));
        assert_eq!(indices_of(&mut groups, again), [0, 1]);
    }

    #[test]
    fn keys_in_order_stay_in_a_growing_window() {
        let mut groups = IntegerGroups::<Int32Type>::default();
        // Batches of ascending keys, every fourth value used, as TPC-H's order keys.
        for batch in 0..64 {
            let keys: Vec<i32> = (0..8192).map(|i| (batch * 8192 + i) * 4 + 1).collect();
            let column: ArrayRef = Arc::new(arrow::array::Int32Array::from(keys));
            let indices = indices_of(&mut groups, column);
            assert_eq!(indices[0], batch as usize * 8192);
            assert_eq!(indices[8191], batch as usize * 8192 + 8191);
        }
        assert!(groups.others.is_empty());
        assert_eq!(groups.len(), 64 * 8192);
    }

    #[test]
    fn sparse_values_use_the_map_and_move_into_a_wider_window() {
        let mut groups = IntegerGroups::<Int64Type>::default();
        let sparse: ArrayRef = Arc::new(Int64Array::from(vec![0, 1_000_000, 2_000_000]));
        assert_eq!(indices_of(&mut groups, sparse), [0, 1, 2]);
        assert!(!groups.others.is_empty());
        // Many groups later, the window may cover the values the map held.
        let dense: ArrayRef = Arc::new(Int64Array::from_iter_values(0..400_000));
        let indices = indices_of(&mut groups, dense);
        assert_eq!(indices[0], 0);
        assert_eq!(indices[1], 3);
        let again: ArrayRef = Arc::new(Int64Array::from(vec![1_000_000, 2_000_000, 399_999]));
        assert_eq!(indices_of(&mut groups, again), [1, 2, 400_001]);
    }
}
