//! How a job is asked to end from outside its runner.

/// An ending asked for through a [`JobHandle`](super::JobHandle). A cancellation overrides
/// a stop in progress; nothing overrides a cancellation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum EndRequest {
    /// Stop with a final checkpoint, also copied to the savepoint location if one is given.
    Stop {
        savepoint: Option<String>,
    },
    Cancel,
}

impl EndRequest {
    /// Whether `self` may replace `current`.
    pub(crate) fn overrides(&self, current: Option<&EndRequest>) -> bool {
        match current {
            None => true,
            Some(EndRequest::Stop { .. }) => *self == EndRequest::Cancel,
            Some(EndRequest::Cancel) => false,
        }
    }
}
