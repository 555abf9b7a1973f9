//! Time travel and history as table functions over the lake:
//!
//! - `table_version('name', 3)`: the table as of version 3;
//! - `table_timestamp('name', '2026-01-01T00:00:00Z')`: as of the newest version committed
//!   at or before that time (RFC 3339, or `YYYY-MM-DD HH:MM:SS[.fff]` read as UTC);
//! - `table_history('name')`: one row per commit, newest first;
//! - `table_details('name')`: one row: the current version, its files, bytes and rows,
//!   partition columns and schema;
//! - `table_quality('name')`: one row per version and quality rule judged by a gated
//!   sink before the commit ([`crate::quality_table`]).
//!
//! DataFusion plans table functions synchronously while loading a Delta table is I/O, so a
//! session loads the tables a statement asks for before planning it ([`Preloaded`]) and the
//! functions only look them up. Their arguments must therefore be literals. A name is
//! resolved among the lake's tables only, so it never reaches outside the lake.
//!
//! The Delta/Databricks syntax works too: the lake's dialect ([`crate::dialect`]) parses
//! `t VERSION AS OF 3` and `t TIMESTAMP AS OF '...'`, and [`rewrite_time_travel`] turns
//! them into these functions, aliased to the table's name, before planning.

use std::collections::HashMap;
use std::ops::ControlFlow;
use std::sync::{Arc, Mutex};

use arrow::array::{ArrayRef, Int64Array, RecordBatch, StringArray, TimestampMillisecondArray};
use arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use chrono::{DateTime, NaiveDateTime, Utc};
use datafusion::catalog::{MemTable, TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::ScalarValue;
use datafusion::logical_expr::Expr;
use datafusion::prelude::SessionContext;
use datafusion::sql::parser::Statement as DFStatement;
use datafusion::sql::sqlparser::ast::{
    Expr as SqlExpr, FunctionArg, FunctionArgExpr, Ident, ObjectName, Statement, TableAlias,
    TableFactor, TableFunctionArgs as SqlFunctionArgs, TableVersion, Value, Visit, VisitMut,
    Visitor, VisitorMut,
};
use deltalake::{DeltaTable, ObjectStore as _};
use futures::TryStreamExt;
use serde_json::Value as Json;
use weir_lake::compact::COMMIT_INFO_KEY as COMPACTION_INFO;
use weir_quality::gate::COMMIT_INFO_KEY as QUALITY_INFO;

use crate::error::{Result, SqlError};
use crate::lake::{Lake, LakeTable};
use crate::provider::provider;
use crate::safety::check_table_name;
use crate::skipping::{HandedOut, TableRead};

/// One call of a lake table function: its name and its literal arguments as text.
type Call = (String, Vec<String>);

/// A table version a session keeps loaded, by the table's URL and the version.
type PinnedTables = HashMap<(String, i64), (Arc<dyn TableProvider>, TableRead)>;

/// Versions of tables a session keeps loaded: a committed version never changes.
const PINNED_CAPACITY: usize = 32;

/// The tables the statement being planned asked for, loaded before planning. Tables read
/// as of a version are kept for the session's later statements (up to
/// `PINNED_CAPACITY`); every provider handed out is recorded in `handed`.
#[derive(Debug)]
pub struct Preloaded {
    tables: Mutex<HashMap<Call, Arc<dyn TableProvider>>>,
    pinned: Mutex<PinnedTables>,
    handed: Arc<HandedOut>,
}

impl Preloaded {
    pub fn new(handed: Arc<HandedOut>) -> Self {
        Self {
            tables: Mutex::default(),
            pinned: Mutex::default(),
            handed,
        }
    }

    /// Loads every lake table function call in `statement` (replacing earlier ones); names
    /// are looked up among `tables`, the lake's tables for this statement.
    pub async fn load(
        &self,
        lake: &Lake,
        tables: &[LakeTable],
        ctx: &SessionContext,
        statement: &Statement,
    ) -> Result<()> {
        let calls = calls(statement)?;
        let mut loaded = HashMap::new();
        for call in calls {
            if loaded.contains_key(&call) {
                continue;
            }
            let provider = self.load_call(lake, tables, ctx, &call).await?;
            loaded.insert(call, provider);
        }
        *self.tables.lock().expect("not poisoned") = loaded;
        Ok(())
    }

    fn get(&self, call: &Call) -> Option<Arc<dyn TableProvider>> {
        self.tables.lock().expect("not poisoned").get(call).cloned()
    }

    async fn load_call(
        &self,
        lake: &Lake,
        tables: &[LakeTable],
        ctx: &SessionContext,
        call: &Call,
    ) -> Result<Arc<dyn TableProvider>> {
        let pin = match load(lake, tables, call).await? {
            Loaded::Provider(provider) => return Ok(provider),
            Loaded::Pinned(pin) => pin,
        };
        let key = (pin.table.url.to_string(), pin.version);
        let kept = self.pinned.lock().expect("not poisoned").get(&key).cloned();
        if let Some((provider, read)) = kept {
            self.handed.record(&provider, read);
            return Ok(provider);
        }
        let delta = match pin.loaded {
            Some(delta) => delta,
            None => {
                check_version(lake, &pin.table, pin.version).await?;
                let mut delta = lake.delta_table(&pin.table)?;
                delta.load_version(pin.version as u64).await?;
                delta
            }
        };
        let (provider, read) = provider(
            &delta,
            pin.table.qualified_name(),
            Some(pin.version),
            ctx.runtime_env(),
            &self.handed,
        )
        .await?;
        let mut pinned = self.pinned.lock().expect("not poisoned");
        if pinned.len() >= PINNED_CAPACITY {
            pinned.clear();
        }
        pinned.insert(key, (provider.clone(), read));
        Ok(provider)
    }
}

/// A table read as of a version; `loaded` when finding the version loaded it already.
struct Pin {
    table: LakeTable,
    version: i64,
    loaded: Option<DeltaTable>,
}

/// What a call of a lake function gives: a table as of a version (loaded through the
/// session's cache), or a provider of its own (history, details).
enum Loaded {
    Pinned(Pin),
    Provider(Arc<dyn TableProvider>),
}

/// The lake's table functions, registered in `ctx`, reading from `preloaded`.
pub fn register(ctx: &SessionContext, preloaded: &Arc<Preloaded>) {
    for (name, usage) in FUNCTIONS {
        ctx.register_udtf(
            name,
            Arc::new(LakeFunction {
                name,
                usage,
                preloaded: preloaded.clone(),
            }),
        );
    }
}

/// Whether `name` is one of the lake's table functions.
pub fn is_lake_function(name: &str) -> bool {
    FUNCTIONS.iter().any(|(f, _)| f.eq_ignore_ascii_case(name))
}

/// The table names the lake's table function calls in `statement` read (their first
/// argument, as written: `table` or `schema.table`).
pub fn called_tables(statement: &DFStatement) -> Vec<String> {
    let inner = match statement {
        DFStatement::Statement(inner) => inner,
        DFStatement::Explain(explain) => return called_tables(&explain.statement),
        _ => return Vec::new(),
    };
    calls(inner)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|(_, mut args)| (!args.is_empty()).then(|| args.swap_remove(0)))
        .collect()
}

const FUNCTIONS: [(&str, &str); 5] = [
    ("table_version", "table_version('table', 3) or table VERSION AS OF 3"),
    (
        "table_timestamp",
        "table_timestamp('table', '2026-01-01T00:00:00Z') or table TIMESTAMP AS OF '2026-01-01 00:00:00'",
    ),
    ("table_history", "table_history('table')"),
    ("table_details", "table_details('table')"),
    ("table_quality", "table_quality('table')"),
];

#[derive(Debug)]
struct LakeFunction {
    name: &'static str,
    usage: &'static str,
    preloaded: Arc<Preloaded>,
}

impl TableFunctionImpl for LakeFunction {
    fn call_with_args(
        &self,
        args: TableFunctionArgs,
    ) -> datafusion::error::Result<Arc<dyn TableProvider>> {
        let texts: Option<Vec<String>> = args.exprs().iter().map(literal_text).collect();
        let call = texts.map(|texts| (self.name.to_string(), texts));
        match call.and_then(|call| self.preloaded.get(&call)) {
            Some(provider) => Ok(provider),
            None => Err(SqlError::Arguments {
                function: self.name,
                message: format!("takes literal arguments: {}", self.usage),
            }
            .into()),
        }
    }
}

fn literal_text(expr: &Expr) -> Option<String> {
    match expr {
        Expr::Literal(
            ScalarValue::Utf8(Some(s))
            | ScalarValue::LargeUtf8(Some(s))
            | ScalarValue::Utf8View(Some(s)),
            _,
        ) => Some(s.clone()),
        Expr::Literal(ScalarValue::Int64(Some(v)), _) => Some(v.to_string()),
        _ => None,
    }
}

/// Rewrites `t VERSION AS OF 3` into `table_version('t', 3) AS t` and
/// `t TIMESTAMP AS OF x` into `table_timestamp('t', x) AS t` (keeping an alias if given).
pub fn rewrite_time_travel(statement: &mut DFStatement) {
    struct Rewrite;
    impl VisitorMut for Rewrite {
        type Break = ();
        fn pre_visit_table_factor(&mut self, factor: &mut TableFactor) -> ControlFlow<()> {
            let TableFactor::Table {
                name,
                alias,
                args,
                version,
                ..
            } = factor
            else {
                return ControlFlow::Continue(());
            };
            let (function, at) = match version.take() {
                Some(TableVersion::VersionAsOf(at)) => ("table_version", at),
                Some(TableVersion::TimestampAsOf(at)) => ("table_timestamp", at),
                other => {
                    *version = other;
                    return ControlFlow::Continue(());
                }
            };
            // Unquoted parts are normalised to lower case, as DataFusion does for names.
            let parts: Vec<String> = name
                .0
                .iter()
                .map(|part| match part.as_ident() {
                    Some(ident) if ident.quote_style.is_none() => ident.value.to_lowercase(),
                    Some(ident) => ident.value.clone(),
                    None => part.to_string(),
                })
                .collect();
            if alias.is_none() {
                *alias = Some(TableAlias {
                    explicit: false,
                    name: Ident::new(parts.last().cloned().unwrap_or_default()),
                    columns: Vec::new(),
                    at: None,
                });
            }
            let table = SqlExpr::Value(Value::SingleQuotedString(parts.join(".")).into());
            *args = Some(SqlFunctionArgs {
                args: vec![
                    FunctionArg::Unnamed(FunctionArgExpr::Expr(table)),
                    FunctionArg::Unnamed(FunctionArgExpr::Expr(at)),
                ],
                settings: None,
            });
            *name = ObjectName::from(vec![Ident::new(function)]);
            ControlFlow::Continue(())
        }
    }
    match statement {
        DFStatement::Statement(inner) => {
            let _ = inner.visit(&mut Rewrite);
        }
        DFStatement::Explain(explain) => rewrite_time_travel(&mut explain.statement),
        _ => {}
    }
}

/// The lake table function calls in a statement, with literal arguments; a call with
/// other arguments is left to fail in planning with the function's usage.
fn calls(statement: &Statement) -> Result<Vec<Call>> {
    struct Find(Vec<Call>);
    impl Visitor for Find {
        type Break = ();
        fn pre_visit_table_factor(&mut self, factor: &TableFactor) -> ControlFlow<()> {
            if let TableFactor::Table {
                name,
                args: Some(args),
                ..
            } = factor
            {
                let called = name.to_string().to_ascii_lowercase();
                if FUNCTIONS.iter().any(|(f, _)| *f == called) {
                    let texts: Option<Vec<String>> = args
                        .args
                        .iter()
                        .map(|arg| match arg {
                            FunctionArg::Unnamed(FunctionArgExpr::Expr(SqlExpr::Value(v))) => {
                                match &v.value {
                                    Value::SingleQuotedString(s) => Some(s.clone()),
                                    Value::Number(n, _) => Some(n.to_string()),
                                    _ => None,
                                }
                            }
                            _ => None,
                        })
                        .collect();
                    if let Some(texts) = texts {
                        self.0.push((called, texts));
                    }
                }
            }
            ControlFlow::Continue(())
        }
    }
    let mut find = Find(Vec::new());
    let _ = statement.visit(&mut find);
    Ok(find.0)
}

async fn load(lake: &Lake, tables: &[LakeTable], (function, args): &Call) -> Result<Loaded> {
    let function: &'static str = FUNCTIONS
        .iter()
        .find(|(f, _)| f == function)
        .map(|(f, _)| *f)
        .expect("calls() finds only lake functions");
    let usage = |message: String| SqlError::Arguments { function, message };
    match (function, args.as_slice()) {
        ("table_version", [name, version]) => {
            let version: i64 = version
                .parse()
                .map_err(|_| usage(format!("version '{version}' is not a whole number")))?;
            Ok(Loaded::Pinned(Pin {
                table: find(tables, name)?,
                version,
                loaded: None,
            }))
        }
        ("table_timestamp", [name, at]) => {
            let at = parse_time(at).ok_or_else(|| {
                usage(format!(
                    "'{at}' is not a time: use RFC 3339 ('2026-01-01T00:00:00Z') or '2026-01-01 00:00:00' (UTC)"
                ))
            })?;
            let table = find(tables, name)?;
            let history = history(lake, &table).await?;
            let first = history.last().map(|c| (c.version, c.timestamp));
            if let Some((version, Some(ts))) = first {
                if at.timestamp_millis() < ts {
                    return Err(usage(format!(
                        "table '{}' did not exist yet at {at}: its first version ({version}) was committed at {}",
                        table.qualified_name(),
                        DateTime::<Utc>::from_timestamp_millis(ts).map_or(ts.to_string(), |t| t.to_rfc3339())
                    )));
                }
            }
            let mut delta = lake.delta_table(&table)?;
            delta.load_with_datetime(at).await?;
            let version = delta.version().map_or(0, |v| v as i64);
            Ok(Loaded::Pinned(Pin {
                table,
                version,
                loaded: Some(delta),
            }))
        }
        ("table_history", [name]) => {
            let table = find(tables, name)?;
            let commits = history(lake, &table).await?;
            Ok(Loaded::Provider(Arc::new(history_table(commits)?)))
        }
        ("table_quality", [name]) => {
            let table = find(tables, name)?;
            let commits = history(lake, &table).await?;
            Ok(Loaded::Provider(Arc::new(crate::quality_table::table(
                &commits,
            )?)))
        }
        ("table_details", [name]) => {
            let table = find(tables, name)?;
            let mut delta = lake.delta_table(&table)?;
            delta.load().await?;
            let compaction = last_compaction(lake, &table).await?;
            Ok(Loaded::Provider(Arc::new(details_table(
                &table, &delta, compaction,
            )?)))
        }
        _ => Err(usage(format!(
            "wrong number of arguments: {}",
            FUNCTIONS
                .iter()
                .find(|(f, _)| *f == function)
                .map_or("", |(_, u)| u)
        ))),
    }
}

/// The table named `name` (`table`, `public.table` or `schema.table`) among `tables`, the
/// lake's tables.
pub fn find(tables: &[LakeTable], name: &str) -> Result<LakeTable> {
    check_table_name(name)?;
    for part in name.split('.') {
        check_table_name(part)?;
    }
    let wanted = name.strip_prefix("public.").unwrap_or(name);
    tables
        .iter()
        .find(|t| t.qualified_name() == wanted)
        .cloned()
        .ok_or_else(|| SqlError::NoSuchTable {
            name: name.to_string(),
            known: if tables.is_empty() {
                "none".to_string()
            } else {
                tables
                    .iter()
                    .map(LakeTable::qualified_name)
                    .collect::<Vec<_>>()
                    .join(", ")
            },
        })
}

fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Some(t.with_timezone(&Utc));
    }
    [
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%dT%H:%M:%S%.f",
    ]
    .iter()
    .find_map(|f| NaiveDateTime::parse_from_str(text, f).ok())
    .map(|t| t.and_utc())
}

/// Fails unless `table`'s log holds `version`, saying which versions it holds.
async fn check_version(lake: &Lake, table: &LakeTable, version: i64) -> Result<()> {
    let versions = versions(lake, table).await?;
    match (versions.first().copied(), versions.last().copied()) {
        (Some(first), Some(last)) if (first..=last).contains(&version) => Ok(()),
        (Some(first), Some(last)) => Err(SqlError::NoSuchVersion {
            table: table.qualified_name(),
            asked: version,
            first,
            last,
        }),
        _ => Err(lake_error(table, "the table's log holds no commits")),
    }
}

fn lake_error(table: &LakeTable, message: &str) -> SqlError {
    SqlError::Lake {
        location: table.url.to_string(),
        message: message.to_string(),
    }
}

/// The versions whose commit files are in the table's log, ascending.
async fn versions(lake: &Lake, table: &LakeTable) -> Result<Vec<i64>> {
    let delta = lake.delta_table(table)?;
    let log_store = delta.log_store();
    let files: Vec<_> = log_store
        .object_store(None)
        .list(Some(log_store.log_path()))
        .try_collect()
        .await
        .map_err(|e| lake_error(table, &e.to_string()))?;
    let mut versions: Vec<i64> = files
        .iter()
        .filter_map(|meta| {
            let name = meta.location.filename()?;
            let stem = name.strip_suffix(".json")?;
            (stem.len() == 20).then(|| stem.parse().ok()).flatten()
        })
        .collect();
    versions.sort_unstable();
    Ok(versions)
}

/// One commit of a table's log, summarised.
#[derive(Debug, Clone, PartialEq)]
pub struct Commit {
    pub version: i64,
    /// Milliseconds since the epoch, from the commit info.
    pub timestamp: Option<i64>,
    pub operation: Option<String>,
    /// The operation's parameters as a JSON object.
    pub parameters: Option<String>,
    pub files_added: i64,
    pub files_removed: i64,
    /// Rows in the added files, when every added file has statistics.
    pub rows_added: Option<i64>,
    /// The application transaction (`txn` action) the commit records, as app id and version.
    pub app_id: Option<String>,
    pub app_version: Option<i64>,
    /// What a compaction commit did: weir's `weir.compaction` commit info.
    pub compaction: Option<Json>,
    /// The quality verdicts of the epochs a gated sink committed: `weir.quality`.
    pub quality: Option<Json>,
}

/// Every commit in the log of `table` (of `lake`), newest first.
pub async fn history(lake: &Lake, table: &LakeTable) -> Result<Vec<Commit>> {
    let delta = lake.delta_table(table)?;
    let log_store = delta.log_store();
    let mut commits = Vec::new();
    for version in versions(lake, table).await?.into_iter().rev() {
        let Some(bytes) = log_store.read_commit_entry(version as u64).await? else {
            continue;
        };
        commits.push(summarise(table, version, &bytes)?);
    }
    Ok(commits)
}

fn summarise(table: &LakeTable, version: i64, bytes: &[u8]) -> Result<Commit> {
    let mut commit = Commit {
        version,
        timestamp: None,
        operation: None,
        parameters: None,
        files_added: 0,
        files_removed: 0,
        rows_added: Some(0),
        app_id: None,
        app_version: None,
        compaction: None,
        quality: None,
    };
    for line in bytes
        .split(|b| *b == b'\n')
        .filter(|l| !l.iter().all(u8::is_ascii_whitespace))
    {
        let action: Json = serde_json::from_slice(line)
            .map_err(|e| lake_error(table, &format!("commit {version}: {e}")))?;
        if let Some(info) = action.get("commitInfo") {
            commit.timestamp = info.get("timestamp").and_then(Json::as_i64);
            commit.operation = info
                .get("operation")
                .and_then(Json::as_str)
                .map(String::from);
            commit.parameters = info.get("operationParameters").map(Json::to_string);
            commit.compaction = info.get(COMPACTION_INFO).cloned();
            commit.quality = info.get(QUALITY_INFO).cloned();
        } else if let Some(add) = action.get("add") {
            commit.files_added += 1;
            let rows = add
                .get("stats")
                .and_then(Json::as_str)
                .and_then(|s| serde_json::from_str::<Json>(s).ok())
                .and_then(|s| s.get("numRecords").and_then(Json::as_i64));
            commit.rows_added = commit.rows_added.zip(rows).map(|(a, b)| a + b);
        } else if action.get("remove").is_some() {
            commit.files_removed += 1;
        } else if let Some(txn) = action.get("txn") {
            commit.app_id = txn.get("appId").and_then(Json::as_str).map(String::from);
            commit.app_version = txn.get("version").and_then(Json::as_i64);
        }
    }
    Ok(commit)
}

fn history_table(commits: Vec<Commit>) -> Result<MemTable> {
    let schema = Arc::new(Schema::new(vec![
        Field::new("version", DataType::Int64, false),
        Field::new(
            "timestamp",
            DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())),
            true,
        ),
        Field::new("operation", DataType::Utf8, true),
        Field::new("parameters", DataType::Utf8, true),
        Field::new("files_added", DataType::Int64, false),
        Field::new("files_removed", DataType::Int64, false),
        Field::new("rows_added", DataType::Int64, true),
        Field::new("app_id", DataType::Utf8, true),
        Field::new("app_version", DataType::Int64, true),
        Field::new("compaction", DataType::Utf8, true),
        Field::new("quality", DataType::Utf8, true),
    ]));
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from_iter_values(
            commits.iter().map(|c| c.version),
        )),
        Arc::new(
            TimestampMillisecondArray::from_iter(commits.iter().map(|c| c.timestamp))
                .with_timezone("UTC"),
        ),
        Arc::new(StringArray::from_iter(
            commits.iter().map(|c| c.operation.clone()),
        )),
        Arc::new(StringArray::from_iter(
            commits.iter().map(|c| c.parameters.clone()),
        )),
        Arc::new(Int64Array::from_iter_values(
            commits.iter().map(|c| c.files_added),
        )),
        Arc::new(Int64Array::from_iter_values(
            commits.iter().map(|c| c.files_removed),
        )),
        Arc::new(Int64Array::from_iter(commits.iter().map(|c| c.rows_added))),
        Arc::new(StringArray::from_iter(
            commits.iter().map(|c| c.app_id.clone()),
        )),
        Arc::new(Int64Array::from_iter(commits.iter().map(|c| c.app_version))),
        Arc::new(StringArray::from_iter(
            commits
                .iter()
                .map(|c| c.compaction.as_ref().map(Json::to_string)),
        )),
        Arc::new(StringArray::from_iter(
            commits
                .iter()
                .map(|c| c.quality.as_ref().map(Json::to_string)),
        )),
    ];
    let batch = RecordBatch::try_new(schema.clone(), columns)?;
    Ok(MemTable::try_new(schema, vec![vec![batch]])?)
}

/// The newest compaction commit of `table`: its `weir.compaction` commit info with its
/// `version`, as JSON. Reads the log newest first, up to that commit.
async fn last_compaction(lake: &Lake, table: &LakeTable) -> Result<Option<String>> {
    let delta = lake.delta_table(table)?;
    let log_store = delta.log_store();
    for version in versions(lake, table).await?.into_iter().rev() {
        let Some(bytes) = log_store.read_commit_entry(version as u64).await? else {
            continue;
        };
        if let Some(mut info) = summarise(table, version, &bytes)?.compaction {
            info["version"] = Json::from(version);
            return Ok(Some(info.to_string()));
        }
    }
    Ok(None)
}

/// `table_details`: one row describing the table's current version, and its last
/// compaction.
fn details_table(
    table: &LakeTable,
    delta: &DeltaTable,
    last_compaction: Option<String>,
) -> Result<MemTable> {
    let state = delta.snapshot()?;
    let (mut files, mut bytes, mut rows) = (0i64, 0i64, Some(0i64));
    for file in state.log_data().iter() {
        files += 1;
        bytes += file.size();
        rows = rows.zip(file.num_records()).map(|(a, b)| a + b as i64);
    }
    let partitions = state.metadata().partition_columns().join(", ");
    let schema_text = state
        .schema()
        .fields()
        .map(|f| format!("{}: {}", f.name(), f.data_type()))
        .collect::<Vec<_>>()
        .join(", ");
    let schema = Arc::new(Schema::new(vec![
        Field::new("table", DataType::Utf8, false),
        Field::new("location", DataType::Utf8, false),
        Field::new("version", DataType::Int64, false),
        Field::new("files", DataType::Int64, false),
        Field::new("size_bytes", DataType::Int64, false),
        Field::new("rows", DataType::Int64, true),
        Field::new("partition_columns", DataType::Utf8, false),
        Field::new("schema", DataType::Utf8, false),
        Field::new("last_compaction", DataType::Utf8, true),
    ]));
    let columns: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from(vec![table.qualified_name()])),
        Arc::new(StringArray::from(vec![delta.table_url().to_string()])),
        Arc::new(Int64Array::from(vec![state.version() as i64])),
        Arc::new(Int64Array::from(vec![files])),
        Arc::new(Int64Array::from(vec![bytes])),
        Arc::new(Int64Array::from(vec![rows])),
        Arc::new(StringArray::from(vec![partitions])),
        Arc::new(StringArray::from(vec![schema_text])),
        Arc::new(StringArray::from(vec![last_compaction])),
    ];
    let batch = RecordBatch::try_new(schema.clone(), columns)?;
    Ok(MemTable::try_new(schema, vec![vec![batch]])?)
}
