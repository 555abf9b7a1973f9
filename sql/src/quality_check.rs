//! Judging a lake table by quality rules (`weir quality check`, `kind: quality` jobs): the
//! rows of one version as the table `epoch`, the rules in one aggregate query
//! (`weir_quality::RuleSet`), custom SQL through the lake's read-only surface, the tables
//! referential rules name from the lake, a volume rule's history from the lake's
//! `_quality` table, and the verdicts appended to it.

use std::sync::Arc;
use std::time::SystemTime;

use datafusion::catalog::MemorySchemaProvider;
use datafusion::prelude::SessionContext;
use weir_quality::alert::AlertState;
use weir_quality::history::{self, Judged, QUALITY_TABLE};
use weir_quality::{Check, Rule, RuleSet, Verdict};

use crate::error::{Result, SqlError};
use crate::lake::Lake;
use crate::quality_increment;
use crate::session::{Limits, QuerySession};
use crate::travel::find;

/// How a table is checked.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CheckOptions {
    /// The version judged; the newest when `None`.
    pub version: Option<i64>,
    /// Read only the files appended since the version the last incremental check of the
    /// same rules judged, merging their metrics into the ones it kept
    /// (see `quality_increment.rs`); a full check when there is nothing to build on.
    pub incremental: bool,
}

/// What one check judged.
#[derive(Debug, Clone)]
pub struct TableCheck {
    /// The table's SQL name.
    pub table: String,
    /// The version judged.
    pub version: i64,
    /// The first version whose files this check read (0 for a full check; after the
    /// version judged when an incremental check found nothing new).
    pub read_from: i64,
    pub verdicts: Vec<Verdict>,
    /// The verdicts whose rule passed in the table's previous evaluation (in `_quality`)
    /// and fails now, or the other way round: what an alert reports.
    pub changed: Vec<Verdict>,
}

fn quality(e: impl std::fmt::Display) -> SqlError {
    SqlError::Quality(e.to_string())
}

/// Judges a version (see [`CheckOptions`]) of the table `table` (its SQL name or its
/// folder) of `lake` by `rules`, and appends the verdicts to the lake's `_quality` table.
/// Rules that do not fit the table (a missing column, custom SQL that is not a read-only
/// query over the lake) are refused before anything is judged or recorded.
pub async fn check_table(
    lake: &Lake,
    table: &str,
    rules: Vec<Rule>,
    options: CheckOptions,
) -> Result<TableCheck> {
    let name = table.replace('/', ".");
    let found = find(&lake.tables().await?, &name)?;
    let mut delta = lake.delta_table(&found)?;
    delta.load().await?;
    let newest = delta.version().unwrap_or(0) as i64;
    let version = options.version.unwrap_or(newest);
    if !(0..=newest).contains(&version) {
        return Err(SqlError::NoSuchVersion {
            table: name,
            asked: version,
            first: 0,
            last: newest,
        });
    }
    let session = lake.query_session(Limits::default()).await?;
    let rows = plan_rows(
        &session,
        &format!("SELECT * FROM {name} VERSION AS OF {version}"),
    )
    .await?;
    let schema = Arc::new(rows.schema().as_arrow().clone());
    // The rules see the rows as `epoch`, and the lake tables referential rules name.
    let judge = SessionContext::new();
    judge.register_table("epoch", rows.into_view())?;
    for rule in &rules {
        match &rule.check {
            Check::Referential { table, .. } => {
                let rows = plan_rows(&session, &format!("SELECT * FROM {table}")).await?;
                if let Some((schema, _)) = table.split_once('.') {
                    let catalog = judge
                        .catalog("datafusion")
                        .ok_or_else(|| quality("the default catalog is missing"))?;
                    if catalog.schema(schema).is_none() {
                        catalog.register_schema(schema, Arc::new(MemorySchemaProvider::new()))?;
                    }
                }
                judge.register_table(table.as_str(), rows.into_view())?;
            }
            Check::Sql { query } => {
                session
                    .parse(query)
                    .map_err(|e| quality(format!("rule '{}': {e}", rule.name)))?;
            }
            _ => {}
        }
    }
    let set = RuleSet::new(rules, &schema).map_err(quality)?;
    let quality_uri = lake
        .root()
        .join(QUALITY_TABLE)
        .map_err(|e| quality(format!("the quality table's location: {e}")))?
        .to_string();
    let mut volume_history = Vec::new();
    if let Some(volume) = set
        .rules()
        .iter()
        .find(|r| matches!(r.check, Check::Volume { .. }))
    {
        volume_history = history::volume_history(&quality_uri, &name, &volume.name)
            .await
            .map_err(quality)?;
    }
    let previous: AlertState = history::last_verdicts(&quality_uri, &name)
        .await
        .map_err(quality)?
        .into_iter()
        .collect();
    let now = SystemTime::now();
    let (verdicts, read_from) = if options.incremental {
        delta.load_version(version as u64).await?;
        let (plan, columns) = quality_increment::scan_plan(&delta, &set, &schema).await?;
        let stored = quality_increment::load_state(lake, &name, &plan).await?;
        let mut base = Vec::new();
        let mut read_from = 0;
        let mut appended = None;
        if let Some((stored_version, state)) = stored.filter(|(v, _)| *v <= version) {
            if let Some(adds) =
                quality_increment::appended_files(&delta, stored_version, version).await?
            {
                base.push(state);
                read_from = stored_version + 1;
                appended = Some(adds);
            }
        }
        let mut states =
            quality_increment::metric_states(&delta, appended, &plan, &columns).await?;
        states.extend(base);
        let merged = plan.merge(&states).map_err(quality)?;
        if let Some(state) = plan.combine(&states).map_err(quality)? {
            quality_increment::save_state(lake, &name, &plan, version, &state).await?;
        }
        let verdicts = set
            .evaluate_merged(&judge, "epoch", &merged, now, &volume_history)
            .await
            .map_err(quality)?;
        (verdicts, read_from)
    } else {
        let verdicts = set
            .evaluate(&judge, "epoch", now, &volume_history)
            .await
            .map_err(quality)?;
        (verdicts, 0)
    };
    let judged = Judged {
        table: &name,
        from_version: Some(read_from),
        to_version: Some(version),
        time: now,
    };
    history::append(&quality_uri, &judged, &verdicts)
        .await
        .map_err(quality)?;
    let changed = { previous }.changes(&verdicts);
    Ok(TableCheck {
        table: name,
        version,
        read_from,
        verdicts,
        changed,
    })
}

/// The rows of the query `sql` over the lake, planned, not run.
async fn plan_rows(session: &QuerySession, sql: &str) -> Result<datafusion::dataframe::DataFrame> {
    let statement = session.parse(sql)?.remove(0);
    session.plan(statement).await
}
