//! Lakes on S3 (`s3://bucket/prefix`) through object_store's `AmazonS3`, without
//! deltalake's AWS SDK based `s3` feature. Credentials, region and endpoint come from the
//! usual environment variables (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
//! `AWS_REGION` or `AWS_DEFAULT_REGION`, `AWS_ENDPOINT_URL`, `AWS_ALLOW_HTTP`...), and a
//! lake's options (object_store's `AmazonS3` config keys, e.g. `aws_endpoint`) override
//! them.
//!
//! Delta tables on S3 are opened by deltalake through the factories [`register`] installs
//! for the `s3://` scheme: the store described above and deltalake's default log store.
//! The query surface only reads; no locking provider is set up for concurrent writers.

use std::collections::HashMap;
use std::sync::{Arc, Once};

use deltalake::logstore::{
    default_logstore, logstore_factories, object_store_factories, DeltaIOStorageBackend, LogStore,
    LogStoreFactory, ObjectStoreFactory, ObjectStoreRef, StorageConfig,
};
use deltalake::{DeltaResult, DeltaTableError};
use object_store::aws::{AmazonS3, AmazonS3Builder, AmazonS3ConfigKey};
use object_store::path::Path;
use object_store::DynObjectStore;
use url::Url;

/// The URL scheme of S3 lakes.
pub const SCHEME: &str = "s3";

/// The S3 store of the bucket `url` names (the whole bucket, whatever the URL's path):
/// the environment's settings, then `options` (keys object_store's `AmazonS3` knows; other
/// keys are ignored).
pub fn store(url: &Url, options: &HashMap<String, String>) -> object_store::Result<AmazonS3> {
    let mut builder = AmazonS3Builder::from_env().with_url(url.as_str());
    for (key, value) in options {
        if let Ok(key) = key.to_ascii_lowercase().parse::<AmazonS3ConfigKey>() {
            builder = builder.with_config(key, value);
        }
    }
    builder.build()
}

/// Lets deltalake open tables at `s3://` URLs, with [`store`]. Idempotent: the factories
/// are installed once per process.
pub fn register() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let scheme = Url::parse(&format!("{SCHEME}://")).expect("a scheme alone is a URL");
        object_store_factories().insert(scheme.clone(), Arc::new(S3StoreFactory));
        logstore_factories().insert(scheme, Arc::new(S3LogStoreFactory));
    });
}

/// Builds the bucket's store for deltalake, as its default factory does for local files:
/// undecorated, and moved onto deltalake's IO runtime when the table's options ask for one.
struct S3StoreFactory;

impl ObjectStoreFactory for S3StoreFactory {
    fn parse_url_opts(
        &self,
        url: &Url,
        config: &StorageConfig,
    ) -> DeltaResult<(ObjectStoreRef, Path)> {
        let mut store: ObjectStoreRef = Arc::new(store(url, &config.raw)?);
        if let Some(runtime) = &config.runtime {
            store =
                Arc::new(DeltaIOStorageBackend::new(store, runtime.clone())) as Arc<DynObjectStore>;
        }
        let path = Path::from_url_path(url.path())
            .map_err(|e| DeltaTableError::InvalidTableLocation(format!("{url}: {e}")))?;
        Ok((store, path))
    }
}

/// deltalake's default log store over the S3 store.
struct S3LogStoreFactory;

impl LogStoreFactory for S3LogStoreFactory {
    fn with_options(
        &self,
        prefixed_store: ObjectStoreRef,
        root_store: ObjectStoreRef,
        location: &Url,
        options: &StorageConfig,
    ) -> DeltaResult<Arc<dyn LogStore>> {
        Ok(default_logstore(
            prefixed_store,
            root_store,
            location,
            options,
        ))
    }
}
