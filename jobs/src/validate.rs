//! Checking a job file without running it: every mistake found, each at its own
//! `file:line:column`, or an outline of the graph the job would run.
//!
//! A mistake in the YAML (syntax, an unknown field, a wrong type, a missing variable) stops
//! the check: it is the only one reported. Otherwise every node is planned as `weir run`
//! would plan it, except that nothing external is contacted (a Kafka source takes its
//! schema from its format) and that a node whose input failed is skipped; each node's
//! mistake (a SQL expression, a column, an input, a port, a cycle, a Delta table whose
//! columns do not fit) is reported at the field it is about.

use std::fmt;
use std::path::Path;

use weir_engine::{EngineError, Partitioning};

use crate::build::{self, Fault, Planning};
use crate::definition::JobDefinition;
use crate::error::JobError;
use crate::interpolate::referenced_variables;
use crate::located::{Located, Position};
use crate::yaml;

/// One mistake in a job file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mistake {
    /// `file:line:column`, or the file alone when it cannot be read at all.
    pub location: String,
    /// What is wrong (naming the node, where there is one) and what was expected.
    pub message: String,
}

impl fmt::Display for Mistake {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.location, self.message)
    }
}

/// The graph a valid job file runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outline {
    /// The job's name.
    pub job: String,
    /// Sources, then transforms, then sinks, each in name order.
    pub nodes: Vec<NodeOutline>,
    /// One edge per input of a transform or sink.
    pub edges: Vec<EdgeOutline>,
    /// Per sink: where its rows go.
    pub outputs: Vec<(String, String)>,
}

/// A node of a valid job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeOutline {
    pub name: String,
    /// `source`, `transform` or `sink`.
    pub role: &'static str,
    /// Its `type:`.
    pub kind: String,
    pub parallelism: usize,
}

/// An edge of a valid job: `from` (`node` or `node.port`) into `to`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EdgeOutline {
    pub from: String,
    pub to: String,
    /// `forward`, `rebalance`, `broadcast` or `hash(columns)`; a forward edge between
    /// different parallelisms is a rebalance.
    pub partitioning: String,
}

impl fmt::Display for Outline {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "job '{}' is valid", self.job)?;
        writeln!(f, "nodes:")?;
        let width = self.nodes.iter().map(|n| n.name.len()).max().unwrap_or(0);
        for node in &self.nodes {
            writeln!(
                f,
                "  {:width$}  {:9}  {}, parallelism {}",
                node.name, node.role, node.kind, node.parallelism
            )?;
        }
        writeln!(f, "edges:")?;
        for edge in &self.edges {
            writeln!(f, "  {} -> {} ({})", edge.from, edge.to, edge.partitioning)?;
        }
        writeln!(f, "outputs:")?;
        for (sink, output) in &self.outputs {
            writeln!(f, "  {sink}: {output}")?;
        }
        Ok(())
    }
}

/// Checks the job file at `path`, with `${VAR}` taken from the environment.
pub async fn validate_file(path: &Path) -> Result<Outline, Vec<Mistake>> {
    let (label, text) = yaml::read_job_file(path).map_err(|e| vec![unplaced(e)])?;
    validate(&text, &label, |name| std::env::var(name).ok()).await
}

/// Checks the job in `text`; `file` names it in mistakes, `env` looks up variables.
/// Returns the graph it would run, or every mistake found, in the order of the file.
pub async fn validate(
    text: &str,
    file: &str,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Outline, Vec<Mistake>> {
    let tree =
        yaml::parse(text, file, referenced_variables(text, &env)).map_err(|e| vec![unplaced(e)])?;
    let job = JobDefinition::from_yaml(text, file, &env)
        .map_err(|e| vec![definition_mistake(e, &tree, file)])?;
    let planned = build::plan(&job, Planning::Check).await;
    let mut mistakes: Vec<(Position, Mistake)> = planned
        .mistakes
        .iter()
        .map(|m| node_mistake(m, &tree, text, file))
        .collect();
    if mistakes.is_empty() {
        if let Err(error) = planned.graph.build() {
            mistakes.push(place(tree.at, file, error.to_string()));
        }
    }
    if !mistakes.is_empty() {
        mistakes.sort_by_key(|(at, _)| *at);
        return Err(mistakes.into_iter().map(|(_, m)| m).collect());
    }
    Ok(outline(&job, &tree, &planned.edges))
}

fn place(at: Position, file: &str, message: String) -> (Position, Mistake) {
    let location = format!("{file}:{at}");
    (at, Mistake { location, message })
}

/// A mistake from reading the file, placed where the reader placed it.
fn unplaced(error: JobError) -> Mistake {
    match error {
        JobError::Definition { location, message } => Mistake { location, message },
        other => Mistake {
            location: String::new(),
            message: other.to_string(),
        },
    }
}

/// A mistake in the definition; one the reader could not place (a node name used twice,
/// a job name with spaces) is placed at the last key or value it quotes.
fn definition_mistake(error: JobError, tree: &Located, file: &str) -> Mistake {
    let JobError::Definition { location, message } = error else {
        return unplaced(error);
    };
    if location != file {
        return Mistake { location, message };
    }
    let mut at = tree.at;
    for name in quoted(&message) {
        tree.walk(String::new(), &mut |value, _, _| {
            if value.text() == Some(name) {
                at = value.at;
            }
        });
    }
    place(at, file, message).1
}

/// A node's mistake, placed at the field it is about, with the position it sorts by.
fn node_mistake(
    mistake: &build::Mistake,
    tree: &Located,
    text: &str,
    file: &str,
) -> (Position, Mistake) {
    let section = tree.get(mistake.section);
    let key = section.and_then(|s| s.key(&mistake.node));
    let node = section.and_then(|s| s.get(&mistake.node));
    let at = node.and_then(|node| match &mistake.fault {
        Fault::Input(reference) => node
            .get("inputs")
            .and_then(|inputs| find(inputs, |v| v.text() == Some(reference.as_str()))),
        Fault::Inputs => node.get("inputs").map(|inputs| inputs.at),
        Fault::Table => node.get("table").map(|table| table.at),
        Fault::Settings => settings_position(&mistake.error, node, text),
    });
    let at = at.or(key.map(|k| k.at)).unwrap_or(tree.at);
    let message = format!(
        "{}.{}: {}",
        mistake.section,
        mistake.node,
        describe(&mistake.error)
    );
    place(at, file, message)
}

/// Where in `node` a mistake in its settings is: inside the SQL expression it names, or
/// at the first value that is a name it quotes (`key column 'chanel' ...`).
fn settings_position(error: &JobError, node: &Located, text: &str) -> Option<Position> {
    if let JobError::Engine(EngineError::Expression { expr, position, .. }) = error {
        let at = find(node, |v| v.text() == Some(expr.as_str()))?;
        return Some(inside_expression(at, position.as_deref(), expr, text));
    }
    let message = error.to_string();
    quoted(&message)
        .into_iter()
        .find_map(|name| find(node, |v| v.text() == Some(name)))
}

/// The position of `line L, column C` of expression `expr`, written at `at` in `text`:
/// past an opening quote, on the expression's first line; `at` when the position is
/// unknown or on a later line (a block scalar).
fn inside_expression(at: Position, position: Option<&str>, expr: &str, text: &str) -> Position {
    let Some((line, column)) = position.and_then(|p| {
        let (line, column) = p.strip_prefix("line ")?.split_once(", column ")?;
        Some((line.parse::<u64>().ok()?, column.parse::<u64>().ok()?))
    }) else {
        return at;
    };
    let source_line = usize::try_from(at.line)
        .ok()
        .and_then(|l| text.lines().nth(l.checked_sub(1)?))
        .unwrap_or("");
    let from = usize::try_from(at.column.saturating_sub(1)).unwrap_or(usize::MAX);
    let rest: String = source_line.chars().skip(from).collect();
    let first_line = expr.lines().next().unwrap_or("");
    let Some(offset) = rest.find(first_line).filter(|_| line == 1) else {
        return at;
    };
    let offset = rest[..offset].chars().count() as u64;
    Position {
        line: at.line,
        column: at.column + offset + column.saturating_sub(1),
    }
}

/// The message of a node's error without the node's name (the mistake names it).
fn describe(error: &JobError) -> String {
    match error {
        JobError::Node { message, .. } => message.clone(),
        JobError::Engine(EngineError::Config { message, .. }) => message.clone(),
        JobError::Engine(EngineError::Expression {
            role,
            expr,
            message,
            ..
        }) => format!("invalid {role} `{expr}`: {message}"),
        other => other.to_string(),
    }
}

/// The names a message quotes: `'name'`.
fn quoted(message: &str) -> Vec<&str> {
    message
        .split('\'')
        .skip(1)
        .step_by(2)
        .filter(|name| !name.is_empty())
        .collect()
}

/// The position of the first value or key in `node` (depth first, in document order)
/// for which `wanted` holds.
fn find(node: &Located, wanted: impl Fn(&Located) -> bool) -> Option<Position> {
    let mut found = None;
    node.walk(String::new(), &mut |value, _, _| {
        if found.is_none() && wanted(value) {
            found = Some(value.at);
        }
    });
    found
}

fn outline(job: &JobDefinition, tree: &Located, edges: &[build::Edge]) -> Outline {
    let kind = |section: &str, name: &str| {
        tree.get(section)
            .and_then(|s| s.get(name))
            .and_then(|n| n.get("type"))
            .and_then(Located::text)
            .unwrap_or_default()
            .to_string()
    };
    let parallelism = |own: Option<usize>| own.unwrap_or(job.parallelism);
    let mut nodes = Vec::new();
    let mut of = std::collections::BTreeMap::new();
    for (name, spec) in &job.sources {
        of.insert(name.as_str(), parallelism(spec.parallelism));
        nodes.push(NodeOutline {
            name: name.clone(),
            role: "source",
            kind: kind("sources", name),
            parallelism: parallelism(spec.parallelism),
        });
    }
    for (name, spec) in &job.transforms {
        of.insert(name.as_str(), parallelism(spec.parallelism));
        nodes.push(NodeOutline {
            name: name.clone(),
            role: "transform",
            kind: kind("transforms", name),
            parallelism: parallelism(spec.parallelism),
        });
    }
    for (name, spec) in &job.sinks {
        of.insert(name.as_str(), parallelism(spec.parallelism));
        nodes.push(NodeOutline {
            name: name.clone(),
            role: "sink",
            kind: kind("sinks", name),
            parallelism: parallelism(spec.parallelism),
        });
    }
    let edges = edges
        .iter()
        .map(|edge| {
            let differ = of.get(build::node_of(&edge.from)) != of.get(edge.to.as_str());
            let partitioning = match &edge.partitioning {
                Partitioning::Forward if differ => "rebalance".to_string(),
                Partitioning::Forward => "forward".to_string(),
                Partitioning::Rebalance => "rebalance".to_string(),
                Partitioning::Broadcast => "broadcast".to_string(),
                Partitioning::Hash(keys) => format!("hash({})", keys.join(", ")),
            };
            EdgeOutline {
                from: edge.from.clone(),
                to: edge.to.clone(),
                partitioning,
            }
        })
        .collect();
    let outputs = job
        .sinks
        .iter()
        .map(|(name, spec)| (name.clone(), spec.connector.output()))
        .collect();
    Outline {
        job: job.name.clone(),
        nodes,
        edges,
        outputs,
    }
}
