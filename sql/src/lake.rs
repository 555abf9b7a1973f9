//! A lake: a root URL holding Delta tables, one folder each. The root is a local folder
//! (`./lake`, `file:///srv/lake`) or a location on S3 (`s3://bucket/prefix`, see
//! [`weir_lake::s3`]); either way it is listed through an object store. A table's name is its
//! folder's name; a table in a nested folder is in the schema named after its parent
//! (`logs/access` -> `logs.access`).
//!
//! A local lake is listed with the file system's own calls ([`crate::local_listing`]),
//! which never follow a link out of the lake and skip what cannot be listed with a
//! warning (logged once per path); a lake on S3 is listed through its object store.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex as SyncMutex};

use datafusion::catalog::MemorySchemaProvider;
use datafusion::prelude::SessionContext;
use deltalake::{DeltaTable, DeltaTableBuilder};
use futures::{StreamExt, TryStreamExt};
use object_store::path::Path;
use object_store::ObjectStore;
use url::Url;
use weir_lake::lake_log_store::lake_table;
use weir_lake::s3;

use crate::error::{Result, SqlError};
use crate::local_lake_store::LocalLakeStore;
use crate::local_listing::{self, Skipped};

/// The schema top-level tables are registered in.
pub(crate) const DEFAULT_SCHEMA: &str = "public";

/// How many folders of a lake are looked into at once while listing it.
const LISTING_CONCURRENCY: usize = 16;

/// A Delta table found in the lake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LakeTable {
    /// `None` for a table directly under the root.
    pub schema: Option<String>,
    pub name: String,
    /// The table's folder: the lake's root URL and the folder names, ending with `/`.
    pub url: Url,
}

impl LakeTable {
    /// `schema.name`, or `name` for a top-level table.
    pub fn qualified_name(&self) -> String {
        match &self.schema {
            Some(schema) => format!("{schema}.{}", self.name),
            None => self.name.clone(),
        }
    }
}

/// A lake on the local file system or on S3.
#[derive(Debug, Clone)]
pub struct Lake {
    /// The root; its path ends with `/`.
    root: Url,
    /// Object store options for the root's store and every table opened from it.
    options: HashMap<String, String>,
    /// The store the root is in: the whole file system, or the whole bucket.
    store: Arc<dyn ObjectStore>,
    /// The root's path in `store`.
    prefix: Path,
    /// The local paths skipped in a listing and warned about already.
    warned: Arc<SyncMutex<HashSet<PathBuf>>>,
}

impl Lake {
    /// The lake in the local folder `root`, which need not exist yet (it then holds no
    /// tables). A folder that exists is named by its canonical path.
    pub fn new(root: impl AsRef<std::path::Path>) -> Result<Self> {
        let root = root.as_ref();
        Self::from_url(
            local_url(root)?,
            &root.display().to_string(),
            HashMap::new(),
        )
    }

    /// The lake at `location`: a URL (`s3://bucket/prefix`, `file:///srv/lake`) or a local
    /// path. A location that is neither, or a URL of another scheme, is an error naming it.
    pub fn open(location: &str) -> Result<Self> {
        Self::open_with_options(location, HashMap::new())
    }

    /// [`Lake::open`] with object store options for the root and every table in it; for
    /// S3, object_store's `AmazonS3` config keys (`aws_endpoint`, `aws_region`...), which
    /// override the environment's settings.
    pub fn open_with_options(location: &str, options: HashMap<String, String>) -> Result<Self> {
        let url = match Url::parse(location) {
            // A one-letter scheme is a Windows drive (`C:\lake`), not a URL.
            Ok(url) if url.scheme().len() > 1 => url,
            Ok(_) | Err(url::ParseError::RelativeUrlWithoutBase) => {
                local_url(std::path::Path::new(location))?
            }
            Err(e) => return Err(bad_location(location, &e.to_string())),
        };
        Self::from_url(url, location, options)
    }

    /// The lake at `root`; errors name `location`, the root as the user gave it.
    fn from_url(mut root: Url, location: &str, options: HashMap<String, String>) -> Result<Self> {
        let store: Arc<dyn ObjectStore> = match root.scheme() {
            "file" => {
                let path = root.to_file_path().map_err(|()| {
                    bad_location(location, "a file URL names a local path, file:///path")
                })?;
                root = local_url(&path)?;
                Arc::new(LocalLakeStore::new())
            }
            s3::SCHEME => {
                if root.host_str().is_none_or(str::is_empty) {
                    return Err(bad_location(
                        location,
                        "no bucket: an S3 lake is s3://bucket or s3://bucket/prefix",
                    ));
                }
                s3::register();
                Arc::new(
                    s3::store(&root, &options)
                        .map_err(|e| bad_location(location, &e.to_string()))?,
                )
            }
            other => {
                return Err(bad_location(
                    location,
                    &format!(
                        "the scheme '{other}' is not supported: a lake is a local folder, \
                         file:///path or s3://bucket/prefix"
                    ),
                ))
            }
        };
        if !root.path().ends_with('/') {
            root.set_path(&format!("{}/", root.path()));
        }
        let prefix =
            Path::from_url_path(root.path()).map_err(|e| bad_location(location, &e.to_string()))?;
        Ok(Self {
            root,
            options,
            store,
            prefix,
            warned: Arc::default(),
        })
    }

    /// The lake's root; its path ends with `/`.
    pub fn root(&self) -> &Url {
        &self.root
    }

    /// The store of a local lake (a folder): the whole file system, read through
    /// [`LocalLakeStore`]; `None` for a lake in a bucket.
    pub(crate) fn local_store(&self) -> Option<Arc<dyn ObjectStore>> {
        (self.root.scheme() == "file").then(|| self.store.clone())
    }

    /// The name the lake's SQL gives the table at `location` (a path or URL, as a job
    /// file's Delta sink names it): `schema.name` or `name`; `None` for a location outside
    /// the lake or nested deeper than the lake lists.
    pub fn table_name_of(&self, location: &str) -> Option<String> {
        let url = match Url::parse(location) {
            Ok(url) if url.scheme().len() > 1 => url,
            _ => local_url(std::path::Path::new(location)).ok()?,
        };
        let path = url.path().trim_end_matches('/').to_string() + "/";
        let relative = path.strip_prefix(self.root.path())?.trim_end_matches('/');
        let same_store =
            url.scheme() == self.root.scheme() && url.host_str() == self.root.host_str();
        let parts: Vec<&str> = relative.split('/').collect();
        (same_store && !relative.is_empty() && parts.len() <= 2).then(|| parts.join("."))
    }

    /// The store and path of the object at `relative` (`/`-separated) under the root.
    pub(crate) fn object(&self, relative: &str) -> (Arc<dyn ObjectStore>, Path) {
        let path = relative
            .split('/')
            .fold(self.prefix.clone(), |path, part| path.join(part));
        (self.store.clone(), path)
    }

    /// Every Delta table (a folder whose `_delta_log` holds a file) up to one level of
    /// nesting, sorted by qualified name, as the store lists them now. Folders starting with
    /// `_` or `.` are skipped; a root that does not exist holds no tables. In a local lake,
    /// links out of the lake, link loops and unreadable folders are skipped with a warning.
    pub async fn tables(&self) -> Result<Vec<LakeTable>> {
        if let Ok(folder) = self.root.to_file_path() {
            return self.local_tables(folder).await;
        }
        let top = self.subfolders(&self.prefix).await?;
        let mut found: Vec<LakeTable> = futures::stream::iter(top)
            .map(|(name, folder)| self.tables_in(name, folder))
            .buffer_unordered(LISTING_CONCURRENCY)
            .try_collect::<Vec<_>>()
            .await?
            .into_iter()
            .flatten()
            .collect();
        found.sort_by_key(LakeTable::qualified_name);
        Ok(found)
    }

    /// The table `name` at the top level (`schema` `None`) or in the folder `schema`, if
    /// [`Lake::tables`] would list it now; found without listing the rest of the lake
    /// (a few file system calls, or one or two listing requests on S3).
    pub async fn table(&self, schema: Option<&str>, name: &str) -> Result<Option<LakeTable>> {
        let parent = match schema {
            Some(schema) => child_url(&self.root, schema),
            None => self.root.clone(),
        };
        let table = LakeTable {
            schema: schema.map(str::to_string),
            name: name.to_string(),
            url: child_url(&parent, name),
        };
        if let Ok(folder) = self.root.to_file_path() {
            let (schema, name) = (schema.map(str::to_string), name.to_string());
            let (found, skipped) = tokio::task::spawn_blocking(move || {
                local_listing::find(&folder, schema.as_deref(), &name)
            })
            .await
            .map_err(|e| SqlError::Lake {
                location: self.root.to_string(),
                message: format!("looking for a table: {e}"),
            })?;
            self.warn_once(&skipped);
            return Ok(found.map(|_| table));
        }
        let visible = |part: &str| !part.is_empty() && !part.starts_with(['_', '.']);
        if !schema.into_iter().chain([name]).all(visible) {
            return Ok(None);
        }
        if let Some(schema) = schema {
            // A table's folder is not looked into for more tables.
            if self.is_table(&self.prefix.clone().join(schema)).await? {
                return Ok(None);
            }
        }
        let folder = schema
            .into_iter()
            .chain([name])
            .fold(self.prefix.clone(), |path, part| path.join(part));
        Ok(self.is_table(&folder).await?.then_some(table))
    }

    /// Fails when the lake's root cannot be listed (an S3 bucket that is not there or not
    /// readable); a local root that does not exist holds no tables. One request at most.
    pub async fn check_readable(&self) -> Result<()> {
        if let Ok(folder) = self.root.to_file_path() {
            return match std::fs::read_dir(&folder) {
                Ok(_) => Ok(()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                Err(e) => Err(SqlError::Lake {
                    location: self.root.to_string(),
                    message: format!("listing the lake: {e}"),
                }),
            };
        }
        self.subfolders(&self.prefix).await.map(|_| ())
    }

    /// [`Lake::tables`] of the local lake in `folder`.
    async fn local_tables(&self, folder: PathBuf) -> Result<Vec<LakeTable>> {
        let failed = |e: &dyn std::fmt::Display| SqlError::Lake {
            location: self.root.to_string(),
            message: format!("listing the lake: {e}"),
        };
        let listed = tokio::task::spawn_blocking(move || local_listing::list(&folder))
            .await
            .map_err(|e| failed(&e))?
            .map_err(|e| failed(&e))?;
        self.warn_once(&listed.skipped);
        let mut found: Vec<LakeTable> = listed
            .tables
            .into_iter()
            .map(|(schema, name)| {
                let parent = match &schema {
                    Some(schema) => child_url(&self.root, schema),
                    None => self.root.clone(),
                };
                LakeTable {
                    url: child_url(&parent, &name),
                    schema,
                    name,
                }
            })
            .collect();
        found.sort_by_key(LakeTable::qualified_name);
        Ok(found)
    }

    /// Logs a warning for each skipped path not warned about before by this lake.
    fn warn_once(&self, skipped: &[Skipped]) {
        let mut warned = self.warned.lock().expect("not poisoned");
        for skip in skipped {
            if warned.insert(skip.path.clone()) {
                tracing::warn!(
                    "lake {}: skipping {}: {}",
                    self.root,
                    skip.path.display(),
                    skip.reason
                );
            }
        }
    }

    /// The table a top-level folder is, or the tables directly inside it.
    async fn tables_in(&self, name: String, folder: Path) -> Result<Vec<LakeTable>> {
        let url = child_url(&self.root, &name);
        if self.is_table(&folder).await? {
            return Ok(vec![LakeTable {
                schema: None,
                name,
                url,
            }]);
        }
        let mut inside = Vec::new();
        for (inner, inner_folder) in self.subfolders(&folder).await? {
            if self.is_table(&inner_folder).await? {
                inside.push(LakeTable {
                    schema: Some(name.clone()),
                    url: child_url(&url, &inner),
                    name: inner,
                });
            }
        }
        Ok(inside)
    }

    /// Whether `folder`'s `_delta_log` holds anything (one listing request at most).
    async fn is_table(&self, folder: &Path) -> Result<bool> {
        let log = folder.clone().join("_delta_log");
        match self.store.list(Some(&log)).next().await {
            None | Some(Err(object_store::Error::NotFound { .. })) => Ok(false),
            Some(Ok(_)) => Ok(true),
            Some(Err(e)) => Err(self.listing_error(&log, e)),
        }
    }

    /// The visible subfolders of `folder`, by name; none if it does not exist.
    async fn subfolders(&self, folder: &Path) -> Result<Vec<(String, Path)>> {
        let listed = match self.store.list_with_delimiter(Some(folder)).await {
            Ok(listed) => listed.common_prefixes,
            Err(object_store::Error::NotFound { .. }) => Vec::new(),
            Err(e) => return Err(self.listing_error(folder, e)),
        };
        Ok(listed
            .into_iter()
            .filter_map(|path| {
                let name = path.filename()?.to_string();
                (!name.starts_with('_') && !name.starts_with('.')).then_some((name, path))
            })
            .collect())
    }

    fn listing_error(&self, path: &Path, e: object_store::Error) -> SqlError {
        SqlError::Lake {
            location: self.root.to_string(),
            message: format!("listing {path}: {e}"),
        }
    }

    /// `table` as a Delta table, not loaded yet, read with the lake's store options.
    /// A local table's log is listed by the lake's [`LocalLakeStore`]; the kernel reads
    /// every table's log on the thread that waits for it ([`lake_table`]).
    pub(crate) fn delta_table(&self, table: &LakeTable) -> Result<DeltaTable> {
        let mut builder = DeltaTableBuilder::from_url(table.url.clone())?
            .with_storage_options(self.options.clone());
        if self.root.scheme() == "file" {
            builder = builder.with_storage_backend(self.store.clone(), table.url.clone());
        }
        Ok(lake_table(&builder)?)
    }

    /// A DataFusion session with every table of the lake registered at its latest
    /// committed version. It runs any SQL; [`Lake::query_session`] is the read-only one.
    pub async fn session(&self) -> Result<SessionContext> {
        let ctx = SessionContext::new();
        self.register_tables(&ctx).await?;
        Ok(ctx)
    }

    /// Registers every table of the lake in `ctx` at its latest committed version, in the
    /// default catalog: top-level tables in `public`, nested ones in their folder's schema.
    pub async fn register_tables(&self, ctx: &SessionContext) -> Result<()> {
        let catalog = ctx
            .catalog("datafusion")
            .expect("the default catalog exists");
        for table in self.tables().await? {
            let mut delta = self.delta_table(&table)?;
            delta.load().await?;
            delta.update_datafusion_session(&ctx.state())?;
            let provider = delta.table_provider().await?;
            let schema_name = table.schema.as_deref().unwrap_or(DEFAULT_SCHEMA);
            let schema = match catalog.schema(schema_name) {
                Some(schema) => schema,
                None => {
                    let schema = Arc::new(MemorySchemaProvider::new());
                    catalog.register_schema(schema_name, schema.clone())?;
                    schema
                }
            };
            schema.register_table(table.name.clone(), provider)?;
        }
        Ok(())
    }
}

/// The URL of the local folder `path`: canonical when it exists, else made absolute.
fn local_url(path: &std::path::Path) -> Result<Url> {
    let shown = path.display().to_string();
    let absolute = std::fs::canonicalize(path)
        .or_else(|_| std::path::absolute(path))
        .map_err(|e| bad_location(&shown, &e.to_string()))?;
    Url::from_directory_path(&absolute)
        .map_err(|()| bad_location(&shown, "not a folder path this system can name"))
}

/// `parent` (a folder URL, ending with `/`) with the folder `name` added, ending with `/`.
fn child_url(parent: &Url, name: &str) -> Url {
    let mut url = parent.clone();
    url.path_segments_mut()
        .expect("lake URLs are file:// or s3:// URLs, which have paths")
        .pop_if_empty()
        .push(name)
        .push("");
    url
}

fn bad_location(location: &str, reason: &str) -> SqlError {
    SqlError::LakeLocation {
        location: location.to_string(),
        reason: reason.to_string(),
    }
}
