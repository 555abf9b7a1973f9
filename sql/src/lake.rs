//! A lake: a root directory holding Delta tables, one folder each. A table's name is its
//! folder's name; a table in a nested folder is in the schema named after its parent
//! (`logs/access` -> `logs.access`).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use datafusion::catalog::MemorySchemaProvider;
use datafusion::prelude::SessionContext;
use deltalake::DeltaTable;

use crate::error::{Result, SqlError};

/// The schema top-level tables are registered in.
pub(crate) const DEFAULT_SCHEMA: &str = "public";

/// A Delta table found in the lake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LakeTable {
    /// `None` for a table directly under the root.
    pub schema: Option<String>,
    pub name: String,
    pub path: PathBuf,
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

/// A lake on the local file system.
#[derive(Debug, Clone)]
pub struct Lake {
    root: PathBuf,
}

impl Lake {
    /// The lake at `root` (which need not exist yet).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// The lake's root folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Every Delta table (a folder holding `_delta_log`) up to one level of nesting,
    /// sorted by qualified name. Folders starting with `_` or `.` are skipped.
    pub fn tables(&self) -> Result<Vec<LakeTable>> {
        let mut found = Vec::new();
        for (name, path) in subfolders(&self.root)? {
            if is_table(&path) {
                found.push(LakeTable {
                    schema: None,
                    name,
                    path,
                });
                continue;
            }
            for (inner, inner_path) in subfolders(&path)? {
                if is_table(&inner_path) {
                    found.push(LakeTable {
                        schema: Some(name.clone()),
                        name: inner,
                        path: inner_path,
                    });
                }
            }
        }
        found.sort_by_key(LakeTable::qualified_name);
        Ok(found)
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
        for table in self.tables()? {
            let uri = table.path.display().to_string();
            let mut delta = DeltaTable::try_from_url(deltalake::ensure_table_uri(&uri)?).await?;
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

fn is_table(path: &Path) -> bool {
    path.join("_delta_log").is_dir()
}

/// The visible subfolders of `dir`, by name; none if `dir` does not exist.
fn subfolders(dir: &Path) -> Result<Vec<(String, PathBuf)>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => {
            return Err(SqlError::Lake {
                path: dir.display().to_string(),
                message: e.to_string(),
            })
        }
    };
    let mut folders = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        if entry.path().is_dir() && !name.starts_with('_') && !name.starts_with('.') {
            folders.push((name, entry.path()));
        }
    }
    Ok(folders)
}
