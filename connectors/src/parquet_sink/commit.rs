//! The file operations of the commit protocol: publishing a closed file by renaming it to
//! its final name, and removing in-progress files that will never be committed.
//!
//! Renames within one file system are atomic, so a reader sees a file either not at all or
//! complete. Publishing is idempotent: when the in-progress file is gone and the final one
//! exists, the rename already happened.

use std::collections::HashSet;
use std::io::ErrorKind;
use std::path::Path;

use crate::error::{ConnectorError, Result};

use super::staged::IN_PROGRESS_DIR;

fn io_error(what: &str, path: &Path, error: std::io::Error) -> ConnectorError {
    ConnectorError::Io(format!("{what} {}: {error}", path.display()))
}

/// Renames `root/temp` to `root/target`, creating the target's directory. Returns whether
/// this call renamed it (`false`: it had been published before).
pub(super) async fn publish(root: &Path, temp: &str, target: &str) -> Result<bool> {
    let from = root.join(temp);
    let to = root.join(target);
    if let Some(dir) = to.parent() {
        tokio::fs::create_dir_all(dir)
            .await
            .map_err(|e| io_error("creating partition directory", dir, e))?;
    }
    match tokio::fs::rename(&from, &to).await {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == ErrorKind::NotFound => match tokio::fs::try_exists(&to).await {
            Ok(true) => Ok(false),
            _ => Err(ConnectorError::Io(format!(
                "committing {}: neither it nor its in-progress file {} exists; the rows \
                 it held are lost (was the directory changed by someone else?)",
                to.display(),
                from.display()
            ))),
        },
        Err(e) => Err(io_error("committing", &to, e)),
    }
}

/// Deletes the files in `root/.inprogress` that neither start with `keep_prefix` (files of
/// the running job) nor are in `keep`. Returns how many it deleted.
pub(super) async fn sweep_in_progress(
    root: &Path,
    keep_prefix: &str,
    keep: &HashSet<String>,
) -> Result<usize> {
    let dir = root.join(IN_PROGRESS_DIR);
    let mut entries = match tokio::fs::read_dir(&dir).await {
        Ok(entries) => entries,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(io_error("listing", &dir, e)),
    };
    let mut deleted = 0;
    while let Some(entry) = entries
        .next_entry()
        .await
        .map_err(|e| io_error("listing", &dir, e))?
    {
        let name = entry.file_name().to_string_lossy().into_owned();
        let relative = format!("{IN_PROGRESS_DIR}/{name}");
        if name.starts_with(keep_prefix) || keep.contains(&relative) {
            continue;
        }
        match tokio::fs::remove_file(entry.path()).await {
            Ok(()) => deleted += 1,
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => return Err(io_error("deleting", &entry.path(), e)),
        }
    }
    Ok(deleted)
}
