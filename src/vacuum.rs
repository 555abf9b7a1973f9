//! `weir vacuum`: deletes a lake table's data files that no version within the retention
//! needs (see `weir_lake::vacuum`).
//!
//! ```text
//! weir vacuum --lake ./lake logs.requests --dry-run
//! weir vacuum --lake ./lake logs.requests --retain 7d
//! ```

use std::time::Duration;

use anyhow::{Context, Result};
use clap::Args;
use weir_lake::{Vacuum, VacuumMetrics};

#[derive(Debug, Args)]
pub struct VacuumArgs {
    /// The lake's root: a folder, or a URL such as s3://bucket/prefix
    /// [default: $WEIR_LAKE, else ./lake].
    #[arg(long, value_name = "FOLDER_OR_URL")]
    lake: Option<String>,
    /// The table: its SQL name (`logs.requests`) or its folder in the lake.
    table: String,
    /// Keep the files versions younger than this need (e.g. 7d, 36h)
    /// [default: the table's delta.deletedFileRetentionDuration, 7 days unless set].
    #[arg(long, value_parser = humantime::parse_duration, value_name = "DURATION")]
    retain: Option<Duration>,
    /// List the files that would be deleted; delete nothing.
    #[arg(long)]
    dry_run: bool,
    /// Allow a retention shorter than the table's delta.deletedFileRetentionDuration
    /// (readers of older versions then miss files).
    #[arg(long)]
    allow_unsafe_retention: bool,
}

pub async fn run(args: VacuumArgs) -> Result<()> {
    let (location, uri) = crate::lake_table::locate(args.lake.clone(), &args.table)?;
    let mut vacuum = Vacuum::new(uri)
        .with_dry_run(args.dry_run)
        .with_allow_unsafe_retention(args.allow_unsafe_retention);
    if let Some(retain) = args.retain {
        vacuum = vacuum.with_retain(retain);
    }
    let metrics = vacuum
        .await
        .with_context(|| format!("vacuuming {} in the lake at {location}", args.table))?;
    print!("{}", report(&args.table, &metrics));
    Ok(())
}

/// What a person reads after a vacuum: the files, one per line, then a summary.
fn report(table: &str, m: &VacuumMetrics) -> String {
    let verb = if m.dry_run { "would delete" } else { "deleted" };
    let mut out = String::new();
    for file in m.removed.iter().chain(&m.never_committed) {
        out.push_str(&format!("{verb} {file}\n"));
    }
    out.push_str(&format!(
        "{table}: {verb} {} removed more than {} ago, {} never committed\n",
        files(m.removed.len()),
        humantime::format_duration(m.retain),
        m.never_committed.len(),
    ));
    out
}

fn files(n: usize) -> String {
    format!("{n} file{}", if n == 1 { "" } else { "s" })
}
