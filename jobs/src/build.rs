//! Turning a job definition into a dataflow graph.

use std::collections::BTreeMap;

use weir_engine::{GraphBuilder, Input, JobGraph, Node, OperatorFactory, Partitioning};

use crate::definition::{JobDefinition, PartitionSpec};
use crate::error::{JobError, Result};

/// Builds the job's graph: sources first, then transforms once everything they read
/// exists, then sinks. Unknown inputs, cycles and misconfigured operators are errors that
/// name the node.
pub async fn build_graph(job: &JobDefinition) -> Result<JobGraph> {
    let mut graph = GraphBuilder::new();
    let mut nodes: BTreeMap<String, Node> = BTreeMap::new();
    for (name, spec) in &job.sources {
        let plan = spec
            .connector
            .plan()
            .await
            .map_err(|e| JobError::node(name, e.to_string()))?;
        let parallelism = spec.parallelism.unwrap_or(job.parallelism);
        let node = graph.source(name, plan, parallelism, spec.watermark.clone())?;
        nodes.insert(name.clone(), node);
    }
    let mut pending: Vec<_> = job.transforms.iter().collect();
    while !pending.is_empty() {
        let before = pending.len();
        let mut waiting = Vec::new();
        for (name, spec) in pending {
            if !spec.inputs.iter().all(|i| nodes.contains_key(node_of(i))) {
                waiting.push((name, spec));
                continue;
            }
            let partitioning = match (&spec.partition, spec.operator.key_columns()) {
                (Some(partition), _) => partition.partitioning(),
                (None, Some(keys)) => Partitioning::Hash(keys),
                (None, None) => Partitioning::Forward,
            };
            let inputs = spec
                .inputs
                .iter()
                .map(|i| input(&nodes, name, i, &partitioning))
                .collect::<Result<Vec<_>>>()?;
            let parallelism = spec.parallelism.unwrap_or(job.parallelism);
            let node = graph.operator(name, &spec.operator, inputs, parallelism)?;
            nodes.insert(name.clone(), node);
        }
        if waiting.len() == before {
            return Err(unresolved(job, &nodes, &waiting));
        }
        pending = waiting;
    }
    for (name, spec) in &job.sinks {
        let [reads] = spec.inputs.as_slice() else {
            return Err(JobError::node(
                name,
                format!(
                    "a sink reads exactly one input, got {} (union them in a transform first)",
                    spec.inputs.len()
                ),
            ));
        };
        if !nodes.contains_key(node_of(reads)) {
            return Err(unknown_input(job, name, reads));
        }
        let partitioning = spec
            .partition
            .as_ref()
            .map_or(Partitioning::Forward, PartitionSpec::partitioning);
        let input = input(&nodes, name, reads, &partitioning)?;
        let parallelism = spec.parallelism.unwrap_or(job.parallelism);
        spec.connector
            .add(&mut graph, &job.name, name, input, parallelism)?;
    }
    Ok(graph.build()?)
}

/// The node part of `node` or `node.port`.
fn node_of(reference: &str) -> &str {
    reference
        .split_once('.')
        .map_or(reference, |(node, _)| node)
}

fn input(
    nodes: &BTreeMap<String, Node>,
    reader: &str,
    reference: &str,
    partitioning: &Partitioning,
) -> Result<Input> {
    let node = &nodes[node_of(reference)];
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

fn unresolved(
    job: &JobDefinition,
    nodes: &BTreeMap<String, Node>,
    waiting: &[(&String, &crate::definition::TransformSpec)],
) -> JobError {
    for (name, spec) in waiting {
        for reference in &spec.inputs {
            let node = node_of(reference);
            if !nodes.contains_key(node) && !job.transforms.contains_key(node) {
                return unknown_input(job, name, reference);
            }
        }
    }
    let names: Vec<&str> = waiting.iter().map(|(n, _)| n.as_str()).collect();
    JobError::node(
        names[0],
        format!(
            "the transforms {} read each other in a cycle",
            names.join(", ")
        ),
    )
}
