//! `weir quality check`: judges a lake table by a rules file, prints the verdicts, appends
//! them to the lake's `_quality` table, and exits 1 when a `fail` rule failed.
//!
//! ```text
//! weir quality check --lake ./lake logs.requests --rules rules.yaml
//! weir quality check --lake ./lake logs.requests --rules rules.yaml --version 12 --json
//! ```

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::{Args, Subcommand};
use weir_quality::{Severity, Verdict};
use weir_sql::quality_check::{check_table, CheckOptions};
use weir_sql::{Lake, SqlError};

use crate::sql::{flat, lake_location};

#[derive(Debug, Subcommand)]
pub enum QualityCommand {
    /// Judge a table by the rules of a rules file; exit 1 when a `fail` rule failed.
    Check(CheckArgs),
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The lake's root: a folder, or a URL such as s3://bucket/prefix
    /// [default: $WEIR_LAKE, else ./lake].
    #[arg(long, value_name = "FOLDER_OR_URL")]
    lake: Option<String>,
    /// The table: its SQL name (`logs.requests`) or its folder in the lake.
    table: String,
    /// The rules file (YAML: `rules:` and a list of rules, as in a Delta sink's
    /// `quality:` section).
    #[arg(long, value_name = "FILE")]
    rules: PathBuf,
    /// Judge this version of the table [default: the newest].
    #[arg(long)]
    version: Option<i64>,
    /// Read only the files appended since the last incremental check of these rules,
    /// merging their metrics into the ones it kept in the lake (a full check the first
    /// time, or after a version that deleted or rewrote data).
    #[arg(long)]
    incremental: bool,
    /// Print the verdicts as JSON lines instead of a table.
    #[arg(long)]
    json: bool,
}

pub async fn run(command: QualityCommand) -> Result<ExitCode> {
    match command {
        QualityCommand::Check(args) => check(args).await,
    }
}

async fn check(args: CheckArgs) -> Result<ExitCode> {
    let rules = weir_jobs::quality::rules_from_file(&args.rules).map_err(anyhow::Error::msg)?;
    let location = lake_location(args.lake.clone());
    let lake = Lake::open(&location).map_err(flat)?;
    let options = CheckOptions {
        version: args.version,
        incremental: args.incremental,
    };
    let checked = check_table(&lake, &args.table, rules, options)
        .await
        .map_err(|e| match e {
            SqlError::Quality(_) => anyhow::anyhow!("{}: {e}", args.rules.display()),
            other => anyhow::anyhow!("{} in the lake at {location}: {}", args.table, flat(other)),
        })?;
    if args.json {
        for verdict in &checked.verdicts {
            println!("{}", serde_json::to_string(verdict)?);
        }
    } else {
        print!(
            "{}",
            report(&checked.table, checked.version, &checked.verdicts)
        );
        if args.incremental {
            if checked.read_from > checked.version {
                println!("incremental: no version since the last check");
            } else {
                println!(
                    "incremental: read the files of versions {} to {}",
                    checked.read_from, checked.version
                );
            }
        }
    }
    let failed = checked
        .verdicts
        .iter()
        .any(|v| !v.passed && v.severity == Severity::Fail);
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// The verdicts as a table a person reads, and a summary line.
fn report(table: &str, version: i64, verdicts: &[Verdict]) -> String {
    let header = [
        "rule",
        "severity",
        "result",
        "observed",
        "threshold",
        "failing",
    ];
    let rows: Vec<Vec<String>> = verdicts
        .iter()
        .map(|v| {
            vec![
                v.rule.clone(),
                v.severity.to_string(),
                if v.passed { "pass" } else { "FAIL" }.to_string(),
                v.observed.clone(),
                v.threshold.clone(),
                format!("{}/{}", v.rows_failing, v.rows_checked),
            ]
        })
        .collect();
    let mut out = crate::terminal::aligned(&header, &rows);
    let failed = verdicts.iter().filter(|v| !v.passed).count();
    out.push_str(&format!(
        "{table} at version {version}: {} of {} rules passed\n",
        verdicts.len() - failed,
        verdicts.len()
    ));
    out
}
