//! The object store of a local lake's tables: object_store's `LocalFileSystem` (rooted at
//! `/`), with listings after an offset that look only at the names up to the offset.
//!
//! Reading a Delta table lists its `_delta_log` from the version of its last checkpoint
//! on (`list_with_offset`). `LocalFileSystem` turns every entry of the folder into an
//! object path through a URL (percent decoding and encoding) before comparing it with the
//! offset, which for a log of 10,000 commits costs about 8 ms of the 11 ms the listing
//! takes. [`LocalLakeStore`] reads the folder's names, compares them with the offset as
//! they are, and asks the file system about the entries after it only. Its answer is
//! `LocalFileSystem`'s: the same files (symbolic links followed, folders listed through),
//! sizes, times and entity tags; when a name in the folder is one a path would spell
//! differently (anything but ASCII letters, digits, `.`, `-` and `_`), or the prefix holds
//! a `%`, it hands the listing to `LocalFileSystem`.
//!
//! It also reads the byte ranges of a file (`get_ranges`, how the Parquet reader fetches
//! column chunks) into buffers it does not zero first: `LocalFileSystem` fills each with
//! zeros before reading the file over them, 3% of the CPU time of a scan of TPC-H's
//! lineitem. A range it cannot read whole (past the end of the file, a file gone) is
//! read again by `LocalFileSystem`, whose answer and error it returns.
//!
//! Small reads (whole files and sets of ranges of at most [`INLINE_READ_BYTES`], such as a
//! Delta log's commits and checkpoint) are done in the calling task, without the hand-over
//! to a blocking thread and back that `LocalFileSystem` makes for every call. A whole file
//! read that way is returned as one chunk, with `LocalFileSystem`'s description of it. Every
//! other call is `LocalFileSystem`'s.

use std::fs::{File, Metadata};
use std::io::{Read, Seek, SeekFrom};
use std::ops::Range;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::SystemTime;

use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::stream::{self, BoxStream, StreamExt, TryStreamExt};
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{
    Attributes, CopyOptions, GetOptions, GetResult, GetResultPayload, ListResult, MultipartUpload,
    ObjectMeta, ObjectStore, PutMultipartOptions, PutOptions, PutPayload, PutResult, RenameOptions,
    Result,
};

/// `LocalFileSystem::new()` with [`ObjectStore::list_with_offset`] reading names first
/// and [`ObjectStore::get_ranges`] reading into buffers it does not zero (module docs).
/// Paths are relative to `/`, as `LocalFileSystem::new()`'s.
#[derive(Debug)]
pub struct LocalLakeStore {
    inner: Arc<LocalFileSystem>,
}

impl LocalLakeStore {
    /// The store of the local file system, rooted at `/`.
    pub fn new() -> Self {
        Self {
            inner: Arc::new(LocalFileSystem::new()),
        }
    }
}

impl Default for LocalLakeStore {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Display for LocalLakeStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "LocalLakeStore({})", self.inner)
    }
}

/// The `ranges` of the file at `path`, each read into a buffer of its length that is not
/// zeroed first; `None` when one cannot be read whole (it starts after it ends or reaches
/// past the end of the file).
fn read_ranges(
    path: &std::path::Path,
    ranges: &[Range<u64>],
) -> std::io::Result<Option<Vec<Bytes>>> {
    let mut file = File::open(path)?;
    let mut read = Vec::with_capacity(ranges.len());
    for range in ranges {
        let Some(len) = range.end.checked_sub(range.start) else {
            return Ok(None);
        };
        file.seek(SeekFrom::Start(range.start))?;
        let mut buffer = Vec::with_capacity(usize::try_from(len).map_err(std::io::Error::other)?);
        (&mut file).take(len).read_to_end(&mut buffer)?;
        if buffer.len() as u64 != len {
            return Ok(None);
        }
        read.push(Bytes::from(buffer));
    }
    Ok(Some(read))
}

/// Reads of at most this many bytes are done in the task that asks for them, not handed
/// to a blocking thread: a Delta log is read file by file (commits of a few kilobytes, a
/// checkpoint's footer and columns), each read a few microseconds from the page cache, and
/// the hand-over to a thread and back cost more than the read (13 ms of a cold `weir sql`
/// process over a table of 99 commits after its checkpoint). Larger reads (the column
/// chunks of data files) still go to blocking threads.
const INLINE_READ_BYTES: u64 = 256 * 1024;

/// Whether `options` ask for a whole object, unconditionally.
fn unconditional(options: &GetOptions) -> bool {
    options.if_match.is_none()
        && options.if_none_match.is_none()
        && options.if_modified_since.is_none()
        && options.if_unmodified_since.is_none()
        && options.range.is_none()
        && options.version.is_none()
        && !options.head
}

/// The whole file at `path` and its metadata; `None` when it is not a regular file of at
/// most [`INLINE_READ_BYTES`].
fn read_small(path: &std::path::Path) -> std::io::Result<Option<(Bytes, Metadata)>> {
    let mut file = File::open(path)?;
    let metadata = file.metadata()?;
    if !metadata.is_file() || metadata.len() > INLINE_READ_BYTES {
        return Ok(None);
    }
    // As many bytes as the file had when asked about, as `LocalFileSystem` reads; no
    // further read to find the end.
    let mut bytes = vec![0; metadata.len() as usize];
    file.read_exact(&mut bytes)?;
    Ok(Some((Bytes::from(bytes), metadata)))
}

/// Whether `name` is spelled the same as a file name and as an object path part.
fn plain(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
}

/// What a listing found, or that a name needs `LocalFileSystem`'s spelling.
enum Found {
    Objects(Vec<ObjectMeta>),
    NotPlain,
}

/// The files under the folder `folder` (object path `prefix`) whose paths sort after
/// `offset`, recursively, following symbolic links; `NotPlain` as soon as a name is not
/// [`plain`]. A folder that does not exist holds nothing, as for `LocalFileSystem`.
fn files_after(folder: PathBuf, prefix: &str, offset: &str) -> Result<Found> {
    let entries = match std::fs::read_dir(&folder) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(Found::Objects(Vec::new()))
        }
        Err(source) => return Err(io_error(&folder, source)),
    };
    let mut objects = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|source| io_error(&folder, source))?;
        let file_name = entry.file_name();
        let Some(name) = file_name.to_str() else {
            return Ok(Found::NotPlain);
        };
        if !plain(name) {
            return Ok(Found::NotPlain);
        }
        // The entry's path is `{prefix}/{name}`, compared with the offset without being
        // spelled out: a log's folder has thousands of entries, nearly all before it.
        let after = joined_cmp(prefix, name, offset).is_gt();
        // Up to the offset, only a folder whose path starts the offset can hold paths
        // after it; nothing else there is asked about.
        if !after && !joined_starts(prefix, name, offset) {
            continue;
        }
        let path = format!("{prefix}/{name}");
        // A link that leads nowhere is left out, as `LocalFileSystem` leaves it.
        let Ok(metadata) = std::fs::metadata(entry.path()) else {
            continue;
        };
        if metadata.is_dir() {
            match files_after(entry.path(), &path, offset)? {
                Found::Objects(inner) => objects.extend(inner),
                Found::NotPlain => return Ok(Found::NotPlain),
            }
        } else if after && metadata.is_file() {
            objects.push(object_meta(Path::from(path), &metadata));
        }
    }
    Ok(Found::Objects(objects))
}

/// How the path `{prefix}/{name}` sorts against `other`.
fn joined_cmp(prefix: &str, name: &str, other: &str) -> std::cmp::Ordering {
    let joined = prefix.bytes().chain([b'/']).chain(name.bytes());
    joined.cmp(other.bytes())
}

/// Whether `other` starts with the path `{prefix}/{name}`.
fn joined_starts(prefix: &str, name: &str, other: &str) -> bool {
    other
        .strip_prefix(prefix)
        .and_then(|rest| rest.strip_prefix('/'))
        .is_some_and(|rest| rest.starts_with(name))
}

/// An object's description as `LocalFileSystem` gives it (its entity tag from inode,
/// modification time and size).
fn object_meta(location: Path, metadata: &Metadata) -> ObjectMeta {
    let modified = metadata.modified().unwrap_or(SystemTime::UNIX_EPOCH);
    let micros = modified
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .as_micros();
    ObjectMeta {
        location,
        last_modified: DateTime::<Utc>::from(modified),
        size: metadata.len(),
        e_tag: Some(format!(
            "{:x}-{micros:x}-{:x}",
            metadata.ino(),
            metadata.len()
        )),
        version: None,
    }
}

fn io_error(folder: &std::path::Path, source: std::io::Error) -> object_store::Error {
    object_store::Error::Generic {
        store: "LocalFileSystem",
        source: format!("listing {}: {source}", folder.display()).into(),
    }
}

#[async_trait]
impl ObjectStore for LocalLakeStore {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> Result<PutResult> {
        self.inner.put_opts(location, payload, opts).await
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> Result<Box<dyn MultipartUpload>> {
        self.inner.put_multipart_opts(location, opts).await
    }

    async fn get_opts(&self, location: &Path, options: GetOptions) -> Result<GetResult> {
        if unconditional(&options) {
            let path = self.inner.path_to_filesystem(location)?;
            if let Ok(Some((bytes, metadata))) = read_small(&path) {
                let meta = object_meta(location.clone(), &metadata);
                return Ok(GetResult {
                    range: 0..bytes.len() as u64,
                    payload: GetResultPayload::Stream(stream::once(async { Ok(bytes) }).boxed()),
                    meta,
                    attributes: Attributes::new(),
                });
            }
        }
        self.inner.get_opts(location, options).await
    }

    async fn get_ranges(&self, location: &Path, ranges: &[Range<u64>]) -> Result<Vec<Bytes>> {
        let path = self.inner.path_to_filesystem(location)?;
        let total = ranges.iter().fold(0u64, |total, r| {
            total.saturating_add(r.end.saturating_sub(r.start))
        });
        let read = if total <= INLINE_READ_BYTES {
            read_ranges(&path, ranges)
        } else {
            let wanted = ranges.to_vec();
            tokio::task::spawn_blocking(move || read_ranges(&path, &wanted))
                .await
                .map_err(|e| object_store::Error::JoinError { source: e })?
        };
        match read {
            Ok(Some(bytes)) => Ok(bytes),
            _ => self.inner.get_ranges(location, ranges).await,
        }
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, Result<Path>>,
    ) -> BoxStream<'static, Result<Path>> {
        self.inner.delete_stream(locations)
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, Result<ObjectMeta>> {
        self.inner.list(prefix)
    }

    fn list_with_offset(
        &self,
        prefix: Option<&Path>,
        offset: &Path,
    ) -> BoxStream<'static, Result<ObjectMeta>> {
        let Some(prefix) = prefix.filter(|p| !p.as_ref().is_empty() && !p.as_ref().contains('%'))
        else {
            return self.inner.list_with_offset(prefix, offset);
        };
        let (inner, prefix, offset) = (self.inner.clone(), prefix.clone(), offset.clone());
        let folder = PathBuf::from(format!("/{prefix}"));
        stream::once(async move {
            let (listed, prefix, offset) = tokio::task::spawn_blocking(move || {
                let found = files_after(folder, prefix.as_ref(), offset.as_ref());
                (found, prefix, offset)
            })
            .await
            .map_err(|e| object_store::Error::JoinError { source: e })?;
            Ok::<_, object_store::Error>(match listed? {
                Found::Objects(objects) => stream::iter(objects.into_iter().map(Ok)).boxed(),
                Found::NotPlain => inner.list_with_offset(Some(&prefix), &offset),
            })
        })
        .try_flatten()
        .boxed()
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> Result<ListResult> {
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy_opts(&self, from: &Path, to: &Path, options: CopyOptions) -> Result<()> {
        self.inner.copy_opts(from, to, options).await
    }

    async fn rename_opts(&self, from: &Path, to: &Path, options: RenameOptions) -> Result<()> {
        self.inner.rename_opts(from, to, options).await
    }
}

#[cfg(test)]
mod tests {
    use object_store::ObjectStoreExt;

    use super::*;

    #[test]
    fn compares_a_joined_path_as_spelled_out() {
        let offsets = [
            "t/_delta_log/0009.json",
            "t/_delta_log",
            "t",
            "t-x/a",
            "t/b",
            "u",
        ];
        for (prefix, name) in [
            ("t/_delta_log", "0009.json"),
            ("t/_delta_log", "0010.json"),
            ("t/_delta_log", "0008.checkpoint.parquet"),
            ("t", "_delta_log"),
            ("t", "b"),
            ("t", "a"),
        ] {
            let path = format!("{prefix}/{name}");
            for offset in offsets {
                assert_eq!(joined_cmp(prefix, name, offset), path.as_str().cmp(offset));
                assert_eq!(
                    joined_starts(prefix, name, offset),
                    offset.starts_with(&path)
                );
            }
        }
    }

    /// The listing after an offset is `LocalFileSystem`'s, file for file, with names
    /// before and after the offset, a nested folder, a link, and a name it spells its way.
    #[tokio::test]
    async fn lists_what_local_file_system_lists() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().canonicalize().unwrap().join("_delta_log");
        std::fs::create_dir_all(log.join("_commits")).unwrap();
        for version in 0..30 {
            std::fs::write(log.join(format!("{version:020}.json")), "{}").unwrap();
        }
        std::fs::write(log.join("00000000000000000020.checkpoint.parquet"), "x").unwrap();
        std::fs::write(log.join("_last_checkpoint"), "{}").unwrap();
        std::fs::write(
            log.join("_commits").join("00000000000000000031.a.json"),
            "{}",
        )
        .unwrap();
        std::os::unix::fs::symlink(
            log.join("00000000000000000029.json"),
            log.join("00000000000000000029.crc"),
        )
        .unwrap();
        std::os::unix::fs::symlink(log.join("missing"), log.join("00000000000000000028.x"))
            .unwrap();
        let prefix = Path::from(log.to_str().unwrap());
        let offset = Path::from(format!("{}/00000000000000000020", log.to_str().unwrap()));
        let ours = LocalLakeStore::new();
        let theirs = LocalFileSystem::new();
        let both = || async {
            let mut listed: Vec<ObjectMeta> = ours
                .list_with_offset(Some(&prefix), &offset)
                .try_collect()
                .await
                .unwrap();
            let mut expected: Vec<ObjectMeta> = theirs
                .list_with_offset(Some(&prefix), &offset)
                .try_collect()
                .await
                .unwrap();
            listed.sort_by(|a, b| a.location.cmp(&b.location));
            expected.sort_by(|a, b| a.location.cmp(&b.location));
            (listed, expected)
        };
        let (listed, expected) = both().await;
        assert_eq!(listed.len(), 14, "{listed:?}");
        assert_eq!(listed, expected);

        // A name a path spells with percent signs: LocalFileSystem's listing.
        std::fs::write(log.join("00000000000000000030 copy.json"), "{}").unwrap();
        let (listed, expected) = both().await;
        assert_eq!(listed.len(), 15);
        assert_eq!(listed, expected);

        // A folder that does not exist holds nothing.
        let nowhere = Path::from(format!("{}/nowhere", log.to_str().unwrap()));
        let listed: Vec<ObjectMeta> = ours
            .list_with_offset(Some(&nowhere), &offset)
            .try_collect()
            .await
            .unwrap();
        assert!(listed.is_empty());
    }

    /// Ranges are `LocalFileSystem`'s bytes, read in the task (at most
    /// [`INLINE_READ_BYTES`] in all) and by a blocking thread; ranges past the end of the
    /// file and a missing file get its errors.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn reads_the_ranges_local_file_system_reads() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().canonicalize().unwrap().join("part-0.parquet");
        let content: Vec<u8> = (0..400_000u32).map(|i| (i * 7 % 251) as u8).collect();
        std::fs::write(&file, &content).unwrap();
        let location = Path::from(file.to_str().unwrap());
        let (ours, theirs) = (LocalLakeStore::new(), LocalFileSystem::new());
        let small = vec![
            0..10,
            99_990..100_000,
            5..5,
            4_096..70_000,
            0..100_000,
            3..4,
        ];
        let large = vec![0..400_000, 4_096..70_000];
        for ranges in [small, large] {
            let read = ours.get_ranges(&location, &ranges).await.unwrap();
            assert_eq!(read, theirs.get_ranges(&location, &ranges).await.unwrap());
            let at = ranges.iter().position(|r| *r == (4_096..70_000)).unwrap();
            assert_eq!(read[at], content[4_096..70_000]);
        }
        for wrong in [
            vec![0..10, 399_990..400_001],
            vec![500_000..500_010, 0..1],
            vec![0..300_000, 399_990..400_001],
        ] {
            let ours = ours.get_ranges(&location, &wrong).await.unwrap_err();
            let theirs = theirs.get_ranges(&location, &wrong).await.unwrap_err();
            assert_eq!(ours.to_string(), theirs.to_string());
        }
        let missing = Path::from(format!(
            "{}/missing.parquet",
            dir.path().canonicalize().unwrap().to_str().unwrap()
        ));
        let error = ours.get_ranges(&missing, &[0..1, 1..2]).await.unwrap_err();
        assert!(
            matches!(error, object_store::Error::NotFound { .. }),
            "{error}"
        );
    }

    /// A whole file is `LocalFileSystem`'s bytes and description, whether read in the task
    /// (a small one) or by a blocking thread (one over [`INLINE_READ_BYTES`]); a missing
    /// file and a folder get its errors, and a range or a head request its answer.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn gets_what_local_file_system_gets() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        let (ours, theirs) = (LocalLakeStore::new(), LocalFileSystem::new());
        for (name, len) in [
            ("00000000000000000001.json", 1_000u32),
            ("big.parquet", 300_000),
        ] {
            let content: Vec<u8> = (0..len).map(|i| (i * 7 % 251) as u8).collect();
            std::fs::write(root.join(name), &content).unwrap();
            let location = Path::from(root.join(name).to_str().unwrap());
            let got = ours.get(&location).await.unwrap();
            let expected = theirs.get(&location).await.unwrap();
            assert_eq!(got.meta, expected.meta);
            assert_eq!(got.range, expected.range);
            assert_eq!(got.bytes().await.unwrap(), content);
            let options = || GetOptions {
                range: Some((10..20).into()),
                ..GetOptions::default()
            };
            let got = ours.get_opts(&location, options()).await.unwrap();
            assert_eq!(got.range, 10..20);
            assert_eq!(got.bytes().await.unwrap(), content[10..20]);
            let head = ours.head(&location).await.unwrap();
            assert_eq!(head, theirs.head(&location).await.unwrap());
        }
        let missing = Path::from(root.join("missing.json").to_str().unwrap());
        let error = ours.get(&missing).await.unwrap_err();
        assert!(
            matches!(error, object_store::Error::NotFound { .. }),
            "{error}"
        );
        std::fs::create_dir(root.join("folder")).unwrap();
        let folder = Path::from(root.join("folder").to_str().unwrap());
        let ours = ours.get(&folder).await.unwrap_err();
        let theirs = theirs.get(&folder).await.unwrap_err();
        assert_eq!(ours.to_string(), theirs.to_string());
    }
}
