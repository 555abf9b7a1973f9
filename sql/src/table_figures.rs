//! How many rows a lake table version holds and how many values its integer columns can
//! take, read from the file statistics of its Delta log: what the join order
//! ([`crate::join_order`]) estimates from.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, OnceLock};

use deltalake::table::state::DeltaTableState;
use serde_json::Value;

/// A table version's figures, worked out from its files' statistics the first time they
/// are asked for (most statements never ask), then kept with the version.
#[derive(Clone)]
pub struct TableFigures {
    snapshot: DeltaTableState,
    figures: Arc<OnceLock<Option<Figures>>>,
}

/// The figures of one table version.
#[derive(Debug, Clone, PartialEq)]
pub struct Figures {
    /// Rows in all its files (before deletion vectors).
    pub rows: u64,
    /// For each integer or date column (dates as days since 1970-01-01) with statistics in
    /// every file: its smallest and largest value. `max - min + 1` bounds its distinct
    /// values.
    pub bounds: HashMap<String, (i64, i64)>,
}

impl TableFigures {
    /// The figures of `snapshot`'s version, not yet worked out.
    pub fn new(snapshot: DeltaTableState) -> Self {
        Self {
            snapshot,
            figures: Arc::new(OnceLock::new()),
        }
    }

    /// The version's figures; `None` when a file has no row count in its statistics.
    pub fn get(&self) -> Option<&Figures> {
        self.figures
            .get_or_init(|| {
                let files = self.snapshot.log_data();
                figures(files.iter().map(|file| file.stats()))
            })
            .as_ref()
    }
}

impl fmt::Debug for TableFigures {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TableFigures")
            .field("version", &self.snapshot.version())
            .field("figures", &self.figures.get())
            .finish()
    }
}

/// The figures of the files whose Delta statistics (JSON) `stats` gives; `None` when one
/// has no row count.
fn figures(stats: impl Iterator<Item = Option<String>>) -> Option<Figures> {
    let mut rows = 0u64;
    let mut bounds: Option<HashMap<String, (i64, i64)>> = None;
    for file in stats {
        let file: Value = serde_json::from_str(&file?).ok()?;
        let file_rows = file.get("numRecords")?.as_u64()?;
        rows += file_rows;
        if file_rows == 0 {
            continue;
        }
        let file_bounds = integer_bounds(&file);
        bounds = Some(match bounds {
            None => file_bounds,
            Some(mut kept) => {
                kept.retain(|column, (low, high)| match file_bounds.get(column) {
                    Some((file_low, file_high)) => {
                        *low = (*low).min(*file_low);
                        *high = (*high).max(*file_high);
                        true
                    }
                    None => false,
                });
                kept
            }
        });
    }
    Some(Figures {
        rows,
        bounds: bounds.unwrap_or_default(),
    })
}

/// The smallest and largest value of each top-level integer or date column in one file's
/// statistics.
fn integer_bounds(file: &Value) -> HashMap<String, (i64, i64)> {
    let (Some(Value::Object(min)), Some(Value::Object(max))) =
        (file.get("minValues"), file.get("maxValues"))
    else {
        return HashMap::new();
    };
    min.iter()
        .filter_map(|(column, low)| {
            let high = max.get(column)?;
            Some((column.clone(), (as_integer(low)?, as_integer(high)?)))
        })
        .collect()
}

/// A statistic as an integer: integers as they are, dates (`YYYY-MM-DD`) as days since
/// 1970-01-01.
fn as_integer(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => n.as_i64(),
        Value::String(s) if s.len() == 10 => {
            let date = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()?;
            Some(
                date.signed_duration_since(chrono::NaiveDate::default())
                    .num_days(),
            )
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_cover_every_file_and_rows_add_up() {
        let files = [
            r#"{"numRecords":3,"minValues":{"k":1,"d":"2024-01-01","s":"a"},"maxValues":{"k":5,"d":"2024-01-03","s":"c"}}"#,
            r#"{"numRecords":2,"minValues":{"k":-2,"d":"2024-01-02"},"maxValues":{"k":4,"d":"2024-01-10"}}"#,
        ];
        let figures = figures(files.iter().map(|f| Some(f.to_string()))).unwrap();
        assert_eq!(figures.rows, 5);
        assert_eq!(
            figures.bounds,
            HashMap::from([
                ("k".to_string(), (-2, 5)),
                ("d".to_string(), (19723, 19732))
            ])
        );
    }

    #[test]
    fn a_file_without_a_row_count_leaves_no_figures() {
        let files = [Some(r#"{"numRecords":3}"#.to_string()), None];
        assert_eq!(figures(files.into_iter()), None);
    }
}
