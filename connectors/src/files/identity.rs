//! Which file is which, whatever its name: the identity a file keeps through renames and
//! the partition id it has for watermarks and checkpoints, a pure function of the
//! identity, so every subtask, every run and every parallelism agree on it.

use std::fs::Metadata;
use std::path::Path;

use xxhash_rust::xxh3::xxh3_64;

/// A file's identity: device and inode on unix. A file renamed (rotated) keeps it; a file
/// created under an old name gets a new one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FileId {
    pub dev: u64,
    pub ino: u64,
}

impl FileId {
    /// The identity of the file `metadata` describes (`path` is only used where the
    /// platform has no inodes).
    #[cfg(unix)]
    pub fn of(metadata: &Metadata, _path: &Path) -> Self {
        use std::os::unix::fs::MetadataExt;
        Self {
            dev: metadata.dev(),
            ino: metadata.ino(),
        }
    }

    /// Without inodes, a file is known by its path (a rename reads it again).
    #[cfg(not(unix))]
    pub fn of(_metadata: &Metadata, path: &Path) -> Self {
        Self {
            dev: 0,
            ino: xxh3_64(path.to_string_lossy().as_bytes()),
        }
    }

    fn hash(&self) -> u64 {
        let mut bytes = [0u8; 16];
        bytes[..8].copy_from_slice(&self.dev.to_le_bytes());
        bytes[8..].copy_from_slice(&self.ino.to_le_bytes());
        xxh3_64(&bytes)
    }

    /// The source-partition id of the file (two files may share one, which only merges
    /// their event-time tracking).
    pub fn partition_id(&self) -> u32 {
        (self.hash() >> 32) as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partition_ids_are_pinned() {
        // Pinned: checkpoints keep positions in the key group of this id.
        let id = FileId { dev: 2049, ino: 7 };
        assert_eq!(id.partition_id(), 3_203_821_927);
    }
}
