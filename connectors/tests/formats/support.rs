//! Decoding records with a format given in YAML, and reading back rows and dead letters.

use arrow::array::AsArray;
use arrow::record_batch::RecordBatch;
use arrow::util::pretty::pretty_format_batches;
use weir_connectors::format::dead_letter::DeadLetters;
use weir_connectors::format::FormatConfig;

/// What decoding one read gave.
pub struct Run {
    pub batch: RecordBatch,
    pub kept: Option<Vec<u32>>,
    /// `(origin, reason)` of each dead letter, in record order.
    pub dead: Vec<(String, String)>,
    /// The kept bytes of each dead letter.
    pub raw: Vec<Vec<u8>>,
}

impl Run {
    /// The rows as `pretty_format_batches` prints them.
    pub fn table(&self) -> String {
        pretty_format_batches(std::slice::from_ref(&self.batch))
            .unwrap()
            .to_string()
    }

    /// The reasons of the dead letters.
    pub fn reasons(&self) -> Vec<&str> {
        self.dead.iter().map(|(_, r)| r.as_str()).collect()
    }

    /// The origins of the dead letters.
    pub fn origins(&self) -> Vec<&str> {
        self.dead.iter().map(|(o, _)| o.as_str()).collect()
    }
}

/// The format a YAML snippet configures.
pub fn format(yaml: &str) -> FormatConfig {
    format_config(yaml).unwrap_or_else(|e| panic!("{yaml}: {e}"))
}

/// Reads a format's configuration as job files are read: only `true` and `false` are
/// booleans (YAML 1.2), so a column named `y` or `on` stays a name.
pub fn format_config(yaml: &str) -> Result<FormatConfig, serde_saphyr::Error> {
    serde_saphyr::from_str_with_options(yaml, serde_saphyr::options! { strict_booleans: true })
}

/// Decodes `records` as one read; record `i` comes from `app.log:{i + 1}`.
pub fn decode(format: &FormatConfig, max_record_bytes: usize, records: &[&[u8]]) -> Run {
    let mut decoder = format.decoder(max_record_bytes).unwrap();
    let mut dead = DeadLetters::default();
    let decoded = decoder
        .decode(records, &|i| format!("app.log:{}", i + 1), &mut dead)
        .unwrap();
    assert_eq!(decoded.batch.schema(), format.schema().unwrap());
    assert_eq!(decoded.batch.num_rows() + dead.len(), records.len());
    let (mut refused, mut raw) = (Vec::new(), Vec::new());
    if let Some(letters) = dead.finish().unwrap() {
        for r in 0..letters.num_rows() {
            raw.push(letters.column(0).as_binary::<i32>().value(r).to_vec());
            refused.push((
                letters.column(1).as_string::<i32>().value(r).to_string(),
                letters.column(2).as_string::<i32>().value(r).to_string(),
            ));
        }
    }
    Run {
        batch: decoded.batch,
        kept: decoded.kept,
        dead: refused,
        raw,
    }
}

/// Lines of text as records.
pub fn records(lines: &[&'static str]) -> Vec<&'static [u8]> {
    lines.iter().map(|l| l.as_bytes()).collect()
}
