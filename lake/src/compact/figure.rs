//! The clustering figure of a compaction: for each clustering column, the expected
//! fraction of the new files a point predicate on that column skips by the files'
//! min/max statistics. Point values are drawn from the rows themselves (evenly spaced
//! rows), so each predicate matches at least one file; the bound for `k` files over `d`
//! uniform columns is `1 - k^(-1/d)`.

use arrow::array::{ArrayRef, UInt32Array};
use arrow::compute::take;
use datafusion::common::ScalarValue;
use datafusion::functions_aggregate::min_max::{MaxAccumulator, MinAccumulator};
use datafusion::logical_expr::Accumulator;

use crate::error::{LakeError, Result};

/// Point values drawn per column and group.
const SAMPLES: usize = 1_000;

/// Files skipped and files judged, per column, summed over groups.
#[derive(Debug, Clone)]
pub struct Skipping {
    /// Per clustering column: (files skipped, files judged) over every sampled value.
    counts: Vec<(u64, u64)>,
}

impl Skipping {
    /// An empty tally for `columns` clustering columns.
    pub fn new(columns: usize) -> Self {
        Self {
            counts: vec![(0, 0); columns],
        }
    }

    /// Adds one group: its clustering `columns` and the rows of each new file. Groups
    /// are judged apart (a predicate is assumed to hit the group's partition), and
    /// weigh by their files.
    pub fn add(&mut self, columns: &[ArrayRef], tiles: &[UInt32Array]) -> Result<()> {
        let rows = columns.first().map_or(0, |c| c.len());
        if rows == 0 || tiles.is_empty() {
            return Ok(());
        }
        for (column, counts) in columns.iter().zip(&mut self.counts) {
            let ranges = tiles
                .iter()
                .map(|tile| range(column, tile))
                .collect::<Result<Vec<_>>>()?;
            let samples = SAMPLES.min(rows);
            for s in 0..samples {
                let value =
                    ScalarValue::try_from_array(column, s * rows / samples).map_err(|e| {
                        LakeError::Invalid(format!("sampling a clustering column: {e}"))
                    })?;
                let skipped = ranges
                    .iter()
                    .filter(|(min, max)| excludes(min, max, &value))
                    .count();
                // Every sample weighs by its group's files, so groups count by size.
                counts.0 += skipped as u64;
                counts.1 += ranges.len() as u64;
            }
        }
        Ok(())
    }

    /// The expected fraction of files skipped, per column (0 when nothing was judged).
    pub fn fractions(&self) -> Vec<f64> {
        self.counts
            .iter()
            .map(|&(skipped, judged)| {
                if judged == 0 {
                    0.0
                } else {
                    skipped as f64 / judged as f64
                }
            })
            .collect()
    }
}

/// Whether a file whose column spans `[min, max]` holds no `value` (a null value is
/// never skipped: `IS NULL` is not a point predicate the statistics answer here).
fn excludes(min: &ScalarValue, max: &ScalarValue, value: &ScalarValue) -> bool {
    if value.is_null() || min.is_null() || max.is_null() {
        return false;
    }
    matches!(value.partial_cmp(min), Some(std::cmp::Ordering::Less))
        || matches!(value.partial_cmp(max), Some(std::cmp::Ordering::Greater))
}

/// The smallest and largest value of `column` at the rows of `tile`.
fn range(column: &ArrayRef, tile: &UInt32Array) -> Result<(ScalarValue, ScalarValue)> {
    let failed = |e: &dyn std::fmt::Display| {
        LakeError::Invalid(format!("the range of a clustering column: {e}"))
    };
    let values = take(column.as_ref(), tile, None)?;
    let mut min = MinAccumulator::try_new(column.data_type()).map_err(|e| failed(&e))?;
    let mut max = MaxAccumulator::try_new(column.data_type()).map_err(|e| failed(&e))?;
    min.update_batch(std::slice::from_ref(&values))
        .map_err(|e| failed(&e))?;
    max.update_batch(&[values]).map_err(|e| failed(&e))?;
    Ok((
        min.evaluate().map_err(|e| failed(&e))?,
        max.evaluate().map_err(|e| failed(&e))?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    use arrow::array::Int64Array;

    #[test]
    fn disjoint_files_skip_all_but_the_one_holding_the_value() {
        let a: ArrayRef = Arc::new((0..100).collect::<Int64Array>());
        let tiles: Vec<UInt32Array> = (0..4)
            .map(|t| UInt32Array::from_iter_values(t * 25..(t + 1) * 25))
            .collect();
        let mut skipping = Skipping::new(1);
        skipping.add(&[a], &tiles).unwrap();
        assert_eq!(skipping.fractions(), [0.75]);
    }

    #[test]
    fn interleaved_files_skip_only_at_the_edges() {
        let a: ArrayRef = Arc::new((0..100).collect::<Int64Array>());
        let tiles: Vec<UInt32Array> = (0..4)
            .map(|t| UInt32Array::from_iter_values((0..25).map(|i| i * 4 + t)))
            .collect();
        let mut skipping = Skipping::new(1);
        skipping.add(&[a], &tiles).unwrap();
        // File t spans [t, 96 + t]: only 0-2 and 97-99 miss some files, 12 of 400.
        assert_eq!(skipping.fractions(), [0.03]);
    }
}
