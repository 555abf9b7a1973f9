//! The engine's error type.

use arrow::error::ArrowError;
use datafusion::error::DataFusionError;

/// Result alias used throughout the engine.
pub type Result<T, E = EngineError> = std::result::Result<T, E>;

/// Everything that can go wrong while building or running a job graph.
///
/// Variants caused by the user (a bad expression, an invalid graph or configuration)
/// name the node and the offending text; the others wrap a lower layer.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// A SQL expression failed to parse or plan. `position` is "line L, column C" when known.
    #[error("invalid {role} `{expr}` in node '{node}'{}: {message}", position.as_ref().map(|p| format!(" at {p}")).unwrap_or_default())]
    Expression {
        node: String,
        role: &'static str,
        expr: String,
        position: Option<String>,
        message: String,
    },
    /// The graph itself is malformed (unknown port, mismatched schemas, bad parallelism).
    #[error("invalid job graph: {0}")]
    Graph(String),
    /// A node's configuration is invalid.
    #[error("invalid configuration of node '{node}': {message}")]
    Config { node: String, message: String },
    /// A source, operator or sink failed at run time.
    #[error("{node}[{subtask}] failed: {source}")]
    Task {
        node: String,
        subtask: usize,
        #[source]
        source: Box<EngineError>,
    },
    /// A failure outside the job's control that may pass: a broker or object store that
    /// is unreachable, slow or overloaded, a commit that lost its races, an I/O error. A
    /// job that fails with one is restarted from its last completed checkpoint.
    #[error("{context}: {source}")]
    Transient {
        context: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// An error raised by a connector or other code outside the engine that running the
    /// job again would meet again.
    #[error("{context}: {source}")]
    External {
        context: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A checkpoint could not be taken.
    #[error("checkpoint failed: {0}")]
    Checkpoint(String),
    /// A job could not be restored: no usable checkpoint, or one taken by a different job.
    #[error("cannot restore: {0}")]
    Restore(String),
    /// A downstream task stopped, so its input channel closed.
    #[error("a downstream task stopped")]
    Disconnected,
    /// The job was cancelled through its control; it resumes from its last completed
    /// checkpoint.
    #[error("the job was cancelled")]
    Cancelled,
    /// A task of the runtime panicked or was cancelled.
    #[error("runtime task ended abnormally: {0}")]
    Join(String),
    #[error(transparent)]
    Arrow(#[from] ArrowError),
    #[error(transparent)]
    DataFusion(#[from] DataFusionError),
}

impl EngineError {
    /// Wraps an error from outside the engine with a description of where it happened.
    pub fn external(
        context: impl Into<String>,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        EngineError::External {
            context: context.into(),
            source: source.into(),
        }
    }

    /// A failure that may pass (see [`EngineError::Transient`]), with where it happened.
    pub fn transient(
        context: impl Into<String>,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        EngineError::Transient {
            context: context.into(),
            source: source.into(),
        }
    }

    /// Whether running the job again from its last completed checkpoint may succeed: the
    /// error is (or was caused in a task by) a [`EngineError::Transient`] failure, or a
    /// checkpoint that could not be written. Mistakes in the job, bad input under a `fail`
    /// policy, incompatible state and panics are not transient: they would happen again.
    pub fn is_transient(&self) -> bool {
        match self {
            EngineError::Transient { .. } | EngineError::Checkpoint(_) => true,
            EngineError::Task { source, .. } => source.is_transient(),
            _ => false,
        }
    }

    /// A configuration error of `node`.
    pub fn config(node: impl Into<String>, message: impl Into<String>) -> Self {
        EngineError::Config {
            node: node.into(),
            message: message.into(),
        }
    }
}
