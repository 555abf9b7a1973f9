//! The jobs crate's error type.

use weir_connectors::ConnectorError;
use weir_engine::EngineError;

/// Result alias of this crate.
pub type Result<T, E = JobError> = std::result::Result<T, E>;

/// Errors in reading a job file or turning it into a graph.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// The job file cannot be read or is not a valid job definition; `location` is the
    /// file and, where known, the line and column.
    #[error("{location}: {message}")]
    Definition { location: String, message: String },
    /// A node of the job is wired or configured wrongly; names the node.
    #[error("node '{node}': {message}")]
    Node { node: String, message: String },
    /// The final checkpoint of a stop failed; the job was cancelled instead.
    #[error("stopping failed, so the job was cancelled (it resumes from its last completed checkpoint): {0}")]
    Stop(EngineError),
    /// A request that needs a running job came while it was not running.
    #[error("job '{job}' is not running (it is {status})")]
    NotRunning { job: String, status: String },
    /// The runner itself failed.
    #[error("job runner: {0}")]
    Runner(String),
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    Connector(#[from] ConnectorError),
}

impl JobError {
    /// Whether running the job again may succeed: an engine or connector failure that may
    /// pass (an unreachable broker or object store, an I/O error, a lost commit race).
    /// Mistakes in the job file and permanent failures are not.
    pub fn is_transient(&self) -> bool {
        match self {
            JobError::Engine(error) | JobError::Stop(error) => error.is_transient(),
            JobError::Connector(error) => error.is_transient(),
            JobError::Definition { .. }
            | JobError::Node { .. }
            | JobError::NotRunning { .. }
            | JobError::Runner(_) => false,
        }
    }

    pub(crate) fn node(node: &str, message: impl Into<String>) -> Self {
        JobError::Node {
            node: node.into(),
            message: message.into(),
        }
    }
}
