//! The SQL crate's error type.

/// Result alias of this crate.
pub type Result<T, E = SqlError> = std::result::Result<T, E>;

/// Errors in finding lake tables or running SQL over them.
#[derive(Debug, thiserror::Error)]
pub enum SqlError {
    /// The lake root or a table in it cannot be read; names the path.
    #[error("lake {path}: {message}")]
    Lake { path: String, message: String },
    #[error(transparent)]
    DataFusion(#[from] datafusion::error::DataFusionError),
    #[error(transparent)]
    Delta(#[from] deltalake::DeltaTableError),
}
