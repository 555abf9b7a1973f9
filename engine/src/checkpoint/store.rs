//! Where checkpoints live: any `object_store` location (a local directory by default;
//! `file://`, `memory://` and `s3://` URLs are accepted).
//!
//! Layout under the location:
//! `chk-<id>/<node>/<subtask>/<table>.arrow` for state, `chk-<id>/_manifest.json` last.

use std::collections::BTreeMap;
use std::io::Cursor;
use std::sync::Arc;

use arrow::ipc::reader::FileReader;
use arrow::ipc::writer::FileWriter;
use arrow::record_batch::RecordBatch;
use futures::TryStreamExt;
use object_store::local::LocalFileSystem;
use object_store::memory::InMemory;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

use super::manifest::{Manifest, StateFile, SubtaskState};
use crate::error::{EngineError, Result};
use crate::state::{OperatorSnapshot, StateChunk};

const MANIFEST: &str = "_manifest.json";

/// A checkpoint location.
#[derive(Debug, Clone)]
pub struct CheckpointStore {
    store: Arc<dyn ObjectStore>,
    root: Path,
    location: String,
}

fn store_error(what: String) -> impl FnOnce(object_store::Error) -> EngineError {
    move |e| EngineError::Checkpoint(format!("{what}: {e}"))
}

fn checkpoint_dir(id: u64) -> String {
    format!("chk-{id:010}")
}

impl CheckpointStore {
    /// Opens a location: a local directory path (created if missing) or an object store URL.
    pub fn open(location: &str) -> Result<Self> {
        let bad =
            |e: String| EngineError::Checkpoint(format!("checkpoint location '{location}': {e}"));
        let (store, root): (Arc<dyn ObjectStore>, Path) = if location.starts_with("memory://") {
            (Arc::new(InMemory::new()), Path::default())
        } else if location.contains("://") {
            let url = url::Url::parse(location).map_err(|e| bad(e.to_string()))?;
            let (store, root) = object_store::parse_url(&url).map_err(|e| bad(e.to_string()))?;
            (Arc::from(store), root)
        } else {
            std::fs::create_dir_all(location).map_err(|e| bad(e.to_string()))?;
            let local =
                LocalFileSystem::new_with_prefix(location).map_err(|e| bad(e.to_string()))?;
            (Arc::new(local), Path::default())
        };
        Ok(Self {
            store,
            root,
            location: location.to_string(),
        })
    }

    fn path(&self, relative: &str) -> Path {
        relative
            .split('/')
            .fold(self.root.clone(), |p, part| p.join(part))
    }

    /// Writes one subtask's snapshot as one Arrow IPC file per state table.
    pub async fn write_subtask(
        &self,
        checkpoint_id: u64,
        node: &str,
        subtask: usize,
        snapshot: OperatorSnapshot,
    ) -> Result<SubtaskState> {
        let mut tables: BTreeMap<String, Vec<RecordBatch>> = BTreeMap::new();
        for chunk in snapshot.chunks {
            tables.entry(chunk.table).or_default().push(chunk.batch);
        }
        let mut files = Vec::with_capacity(tables.len());
        for (table, batches) in tables {
            let schema = batches[0].schema();
            let mut writer = FileWriter::try_new(Vec::new(), &schema)?;
            let mut rows = 0;
            for b in &batches {
                rows += b.num_rows();
                writer.write(b)?;
            }
            let bytes = writer.into_inner()?;
            let relative = format!(
                "{}/{node}/{subtask}/{table}.arrow",
                checkpoint_dir(checkpoint_id)
            );
            let size = bytes.len();
            self.store
                .put(&self.path(&relative), PutPayload::from(bytes))
                .await
                .map_err(store_error(format!("writing {relative}")))?;
            files.push(StateFile {
                table,
                path: relative,
                rows,
                bytes: size,
            });
        }
        Ok(SubtaskState {
            subtask,
            watermark: snapshot.watermark,
            files,
        })
    }

    /// Writes the manifest, which makes the checkpoint exist.
    pub async fn write_manifest(&self, manifest: &Manifest) -> Result<()> {
        let relative = format!("{}/{MANIFEST}", checkpoint_dir(manifest.checkpoint_id));
        let json = serde_json::to_vec_pretty(manifest)
            .map_err(|e| EngineError::Checkpoint(format!("encoding the manifest: {e}")))?;
        self.store
            .put(&self.path(&relative), PutPayload::from(json))
            .await
            .map_err(store_error(format!("writing {relative}")))?;
        Ok(())
    }

    /// Ids of the checkpoint folders present, complete or not, in increasing order.
    async fn checkpoint_ids(&self) -> Result<Vec<u64>> {
        let listing = self
            .store
            .list_with_delimiter(Some(&self.root))
            .await
            .map_err(store_error(format!("listing {}", self.location)))?;
        let mut ids: Vec<u64> = listing
            .common_prefixes
            .iter()
            .filter_map(|p| p.filename()?.strip_prefix("chk-")?.parse().ok())
            .collect();
        ids.sort_unstable();
        Ok(ids)
    }

    async fn read_manifest(&self, id: u64) -> Result<Option<Manifest>> {
        let relative = format!("{}/{MANIFEST}", checkpoint_dir(id));
        let bytes = match self.store.get(&self.path(&relative)).await {
            Ok(found) => found
                .bytes()
                .await
                .map_err(store_error(format!("reading {relative}")))?,
            Err(object_store::Error::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(store_error(format!("reading {relative}"))(e)),
        };
        serde_json::from_slice(&bytes).map(Some).map_err(|e| {
            EngineError::Checkpoint(format!("{relative} is not a valid manifest: {e}"))
        })
    }

    /// The newest complete checkpoint: the highest id whose manifest exists and whose state
    /// files can all be read. Unusable checkpoints are skipped with a warning.
    pub async fn latest(
        &self,
    ) -> Result<Option<(Manifest, BTreeMap<String, Vec<OperatorSnapshot>>)>> {
        for id in self.checkpoint_ids().await?.into_iter().rev() {
            let manifest = match self.read_manifest(id).await {
                Ok(Some(m)) => m,
                Ok(None) => {
                    tracing::warn!(
                        checkpoint = id,
                        "checkpoint has no manifest (incomplete); skipping it"
                    );
                    continue;
                }
                Err(e) => {
                    tracing::warn!(checkpoint = id, error = %e, "skipping an unreadable checkpoint");
                    continue;
                }
            };
            match self.read_state(&manifest).await {
                Ok(state) => return Ok(Some((manifest, state))),
                Err(e) => {
                    tracing::warn!(checkpoint = id, error = %e, "skipping a checkpoint whose state cannot be read")
                }
            }
        }
        Ok(None)
    }

    /// Every node's snapshots, one per subtask it had.
    async fn read_state(
        &self,
        manifest: &Manifest,
    ) -> Result<BTreeMap<String, Vec<OperatorSnapshot>>> {
        let mut nodes = BTreeMap::new();
        for node in &manifest.nodes {
            let mut snapshots = Vec::with_capacity(node.subtasks.len());
            for subtask in &node.subtasks {
                let mut chunks = Vec::new();
                for file in &subtask.files {
                    let found = self
                        .store
                        .get(&self.path(&file.path))
                        .await
                        .map_err(store_error(format!("reading {}", file.path)))?;
                    let bytes = found
                        .bytes()
                        .await
                        .map_err(store_error(format!("reading {}", file.path)))?;
                    let reader = FileReader::try_new(Cursor::new(bytes), None).map_err(|e| {
                        EngineError::Checkpoint(format!("{} is not an Arrow file: {e}", file.path))
                    })?;
                    let mut rows = 0;
                    for batch in reader {
                        let batch = batch.map_err(|e| {
                            EngineError::Checkpoint(format!("{} is damaged: {e}", file.path))
                        })?;
                        rows += batch.num_rows();
                        chunks.push(StateChunk {
                            table: file.table.clone(),
                            batch,
                        });
                    }
                    if rows != file.rows {
                        return Err(EngineError::Checkpoint(format!(
                            "{} holds {rows} rows, the manifest says {}",
                            file.path, file.rows
                        )));
                    }
                }
                snapshots.push(OperatorSnapshot {
                    watermark: subtask.watermark,
                    chunks,
                });
            }
            nodes.insert(node.name.clone(), snapshots);
        }
        Ok(nodes)
    }

    /// Deletes every checkpoint folder except the newest `keep` complete ones, and any
    /// incomplete folder older than the newest complete checkpoint.
    pub async fn retain(&self, keep: usize) -> Result<()> {
        let ids = self.checkpoint_ids().await?;
        let mut complete = Vec::new();
        for &id in &ids {
            if self.read_manifest(id).await.ok().flatten().is_some() {
                complete.push(id);
            }
        }
        let Some(&newest) = complete.last() else {
            return Ok(());
        };
        let kept: Vec<u64> = complete.iter().rev().take(keep).copied().collect();
        for id in ids
            .into_iter()
            .filter(|id| *id < newest && !kept.contains(id))
        {
            let prefix = self.path(&checkpoint_dir(id));
            let files: Vec<_> = self
                .store
                .list(Some(&prefix))
                .map_ok(|m| m.location)
                .try_collect()
                .await
                .map_err(store_error(format!("listing {}", checkpoint_dir(id))))?;
            for file in files {
                self.store
                    .delete(&file)
                    .await
                    .map_err(store_error(format!("deleting {file}")))?;
            }
        }
        Ok(())
    }
}
