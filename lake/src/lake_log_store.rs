//! The log store of a lake's tables: deltalake's own, whose kernel engine polls
//! its reads on the thread that waits for them ([`CallingThreadExecutor`]).

use std::sync::Arc;

use bytes::Bytes;
use datafusion::datasource::object_store::ObjectStoreUrl;
use delta_kernel::Engine;
use delta_kernel_default_engine::DefaultEngineBuilder;
use deltalake::kernel::transaction::TransactionError;
use deltalake::kernel::Version;
use deltalake::logstore::{CommitOrBytes, LogStore, LogStoreConfig, LogStoreRef};
use deltalake::{DeltaResult, DeltaTable, DeltaTableBuilder, ObjectStore, Path};
use tokio::runtime::{Handle, RuntimeFlavor};
use url::Url;
use uuid::Uuid;

use crate::calling_thread_executor::CallingThreadExecutor;

/// deltalake's log store `inner` with [`LogStore::engine`] giving the kernel a
/// [`CallingThreadExecutor`] when the caller runs on a multi-threaded Tokio runtime (on a
/// current-thread runtime, `inner`'s engine). Every other call is `inner`'s.
#[derive(Debug)]
pub struct LakeLogStore {
    inner: LogStoreRef,
}

impl LakeLogStore {
    /// `inner` with its kernel engine's reads polled where they are awaited.
    pub fn new(inner: LogStoreRef) -> Self {
        Self { inner }
    }
}

/// The table `builder` describes, not loaded yet, with its log store in a [`LakeLogStore`]:
/// how weir opens every Delta table it reads or writes.
pub fn lake_table(builder: &DeltaTableBuilder) -> DeltaResult<DeltaTable> {
    let log_store = LakeLogStore::new(builder.build_storage()?);
    Ok(DeltaTable::new(Arc::new(log_store)))
}

#[async_trait::async_trait]
impl LogStore for LakeLogStore {
    fn name(&self) -> String {
        self.inner.name()
    }

    async fn refresh(&self) -> DeltaResult<()> {
        self.inner.refresh().await
    }

    async fn read_commit_entry(&self, version: Version) -> DeltaResult<Option<Bytes>> {
        self.inner.read_commit_entry(version).await
    }

    async fn write_commit_entry(
        &self,
        version: Version,
        commit_or_bytes: CommitOrBytes,
        operation_id: Uuid,
    ) -> Result<(), TransactionError> {
        self.inner
            .write_commit_entry(version, commit_or_bytes, operation_id)
            .await
    }

    async fn abort_commit_entry(
        &self,
        version: Version,
        commit_or_bytes: CommitOrBytes,
        operation_id: Uuid,
    ) -> Result<(), TransactionError> {
        self.inner
            .abort_commit_entry(version, commit_or_bytes, operation_id)
            .await
    }

    async fn get_latest_version(&self, start_version: Version) -> DeltaResult<Version> {
        self.inner.get_latest_version(start_version).await
    }

    fn object_store(&self, operation_id: Option<Uuid>) -> Arc<dyn ObjectStore> {
        self.inner.object_store(operation_id)
    }

    fn root_object_store(&self, operation_id: Option<Uuid>) -> Arc<dyn ObjectStore> {
        self.inner.root_object_store(operation_id)
    }

    fn engine(&self, operation_id: Option<Uuid>) -> Arc<dyn Engine> {
        match Handle::try_current() {
            Ok(handle) if handle.runtime_flavor() == RuntimeFlavor::MultiThread => Arc::new(
                DefaultEngineBuilder::new(self.inner.root_object_store(operation_id))
                    .with_task_executor(Arc::new(CallingThreadExecutor::new(handle)))
                    .build(),
            ),
            _ => self.inner.engine(operation_id),
        }
    }

    fn to_uri(&self, location: &Path) -> String {
        self.inner.to_uri(location)
    }

    fn root_url(&self) -> &Url {
        self.inner.root_url()
    }

    fn log_path(&self) -> &Path {
        self.inner.log_path()
    }

    fn transaction_url(&self, operation_id: Option<Uuid>) -> DeltaResult<Url> {
        self.inner.transaction_url(operation_id)
    }

    async fn is_delta_table_location(&self) -> DeltaResult<bool> {
        self.inner.is_delta_table_location().await
    }

    fn config(&self) -> &LogStoreConfig {
        self.inner.config()
    }

    fn object_store_url(&self) -> ObjectStoreUrl {
        self.inner.object_store_url()
    }
}

#[cfg(test)]
mod tests {
    use delta_kernel_default_engine::DefaultEngine;
    use deltalake::DeltaTableBuilder;

    use super::*;

    fn log_store(folder: &std::path::Path) -> LakeLogStore {
        let url = Url::from_directory_path(folder).unwrap();
        LakeLogStore::new(
            DeltaTableBuilder::from_url(url)
                .unwrap()
                .build_storage()
                .unwrap(),
        )
    }

    fn polls_where_awaited(store: &LakeLogStore) -> bool {
        let engine = store.engine(None);
        engine.as_any().is::<DefaultEngine<CallingThreadExecutor>>()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn gives_the_kernel_the_calling_thread_on_a_multi_threaded_runtime() {
        let folder = tempfile::tempdir().unwrap();
        assert!(polls_where_awaited(&log_store(folder.path())));
    }

    #[tokio::test(flavor = "current_thread")]
    async fn keeps_deltalakes_engine_on_a_current_thread_runtime() {
        let folder = tempfile::tempdir().unwrap();
        assert!(!polls_where_awaited(&log_store(folder.path())));
    }
}
