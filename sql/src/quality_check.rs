//! Judging a lake table by quality rules (`weir quality check`, `kind: quality` jobs): the
//! rows of one version as the table `epoch`, the rules in one aggregate query
//! (`weir_quality::RuleSet`), custom SQL through the lake's read-only surface, the tables
//! referential rules name from the lake, a volume rule's history from the lake's
//! `_quality` table, and the verdicts appended to it.

use std::sync::Arc;
use std::time::SystemTime;

use datafusion::catalog::MemorySchemaProvider;
use datafusion::prelude::SessionContext;
use weir_quality::history::{self, Judged, QUALITY_TABLE};
use weir_quality::{Check, Rule, RuleSet, Verdict};

use crate::error::{Result, SqlError};
use crate::lake::Lake;
use crate::session::{Limits, QuerySession};
use crate::travel::find;

/// What one check judged.
#[derive(Debug, Clone)]
pub struct TableCheck {
    /// The table's SQL name.
    pub table: String,
    /// The version judged.
    pub version: i64,
    pub verdicts: Vec<Verdict>,
}

fn quality(e: impl std::fmt::Display) -> SqlError {
    SqlError::Quality(e.to_string())
}

/// Judges version `version` (default: the newest) of the table `table` (its SQL name or
/// its folder) of `lake` by `rules`, and appends the verdicts to the lake's `_quality`
/// table. Rules that do not fit the table (a missing column, custom SQL that is not a
/// read-only query over the lake) are refused before anything is judged or recorded.
pub async fn check_table(
    lake: &Lake,
    table: &str,
    rules: Vec<Rule>,
    version: Option<i64>,
) -> Result<TableCheck> {
    let name = table.replace('/', ".");
    let found = find(&lake.tables().await?, &name)?;
    let mut delta = lake.delta_table(&found)?;
    delta.load().await?;
    let newest = delta.version().unwrap_or(0) as i64;
    let version = version.unwrap_or(newest);
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
    let now = SystemTime::now();
    let verdicts = set
        .evaluate(&judge, "epoch", now, &volume_history)
        .await
        .map_err(quality)?;
    let judged = Judged {
        table: &name,
        from_version: Some(0),
        to_version: Some(version),
        time: now,
    };
    history::append(&quality_uri, &judged, &verdicts)
        .await
        .map_err(quality)?;
    Ok(TableCheck {
        table: name,
        version,
        verdicts,
    })
}

/// The rows of the query `sql` over the lake, planned, not run.
async fn plan_rows(session: &QuerySession, sql: &str) -> Result<datafusion::dataframe::DataFrame> {
    let statement = session.parse(sql)?.remove(0);
    session.plan(statement).await
}
