//! Reading event time out of a timestamp column as milliseconds since the epoch.

use std::borrow::Cow;

use arrow::array::{Array, ArrayRef, AsArray};
use arrow::compute::cast;
use arrow::datatypes::{DataType, TimeUnit, TimestampMillisecondType};

use crate::error::{EngineError, Result};

/// Checks that `data_type` can serve as event time (any timestamp unit).
pub fn check_event_time_type(node: &str, column: &str, data_type: &DataType) -> Result<()> {
    match data_type {
        DataType::Timestamp(_, _) => Ok(()),
        other => Err(EngineError::config(
            node,
            format!("event time column '{column}' must be a timestamp, but it is {other}"),
        )),
    }
}

/// The event time of every row in milliseconds since the Unix epoch, and whether any is null.
///
/// Millisecond columns are borrowed without copying; other units are converted (sub-millisecond
/// precision is truncated, which is the granularity of watermarks and windows).
pub fn event_times_ms(column: &ArrayRef) -> Result<(Cow<'_, [i64]>, bool)> {
    let has_nulls = column.null_count() > 0;
    if let DataType::Timestamp(TimeUnit::Millisecond, _) = column.data_type() {
        let values = column.as_primitive::<TimestampMillisecondType>().values();
        return Ok((Cow::Borrowed(values.as_ref()), has_nulls));
    }
    let tz = match column.data_type() {
        DataType::Timestamp(_, tz) => tz.clone(),
        _ => None,
    };
    let converted = cast(column, &DataType::Timestamp(TimeUnit::Millisecond, tz))?;
    let values = converted
        .as_primitive::<TimestampMillisecondType>()
        .values()
        .to_vec();
    Ok((Cow::Owned(values), has_nulls))
}

/// Maximum non-null event time of a column, if any row has one.
pub fn max_event_time_ms(column: &ArrayRef) -> Result<Option<i64>> {
    let (values, has_nulls) = event_times_ms(column)?;
    if !has_nulls {
        return Ok(values.iter().copied().max());
    }
    Ok(values
        .iter()
        .enumerate()
        .filter(|(i, _)| column.is_valid(*i))
        .map(|(_, v)| *v)
        .max())
}
