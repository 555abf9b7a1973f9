//! Query results as the benchmarks compare them: each row's values as text joined with
//! "|" (as `duckdb_queries.py` prints DuckDB's), and the median of run times.

use arrow::util::display::{ArrayFormatter, FormatOptions};
use weir_sql::QueryOutput;

/// Each row's values as text joined with "|", as the DuckDB script prints them.
pub fn row_texts(output: &QueryOutput) -> Vec<String> {
    let options = FormatOptions::default().with_null("NULL");
    let mut rows = Vec::new();
    for batch in &output.batches {
        let formatters: Vec<ArrayFormatter> = batch
            .columns()
            .iter()
            .map(|c| ArrayFormatter::try_new(c.as_ref(), &options).expect("formattable"))
            .collect();
        for row in 0..batch.num_rows() {
            let values: Vec<String> = formatters
                .iter()
                .map(|f| f.value(row).to_string())
                .collect();
            rows.push(values.join("|"));
        }
    }
    rows
}

/// The median of `times` (sorted in place).
pub fn median(times: &mut [f64]) -> f64 {
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}
