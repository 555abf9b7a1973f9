//! Job graphs: operator nodes with a parallelism each, connected by partitioned edges.

use std::sync::Arc;

use arrow::datatypes::SchemaRef;

use crate::error::{EngineError, Result};
use crate::event_time::check_event_time_type;
use crate::expr::ExprCompiler;
use crate::keys::{is_hashable, DEFAULT_MAX_PARALLELISM};
use crate::operator::{OperatorFactory, OperatorPlan, OutputPort, PlanContext, MAIN_PORT};
use crate::source::{SourcePlan, DEAD_LETTER_PORT};
use crate::watermark::WatermarkStrategy;

/// How rows travel along an edge from the upstream subtasks to the downstream subtasks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Partitioning {
    /// Subtask i sends to subtask i; both sides must have the same parallelism.
    Forward,
    /// Each row goes to the subtask owning its key's key group.
    Hash(Vec<String>),
    /// Every row goes to every downstream subtask.
    Broadcast,
    /// Whole batches go round-robin to the downstream subtasks.
    Rebalance,
}

/// Identifies a node in a graph.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NodeId(pub(crate) usize);

/// One output port of a node: something another node can read from.
#[derive(Debug, Clone)]
pub struct Stream {
    pub(crate) node: NodeId,
    pub(crate) port: usize,
    schema: SchemaRef,
}

impl Stream {
    /// The schema of the rows on this stream.
    pub fn schema(&self) -> &SchemaRef {
        &self.schema
    }
    /// Read this stream subtask to subtask (same parallelism), or round-robin if the
    /// parallelism differs.
    pub fn forward(&self) -> Input {
        self.with(Partitioning::Forward)
    }
    /// Read this stream partitioned by the hash of the given key columns.
    pub fn hash<S: Into<String>>(&self, keys: impl IntoIterator<Item = S>) -> Input {
        self.with(Partitioning::Hash(
            keys.into_iter().map(Into::into).collect(),
        ))
    }
    /// Every downstream subtask reads every row.
    pub fn broadcast(&self) -> Input {
        self.with(Partitioning::Broadcast)
    }
    /// Whole batches go round-robin to the downstream subtasks.
    pub fn rebalance(&self) -> Input {
        self.with(Partitioning::Rebalance)
    }
    /// Read this stream with the given partitioning.
    pub fn with(&self, partitioning: Partitioning) -> Input {
        Input {
            stream: self.clone(),
            partitioning,
        }
    }
}

/// A stream plus how it is partitioned into a node.
#[derive(Debug, Clone)]
pub struct Input {
    pub(crate) stream: Stream,
    pub(crate) partitioning: Partitioning,
}

impl Input {
    /// The schema of the rows read.
    pub fn schema(&self) -> &SchemaRef {
        self.stream.schema()
    }
}

/// A node added to a graph; gives access to its output streams.
#[derive(Debug, Clone)]
pub struct Node {
    id: NodeId,
    name: String,
    ports: Vec<OutputPort>,
}

impl Node {
    pub fn id(&self) -> NodeId {
        self.id
    }
    /// The main output.
    pub fn main(&self) -> Stream {
        self.port(MAIN_PORT)
            .unwrap_or_else(|_| panic!("node '{}' has no main output (it is a sink)", self.name))
    }
    /// A named output port, e.g. a window's `late` side output.
    pub fn port(&self, name: &str) -> Result<Stream> {
        let (index, port) = self
            .ports
            .iter()
            .enumerate()
            .find(|(_, p)| p.name == name)
            .ok_or_else(|| {
                EngineError::Graph(format!(
                    "node '{}' has no output '{name}'; it has: {}",
                    self.name,
                    self.ports
                        .iter()
                        .map(|p| p.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            })?;
        Ok(Stream {
            node: self.id,
            port: index,
            schema: port.schema.clone(),
        })
    }
}

pub(crate) enum NodeKind {
    Source {
        plan: Arc<dyn SourcePlan>,
        watermarks: Option<(WatermarkStrategy, usize)>,
    },
    Operator {
        plan: Arc<dyn OperatorPlan>,
    },
}

pub(crate) struct NodeDef {
    pub name: String,
    pub parallelism: usize,
    pub kind: NodeKind,
    pub ports: Vec<OutputPort>,
}

/// A resolved edge: upstream node and port, downstream node and input index.
#[derive(Debug, Clone)]
pub(crate) struct EdgeDef {
    pub from: NodeId,
    pub port: usize,
    pub to: NodeId,
    pub input: usize,
    pub partitioning: Partitioning,
    /// Column indices of hash keys in the stream's schema.
    pub key_columns: Vec<usize>,
}

/// Builds a [`JobGraph`]; every node is checked and compiled as it is added.
pub struct GraphBuilder {
    nodes: Vec<NodeDef>,
    edges: Vec<EdgeDef>,
    compiler: ExprCompiler,
    max_parallelism: usize,
}

impl Default for GraphBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl GraphBuilder {
    pub fn new() -> Self {
        Self {
            nodes: Vec::new(),
            edges: Vec::new(),
            compiler: ExprCompiler::default(),
            max_parallelism: DEFAULT_MAX_PARALLELISM,
        }
    }

    /// Sets the number of key groups (default 128), the upper bound of any parallelism.
    pub fn max_parallelism(mut self, max_parallelism: usize) -> Self {
        self.max_parallelism = max_parallelism;
        self
    }

    /// The compiler used for the graph's SQL expressions.
    pub fn compiler(&self) -> &ExprCompiler {
        &self.compiler
    }

    fn check_new_node(&self, name: &str, parallelism: usize) -> Result<()> {
        if self.nodes.iter().any(|n| n.name == name) {
            return Err(EngineError::Graph(format!("two nodes are named '{name}'")));
        }
        if parallelism == 0 || parallelism > self.max_parallelism {
            return Err(EngineError::config(
                name,
                format!(
                    "parallelism must be between 1 and max_parallelism ({}), got {parallelism}",
                    self.max_parallelism
                ),
            ));
        }
        Ok(())
    }

    /// Adds a source with `parallelism` subtasks. With a watermark strategy the source emits
    /// event-time watermarks per partition; without one only the end of a bounded input
    /// advances event time.
    pub fn source(
        &mut self,
        name: &str,
        plan: Arc<dyn SourcePlan>,
        parallelism: usize,
        watermarks: Option<WatermarkStrategy>,
    ) -> Result<Node> {
        self.check_new_node(name, parallelism)?;
        let schema = plan.schema();
        let watermarks = match watermarks {
            None => None,
            Some(strategy) => {
                let index = schema.index_of(&strategy.event_time).map_err(|_| {
                    EngineError::config(
                        name,
                        format!(
                            "event time column '{}' is not in the source schema ({})",
                            strategy.event_time,
                            field_names(&schema)
                        ),
                    )
                })?;
                check_event_time_type(name, &strategy.event_time, schema.field(index).data_type())?;
                Some((strategy, index))
            }
        };
        let mut ports = vec![OutputPort {
            name: MAIN_PORT.into(),
            schema,
        }];
        if let Some(schema) = plan.dead_letter_schema() {
            ports.push(OutputPort {
                name: DEAD_LETTER_PORT.into(),
                schema,
            });
        }
        Ok(self.push(
            name,
            parallelism,
            NodeKind::Source { plan, watermarks },
            ports,
        ))
    }

    /// Adds an operator (or sink) reading from `inputs`, planned from its configuration.
    pub fn operator(
        &mut self,
        name: &str,
        factory: &dyn OperatorFactory,
        inputs: Vec<Input>,
        parallelism: usize,
    ) -> Result<Node> {
        self.check_new_node(name, parallelism)?;
        if inputs.is_empty() {
            return Err(EngineError::config(
                name,
                "an operator needs at least one input",
            ));
        }
        let schemas: Vec<SchemaRef> = inputs.iter().map(|i| i.stream.schema.clone()).collect();
        let plan = factory.plan(&PlanContext {
            node: name,
            inputs: &schemas,
            compiler: &self.compiler,
        })?;
        let to = NodeId(self.nodes.len());
        let mut edges = Vec::with_capacity(inputs.len());
        for (index, input) in inputs.into_iter().enumerate() {
            edges.push(self.resolve_edge(name, parallelism, to, index, input)?);
        }
        self.edges.extend(edges);
        let ports = plan.outputs();
        Ok(self.push(name, parallelism, NodeKind::Operator { plan }, ports))
    }

    fn resolve_edge(
        &self,
        name: &str,
        parallelism: usize,
        to: NodeId,
        index: usize,
        input: Input,
    ) -> Result<EdgeDef> {
        let upstream = &self.nodes[input.stream.node.0];
        let schema = &input.stream.schema;
        let mut partitioning = input.partitioning;
        if partitioning == Partitioning::Forward && upstream.parallelism != parallelism {
            partitioning = Partitioning::Rebalance;
        }
        let key_columns = match &partitioning {
            Partitioning::Hash(keys) => {
                if keys.is_empty() {
                    return Err(EngineError::config(
                        name,
                        "hash partitioning needs at least one key column",
                    ));
                }
                keys.iter()
                    .map(|k| {
                        let i = schema.index_of(k).map_err(|_| {
                            EngineError::config(
                                name,
                                format!(
                                    "key column '{k}' is not in the input schema ({})",
                                    field_names(schema)
                                ),
                            )
                        })?;
                        let data_type = schema.field(i).data_type();
                        if !is_hashable(data_type) {
                            return Err(EngineError::config(
                                name,
                                format!(
                                    "key column '{k}' has type {data_type}, which cannot be a key"
                                ),
                            ));
                        }
                        Ok(i)
                    })
                    .collect::<Result<Vec<_>>>()?
            }
            _ => Vec::new(),
        };
        Ok(EdgeDef {
            from: input.stream.node,
            port: input.stream.port,
            to,
            input: index,
            partitioning,
            key_columns,
        })
    }

    fn push(
        &mut self,
        name: &str,
        parallelism: usize,
        kind: NodeKind,
        ports: Vec<OutputPort>,
    ) -> Node {
        let id = NodeId(self.nodes.len());
        self.nodes.push(NodeDef {
            name: name.to_string(),
            parallelism,
            kind,
            ports: ports.clone(),
        });
        Node {
            id,
            name: name.to_string(),
            ports,
        }
    }

    /// Finishes the graph.
    pub fn build(self) -> Result<JobGraph> {
        if !self
            .nodes
            .iter()
            .any(|n| matches!(n.kind, NodeKind::Source { .. }))
        {
            return Err(EngineError::Graph("the graph has no source".into()));
        }
        Ok(JobGraph {
            nodes: self.nodes,
            edges: self.edges,
            max_parallelism: self.max_parallelism,
        })
    }
}

/// A checked, compiled graph, ready to run.
pub struct JobGraph {
    pub(crate) nodes: Vec<NodeDef>,
    pub(crate) edges: Vec<EdgeDef>,
    pub(crate) max_parallelism: usize,
}

impl std::fmt::Debug for JobGraph {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JobGraph")
            .field(
                "nodes",
                &self
                    .nodes
                    .iter()
                    .map(|n| (&n.name, n.parallelism))
                    .collect::<Vec<_>>(),
            )
            .field("edges", &self.edges)
            .finish()
    }
}

pub(crate) fn field_names(schema: &SchemaRef) -> String {
    schema
        .fields()
        .iter()
        .map(|f| f.name().as_str())
        .collect::<Vec<_>>()
        .join(", ")
}
