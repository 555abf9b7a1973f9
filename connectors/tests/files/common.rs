//! Helpers shared by the file source tests.

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use arrow::array::AsArray;
use arrow::datatypes::Int64Type;
use arrow::record_batch::RecordBatch;
use arrow::util::display::{ArrayFormatter, FormatOptions};
use weir_connectors::files::{FileSource, FileSourceConfig};
use weir_connectors::format::{ColumnSpec, FormatConfig};
use weir_engine::sinks::CollectSink;
use weir_engine::{GraphBuilder, RuntimeConfig, DEAD_LETTER_PORT};

use crate::committing_sink::{lines, Committed};

/// `{"seq": int64 (required), "text": string}` per line.
pub fn format() -> FormatConfig {
    FormatConfig::Json {
        columns: vec![
            ColumnSpec {
                nullable: false,
                ..ColumnSpec::new("seq", "int64")
            },
            ColumnSpec::new("text", "string"),
        ],
    }
}

/// The JSON line of sequence number `seq`.
pub fn line(seq: i64) -> String {
    format!("{{\"seq\":{seq},\"text\":\"line {seq}\"}}\n")
}

/// The lines of `seqs`, concatenated.
pub fn lines_of(seqs: impl IntoIterator<Item = i64>) -> String {
    seqs.into_iter().map(line).collect()
}

/// Appends `text` to the file at `path` (creating it).
pub fn append(path: &Path, text: &str) {
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    file.write_all(text.as_bytes()).unwrap();
}

/// A line-file source at `path` reading `format()` lines once.
pub fn config(path: &Path) -> FileSourceConfig {
    FileSourceConfig::lines(path.to_str().unwrap(), format())
}

/// Every row of `batches` as `a|b|c`, sorted.
pub fn rows(batches: &[RecordBatch]) -> Vec<String> {
    let options = FormatOptions::default();
    let mut out = Vec::new();
    for batch in batches {
        let formatters: Vec<_> = batch
            .columns()
            .iter()
            .map(|c| ArrayFormatter::try_new(c.as_ref(), &options).unwrap())
            .collect();
        for r in 0..batch.num_rows() {
            let fields: Vec<String> = formatters.iter().map(|f| f.value(r).to_string()).collect();
            out.push(fields.join("|"));
        }
    }
    out.sort();
    out
}

/// The `seq` column (the first) of every row, sorted.
pub fn seqs(batches: &[RecordBatch]) -> Vec<i64> {
    let mut out: Vec<i64> = batches
        .iter()
        .flat_map(|b| b.column(0).as_primitive::<Int64Type>().values().to_vec())
        .collect();
    out.sort_unstable();
    out
}

/// A dead letter as `(origin, reason, raw)`.
pub type Letter = (String, String, Vec<u8>);

/// Runs a bounded file source at `parallelism` to its end; returns its rows and its dead
/// letters sorted by origin.
pub async fn run_bounded(
    config: FileSourceConfig,
    parallelism: usize,
) -> weir_engine::Result<(Vec<RecordBatch>, Vec<Letter>)> {
    let source = FileSource::new(config).await?;
    let has_dead_letters = weir_engine::SourcePlan::dead_letter_schema(&*source).is_some();
    let mut g = GraphBuilder::new();
    let node = g.source("files", source, parallelism, None)?;
    let rows = CollectSink::new();
    let dead = CollectSink::new();
    g.operator("rows", &rows, vec![node.main().rebalance()], 1)?;
    if has_dead_letters {
        g.operator(
            "dead",
            &dead,
            vec![node.port(DEAD_LETTER_PORT)?.rebalance()],
            1,
        )?;
    }
    g.build()?.run(&RuntimeConfig::default()).await?;
    let mut letters = Vec::new();
    for b in dead.batches() {
        for r in 0..b.num_rows() {
            letters.push((
                b.column(1).as_string::<i32>().value(r).to_string(),
                b.column(2).as_string::<i32>().value(r).to_string(),
                b.column(0).as_binary::<i32>().value(r).to_vec(),
            ));
        }
    }
    letters.sort();
    Ok((rows.batches(), letters))
}

/// The `seq` (first field) of every committed row, sorted.
pub fn committed_seqs(out: &Committed) -> Vec<i64> {
    let mut seqs: Vec<i64> = lines(out)
        .iter()
        .map(|l| l.split('|').next().unwrap().parse().unwrap())
        .collect();
    seqs.sort_unstable();
    seqs
}

/// Waits until at least `count` rows are committed (polling, at most 60 s); returns the
/// committed sequence numbers.
pub async fn wait_for_rows(out: &Committed, count: usize) -> Vec<i64> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let seqs = committed_seqs(out);
        if seqs.len() >= count {
            return seqs;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {count} rows, have {}",
            seqs.len()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
