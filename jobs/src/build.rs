//! Turning a job definition into a dataflow graph.

use std::collections::{BTreeMap, BTreeSet};

use weir_engine::{GraphBuilder, Input, JobGraph, Node, OperatorFactory, Partitioning};

use crate::definition::{JobDefinition, PartitionSpec, SinkSpec, SourceSpec, TransformSpec};
use crate::error::{JobError, Result};

/// Builds the job's graph: sources first, then transforms once everything they read
/// exists, then sinks. Unknown inputs, cycles and misconfigured operators are errors that
/// name the node; the first one found is returned.
pub async fn build_graph(job: &JobDefinition) -> Result<JobGraph> {
    let planned = plan(job, Planning::Run).await;
    if let Some(mistake) = planned.mistakes.into_iter().next() {
        return Err(mistake.error);
    }
    Ok(planned.graph.build()?)
}

/// How a job is planned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Planning {
    /// To run it: sources contact what they read (a Kafka source lists its partitions at
    /// the brokers), and planning stops at the first mistake.
    Run,
    /// To check it: sources are planned from their configuration alone (a Kafka source
    /// knows its schema from its format, and has no partitions), sinks look at the tables
    /// they would write, and every node whose inputs planned is planned, so that each
    /// node's mistakes are found.
    Check,
}

/// What in a node a mistake is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Fault {
    /// One of its `inputs`, as written.
    Input(String),
    /// Its `inputs` as a whole (how many, or a cycle through them).
    Inputs,
    /// Its own settings (an expression, a column, an option).
    Settings,
    /// The table a sink would write.
    Table,
}

/// A mistake found while planning, attributed to a node of the job file.
#[derive(Debug)]
pub(crate) struct Mistake {
    /// `sources`, `transforms` or `sinks`.
    pub section: &'static str,
    pub node: String,
    pub fault: Fault,
    pub error: JobError,
}

/// An edge between two nodes of the job file, as planned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Edge {
    /// `node` or `node.port`, as the reader names it.
    pub from: String,
    pub to: String,
    pub partitioning: Partitioning,
}

/// A job planned node by node: the graph of the nodes that planned, the edges between
/// them, and the mistakes found (in [`Planning::Run`] at most one).
pub(crate) struct Planned {
    pub graph: GraphBuilder,
    pub edges: Vec<Edge>,
    pub mistakes: Vec<Mistake>,
}

/// Plans every node of `job` in dependency order. A node whose input failed to plan is
/// skipped without a mistake of its own.
pub(crate) async fn plan(job: &JobDefinition, planning: Planning) -> Planned {
    let mut planner = Planner {
        job,
        planning,
        graph: GraphBuilder::new(),
        nodes: BTreeMap::new(),
        unusable: BTreeSet::new(),
        edges: Vec::new(),
        mistakes: Vec::new(),
    };
    for (name, spec) in &job.sources {
        if planner.done() {
            break;
        }
        planner.source(name, spec).await;
    }
    planner.transforms();
    for (name, spec) in &job.sinks {
        if planner.done() {
            break;
        }
        planner.sink(name, spec).await;
    }
    Planned {
        graph: planner.graph,
        edges: planner.edges,
        mistakes: planner.mistakes,
    }
}

struct Planner<'j> {
    job: &'j JobDefinition,
    planning: Planning,
    graph: GraphBuilder,
    /// The sources and transforms planned so far.
    nodes: BTreeMap<String, Node>,
    /// Nodes that failed to plan or read one that did.
    unusable: BTreeSet<String>,
    edges: Vec<Edge>,
    mistakes: Vec<Mistake>,
}

impl Planner<'_> {
    fn done(&self) -> bool {
        self.planning == Planning::Run && !self.mistakes.is_empty()
    }

    fn fail(&mut self, section: &'static str, node: &str, fault: Fault, error: JobError) {
        self.unusable.insert(node.to_string());
        self.mistakes.push(Mistake {
            section,
            node: node.to_string(),
            fault,
            error,
        });
    }

    fn parallelism(&self, own: Option<usize>) -> usize {
        own.unwrap_or(self.job.parallelism)
    }

    async fn source(&mut self, name: &str, spec: &SourceSpec) {
        let plan = match self.planning {
            Planning::Run => spec.connector.plan().await,
            Planning::Check => spec.connector.plan_unconnected().await,
        };
        let parallelism = self.parallelism(spec.parallelism);
        let node = plan
            .map_err(|e| JobError::node(name, e.to_string()))
            .and_then(|plan| {
                Ok(self
                    .graph
                    .source(name, plan, parallelism, spec.watermark.clone())?)
            });
        match node {
            Ok(node) => {
                self.nodes.insert(name.to_string(), node);
            }
            Err(error) => self.fail("sources", name, Fault::Settings, error),
        }
    }

    fn transforms(&mut self) {
        let job = self.job;
        let mut pending: Vec<(&String, &TransformSpec)> = job.transforms.iter().collect();
        while !pending.is_empty() && !self.done() {
            let before = pending.len();
            let mut waiting = Vec::new();
            for (name, spec) in pending {
                if self.done() {
                    return;
                }
                if self.unusable.contains(name.as_str()) {
                    continue;
                }
                if spec
                    .inputs
                    .iter()
                    .any(|i| self.unusable.contains(node_of(i)))
                {
                    self.unusable.insert(name.clone());
                    continue;
                }
                if spec
                    .inputs
                    .iter()
                    .all(|i| self.nodes.contains_key(node_of(i)))
                {
                    self.transform(name, spec);
                } else {
                    waiting.push((name, spec));
                }
            }
            if waiting.len() == before {
                self.unresolved(&waiting);
            }
            pending = waiting;
        }
    }

    fn transform(&mut self, name: &str, spec: &TransformSpec) {
        let partitioning = match (&spec.partition, spec.operator.key_columns()) {
            (Some(partition), _) => partition.partitioning(),
            (None, Some(keys)) => Partitioning::Hash(keys),
            (None, None) => Partitioning::Forward,
        };
        let mut inputs = Vec::new();
        for reference in &spec.inputs {
            match self.input(name, reference, &partitioning) {
                Ok(input) => inputs.push(input),
                Err(error) => {
                    return self.fail("transforms", name, Fault::Input(reference.clone()), error)
                }
            }
        }
        let parallelism = self.parallelism(spec.parallelism);
        match self
            .graph
            .operator(name, &spec.operator, inputs, parallelism)
        {
            Ok(node) => {
                self.nodes.insert(name.to_string(), node);
                self.connect(name, &spec.inputs, &partitioning);
            }
            Err(error) => self.fail("transforms", name, Fault::Settings, error.into()),
        }
    }

    /// Transforms that wait for each other or for nodes that do not exist: the unknown
    /// inputs are mistakes; if there are none, the waiting transforms form a cycle.
    fn unresolved(&mut self, waiting: &[(&String, &TransformSpec)]) {
        let mut unknown = Vec::new();
        for (name, spec) in waiting {
            let missing = spec.inputs.iter().find(|reference| {
                let node = node_of(reference);
                !self.nodes.contains_key(node) && !self.job.transforms.contains_key(node)
            });
            if let Some(reference) = missing {
                unknown.push((name.to_string(), reference.to_string()));
            }
        }
        if unknown.is_empty() {
            let names: Vec<&str> = waiting.iter().map(|(n, _)| n.as_str()).collect();
            let error = JobError::node(
                names[0],
                format!(
                    "the transforms {} read each other in a cycle",
                    names.join(", ")
                ),
            );
            self.fail("transforms", names[0], Fault::Inputs, error);
            self.unusable.extend(names.iter().map(|n| n.to_string()));
            return;
        }
        for (name, reference) in unknown {
            let error = unknown_input(self.job, &name, &reference);
            self.fail("transforms", &name, Fault::Input(reference), error);
        }
    }

    async fn sink(&mut self, name: &str, spec: &SinkSpec) {
        let [reference] = spec.inputs.as_slice() else {
            let error = JobError::node(
                name,
                format!(
                    "a sink reads exactly one input, got {} (union them in a transform first)",
                    spec.inputs.len()
                ),
            );
            return self.fail("sinks", name, Fault::Inputs, error);
        };
        if self.unusable.contains(node_of(reference)) {
            return;
        }
        if !self.nodes.contains_key(node_of(reference)) {
            let error = unknown_input(self.job, name, reference);
            return self.fail("sinks", name, Fault::Input(reference.clone()), error);
        }
        let partitioning = spec
            .partition
            .as_ref()
            .map_or(Partitioning::Forward, PartitionSpec::partitioning);
        let input = match self.input(name, reference, &partitioning) {
            Ok(input) => input,
            Err(error) => return self.fail("sinks", name, Fault::Input(reference.clone()), error),
        };
        let checked = input.clone();
        let parallelism = self.parallelism(spec.parallelism);
        if let Err(error) =
            spec.connector
                .add(&mut self.graph, &self.job.name, name, input, parallelism)
        {
            return self.fail("sinks", name, Fault::Settings, error);
        }
        self.connect(name, &spec.inputs, &partitioning);
        if self.planning == Planning::Check {
            if let Err(error) = spec.connector.check_table(&checked).await {
                self.fail(
                    "sinks",
                    name,
                    Fault::Table,
                    JobError::node(name, error.to_string()),
                );
            }
        }
    }

    fn input(&self, reader: &str, reference: &str, partitioning: &Partitioning) -> Result<Input> {
        let node = &self.nodes[node_of(reference)];
        let stream = match reference.split_once('.') {
            Some((_, port)) => node
                .port(port)
                .map_err(|e| JobError::node(reader, e.to_string()))?,
            None => node.port("main").map_err(|_| {
                JobError::node(
                    reader,
                    format!("cannot read '{reference}': it is a sink and has no output"),
                )
            })?,
        };
        Ok(stream.with(partitioning.clone()))
    }

    fn connect(&mut self, reader: &str, inputs: &[String], partitioning: &Partitioning) {
        self.edges.extend(inputs.iter().map(|from| Edge {
            from: from.clone(),
            to: reader.to_string(),
            partitioning: partitioning.clone(),
        }));
    }
}

/// The node part of `node` or `node.port`.
pub(crate) fn node_of(reference: &str) -> &str {
    reference
        .split_once('.')
        .map_or(reference, |(node, _)| node)
}

fn unknown_input(job: &JobDefinition, reader: &str, reference: &str) -> JobError {
    let known: Vec<&str> = job
        .sources
        .keys()
        .chain(job.transforms.keys())
        .map(String::as_str)
        .collect();
    JobError::node(
        reader,
        format!(
            "input '{reference}' is not a source or transform; there are: {}",
            known.join(", ")
        ),
    )
}
