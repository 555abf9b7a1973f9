//! The job file: what a YAML job definition holds, and reading one.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;
use weir_connectors::compaction::CompactionConfig;
use weir_connectors::quality_check::QualityCheckConfig;
use weir_connectors::stdout::StdoutSinkConfig;
use weir_engine::{Partitioning, RuntimeConfig, WatermarkStrategy};

use crate::error::{JobError, Result};
use crate::interpolate::referenced_variables;
use crate::runner::RestartStrategy;
use crate::sinks::SinkConfig;
use crate::sources::SourceConfig;
use crate::transforms::TransformConfig;
use crate::yaml;

/// A job definition, as read from a YAML job file. Sources, transforms and sinks share
/// one namespace of node names; a node reads other nodes by name (`events`) or by output
/// port (`events.dead_letters`, `per_minute.late`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobDefinition {
    /// The job's id: the default Delta app id and the default checkpoint folder name.
    pub name: String,
    /// What the job does (default `stream`).
    #[serde(default)]
    pub kind: JobKind,
    /// How the job restarts after a transient failure.
    #[serde(default)]
    pub restart: RestartStrategy,
    /// Parallelism of every node that does not set its own (default 1).
    #[serde(default = "one")]
    pub parallelism: usize,
    #[serde(default)]
    pub checkpoints: CheckpointSettings,
    /// A `stream` job's sources (at least one); a `compact` job's one source is made from
    /// its `compact:` section.
    #[serde(default)]
    pub sources: BTreeMap<String, SourceSpec>,
    #[serde(default)]
    pub transforms: BTreeMap<String, TransformSpec>,
    /// A `stream` job's sinks (at least one).
    #[serde(default)]
    pub sinks: BTreeMap<String, SinkSpec>,
    /// A `compact` job's table, schedule and layout.
    #[serde(default)]
    pub compact: Option<CompactionConfig>,
    /// A `quality` job's lake, table, schedule and rules.
    #[serde(default)]
    pub quality: Option<QualityCheckConfig>,
    /// When `weir server` runs the job (see [`crate::schedule`]); `weir run` runs it once.
    #[serde(default)]
    pub schedule: Option<crate::schedule::Schedule>,
}

/// The kinds of job a job file can define, by `kind:`; the one place a new kind is
/// registered. Every kind shares `name`, `restart` and `checkpoints`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobKind {
    /// A dataflow graph of `sources`, `transforms` and `sinks`, run until its sources end
    /// or it is stopped.
    #[default]
    Stream,
    /// A Delta table compacted on a schedule (`compact:`), until stopped. It runs as a
    /// graph of one compaction source (one row per compaction) into stdout, so it has the
    /// lifecycle, restarts and status of every job.
    Compact,
    /// A lake table judged by quality rules (`quality:`), once or every interval; the
    /// verdicts go to the lake's `_quality` table and stdout, and a failed `fail` rule
    /// fails the job with the verdict. It runs as a graph of one quality-check source into
    /// stdout.
    Quality,
}

fn one() -> usize {
    1
}

/// When and where the job checkpoints.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckpointSettings {
    /// How often (default 10 s). Delta sinks commit once per checkpoint, so this is also
    /// how fresh the lake is.
    #[serde(with = "humantime_serde", default = "default_interval")]
    pub interval: Duration,
    /// A directory or object store URL (default `checkpoints/<job name>`).
    #[serde(default)]
    pub location: Option<String>,
    /// How many complete checkpoints to keep (default 3).
    #[serde(default = "default_retained")]
    pub retained: usize,
}

fn default_interval() -> Duration {
    Duration::from_secs(10)
}

fn default_retained() -> usize {
    3
}

impl Default for CheckpointSettings {
    fn default() -> Self {
        Self {
            interval: default_interval(),
            location: None,
            retained: default_retained(),
        }
    }
}

/// A source node: a connector plus how many subtasks read it and how event time is
/// derived from its rows.
#[derive(Debug, Clone, Deserialize)]
pub struct SourceSpec {
    #[serde(default)]
    pub parallelism: Option<usize>,
    /// Without a watermark strategy only the end of a bounded input advances event time.
    #[serde(default)]
    pub watermark: Option<WatermarkStrategy>,
    #[serde(flatten)]
    pub connector: SourceConfig,
}

/// How a node's inputs are spread over its subtasks: `forward`, `rebalance`, `broadcast`
/// or `{hash: [columns]}`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "PartitionText")]
pub enum PartitionSpec {
    /// Subtask to subtask (round-robin when the parallelism differs).
    Forward,
    /// Whole batches round-robin.
    Rebalance,
    /// Every row to every subtask.
    Broadcast,
    /// By the hash of these columns.
    Hash(Vec<String>),
}

/// How a partitioning is written in YAML.
#[derive(Deserialize)]
#[serde(untagged)]
enum PartitionText {
    Name(String),
    Hash { hash: Vec<String> },
}

impl TryFrom<PartitionText> for PartitionSpec {
    type Error = String;

    fn try_from(text: PartitionText) -> std::result::Result<Self, String> {
        match text {
            PartitionText::Hash { hash } if hash.is_empty() => {
                Err("hash partitioning needs at least one column".into())
            }
            PartitionText::Hash { hash } => Ok(PartitionSpec::Hash(hash)),
            PartitionText::Name(name) => match name.as_str() {
                "forward" => Ok(PartitionSpec::Forward),
                "rebalance" => Ok(PartitionSpec::Rebalance),
                "broadcast" => Ok(PartitionSpec::Broadcast),
                other => Err(format!(
                    "unknown partitioning '{other}': expected forward, rebalance, broadcast or {{hash: [columns]}}"
                )),
            },
        }
    }
}

impl PartitionSpec {
    pub(crate) fn partitioning(&self) -> Partitioning {
        match self {
            PartitionSpec::Forward => Partitioning::Forward,
            PartitionSpec::Rebalance => Partitioning::Rebalance,
            PartitionSpec::Broadcast => Partitioning::Broadcast,
            PartitionSpec::Hash(keys) => Partitioning::Hash(keys.clone()),
        }
    }
}

/// A transform node: any registered operator (`type: filter`, `window_aggregate`, ...) or
/// `parse`.
#[derive(Debug, Clone, Deserialize)]
pub struct TransformSpec {
    /// The nodes (or `node.port`s) it reads.
    pub inputs: Vec<String>,
    #[serde(default)]
    pub parallelism: Option<usize>,
    /// Default: by the hash of the operator's key for keyed operators (windows, dedup),
    /// forward otherwise.
    #[serde(default)]
    pub partition: Option<PartitionSpec>,
    #[serde(flatten)]
    pub operator: TransformConfig,
}

/// A sink node.
#[derive(Debug, Clone, Deserialize)]
pub struct SinkSpec {
    /// The node (or `node.port`) it writes; exactly one.
    pub inputs: Vec<String>,
    #[serde(default)]
    pub parallelism: Option<usize>,
    /// Default: forward.
    #[serde(default)]
    pub partition: Option<PartitionSpec>,
    #[serde(flatten)]
    pub connector: SinkConfig,
}

impl JobDefinition {
    /// Reads a job file, substituting `${VAR}` / `${VAR:-default}` in its values from the
    /// environment. Reads at most [`yaml::MAX_JOB_FILE_BYTES`] (and one byte more, to refuse a
    /// larger file), whatever the file's size.
    pub fn from_file(path: &Path) -> Result<Self> {
        let (label, text) = yaml::read_job_file(path)?;
        Self::from_yaml(&text, &label, |name| std::env::var(name).ok())
    }

    /// Parses a job definition; `file` names it in errors, `env` looks up variables.
    /// Variables are substituted inside plain (unquoted) scalar values after parsing: a
    /// value that is exactly `${VAR}` becomes the variable's value read as one YAML scalar
    /// (number, boolean, null or string), never as structure. The document is read within
    /// the bounds of [`crate::yaml`].
    pub fn from_yaml(text: &str, file: &str, env: impl Fn(&str) -> Option<String>) -> Result<Self> {
        let mut definition: JobDefinition =
            yaml::from_str(text, file, referenced_variables(text, env))?;
        definition.validate(file)?;
        if let Some(compact) = definition.compact.clone() {
            definition.add_single_source_graph(
                "compaction",
                SourceConfig::Compaction(compact),
                "compactions",
            );
        }
        if let Some(quality) = definition.quality.clone() {
            definition.add_single_source_graph(
                "quality",
                SourceConfig::Quality(quality),
                "verdicts",
            );
        }
        Ok(definition)
    }

    fn validate(&self, file: &str) -> Result<()> {
        let invalid = |message: String| {
            Err(JobError::Definition {
                location: file.to_string(),
                message,
            })
        };
        if !is_name(&self.name) {
            return invalid(format!(
                "job name '{}' must be letters, digits, '_' or '-'",
                self.name
            ));
        }
        if let Some(Err(message)) = self.schedule.as_ref().map(|s| s.check()) {
            return invalid(message);
        }
        if let Some(problem) = self.restart.problem() {
            return invalid(problem);
        }
        if self.parallelism == 0 {
            return invalid("parallelism must be at least 1".into());
        }
        // A kind with a section of its own: (kind, its section's key, what it holds, what
        // the job does with it).
        let sections = [
            (
                JobKind::Compact,
                "compact",
                self.compact.is_some(),
                "table, every, ...",
                "compacts its `compact.table`",
            ),
            (
                JobKind::Quality,
                "quality",
                self.quality.is_some(),
                "lake, table, rules, ...",
                "judges its `quality.table`",
            ),
        ];
        for (kind, key, present, holds, does) in sections {
            if present && self.kind != kind {
                return invalid(format!("`{key}:` belongs to a `kind: {key}` job"));
            }
            if self.kind == kind {
                if !present {
                    return invalid(format!(
                        "a `kind: {key}` job needs a `{key}:` section ({holds})"
                    ));
                }
                if !(self.sources.is_empty() && self.transforms.is_empty() && self.sinks.is_empty())
                {
                    return invalid(format!(
                        "a `kind: {key}` job has no sources, transforms or sinks: it {does}"
                    ));
                }
            }
        }
        if self.kind == JobKind::Stream && (self.sources.is_empty() || self.sinks.is_empty()) {
            return invalid("a job needs at least one source and one sink".into());
        }
        let mut seen = BTreeMap::new();
        let names = self
            .sources
            .keys()
            .map(|n| (n, "sources"))
            .chain(self.transforms.keys().map(|n| (n, "transforms")))
            .chain(self.sinks.keys().map(|n| (n, "sinks")));
        for (name, section) in names {
            if !is_name(name) {
                return invalid(format!(
                    "node name '{name}' in {section} must be letters, digits, '_' or '-'"
                ));
            }
            if let Some(other) = seen.insert(name.clone(), section) {
                return invalid(format!(
                    "node name '{name}' is used in both {other} and {section}"
                ));
            }
        }
        Ok(())
    }

    /// The graph of a kind with a section of its own: the one source `source` (one
    /// subtask) into the stdout sink `sink`.
    fn add_single_source_graph(&mut self, source: &str, connector: SourceConfig, sink: &str) {
        self.sources.insert(
            source.into(),
            SourceSpec {
                parallelism: Some(1),
                watermark: None,
                connector,
            },
        );
        self.sinks.insert(
            sink.into(),
            SinkSpec {
                inputs: vec![source.into()],
                parallelism: Some(1),
                partition: None,
                connector: SinkConfig::Stdout(StdoutSinkConfig::default()),
            },
        );
    }

    /// The runtime settings: checkpoints every `checkpoints.interval` at
    /// `checkpoints.location` (default `checkpoints/<name>`), restoring from the newest one.
    pub fn runtime_config(&self) -> RuntimeConfig {
        RuntimeConfig {
            checkpoint_interval: Some(self.checkpoints.interval),
            checkpoint_location: Some(
                self.checkpoints
                    .location
                    .clone()
                    .unwrap_or_else(|| format!("checkpoints/{}", self.name)),
            ),
            checkpoints_retained: self.checkpoints.retained,
            ..RuntimeConfig::default()
        }
    }
}

fn is_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}
