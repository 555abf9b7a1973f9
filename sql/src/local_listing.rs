//! Listing a lake in a local folder without leaving it. A symbolic link is followed only
//! to a folder inside the lake that does not hold the link (a link back up would list the
//! lake again inside itself); a link out of the lake, a link loop, a link that leads
//! nowhere and a folder that cannot be read are skipped, each with a [`Skipped`] naming
//! it, and the rest of the lake is listed. Blocking file system calls: run it off the
//! async runtime.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};

/// A folder or link left out of the listing, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    pub path: PathBuf,
    pub reason: String,
}

/// The tables found: `(schema, name)` for each, `schema` being `None` at the top level,
/// in the order found; and what was skipped.
#[derive(Debug, Default)]
pub struct Listing {
    pub tables: Vec<(Option<String>, String)>,
    pub skipped: Vec<Skipped>,
}

/// The tables of the lake in the canonical folder `root` (none if it does not exist), up
/// to one level of nesting. Folders starting with `_` or `.` are not looked into. Fails
/// only when `root` itself cannot be read.
pub fn list(root: &Path) -> std::io::Result<Listing> {
    let mut listing = Listing::default();
    let top = match std::fs::read_dir(root) {
        Ok(entries) => entries,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(listing),
        Err(e) => return Err(e),
    };
    for (name, folder) in subfolders(root, root, top, &mut listing.skipped) {
        if is_table(root, &folder, &mut listing.skipped) {
            listing.tables.push((None, name));
            continue;
        }
        let inner = match std::fs::read_dir(&folder) {
            Ok(entries) => entries,
            Err(e) => {
                listing.skipped.push(unreadable(&folder, &e));
                continue;
            }
        };
        for (inner_name, inner_folder) in subfolders(root, &folder, inner, &mut listing.skipped) {
            if is_table(root, &inner_folder, &mut listing.skipped) {
                listing.tables.push((Some(name.clone()), inner_name));
            }
        }
    }
    Ok(listing)
}

/// The table `name`, at the top level (`schema` `None`) or in the folder `schema`, of the
/// lake in the canonical folder `root`, as [`list`] finds it but without listing
/// anything else: its real folder, or `None` when [`list`] would not list it; and what
/// was skipped on the way (a link out of the lake...).
pub fn find(root: &Path, schema: Option<&str>, name: &str) -> (Option<PathBuf>, Vec<Skipped>) {
    let mut skipped = Vec::new();
    let found = (|| {
        let schema_folder = match schema {
            None => root.to_path_buf(),
            Some(schema) => {
                let folder = visible_folder(root, root, schema, &mut skipped)?;
                // A table's folder is not looked into for more tables.
                (!is_table(root, &folder, &mut skipped)).then_some(folder)?
            }
        };
        let folder = visible_folder(root, &schema_folder, name, &mut skipped)?;
        is_table(root, &folder, &mut skipped).then_some(folder)
    })();
    (found, skipped)
}

/// The real path of `folder`'s subfolder `name`, if [`subfolders`] lists it.
fn visible_folder(
    root: &Path,
    folder: &Path,
    name: &str,
    skipped: &mut Vec<Skipped>,
) -> Option<PathBuf> {
    if name.is_empty() || name.starts_with(['_', '.']) || name.contains(['/', '\\']) {
        return None;
    }
    let path = folder.join(name);
    let kind = std::fs::symlink_metadata(&path).ok()?.file_type();
    if kind.is_dir() {
        Some(path)
    } else if kind.is_symlink() {
        link_target(root, folder, &path, skipped)
    } else {
        None
    }
}

/// The visible subfolders of `folder` (a real path inside `root`), each by its name and
/// its real path: a link's target.
fn subfolders(
    root: &Path,
    folder: &Path,
    entries: std::fs::ReadDir,
    skipped: &mut Vec<Skipped>,
) -> Vec<(String, PathBuf)> {
    let mut found = Vec::new();
    for entry in entries {
        let entry = match entry {
            Ok(entry) => entry,
            Err(e) => {
                skipped.push(unreadable(folder, &e));
                continue;
            }
        };
        let path = entry.path();
        let Some(name) = entry.file_name().to_str().map(str::to_string) else {
            skipped.push(Skipped {
                path,
                reason: "its name is not UTF-8, which a table name must be".to_string(),
            });
            continue;
        };
        if name.starts_with('_') || name.starts_with('.') {
            continue;
        }
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if kind.is_dir() {
            found.push((name, path));
        } else if kind.is_symlink() {
            if let Some(target) = link_target(root, folder, &path, skipped) {
                found.push((name, target));
            }
        }
    }
    found
}

/// The folder the link at `link` (in `folder`) leads to, if it is one to follow.
fn link_target(
    root: &Path,
    folder: &Path,
    link: &Path,
    skipped: &mut Vec<Skipped>,
) -> Option<PathBuf> {
    let skip = |reason: String| Skipped {
        path: link.to_path_buf(),
        reason,
    };
    let target = match std::fs::canonicalize(link) {
        Ok(target) => target,
        Err(e) => {
            // A loop reads "Too many levels of symbolic links".
            let reason = if e.kind() == ErrorKind::NotFound {
                "a symbolic link that leads nowhere".to_string()
            } else {
                format!("a symbolic link that cannot be followed ({e})")
            };
            skipped.push(skip(reason));
            return None;
        }
    };
    if !target.starts_with(root) {
        skipped.push(skip(format!(
            "a symbolic link to {}, outside the lake",
            target.display()
        )));
        return None;
    }
    if folder.starts_with(&target) {
        skipped.push(skip(format!(
            "a symbolic link loop (to {}, which holds the link)",
            target.display()
        )));
        return None;
    }
    // A link to a file is no folder, as a file is not.
    target.is_dir().then_some(target)
}

/// Files one of which a Delta log holds from its first commit on (the first commit until
/// log cleanup removes it, the checkpoint pointer from the first checkpoint on): when one
/// is there, the log is not listed (a log of 10,000 commits takes 0.2 ms to start listing).
const LOG_MARKERS: [&str; 2] = ["_last_checkpoint", "00000000000000000000.json"];

/// Whether `folder`'s `_delta_log` holds a file; its log may be a link inside the lake.
fn is_table(root: &Path, folder: &Path, skipped: &mut Vec<Skipped>) -> bool {
    let log = folder.join("_delta_log");
    match std::fs::canonicalize(&log) {
        Ok(real) if !real.starts_with(root) => {
            skipped.push(Skipped {
                path: log,
                reason: format!("a symbolic link to {}, outside the lake", real.display()),
            });
            return false;
        }
        Ok(_) => {}
        Err(_) => return false,
    }
    if LOG_MARKERS.iter().any(|marker| log.join(marker).is_file()) {
        return true;
    }
    match std::fs::read_dir(&log) {
        Ok(entries) => entries
            .filter_map(Result::ok)
            .any(|entry| entry.path().is_file()),
        Err(e) if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::NotADirectory) => false,
        Err(e) => {
            skipped.push(unreadable(&log, &e));
            false
        }
    }
}

fn unreadable(path: &Path, e: &std::io::Error) -> Skipped {
    Skipped {
        path: path.to_path_buf(),
        reason: format!("cannot be read ({e})"),
    }
}
