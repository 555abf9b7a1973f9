//! The lake as a DataFusion catalog. DataFusion asks a catalog for its schemas and table
//! names without waiting while listing a lake is I/O (requests, for a lake on S3), so the
//! catalog answers from the listing of its last [`LakeCatalog::refresh`], which a
//! [`crate::QuerySession`] makes before every statement (of the tables the statement
//! names, when it names them: [`LakeCatalog::refresh_for`]); a table is loaded at its latest
//! committed version whenever a statement names it. A table created or committed while a
//! session is open is therefore seen by the session's next statement.

use std::collections::HashMap;
use std::sync::{Arc, Mutex as SyncMutex};

use async_trait::async_trait;
use datafusion::catalog::{CatalogProvider, SchemaProvider, TableProvider};
use datafusion::datasource::TableType;
use datafusion::error::DataFusionError;
use datafusion::execution::runtime_env::RuntimeEnv;
use datafusion::sql::parser::Statement;
use deltalake::DeltaTable;
use tokio::sync::Mutex;

use crate::error::{Result, SqlError};
use crate::lake::{Lake, LakeTable, DEFAULT_SCHEMA};
use crate::named_tables::named_tables;
use crate::provider::provider;
use crate::skipping::HandedOut;

/// The catalog of a lake; `runtime` is the session's, where each table's object store is
/// registered before its provider is handed out, and `handed` where each provider handed
/// out is recorded. It holds no tables until refreshed.
#[derive(Debug)]
pub struct LakeCatalog {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    lake: Lake,
    runtime: Arc<RuntimeEnv>,
    handed: Arc<HandedOut>,
    /// The lake's tables as of the last refresh.
    listed: SyncMutex<Vec<LakeTable>>,
    /// Tables loaded before, by qualified name, brought up to date incrementally.
    loaded: Mutex<HashMap<String, DeltaTable>>,
}

impl LakeCatalog {
    pub fn new(lake: Lake, runtime: Arc<RuntimeEnv>, handed: Arc<HandedOut>) -> Self {
        Self {
            shared: Arc::new(Shared {
                lake,
                runtime,
                handed,
                listed: SyncMutex::new(Vec::new()),
                loaded: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// Lists the lake again and returns its tables; until the next refresh, the catalog's
    /// schemas and tables are these. On an error the previous listing stays.
    pub async fn refresh(&self) -> Result<Vec<LakeTable>> {
        let tables = self.shared.lake.tables().await?;
        *self.shared.listed.lock().expect("not poisoned") = tables.clone();
        Ok(tables)
    }

    /// [`LakeCatalog::refresh`] for planning `statement`: when it names its tables
    /// ([`named_tables`]) and all of them are in the lake now, only those are looked up
    /// and the catalog holds only them until the next refresh; otherwise (a statement
    /// reading `information_schema`, a name that is not a table: its error lists the
    /// lake's tables) the whole lake is listed.
    pub async fn refresh_for(&self, statement: &Statement) -> Result<Vec<LakeTable>> {
        let Some(names) = named_tables(statement) else {
            return self.refresh().await;
        };
        let mut tables = Vec::with_capacity(names.len());
        for (schema, name) in &names {
            match self.shared.lake.table(schema.as_deref(), name).await? {
                Some(table) => tables.push(table),
                None => return self.refresh().await,
            }
        }
        *self.shared.listed.lock().expect("not poisoned") = tables.clone();
        Ok(tables)
    }
}

impl Shared {
    /// The lake's tables as of the last refresh.
    fn tables(&self) -> Vec<LakeTable> {
        self.listed.lock().expect("not poisoned").clone()
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
            None => self.shared.lake.delta_table(&table)?,
        };
        let mut delta = delta;
        // Loads the newest version (incrementally for a table loaded before).
        delta.load().await.map_err(|e| SqlError::Lake {
            location: table.url.to_string(),
            message: format!("reading the log of table '{key}': {e}"),
        })?;
        let (provider, _) = provider(
            &delta,
            key.clone(),
            None,
            self.shared.runtime.clone(),
            &self.shared.handed,
        )
        .await?;
        loaded.insert(key, delta);
        Ok(Some(provider))
    }

    /// Every lake table is a base table: answered from the listing, without loading the
    /// table's log, so `SHOW TABLES` and `information_schema.tables` load nothing.
    async fn table_type(&self, name: &str) -> Result<Option<TableType>, DataFusionError> {
        Ok(self.find(name).map(|_| TableType::Base))
    }

    fn table_exist(&self, name: &str) -> bool {
        self.find(name).is_some()
    }
}
