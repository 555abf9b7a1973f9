//! The lake's error type.

/// Result alias of this crate.
pub type Result<T, E = LakeError> = std::result::Result<T, E>;

/// Errors of opening, creating, committing and maintaining Delta tables. Every message
/// names the table and what was being done.
#[derive(Debug, thiserror::Error)]
pub enum LakeError {
    /// Reading or writing a table's log failed (the store, a commit that kept losing to
    /// other writers); trying again later may succeed.
    #[error("delta: {0}")]
    Delta(String),
    /// Reading or writing a data file failed; names the file.
    #[error("i/o: {0}")]
    Io(String),
    /// Rows or columns do not fit a table's schema; names the table and the column.
    #[error("schema: {0}")]
    Schema(String),
    /// There is no Delta table at the location (yet: a stream creates its table at its
    /// first checkpoint).
    #[error("there is no Delta table at {0}")]
    NoTable(String),
    /// The operation cannot be done as asked (no table there, an argument out of range, a
    /// column that is not there); asking again the same way fails the same way.
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Arrow(#[from] arrow::error::ArrowError),
}

impl LakeError {
    /// Whether the same operation may succeed later: a table's log or a data file that
    /// could not be read or written. Schema conflicts, invalid requests and Arrow errors
    /// would fail again.
    pub fn is_transient(&self) -> bool {
        match self {
            LakeError::Delta(_) | LakeError::Io(_) => true,
            LakeError::Schema(_)
            | LakeError::NoTable(_)
            | LakeError::Invalid(_)
            | LakeError::Arrow(_) => false,
        }
    }
}
