//! The clustered layout of a group's rows: sort-tile-recursive tiling on the clustering
//! columns. With `k` files over `d` columns, the rows are sorted on the first column and
//! cut into `ceil(k^(1/d))` slabs of equal rows; each slab is sorted on the next column
//! and cut the same way with its share of the files, down to the last column, whose
//! runs are the files. Every file then covers a compact box of the key space, about
//! `k^(-1/d)` of each column's range, so a point predicate on any one column skips
//! close to `1 - k^(-1/d)` of the files: the bound for `k` boxes over `d` uniform
//! columns (a Z-order key cut by size reaches less; see `BENCHMARKS.md`).

use arrow::array::{ArrayRef, UInt32Array};
use arrow::compute::{sort_to_indices, take, SortOptions};
use arrow::error::ArrowError;

/// The rows of each file, as indices into `columns` (the clustering columns of one
/// group, equally long): `files` tiles (fewer only when there are fewer rows), covering
/// every row exactly once, each sorted on the last column.
pub fn tiles(columns: &[ArrayRef], files: usize) -> Result<Vec<UInt32Array>, ArrowError> {
    let rows = columns.first().map_or(0, |c| c.len());
    let files = files.clamp(1, rows.max(1));
    let all = UInt32Array::from_iter_values(0..rows as u32);
    let mut out = Vec::with_capacity(files);
    tile(columns, all, 0, files, &mut out)?;
    Ok(out)
}

/// Tiles `rows` into `files` tiles on `columns[dim..]`, appending them to `out`.
fn tile(
    columns: &[ArrayRef],
    rows: UInt32Array,
    dim: usize,
    files: usize,
    out: &mut Vec<UInt32Array>,
) -> Result<(), ArrowError> {
    let sorted = sorted_on(&columns[dim], &rows)?;
    let left = columns.len() - dim;
    let slabs = if left == 1 {
        files
    } else {
        ((files as f64).powf(1.0 / left as f64).ceil() as usize).clamp(1, files)
    };
    let n = sorted.len();
    for i in 0..slabs {
        let (start, end) = (i * n / slabs, (i + 1) * n / slabs);
        let share = (i + 1) * files / slabs - i * files / slabs;
        let run = sorted.slice(start, end - start);
        if left == 1 || share == 1 {
            out.push(if left == 1 {
                run
            } else {
                sorted_on(&columns[columns.len() - 1], &run)?
            });
        } else {
            tile(columns, run, dim + 1, share, out)?;
        }
    }
    Ok(())
}

/// `rows` ordered by their values in `column` (nulls first, ties in row order).
fn sorted_on(column: &ArrayRef, rows: &UInt32Array) -> Result<UInt32Array, ArrowError> {
    let values = take(column.as_ref(), rows, None)?;
    let options = SortOptions {
        descending: false,
        nulls_first: true,
    };
    let order = sort_to_indices(&values, Some(options), None)?;
    let sorted = take(rows, &order, None)?;
    Ok(sorted
        .as_any()
        .downcast_ref::<UInt32Array>()
        .expect("take of a UInt32Array is a UInt32Array")
        .clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    use arrow::array::Int64Array;

    /// A 10 x 10 grid of (a, b) in row order a-major.
    fn grid() -> Vec<ArrayRef> {
        let a: Int64Array = (0..100).map(|i| i / 10).collect();
        let b: Int64Array = (0..100).map(|i| i % 10).collect();
        vec![Arc::new(a), Arc::new(b)]
    }

    fn boxes(columns: &[ArrayRef], tiles: &[UInt32Array]) -> Vec<[(i64, i64); 2]> {
        tiles
            .iter()
            .map(|t| {
                let range = |c: &ArrayRef| {
                    let c = c.as_any().downcast_ref::<Int64Array>().unwrap();
                    let v: Vec<i64> = t.values().iter().map(|&i| c.value(i as usize)).collect();
                    (*v.iter().min().unwrap(), *v.iter().max().unwrap())
                };
                [range(&columns[0]), range(&columns[1])]
            })
            .collect()
    }

    #[test]
    fn four_files_over_two_columns_are_the_four_quadrants() {
        let columns = grid();
        let tiles = tiles(&columns, 4).unwrap();
        assert_eq!(
            boxes(&columns, &tiles),
            [
                [(0, 4), (0, 4)],
                [(0, 4), (5, 9)],
                [(5, 9), (0, 4)],
                [(5, 9), (5, 9)]
            ]
        );
        let mut all: Vec<u32> = tiles.iter().flat_map(|t| t.values().to_vec()).collect();
        all.sort();
        assert_eq!(all, (0..100).collect::<Vec<u32>>());
    }

    #[test]
    fn files_that_do_not_make_a_square_are_shared_between_slabs() {
        let columns = grid();
        let tiles = tiles(&columns, 5).unwrap();
        // ceil(sqrt(5)) = 3 slabs on a, with 1, 2 and 2 files.
        let sizes: Vec<usize> = tiles.iter().map(|t| t.len()).collect();
        assert_eq!(sizes, [33, 16, 17, 17, 17]);
        assert_eq!(sizes.iter().sum::<usize>(), 100);
    }

    #[test]
    fn one_column_is_a_sort_cut_in_equal_runs() {
        let a: Int64Array = (0..10).rev().collect();
        let columns: Vec<ArrayRef> = vec![Arc::new(a)];
        let tiles = tiles(&columns, 3).unwrap();
        let rows: Vec<Vec<u32>> = tiles.iter().map(|t| t.values().to_vec()).collect();
        assert_eq!(rows, [vec![9, 8, 7], vec![6, 5, 4], vec![3, 2, 1, 0]]);
    }

    #[test]
    fn more_files_than_rows_gives_one_row_each() {
        let a: Int64Array = vec![3, 1].into();
        let columns: Vec<ArrayRef> = vec![Arc::new(a)];
        assert_eq!(tiles(&columns, 8).unwrap().len(), 2);
        let empty: Vec<ArrayRef> = vec![Arc::new(Int64Array::from(Vec::<i64>::new()))];
        assert_eq!(tiles(&empty, 8).unwrap().len(), 1);
    }
}
