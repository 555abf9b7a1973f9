//! The quality crate's error type.

/// Result alias of this crate.
pub type Result<T, E = QualityError> = std::result::Result<T, E>;

/// Errors of defining and evaluating rules. A rule whose evaluation fails at run time
/// is not an error: it is a failed verdict with the error as its observed value.
#[derive(Debug, thiserror::Error)]
pub enum QualityError {
    /// A rule that cannot be evaluated as written (a missing column, an invalid regular
    /// expression, a threshold of the wrong kind); names the rule.
    #[error("rule '{rule}': {reason}")]
    Invalid { rule: String, reason: String },
    /// Reading or writing the lake's `_quality` table failed.
    #[error("{0}")]
    History(String),
    /// Running the rules' query failed as a whole.
    #[error("evaluating rules: {0}")]
    Query(#[from] datafusion::error::DataFusionError),
    #[error(transparent)]
    Arrow(#[from] arrow::error::ArrowError),
}
