//! `weir compact`: rewrites a lake table's small files into files of a target size, or
//! clusters its rows on up to four columns, in one commit (see `weir_lake::compact`).
//!
//! ```text
//! weir compact --lake ./lake logs.requests
//! weir compact --lake ./lake logs.requests --cluster-by service,status --where "date >= '2026-12-01'"
//! ```

use std::time::Instant;

use anyhow::{Context, Result};
use clap::Args;
use weir_lake::{Compact, CompactMetrics};

use crate::sql::parse_bytes;

#[derive(Debug, Args)]
pub struct CompactArgs {
    /// The lake's root: a folder, or a URL such as s3://bucket/prefix
    /// [default: $WEIR_LAKE, else ./lake].
    #[arg(long, value_name = "FOLDER_OR_URL")]
    lake: Option<String>,
    /// The table: its SQL name (`logs.requests`) or its folder in the lake
    /// (`logs/requests`).
    table: String,
    /// The size of the files written (e.g. 128MiB, 16MiB); smaller files are merged.
    #[arg(long, default_value = "128MiB", value_parser = parse_bytes)]
    target_size: usize,
    /// Cluster the rows on these columns (comma-separated, at most 4) so that filters on
    /// any of them skip most files; files already clustered on them are left alone.
    #[arg(long, value_delimiter = ',', value_name = "COLUMNS")]
    cluster_by: Vec<String>,
    /// Only the partitions where this SQL condition over partition columns holds.
    #[arg(long = "where", value_name = "CONDITION")]
    predicate: Option<String>,
    /// Print what was done as JSON (the commit info's `weir.compaction` object, with the
    /// version).
    #[arg(long)]
    json: bool,
}

pub async fn run(args: CompactArgs) -> Result<()> {
    let (location, uri) = crate::lake_table::locate(args.lake.clone(), &args.table)?;
    let mut compact = Compact::new(uri)
        .with_target_size(args.target_size as u64)
        .with_cluster_by(args.cluster_by.clone());
    if let Some(predicate) = &args.predicate {
        compact = compact.with_where(predicate.clone());
    }
    let started = Instant::now();
    let metrics = compact
        .await
        .with_context(|| format!("compacting {} in the lake at {location}", args.table))?;
    if args.json {
        let mut json = metrics.to_json();
        json["version"] = serde_json::json!(metrics.version);
        println!("{json}");
    } else {
        print!(
            "{}",
            report(&args.table, &metrics, started.elapsed().as_secs_f64())
        );
    }
    Ok(())
}

/// `1 file`, `2 files`.
fn counted(n: u64, thing: &str) -> String {
    format!("{n} {thing}{}", if n == 1 { "" } else { "s" })
}

/// What a person reads after a compaction.
fn report(table: &str, m: &CompactMetrics, seconds: f64) -> String {
    let Some(version) = m.version else {
        return format!(
            "{table}: nothing to compact ({})\n",
            if m.cluster_by.is_empty() {
                "no partition has two files under the target size".to_string()
            } else {
                format!(
                    "every file is clustered on {} already",
                    m.cluster_by.join(", ")
                )
            }
        );
    };
    let mib = |bytes: u64| bytes as f64 / (1024.0 * 1024.0);
    let mut out = format!(
        "{table}: {} ({:.1} MiB) -> {} ({:.1} MiB), {} rows in {}, {seconds:.2} s; version {version}\n",
        counted(m.files_removed, "file"),
        mib(m.bytes_removed),
        counted(m.files_added, "file"),
        mib(m.bytes_added),
        m.rows,
        counted(m.partitions, "partition"),
    );
    if !m.skipping.is_empty() {
        let figures: Vec<String> = m
            .skipping
            .iter()
            .map(|(column, skip)| format!("{column} {:.1}%", skip * 100.0))
            .collect();
        out.push_str(&format!(
            "clustered on {}: a point filter skips about {} of the new files\n",
            m.cluster_by.join(", "),
            figures.join(", ")
        ));
    }
    out
}
