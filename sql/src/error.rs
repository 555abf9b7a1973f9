//! The SQL crate's error type.

use std::time::Duration;

/// Result alias of this crate.
pub type Result<T, E = SqlError> = std::result::Result<T, E>;

/// Errors in finding lake tables or running SQL over them.
#[derive(Debug, thiserror::Error)]
pub enum SqlError {
    /// A location that is no lake root: not a URL or path, or a URL of a scheme lakes
    /// cannot be on; names the location as given.
    #[error("lake location '{location}': {reason}")]
    LakeLocation { location: String, reason: String },
    /// The lake root or a table in it cannot be read; names its location.
    #[error("lake {location}: {message}")]
    Lake { location: String, message: String },
    /// A statement the read-only query surface does not run; names the statement's kind.
    #[error("{kind} is not allowed: {reason}")]
    Refused { kind: String, reason: String },
    /// A table name that is not a name inside the lake (a path, a URL, `..`).
    #[error("table name '{name}' is not allowed: {reason}")]
    TableName { name: String, reason: String },
    /// No table of that name in the lake.
    #[error("no table '{name}' in the lake (tables: {known})")]
    NoSuchTable { name: String, known: String },
    /// Time travel to a version the table's log does not hold.
    #[error("table '{table}' has versions {first} to {last}; there is no version {asked}")]
    NoSuchVersion {
        table: String,
        asked: i64,
        first: i64,
        last: i64,
    },
    /// Wrong arguments to one of the lake's table functions.
    #[error("{function}: {message}")]
    Arguments {
        function: &'static str,
        message: String,
    },
    /// The query ran longer than the session's time limit and was cancelled.
    #[error("query cancelled after {0:?}: over the time limit (raise it with --timeout)")]
    Timeout(Duration),
    /// The query needed more memory than the session's limit (bytes) and was stopped.
    #[error(
        "the statement needs more than the memory limit of {}; raise it with --memory-limit",
        bytes_text(*.0)
    )]
    MemoryLimit(usize),
    /// A `SET` of an allowed setting to a value outside its range.
    #[error("SET {name} = {value}: {name} must be {allowed}")]
    SettingOutOfRange {
        name: String,
        value: String,
        allowed: String,
    },
    /// Quality rules that do not fit the table, or judging them failed; names the rule.
    #[error("{0}")]
    Quality(String),
    #[error(transparent)]
    DataFusion(#[from] datafusion::error::DataFusionError),
    #[error(transparent)]
    Delta(#[from] deltalake::DeltaTableError),
    #[error(transparent)]
    Arrow(#[from] arrow::error::ArrowError),
}

impl SqlError {
    /// Whether the user caused the error (a statement, a name, a limit) rather than the
    /// lake or the engine failing.
    pub fn is_user_error(&self) -> bool {
        !matches!(
            self,
            SqlError::Lake { .. } | SqlError::Delta(_) | SqlError::Arrow(_)
        )
    }
}

/// `1 GiB`, `64 MiB`, `512 KiB` for whole multiples of 1024, else `N bytes`.
pub fn bytes_text(bytes: usize) -> String {
    for (unit, size) in [("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)] {
        if bytes >= size && bytes.is_multiple_of(size) {
            return format!("{} {unit}", bytes / size);
        }
    }
    format!("{bytes} bytes")
}

impl From<SqlError> for datafusion::error::DataFusionError {
    fn from(e: SqlError) -> Self {
        match e {
            SqlError::DataFusion(e) => e,
            other => datafusion::error::DataFusionError::Plan(other.to_string()),
        }
    }
}
