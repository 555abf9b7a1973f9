//! Finding the files a source reads: a path names a file, a directory or a glob pattern.

use std::path::{Path, PathBuf};

use crate::error::{ConnectorError, Result};

use super::identity::FileId;

/// A matching regular file as seen by one listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub path: PathBuf,
    pub id: FileId,
    pub size: u64,
}

/// What a source's `path` setting names; whether a plain path is a file or a directory is
/// decided at each listing, so either may appear later.
#[derive(Debug, Clone)]
pub enum FilePattern {
    /// A file or a directory.
    Path(PathBuf),
    Glob(glob::Pattern),
}

impl FilePattern {
    /// Parses `path`: a glob when it holds `*`, `?` or `[`.
    pub fn new(path: &str) -> Result<Self> {
        if path.is_empty() {
            return Err(bad("`path` is empty".into()));
        }
        if !path.contains(['*', '?', '[']) {
            return Ok(Self::Path(PathBuf::from(path)));
        }
        glob::Pattern::new(path)
            .map(Self::Glob)
            .map_err(|e| bad(format!("`path` '{path}' is not a valid glob: {e}")))
    }

    /// Every regular file matching now, in path order (blocking). Entries that vanish or
    /// cannot be read while listing are skipped with a warning.
    pub fn list(&self) -> Result<Vec<Found>> {
        let mut found = Vec::new();
        match self {
            Self::Path(path) if path.is_dir() => {
                let entries = std::fs::read_dir(path).map_err(|e| {
                    ConnectorError::Files(format!("listing {}: {e}", path.display()))
                })?;
                for entry in entries.flatten() {
                    let hidden = entry.file_name().to_string_lossy().starts_with('.');
                    if !hidden {
                        push_if_file(&mut found, entry.path());
                    }
                }
            }
            Self::Path(path) => push_if_file(&mut found, path.clone()),
            Self::Glob(pattern) => {
                let options = glob::MatchOptions {
                    require_literal_leading_dot: true,
                    ..glob::MatchOptions::new()
                };
                let paths = glob::glob_with(pattern.as_str(), options)
                    .map_err(|e| bad(format!("`path` is not a valid glob: {e}")))?;
                for entry in paths {
                    match entry {
                        Ok(path) => push_if_file(&mut found, path),
                        Err(e) => tracing::warn!(error = %e, "skipping a path while listing files"),
                    }
                }
            }
        }
        found.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(found)
    }

    /// The pattern as configured.
    pub fn describe(&self) -> String {
        match self {
            Self::Path(path) => path.display().to_string(),
            Self::Glob(pattern) => pattern.as_str().to_string(),
        }
    }
}

fn push_if_file(found: &mut Vec<Found>, path: PathBuf) {
    if let Some(file) = regular_file(&path) {
        found.push(file);
    }
}

/// The file at `path` if it is a regular file (symlinks followed).
fn regular_file(path: &Path) -> Option<Found> {
    let metadata = std::fs::metadata(path).ok()?;
    metadata.is_file().then(|| Found {
        id: FileId::of(&metadata, path),
        size: metadata.len(),
        path: path.to_path_buf(),
    })
}

fn bad(message: String) -> ConnectorError {
    ConnectorError::Config {
        connector: "file source",
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(pattern: &str, root: &Path) -> Vec<String> {
        FilePattern::new(pattern)
            .unwrap()
            .list()
            .unwrap()
            .iter()
            .map(|f| {
                f.path
                    .strip_prefix(root)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect()
    }

    #[test]
    fn files_directories_and_globs() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for name in [
            "a.log",
            "b.log",
            "b.log.1",
            ".hidden.log",
            "x/c.log",
            "x/y/d.log",
        ] {
            let path = root.join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, "1\n").unwrap();
        }
        let at = |p: &str| format!("{}/{p}", root.display());
        assert_eq!(names(&at("a.log"), root), ["a.log"]);
        assert_eq!(names(&at("missing.log"), root), Vec::<String>::new());
        assert_eq!(names(&at(""), root), ["a.log", "b.log", "b.log.1"]);
        assert_eq!(names(&at("*.log"), root), ["a.log", "b.log"]);
        assert_eq!(names(&at("b.log*"), root), ["b.log", "b.log.1"]);
        assert_eq!(names(&at("?.log"), root), ["a.log", "b.log"]);
        assert_eq!(
            names(&at("**/*.log"), root),
            ["a.log", "b.log", "x/c.log", "x/y/d.log"]
        );
        assert!(FilePattern::new(&at("[.log")).is_err());
    }
}
