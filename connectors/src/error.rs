//! The connectors' error type.

use weir_engine::EngineError;
use weir_lake::LakeError;

/// Result alias of this crate.
pub type Result<T, E = ConnectorError> = std::result::Result<T, E>;

/// Errors of sources, sinks and formats.
#[derive(Debug, thiserror::Error)]
pub enum ConnectorError {
    /// A connector's configuration is invalid; names the connector and the setting.
    #[error("invalid {connector} configuration: {message}")]
    Config {
        connector: &'static str,
        message: String,
    },
    /// Talking to Kafka failed; says what was being done (and where).
    #[error("kafka: {0}")]
    Kafka(String),
    /// Reading or writing a Delta table failed; says what was being done.
    #[error("delta: {0}")]
    Delta(String),
    /// A table or file holds what the connector cannot read, and reading it again would
    /// not change that (a deletion vector, removed data, a version gone from the log).
    #[error("cannot read {0}")]
    Unreadable(String),
    /// The rows do not fit a table's schema (a missing column, a type that cannot be
    /// written as the table's); says which table and column.
    #[error("schema: {0}")]
    Schema(String),
    /// Reading files failed; says what was being done and names the file.
    #[error("file source: {0}")]
    Files(String),
    /// Reading or writing a local file or directory failed; names the path.
    #[error("i/o: {0}")]
    Io(String),
    /// An epoch failed a `fail` quality rule of a Delta sink, or its rules could not be
    /// judged; names the rule and what was observed. Nothing of the epoch was committed.
    #[error("{0}")]
    Quality(String),
    /// A record could not be decoded under the `fail` policy; names its origin.
    #[error("cannot decode {0}")]
    Decode(String),
    #[error(transparent)]
    Arrow(#[from] arrow::error::ArrowError),
}

impl ConnectorError {
    /// Whether the same operation may succeed later: talking to Kafka, reading or writing
    /// a Delta table, files or the local disk. Configuration mistakes, schema conflicts,
    /// records that cannot be decoded under the `fail` policy and Arrow errors would fail
    /// again.
    pub fn is_transient(&self) -> bool {
        match self {
            ConnectorError::Kafka(_)
            | ConnectorError::Delta(_)
            | ConnectorError::Files(_)
            | ConnectorError::Io(_) => true,
            ConnectorError::Config { .. }
            | ConnectorError::Schema(_)
            | ConnectorError::Unreadable(_)
            | ConnectorError::Decode(_)
            | ConnectorError::Quality(_)
            | ConnectorError::Arrow(_) => false,
        }
    }
}

impl From<ConnectorError> for EngineError {
    fn from(error: ConnectorError) -> Self {
        match error.is_transient() {
            true => EngineError::transient("connector", error),
            false => EngineError::external("connector", error),
        }
    }
}

impl From<LakeError> for ConnectorError {
    fn from(error: LakeError) -> Self {
        match error {
            LakeError::Delta(message) => ConnectorError::Delta(message),
            LakeError::Io(message) => ConnectorError::Io(message),
            LakeError::Schema(message) => ConnectorError::Schema(message),
            error @ (LakeError::NoTable(_) | LakeError::Invalid(_)) => ConnectorError::Config {
                connector: "delta",
                message: error.to_string(),
            },
            LakeError::Arrow(error) => ConnectorError::Arrow(error),
        }
    }
}
