//! Where checkpoints live: any `object_store` location (a local directory by default;
//! `file://`, `memory://` and `s3://` URLs are accepted).
//!
//! Layout under the location: `chk-<id>/<node>/<subtask>/<table>-<run>-<n>.arrow` for
//! state written by checkpoint `id`, `chk-<id>/_manifest.json` written last. A manifest
//! may reference files in the folders of older checkpoints (incremental checkpoints).

use std::collections::{BTreeMap, HashMap, HashSet};
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
/// How many old checkpoints one retention drops at most, oldest first: thousands of
/// folders left by an earlier run are cleared over the following checkpoints instead of
/// holding one of them up for seconds.
const MAX_DROPPED_PER_RETAIN: usize = 128;

/// A checkpoint location.
#[derive(Debug, Clone)]
pub struct CheckpointStore {
    store: Arc<dyn ObjectStore>,
    root: Path,
    location: String,
    /// The directory of a local location: folders emptied by retention are removed
    /// there (object stores have no empty folders).
    local_dir: Option<std::path::PathBuf>,
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
        let local_dir = if location.starts_with("file://") {
            let url = url::Url::parse(location).map_err(|e| bad(e.to_string()))?;
            let dir = url
                .to_file_path()
                .map_err(|()| bad("not a local path".into()))?;
            Some(dir)
        } else if location.contains("://") {
            None
        } else {
            Some(std::path::PathBuf::from(location))
        };
        let (store, root): (Arc<dyn ObjectStore>, Path) = if location.starts_with("memory://") {
            (Arc::new(InMemory::new()), Path::default())
        } else if let Some(dir) = &local_dir {
            std::fs::create_dir_all(dir).map_err(|e| bad(e.to_string()))?;
            // Deleting a folder's last file removes the folder, so retention leaves no
            // empty checkpoint folders behind.
            let local = LocalFileSystem::new_with_prefix(dir)
                .map_err(|e| bad(e.to_string()))?
                .with_automatic_cleanup(true);
            (Arc::new(local), Path::default())
        } else {
            let url = url::Url::parse(location).map_err(|e| bad(e.to_string()))?;
            let (store, root) = object_store::parse_url(&url).map_err(|e| bad(e.to_string()))?;
            (Arc::from(store), root)
        };
        Ok(Self {
            store,
            root,
            location: location.to_string(),
            local_dir,
        })
    }

    fn path(&self, relative: &str) -> Path {
        relative
            .split('/')
            .fold(self.root.clone(), |p, part| p.join(part))
    }

    /// A writer for the checkpoints of subtask `subtask` of node `node`.
    pub fn subtask_writer(&self, node: &str, subtask: usize) -> SubtaskWriter {
        SubtaskWriter {
            store: self.clone(),
            node: node.to_string(),
            subtask,
            run: run_nonce(),
            files_written: 0,
            previous: HashMap::new(),
        }
    }

    async fn put(&self, relative: &str, bytes: Vec<u8>) -> Result<()> {
        self.store
            .put(&self.path(relative), PutPayload::from(bytes))
            .await
            .map_err(store_error(format!("writing {relative}")))?;
        Ok(())
    }

    async fn get(&self, relative: &str) -> Result<bytes::Bytes> {
        let found = self
            .store
            .get(&self.path(relative))
            .await
            .map_err(store_error(format!("reading {relative}")))?;
        found
            .bytes()
            .await
            .map_err(store_error(format!("reading {relative}")))
    }

    /// Writes the manifest, which makes the checkpoint exist.
    pub async fn write_manifest(&self, manifest: &Manifest) -> Result<()> {
        let relative = format!("{}/{MANIFEST}", checkpoint_dir(manifest.checkpoint_id));
        let json = serde_json::to_vec_pretty(manifest)
            .map_err(|e| EngineError::Checkpoint(format!("encoding the manifest: {e}")))?;
        self.put(&relative, json).await
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

    /// The highest checkpoint id present, complete or not. A restarted job numbers its
    /// checkpoints past it, so no id is ever used twice at one location.
    pub async fn highest_id(&self) -> Result<Option<u64>> {
        Ok(self.checkpoint_ids().await?.last().copied())
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

    /// The newest usable checkpoint: the highest id whose manifest exists and whose state
    /// files can all be read. Checkpoints passed over are listed in [`Restored::skipped`]
    /// and logged. `Ok(None)` only when no checkpoint was ever completed here (no
    /// manifest at all); manifests that exist but are all unusable are an error, never a
    /// silent fresh start.
    pub async fn latest(&self) -> Result<Option<Restored>> {
        let mut skipped = Vec::new();
        let mut any_manifest = false;
        for id in self.checkpoint_ids().await?.into_iter().rev() {
            let manifest = match self.read_manifest(id).await {
                Ok(Some(m)) => m,
                Ok(None) => {
                    skipped.push(SkippedCheckpoint {
                        checkpoint_id: id,
                        reason: "it has no manifest (it never completed)".into(),
                    });
                    continue;
                }
                Err(e) => {
                    any_manifest = true;
                    skipped.push(SkippedCheckpoint {
                        checkpoint_id: id,
                        reason: e.to_string(),
                    });
                    continue;
                }
            };
            any_manifest = true;
            match self.read_state(&manifest).await {
                Ok(state) => {
                    for s in &skipped {
                        tracing::warn!(checkpoint = s.checkpoint_id, reason = %s.reason, "skipped a checkpoint");
                    }
                    return Ok(Some(Restored {
                        manifest,
                        state,
                        skipped,
                    }));
                }
                Err(e) => skipped.push(SkippedCheckpoint {
                    checkpoint_id: id,
                    reason: e.to_string(),
                }),
            }
        }
        if !any_manifest {
            return Ok(None);
        }
        let reasons: Vec<String> = skipped
            .iter()
            .map(|s| format!("checkpoint {}: {}", s.checkpoint_id, s.reason))
            .collect();
        Err(EngineError::Restore(format!(
            "no usable checkpoint in {}: {}",
            self.location,
            reasons.join("; ")
        )))
    }

    /// Checkpoint `id` exactly: an error if it is incomplete or cannot be read.
    pub async fn checkpoint(&self, id: u64) -> Result<Restored> {
        let manifest = self.read_manifest(id).await?.ok_or_else(|| {
            EngineError::Restore(format!(
                "checkpoint {id} does not exist in {} (no manifest)",
                self.location
            ))
        })?;
        let state = self.read_state(&manifest).await?;
        Ok(Restored {
            manifest,
            state,
            skipped: Vec::new(),
        })
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
                    let bytes = self.get(&file.path).await?;
                    let reader = FileReader::try_new(Cursor::new(bytes), None).map_err(|e| {
                        EngineError::Checkpoint(format!("{} is not an Arrow file: {e}", file.path))
                    })?;
                    let mut rows = 0;
                    for batch in reader {
                        let batch = batch.map_err(|e| {
                            EngineError::Checkpoint(format!("{} is damaged: {e}", file.path))
                        })?;
                        rows += batch.num_rows();
                        chunks.push(StateChunk::new(file.table.clone(), batch));
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
                    checkpoint_id: Some(manifest.checkpoint_id),
                });
            }
            nodes.insert(node.name.clone(), snapshots);
        }
        Ok(nodes)
    }

    /// Keeps the newest `keep` complete checkpoints. Every older checkpoint loses its
    /// manifest and every file no kept manifest references (incremental checkpoints
    /// reference files of older ones), and its folder once nothing in it is referenced;
    /// checkpoints newer than the newest complete one may be in progress and are left
    /// alone. At most [`MAX_DROPPED_PER_RETAIN`] checkpoints are dropped per call, oldest
    /// first. So a location settles at `keep` checkpoints' folders, the folders of older
    /// ones whose files they share, and those in progress: a checkpoint's cost does not
    /// grow with the job's age.
    pub async fn retain(&self, keep: usize) -> Result<()> {
        let ids = self.checkpoint_ids().await?;
        // Newest first, only until `keep` complete ones are found: older manifests are
        // dropped unread, so the cost does not grow with what earlier runs left behind.
        let mut kept = Vec::new();
        for &id in ids.iter().rev() {
            if kept.len() == keep.max(1) {
                break;
            }
            if let Ok(Some(manifest)) = self.read_manifest(id).await {
                kept.push(manifest);
            }
        }
        let Some(newest) = kept.first().map(|m| m.checkpoint_id) else {
            return Ok(());
        };
        let kept_ids: HashSet<u64> = kept.iter().map(|m| m.checkpoint_id).collect();
        let referenced: HashSet<String> = kept
            .iter()
            .flat_map(|m| m.files())
            .map(|f| f.path.clone())
            .collect();
        for id in ids
            .into_iter()
            .filter(|id| *id < newest && !kept_ids.contains(id))
            .take(MAX_DROPPED_PER_RETAIN)
        {
            let dir = checkpoint_dir(id);
            let manifest = self.path(&format!("{dir}/{MANIFEST}"));
            match self.store.delete(&manifest).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(store_error(format!("deleting {manifest}"))(e)),
            }
            let files: Vec<Path> = self
                .store
                .list(Some(&self.path(&dir)))
                .map_ok(|m| m.location)
                .try_collect()
                .await
                .map_err(store_error(format!("listing {dir}")))?;
            let mut still_referenced = false;
            for file in files {
                if referenced.contains(&self.relative(&file)) {
                    still_referenced = true;
                    continue;
                }
                self.store
                    .delete(&file)
                    .await
                    .map_err(store_error(format!("deleting {file}")))?;
            }
            if !still_referenced {
                self.remove_empty_folder(&dir).await?;
            }
        }
        Ok(())
    }

    /// Removes what is left of checkpoint folder `dir` in a local location: empty
    /// folders (left by runs before folders were removed with their last file, or by a
    /// checkpoint that wrote nothing). A folder holding any file is kept.
    async fn remove_empty_folder(&self, dir: &str) -> Result<()> {
        let Some(local) = &self.local_dir else {
            return Ok(());
        };
        let folder = local.join(dir);
        let removed = tokio::task::spawn_blocking(move || remove_empty_tree(&folder))
            .await
            .map_err(|e| EngineError::Checkpoint(format!("removing folder {dir}: {e}")))?;
        removed.map_err(|e| EngineError::Checkpoint(format!("removing folder {dir}: {e}")))
    }

    /// A path of this store relative to the location, as manifests write it.
    fn relative(&self, path: &Path) -> String {
        let parts: Vec<String> = path
            .prefix_match(&self.root)
            .map(|parts| parts.map(|p| p.as_ref().to_string()).collect())
            .unwrap_or_default();
        parts.join("/")
    }

    /// Copies checkpoint `manifest` with every file it references into `target` (a
    /// savepoint: self-contained, never touched by retention here).
    pub async fn copy_checkpoint(
        &self,
        manifest: &Manifest,
        target: &CheckpointStore,
    ) -> Result<()> {
        for file in manifest.files() {
            let bytes = self.get(&file.path).await?;
            target.put(&file.path, bytes.to_vec()).await?;
        }
        target.write_manifest(manifest).await
    }

    /// Where this store is, as it was given.
    pub fn location(&self) -> &str {
        &self.location
    }
}

/// Removes `folder` and the folders under it if none of them holds a file; a missing
/// folder is fine.
fn remove_empty_tree(folder: &std::path::Path) -> std::io::Result<()> {
    let entries = match std::fs::read_dir(folder) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let entry = entry?;
        if entry.file_type()?.is_dir() {
            remove_empty_tree(&entry.path())?;
        }
    }
    match std::fs::remove_dir(folder) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::DirectoryNotEmpty => Ok(()),
        Err(e) => Err(e),
    }
}

/// A checkpoint read back for restoring.
#[derive(Debug, Clone)]
pub struct Restored {
    pub manifest: Manifest,
    /// Every node's snapshots, one per subtask it had.
    pub state: BTreeMap<String, Vec<OperatorSnapshot>>,
    /// Newer checkpoints that could not be used, newest first.
    pub skipped: Vec<SkippedCheckpoint>,
}

/// A checkpoint passed over while looking for one to restore.
#[derive(Debug, Clone, PartialEq)]
pub struct SkippedCheckpoint {
    pub checkpoint_id: u64,
    pub reason: String,
}

/// Writes the checkpoints of one subtask, incrementally: a chunk marked immutable that
/// the previous checkpoint wrote is referenced, not written again.
#[derive(Debug)]
pub struct SubtaskWriter {
    store: CheckpointStore,
    node: String,
    subtask: usize,
    /// Distinguishes this run's files from those of an earlier run of the same subtask.
    run: String,
    files_written: u64,
    /// Files of immutable chunks in the previous checkpoint, by chunk id.
    previous: HashMap<u64, StateFile>,
}

impl SubtaskWriter {
    /// Writes the subtask's part of checkpoint `checkpoint_id`: one Arrow IPC file per
    /// state table for chunks that may change, one per new immutable chunk.
    pub async fn write(
        &mut self,
        checkpoint_id: u64,
        snapshot: OperatorSnapshot,
    ) -> Result<SubtaskState> {
        let mut mutable: BTreeMap<String, Vec<RecordBatch>> = BTreeMap::new();
        let mut files = Vec::new();
        let mut current = HashMap::new();
        for chunk in snapshot.chunks {
            match chunk.immutable_id {
                None => mutable.entry(chunk.table).or_default().push(chunk.batch),
                Some(id) => {
                    let file = match self.previous.remove(&id) {
                        Some(file) => file,
                        None => {
                            self.write_file(checkpoint_id, chunk.table, &[chunk.batch])
                                .await?
                        }
                    };
                    current.insert(id, file.clone());
                    files.push(file);
                }
            }
        }
        for (table, batches) in mutable {
            files.push(self.write_file(checkpoint_id, table, &batches).await?);
        }
        self.previous = current;
        Ok(SubtaskState {
            subtask: self.subtask,
            watermark: snapshot.watermark,
            files,
        })
    }

    async fn write_file(
        &mut self,
        checkpoint_id: u64,
        table: String,
        batches: &[RecordBatch],
    ) -> Result<StateFile> {
        let schema = batches[0].schema();
        let mut writer = FileWriter::try_new(Vec::new(), &schema)?;
        let mut rows = 0;
        for b in batches {
            rows += b.num_rows();
            writer.write(b)?;
        }
        let bytes = writer.into_inner()?;
        self.files_written += 1;
        let path = format!(
            "{}/{}/{}/{table}-{}-{}.arrow",
            checkpoint_dir(checkpoint_id),
            self.node,
            self.subtask,
            self.run,
            self.files_written
        );
        let size = bytes.len();
        self.store.put(&path, bytes).await?;
        Ok(StateFile {
            table,
            path,
            rows,
            bytes: size,
        })
    }
}

/// A short token unique to one run of a subtask writer.
fn run_nonce() -> String {
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let count = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let mixed = crate::keys::mix64(now ^ (u64::from(std::process::id()) << 32) ^ count);
    format!("{:08x}", mixed as u32)
}
