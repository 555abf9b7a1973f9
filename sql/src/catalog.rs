//! The lake as a DataFusion catalog that is read when asked: schemas and table names are
//! the lake's folders at that moment, and a table is loaded at its latest committed version
//! whenever a statement names it. A table created or committed while a session is open is
//! therefore seen by the session's next statement.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::catalog::{CatalogProvider, SchemaProvider, TableProvider};
use datafusion::error::DataFusionError;
use datafusion::execution::runtime_env::RuntimeEnv;
use datafusion::execution::SessionStateBuilder;
use deltalake::DeltaTable;
use tokio::sync::Mutex;

use crate::lake::{Lake, LakeTable, DEFAULT_SCHEMA};

/// The catalog of a lake; `runtime` is the session's, where each table's object store is
/// registered before its provider is handed out.
#[derive(Debug)]
pub struct LakeCatalog {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    lake: Lake,
    runtime: Arc<RuntimeEnv>,
    /// Tables loaded before, by qualified name, brought up to date incrementally.
    loaded: Mutex<HashMap<String, DeltaTable>>,
}

impl LakeCatalog {
    pub fn new(lake: Lake, runtime: Arc<RuntimeEnv>) -> Self {
        Self {
            shared: Arc::new(Shared {
                lake,
                runtime,
                loaded: Mutex::new(HashMap::new()),
            }),
        }
    }
}

impl Shared {
    /// The lake's tables now; none if the lake cannot be listed (the statement then fails
    /// on the table it names, with the lake's error).
    fn tables(&self) -> Vec<LakeTable> {
        self.lake.tables().unwrap_or_default()
    }
}

impl CatalogProvider for LakeCatalog {
    fn schema_names(&self) -> Vec<String> {
        let mut names = vec![DEFAULT_SCHEMA.to_string()];
        for table in self.shared.tables() {
            if let Some(schema) = table.schema {
                if !names.contains(&schema) {
                    names.push(schema);
                }
            }
        }
        names
    }

    fn schema(&self, name: &str) -> Option<Arc<dyn SchemaProvider>> {
        let schema = (name != DEFAULT_SCHEMA).then(|| name.to_string());
        let exists = schema.is_none()
            || self
                .shared
                .tables()
                .iter()
                .any(|t| t.schema.as_deref() == Some(name));
        exists.then(|| {
            Arc::new(LakeSchema {
                schema,
                shared: self.shared.clone(),
            }) as Arc<dyn SchemaProvider>
        })
    }
}

/// One schema of the lake: the top-level tables (`schema: None`) or one folder's.
#[derive(Debug)]
struct LakeSchema {
    schema: Option<String>,
    shared: Arc<Shared>,
}

impl LakeSchema {
    fn find(&self, name: &str) -> Option<LakeTable> {
        self.shared
            .tables()
            .into_iter()
            .find(|t| t.schema == self.schema && t.name == name)
    }
}

#[async_trait]
impl SchemaProvider for LakeSchema {
    fn table_names(&self) -> Vec<String> {
        self.shared
            .tables()
            .into_iter()
            .filter(|t| t.schema == self.schema)
            .map(|t| t.name)
            .collect()
    }

    async fn table(&self, name: &str) -> Result<Option<Arc<dyn TableProvider>>, DataFusionError> {
        let Some(table) = self.find(name) else {
            return Ok(None);
        };
        let key = table.qualified_name();
        let mut loaded = self.shared.loaded.lock().await;
        let delta = match loaded.remove(&key) {
            Some(delta) => delta,
            None => {
                let uri = table.path.display().to_string();
                DeltaTable::try_from_url(deltalake::ensure_table_uri(&uri)?).await?
            }
        };
        let mut delta = delta;
        // Loads the newest version (incrementally for a table loaded before).
        delta.load().await?;
        let state = SessionStateBuilder::new()
            .with_runtime_env(self.shared.runtime.clone())
            .build();
        delta.update_datafusion_session(&state)?;
        let provider = delta.table_provider().await?;
        loaded.insert(key, delta);
        Ok(Some(provider))
    }

    fn table_exist(&self, name: &str) -> bool {
        self.find(name).is_some()
    }
}
