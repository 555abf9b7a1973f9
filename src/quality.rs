//! `weir quality check`: judges a lake table by a rules file, prints the verdicts, appends
//! them to the lake's `_quality` table, and exits 1 when a `fail` rule failed.
//!
//! ```text
//! weir quality check --lake ./lake logs.requests --rules rules.yaml
//! weir quality check --lake ./lake logs.requests --rules rules.yaml --version 12 --json
//! ```

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::SystemTime;

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use datafusion::catalog::MemorySchemaProvider;
use datafusion::prelude::SessionContext;
use weir_quality::history::{self, Judged, QUALITY_TABLE};
use weir_quality::{Check, RuleSet, Severity, Verdict};
use weir_sql::{Lake, Limits, QuerySession};

use crate::sql::flat;

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
    let (location, uri) = crate::lake_table::locate(args.lake.clone(), &args.table)?;
    let name = args.table.replace('/', ".");
    let table = weir_lake::table::open_existing(&uri)
        .await
        .map_err(anyhow::Error::msg)?
        .with_context(|| format!("there is no table '{name}' in the lake at {location}"))?;
    let newest = table.version().unwrap_or(0) as i64;
    let version = args.version.unwrap_or(newest);
    if !(0..=newest).contains(&version) {
        bail!("table '{name}' has versions 0 to {newest}, not {version}");
    }
    let lake = Lake::open(&location).map_err(flat)?;
    let session = lake.query_session(Limits::default()).await.map_err(flat)?;
    let rows_sql = format!("SELECT * FROM {name} VERSION AS OF {version}");
    let statement = session.parse(&rows_sql).map_err(flat)?.remove(0);
    let rows = session
        .plan(statement)
        .await
        .map_err(|e| anyhow::anyhow!("reading table '{name}': {}", flat(e)))?;
    let schema = Arc::new(rows.schema().as_arrow().clone());
    // The rules see the rows as `epoch`, and the lake tables referential rules name.
    let judge = SessionContext::new();
    judge.register_table("epoch", rows.into_view())?;
    for rule in &rules {
        if let Check::Referential { table, .. } = &rule.check {
            register_lake_table(&session, &judge, table).await?;
        }
    }
    for rule in &rules {
        if let Check::Sql { query } = &rule.check {
            session.parse(query).map_err(|e| {
                anyhow::anyhow!(
                    "{}: rule '{}': {}",
                    args.rules.display(),
                    rule.name,
                    flat(e)
                )
            })?;
        }
    }
    let set = RuleSet::new(rules, &schema)
        .map_err(|e| anyhow::anyhow!("{}: {e}", args.rules.display()))?;
    let quality_uri = lake
        .root()
        .join(QUALITY_TABLE)
        .context("the quality table's location")?
        .to_string();
    let mut history = Vec::new();
    if let Some(volume) = set
        .rules()
        .iter()
        .find(|r| matches!(r.check, Check::Volume { .. }))
    {
        history = history::volume_history(&quality_uri, &name, &volume.name).await?;
    }
    let now = SystemTime::now();
    let verdicts = set.evaluate(&judge, "epoch", now, &history).await?;
    let judged = Judged {
        table: &name,
        from_version: Some(0),
        to_version: Some(version),
        time: now,
    };
    history::append(&quality_uri, &judged, &verdicts).await?;
    if args.json {
        for verdict in &verdicts {
            println!("{}", serde_json::to_string(verdict)?);
        }
    } else {
        print!("{}", report(&name, version, &verdicts));
    }
    let failed = verdicts
        .iter()
        .any(|v| !v.passed && v.severity == Severity::Fail);
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// Registers the lake table `name` of `session` in `judge` under the same name.
async fn register_lake_table(
    session: &QuerySession,
    judge: &SessionContext,
    name: &str,
) -> Result<()> {
    let statement = session
        .parse(&format!("SELECT * FROM {name}"))
        .map_err(flat)?
        .remove(0);
    let rows = session
        .plan(statement)
        .await
        .map_err(|e| anyhow::anyhow!("reading table '{name}': {}", flat(e)))?;
    if let Some((schema, _)) = name.split_once('.') {
        let catalog = judge.catalog("datafusion").context("the default catalog")?;
        if catalog.schema(schema).is_none() {
            catalog.register_schema(schema, Arc::new(MemorySchemaProvider::new()))?;
        }
    }
    judge.register_table(name, rows.into_view())?;
    Ok(())
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
    let rows: Vec<[String; 6]> = verdicts
        .iter()
        .map(|v| {
            [
                v.rule.clone(),
                v.severity.to_string(),
                if v.passed { "pass" } else { "FAIL" }.to_string(),
                v.observed.clone(),
                v.threshold.clone(),
                format!("{}/{}", v.rows_failing, v.rows_checked),
            ]
        })
        .collect();
    let widths: Vec<usize> = (0..header.len())
        .map(|c| {
            rows.iter()
                .map(|r| r[c].chars().count())
                .chain([header[c].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: Vec<&str>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        format!("{}\n", padded.join("  ").trim_end())
    };
    let mut out = line(header.to_vec());
    for row in &rows {
        out.push_str(&line(row.iter().map(String::as_str).collect()));
    }
    let failed = verdicts.iter().filter(|v| !v.passed).count();
    out.push_str(&format!(
        "{table} at version {version}: {} of {} rules passed\n",
        verdicts.len() - failed,
        verdicts.len()
    ));
    out
}
