//! Work a source runs on a task of its own, so it outlives a `next_batch` call dropped at
//! a checkpoint barrier, and is aborted when the source goes away.

use tokio::task::JoinHandle;

/// A task aborted when its handle is dropped (the source ended or was cancelled).
pub(crate) struct AbortOnDrop<T>(pub JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}
