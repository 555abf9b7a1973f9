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
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    Connector(#[from] ConnectorError),
}

impl JobError {
    pub(crate) fn node(node: &str, message: impl Into<String>) -> Self {
        JobError::Node {
            node: node.into(),
            message: message.into(),
        }
    }
}
