//! The read-only query surface over a lake: statements are parsed and checked
//! ([`crate::safety`]) before planning, the lake's table functions get their tables loaded
//! ([`crate::travel`]), and every statement runs under the session's [`Limits`].

use std::sync::Arc;
use std::time::Duration;

use arrow::array::{RecordBatch, StringArray};
use arrow::datatypes::{Schema, SchemaRef};
use datafusion::dataframe::DataFrame;
use datafusion::error::{DataFusionError, Result as DFResult};
use datafusion::execution::disk_manager::{DiskManagerBuilder, DiskManagerMode};
use datafusion::execution::object_store::ObjectStoreUrl;
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::execution::SessionStateBuilder;
use datafusion::logical_expr::LogicalPlan;
use datafusion::optimizer::{Optimizer, OptimizerRule};
use datafusion::physical_plan::{collect, execute_stream};
use datafusion::prelude::{SQLOptions, SessionConfig, SessionContext};
use datafusion::sql::parser::{DFParserBuilder, Statement as DFStatement};
use datafusion::sql::sqlparser::ast::Statement;
use futures::stream::BoxStream;
use futures::StreamExt;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinSet;

use crate::aggregated_before_join::AggregatedBeforeJoin;
use crate::averages_from_sums::AveragesFromSums;
use crate::catalog::LakeCatalog;
use crate::cheap_conjuncts_first::CheapConjunctsFirst;
use crate::counted_quantiles;
use crate::decimal_literal_scale::ScaledDecimalLiterals;
use crate::dialect::LakeDialect;
use crate::error::{Result, SqlError};
use crate::indexed_groups::GroupByIndices;
use crate::join_order::{JoinOrder, Reordered};
use crate::joined_groups_only::JoinedGroupsOnly;
use crate::lake::{Lake, LakeTable};
use crate::merged_ranges::MergedRanges;
use crate::options::WeirOptions;
use crate::order_free_percentile;
use crate::safety;
use crate::semi_joins_first::SemiJoinsFirst;
use crate::shared_aggregates::ShareRepeatedAggregates;
use crate::skipping::{self, HandedOut};
use crate::stream::{Deadline, QueryStream, QUEUED_BATCHES};
use crate::travel::{self, Preloaded};
use crate::view_equality::ViewEqualityRule;

/// Limits on every statement a [`QuerySession`] runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Bytes the operators of a query may hold at once (sorts, joins, aggregations); a
    /// query that needs more fails with [`SqlError::MemoryLimit`]. Nothing spills to
    /// local disk (a query cannot fill the disk either). Queries of a session run one at
    /// a time, so the session's pool is the query's. Batches on their way to the reader
    /// of a [`QueryStream`] are outside it: at most [`QUEUED_BATCHES`] of them.
    pub memory: usize,
    /// Wall time from the start of a statement to the end of its stream (the reader's
    /// own work under [`QueryStream::deadline`] included); a slower statement is cancelled
    /// with [`SqlError::Timeout`].
    pub timeout: Duration,
}

impl Default for Limits {
    /// 1 GiB and 60 s.
    fn default() -> Self {
        Self {
            memory: 1 << 30,
            timeout: Duration::from_secs(60),
        }
    }
}

/// A statement's result: its schema (also when there are no rows) and batches.
#[derive(Debug, Clone)]
pub struct QueryOutput {
    pub schema: SchemaRef,
    pub batches: Vec<RecordBatch>,
}

impl QueryOutput {
    pub fn rows(&self) -> usize {
        self.batches.iter().map(RecordBatch::num_rows).sum()
    }
}

/// A read-only SQL session over a lake. Every table of the lake is in the catalog
/// ([`LakeCatalog`]), looked up again before each statement (the tables it names, or the
/// whole lake for `SHOW TABLES` and `information_schema`) and read at its latest committed
/// version whenever a statement names it; the table functions of [`crate::travel`] read
/// other versions and the history.
pub struct QuerySession {
    lake: Lake,
    ctx: SessionContext,
    catalog: Arc<LakeCatalog>,
    preloaded: Arc<Preloaded>,
    /// The lake table providers handed out for the running statement.
    handed: Arc<HandedOut>,
    /// Whether the join order rule placed the running statement's joins.
    reordered: Arc<Reordered>,
    /// Held while a statement runs: statements of a session run one at a time, so the
    /// memory pool is one statement's and the preloaded tables are its own.
    running: Arc<tokio::sync::Mutex<()>>,
    limits: Limits,
}

impl Lake {
    /// A read-only query session over the lake, with `limits` on every statement. Fails
    /// when the lake cannot be listed (an S3 bucket that is not there or not readable).
    pub async fn query_session(&self, limits: Limits) -> Result<QuerySession> {
        let runtime = RuntimeEnvBuilder::new()
            .with_memory_limit(limits.memory, 1.0)
            .with_disk_manager_builder(
                DiskManagerBuilder::default().with_mode(DiskManagerMode::Disabled),
            )
            .build_arc()?;
        // The Delta scan reads a local lake's data files by their `file://` URLs, from
        // the store the session has for those: the lake's own.
        let local_store = self.local_store();
        if let Some(store) = &local_store {
            runtime
                .register_object_store(ObjectStoreUrl::local_filesystem().as_ref(), store.clone());
        }
        // No URL tables (`FROM 'path/file.parquet'`): only the lake's tables are readable.
        let mut config = SessionConfig::new()
            .with_information_schema(true)
            .with_option_extension(WeirOptions::default());
        // A hash join's build side is not turned into a filter on the probe side's scan:
        // joined with a small dimension table, a fact table's files are rarely skipped by
        // it, and checking it cost the join of `examples/sql_bench.rs` half its time.
        config
            .options_mut()
            .optimizer
            .enable_join_dynamic_filter_pushdown = false;
        // Files are skipped by the Delta log's statistics before they are opened, and row
        // groups by their statistics after; reading each opened file's bloom filters and
        // page index on top of that cost `examples/sql_bench.rs` more than it saved (its
        // full scans read them in vain, its point lookup and range scan were no slower
        // without).
        let parquet = &mut config.options_mut().execution.parquet;
        parquet.bloom_filter_on_read = false;
        parquet.enable_page_index = false;
        // A local file's footer is read with one more `pread` when it is longer than
        // this, which costs less than reading DataFusion's default of 512 KiB from the
        // end of each file (most of a 600 KB file) on a statement's first scan.
        if local_store.is_some() {
            parquet.metadata_size_hint = Some(LOCAL_FOOTER_READ);
        }
        // A hash join whose single integer key spans fewer values than this looks its
        // probe rows up in an array indexed by the key instead of hashing them
        // (DataFusion's perfect hash join; denser build sides use it anyway). The array
        // takes 4 bytes per value of the span, at most 1/32 of the statement's memory:
        // 32 MiB by default, enough for TPC-H SF1's order keys. Probing a few hundred
        // part keys in TPC-H Q17 or the orders of Q21 this way made them 19-25% faster.
        config
            .options_mut()
            .execution
            .perfect_hash_join_small_build_threshold = perfect_hash_span(limits.memory);
        let handed = Arc::new(HandedOut::default());
        let reordered = Arc::new(Reordered::default());
        let state = SessionStateBuilder::new()
            .with_config(config)
            .with_runtime_env(runtime)
            .with_default_features()
            .with_optimizer_rules(logical_rules())
            .with_physical_optimizer_rule(Arc::new(GroupByIndices))
            .with_physical_optimizer_rule(Arc::new(CheapConjunctsFirst))
            .with_physical_optimizer_rule(Arc::new(ViewEqualityRule))
            .with_physical_optimizer_rule(Arc::new(ShareRepeatedAggregates))
            .with_optimizer_rule(Arc::new(SemiJoinsFirst))
            .with_optimizer_rule(Arc::new(AveragesFromSums))
            .with_optimizer_rule(Arc::new(ScaledDecimalLiterals))
            .with_optimizer_rule(Arc::new(JoinedGroupsOnly::new(handed.clone())))
            .with_optimizer_rule(Arc::new(JoinOrder::new(handed.clone(), reordered.clone())))
            .with_optimizer_rule(Arc::new(AggregatedBeforeJoin::new(handed.clone())))
            .build();
        let ctx = SessionContext::new_with_state(state);
        order_free_percentile::register(&ctx);
        counted_quantiles::register(&ctx);
        // The lake replaces the default catalog: tables are looked up when named.
        let catalog = Arc::new(LakeCatalog::new(
            self.clone(),
            ctx.runtime_env(),
            handed.clone(),
        ));
        self.check_readable().await?;
        ctx.register_catalog("datafusion", catalog.clone());
        let preloaded = Arc::new(Preloaded::new(handed.clone()));
        travel::register(&ctx, &preloaded);
        Ok(QuerySession {
            lake: self.clone(),
            ctx,
            catalog,
            preloaded,
            handed,
            reordered,
            running: Arc::new(tokio::sync::Mutex::new(())),
            limits,
        })
    }
}

/// DataFusion's logical optimizer rules with [`MergedRanges`] right after its filter
/// push-down: the ranges a join's condition hands down are merged before its common
/// subexpression elimination takes a repeated bound out of them (which would leave no
/// range to merge), and a range handed down again in a later pass is merged and dropped
/// in the same pass.
fn logical_rules() -> Vec<Arc<dyn OptimizerRule + Send + Sync>> {
    let mut rules = Optimizer::new().rules;
    let after_push_down = rules
        .iter()
        .position(|rule| rule.name() == "push_down_filter")
        .map_or(rules.len(), |at| at + 1);
    rules.insert(after_push_down, Arc::new(MergedRanges));
    rules
}

/// How many bytes at the end of a local Parquet file a scan reads first for its footer
/// (metadata): 64 KiB, a few times the footer of a file of the lake's usual size.
const LOCAL_FOOTER_READ: usize = 64 * 1024;

/// The widest span of join keys (max - min) a perfect hash join is used for whatever
/// the build side's size: its array of 4-byte slots takes at most 1/32 of `memory`
/// (so the span is at most 1/128 of it) and 32 MiB.
fn perfect_hash_span(memory: usize) -> usize {
    (memory / 32 / 4).min(1 << 23)
}

/// Whether `statement` changes a setting of its session (`SET`), which later statements
/// of the session then see.
pub fn changes_settings(statement: &DFStatement) -> bool {
    matches!(statement, DFStatement::Statement(inner) if matches!(**inner, Statement::Set(_)))
}

impl QuerySession {
    /// The statements of `sql` (separated by `;`), each checked by [`safety::check`]; one
    /// refused statement refuses them all.
    pub fn parse(&self, sql: &str) -> Result<Vec<DFStatement>> {
        let statements = DFParserBuilder::new(sql)
            .with_dialect(&LakeDialect)
            .build()?
            .parse_statements()?;
        let mut checked = Vec::with_capacity(statements.len());
        for mut statement in statements {
            safety::check(&statement)?;
            travel::rewrite_time_travel(&mut statement);
            checked.push(statement);
        }
        Ok(checked)
    }

    /// Starts one statement (from [`QuerySession::parse`]) within the session's limits:
    /// its batches come as the query computes them, the statement's time limit running
    /// from now until the stream's end. The session runs its statements one at a time:
    /// the next one starts when this stream is dropped.
    pub async fn stream(&self, statement: DFStatement) -> Result<QueryStream> {
        // Checked again: a caller may hand over a statement it parsed itself.
        safety::check(&statement)?;
        let running = self.running.clone().lock_owned().await;
        let deadline = Deadline::after(self.limits.timeout);
        let memory = self.limits.memory;
        let (lake, ctx, catalog, preloaded, handed, reordered) = (
            self.lake.clone(),
            self.ctx.clone(),
            self.catalog.clone(),
            self.preloaded.clone(),
            self.handed.clone(),
            self.reordered.clone(),
        );
        let (schema_sender, schema) = oneshot::channel();
        let (sender, batches) = mpsc::channel(QUEUED_BATCHES);
        // The query runs as a task of its own, so the timer is not starved by a query
        // that keeps its worker busy; dropping the set cancels the query.
        let mut task = JoinSet::new();
        task.spawn(async move {
            let started = async {
                let tables = catalog.refresh_for(&statement).await?;
                handed.clear();
                plan_and_stream(
                    &lake, &tables, &ctx, &preloaded, &handed, &reordered, statement,
                )
                .await
            };
            let mut computed = match started.await {
                Ok((schema, computed)) => {
                    let _ = schema_sender.send(Ok(schema));
                    computed
                }
                Err(e) => {
                    let _ = schema_sender.send(Err(over_memory(e, memory)));
                    return;
                }
            };
            while let Some(batch) = computed.next().await {
                let batch = batch.map_err(|e| over_memory(e.into(), memory));
                let failed = batch.is_err();
                if sender.send(batch).await.is_err() || failed {
                    return;
                }
            }
        });
        let location = self.lake.root().to_string();
        let schema = match deadline.bound(schema).await? {
            Ok(planned) => planned?,
            // The task ended without a word: a panic, resumed by the stream.
            Err(_) => {
                let mut ended = QueryStream::new(
                    Arc::new(Schema::empty()),
                    batches,
                    deadline,
                    task,
                    location,
                    running,
                );
                return Err(match ended.next().await {
                    Some(Err(e)) => e,
                    _ => SqlError::Lake {
                        location: self.lake.root().to_string(),
                        message: "the query's task ended before planning".to_string(),
                    },
                });
            }
        };
        Ok(QueryStream::new(
            schema, batches, deadline, task, location, running,
        ))
    }

    /// Plans one query (from [`QuerySession::parse`]) over the lake as it is now, without
    /// running it: for callers that build on its rows (quality rules judge them as a
    /// view). The session's time limit does not apply to what the caller runs.
    pub async fn plan(&self, statement: DFStatement) -> Result<DataFrame> {
        safety::check(&statement)?;
        let tables = self.catalog.refresh_for(&statement).await?;
        self.handed.clear();
        if let Some(inner) = sql_statement(&statement) {
            self.preloaded
                .load(&self.lake, &tables, &self.ctx, inner)
                .await?;
        }
        let plan = self.ctx.state().statement_to_plan(statement).await?;
        SQLOptions::new()
            .with_allow_ddl(false)
            .with_allow_dml(false)
            .with_allow_statements(false)
            .verify_plan(&plan)?;
        Ok(self.ctx.execute_logical_plan(plan).await?)
    }

    /// Runs one statement (from [`QuerySession::parse`]) within the session's limits and
    /// collects its result. The collected batches are outside the memory limit: a
    /// result of unknown size is better read from [`QuerySession::stream`].
    pub async fn run(&self, statement: DFStatement) -> Result<QueryOutput> {
        let mut stream = self.stream(statement).await?;
        let mut batches = Vec::new();
        while let Some(batch) = stream.next().await {
            batches.push(batch?);
        }
        Ok(QueryOutput {
            schema: stream.schema().clone(),
            batches,
        })
    }

    /// Parses and runs every statement of `sql`, in order.
    pub async fn sql(&self, sql: &str) -> Result<Vec<QueryOutput>> {
        let mut outputs = Vec::new();
        for statement in self.parse(sql)? {
            outputs.push(self.run(statement).await?);
        }
        Ok(outputs)
    }

    /// The DataFusion session underneath (its catalog lists the lake's tables).
    pub fn context(&self) -> &SessionContext {
        &self.ctx
    }
}

/// Plans and starts `statement`: its schema and its batches as they are computed;
/// `tables` are the lake's tables as the catalog lists them for this statement.
async fn plan_and_stream(
    lake: &Lake,
    tables: &[LakeTable],
    ctx: &SessionContext,
    preloaded: &Preloaded,
    handed: &HandedOut,
    reordered: &Reordered,
    statement: DFStatement,
) -> Result<(SchemaRef, BoxStream<'static, DFResult<RecordBatch>>)> {
    if let Some(inner) = sql_statement(&statement) {
        preloaded.load(lake, tables, ctx, inner).await?;
    }
    let plan = ctx.state().statement_to_plan(statement).await?;
    // The plan-level guard behind the statement check: no DDL, no DML.
    SQLOptions::new()
        .with_allow_ddl(false)
        .with_allow_dml(false)
        .with_allow_statements(true)
        .verify_plan(&plan)?;
    let explained = match &plan {
        LogicalPlan::Explain(explain) => Some(explain.plan.clone()),
        _ => None,
    };
    let frame = ctx.execute_logical_plan(plan).await?;
    let task = Arc::new(order_free_percentile::fixed_partitions(
        frame.logical_plan(),
        frame.task_ctx(),
    ));
    let schema = frame.schema().inner().clone();
    let (mut state, plan) = frame.into_parts();
    reordered.take();
    let optimized = state.optimize(&plan)?;
    if reordered.take() {
        state.config_mut().options_mut().optimizer.join_reordering = false;
    }
    let physical = state
        .query_planner()
        .create_physical_plan(&optimized, &state)
        .await?;
    let Some(inner) = explained else {
        return Ok((schema, execute_stream(physical, task)?.boxed()));
    };
    // A plan's description is short: collected, with the skipping rows after it.
    let mut batches = collect(physical, task).await?;
    let lines = skipping::describe(&ctx.state(), handed, &inner).await?;
    if !lines.is_empty() {
        let kinds = StringArray::from(vec![skipping::PLAN_TYPE; lines.len()]);
        batches.push(RecordBatch::try_new(
            schema.clone(),
            vec![Arc::new(kinds), Arc::new(StringArray::from(lines))],
        )?);
    }
    let batches = futures::stream::iter(batches.into_iter().map(Ok)).boxed();
    Ok((schema, batches))
}

/// `e`, or [`SqlError::MemoryLimit`] when it is DataFusion's memory pool refusing a
/// reservation (whatever the operator, and whether or not it could have spilled).
fn over_memory(e: SqlError, memory: usize) -> SqlError {
    match &e {
        SqlError::DataFusion(df)
            if matches!(df.find_root(), DataFusionError::ResourcesExhausted(_)) =>
        {
            SqlError::MemoryLimit(memory)
        }
        _ => e,
    }
}

/// The SQL statement inside a DataFusion statement (through `EXPLAIN`).
fn sql_statement(statement: &DFStatement) -> Option<&Statement> {
    match statement {
        DFStatement::Statement(inner) => Some(inner),
        DFStatement::Explain(explain) => sql_statement(&explain.statement),
        _ => None,
    }
}
