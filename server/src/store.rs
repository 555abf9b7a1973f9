//! The server's durable store: a folder (by default `<lake>/_server`) with one folder per
//! job holding `job.yaml` (the job file as submitted), `record.json` (a [`JobRecord`],
//! replaced atomically: written to a temporary file, synced, renamed) and `events.jsonl`
//! (its history, one [`JobEvent`] per line, appended). A server killed at any point
//! finds every record whole; an event line cut short by the kill is skipped on reading.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{Result, ServerError};
use crate::record::{JobEvent, JobRecord};

const DEFINITION: &str = "job.yaml";
const RECORD: &str = "record.json";
const EVENTS: &str = "events.jsonl";

/// The store's folder.
#[derive(Debug, Clone)]
pub struct JobStore {
    root: PathBuf,
}

fn failed(what: String, e: impl std::fmt::Display) -> ServerError {
    ServerError::Store(format!("{what}: {e}"))
}

/// Writes `bytes` to `path` so that a reader finds either the old or the new content.
fn replace(path: &Path, bytes: &[u8]) -> Result<()> {
    let temporary = path.with_extension("tmp");
    let mut file = File::create(&temporary)
        .map_err(|e| failed(format!("writing {}", temporary.display()), e))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(|e| failed(format!("writing {}", temporary.display()), e))?;
    fs::rename(&temporary, path).map_err(|e| failed(format!("writing {}", path.display()), e))
}

/// Ends the file at `path` with a newline when a kill cut its last line short, so the
/// next appended line stands on its own.
fn end_last_line(path: &Path) -> Result<()> {
    match fs::read(path) {
        Ok(bytes) if bytes.last().is_some_and(|b| *b != b'\n') => OpenOptions::new()
            .append(true)
            .open(path)
            .and_then(|mut file| file.write_all(b"\n"))
            .map_err(|e| failed(format!("repairing {}", path.display()), e)),
        _ => Ok(()),
    }
}

impl JobStore {
    /// The store in the folder `root`, created when missing.
    pub fn open(root: impl Into<PathBuf>) -> Result<Self> {
        let root = root.into();
        fs::create_dir_all(root.join("jobs"))
            .map_err(|e| failed(format!("creating {}", root.display()), e))?;
        Ok(Self { root })
    }

    /// The store's folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn job(&self, id: &str) -> PathBuf {
        self.root.join("jobs").join(id)
    }

    /// The folder of job `id`'s backfill progress files.
    pub fn backfills(&self, id: &str) -> PathBuf {
        self.job(id).join("backfills")
    }

    /// Stores a new job: its file as submitted and its record.
    pub fn create(&self, record: &JobRecord, definition: &str) -> Result<()> {
        let folder = self.job(&record.id);
        fs::create_dir_all(&folder)
            .map_err(|e| failed(format!("creating {}", folder.display()), e))?;
        replace(&folder.join(DEFINITION), definition.as_bytes())?;
        self.save(record)
    }

    /// Replaces the record of a stored job.
    pub fn save(&self, record: &JobRecord) -> Result<()> {
        let json = serde_json::to_vec_pretty(record)
            .map_err(|e| failed(format!("encoding the record of {}", record.id), e))?;
        replace(&self.job(&record.id).join(RECORD), &json)
    }

    /// Appends `event` to the history of job `id`.
    pub fn append_event(&self, id: &str, event: &JobEvent) -> Result<()> {
        let path = self.job(id).join(EVENTS);
        let mut line = serde_json::to_vec(event)
            .map_err(|e| failed(format!("encoding an event of {id}"), e))?;
        line.push(b'\n');
        OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .and_then(|mut file| file.write_all(&line))
            .map_err(|e| failed(format!("appending to {}", path.display()), e))
    }

    /// The history of job `id`, oldest first.
    pub fn events(&self, id: &str) -> Result<Vec<JobEvent>> {
        let path = self.job(id).join(EVENTS);
        let text = match fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(failed(format!("reading {}", path.display()), e)),
        };
        Ok(text
            .lines()
            .filter_map(|line| serde_json::from_str(line).ok())
            .collect())
    }

    /// Every stored job: its record and its file as submitted, by id.
    pub fn load(&self) -> Result<Vec<(JobRecord, String)>> {
        let folder = self.root.join("jobs");
        let entries = fs::read_dir(&folder)
            .map_err(|e| failed(format!("reading {}", folder.display()), e))?;
        let mut jobs = Vec::new();
        for entry in entries {
            let path = entry
                .map_err(|e| failed(format!("reading {}", folder.display()), e))?
                .path();
            let record = path.join(RECORD);
            let Ok(json) = fs::read(&record) else {
                // A job folder whose record was never written: a submit cut short.
                continue;
            };
            let record: JobRecord = serde_json::from_slice(&json)
                .map_err(|e| failed(format!("reading {}", record.display()), e))?;
            let definition = fs::read_to_string(path.join(DEFINITION))
                .map_err(|e| failed(format!("reading {}", path.join(DEFINITION).display()), e))?;
            end_last_line(&path.join(EVENTS))?;
            jobs.push((record, definition));
        }
        jobs.sort_by(|a, b| a.0.id.cmp(&b.0.id));
        Ok(jobs)
    }

    /// Forgets job `id`.
    pub fn remove(&self, id: &str) -> Result<()> {
        let folder = self.job(id);
        fs::remove_dir_all(&folder).map_err(|e| failed(format!("removing {}", folder.display()), e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{Desired, Graph};

    #[test]
    fn records_and_events_survive_a_reopen_and_a_cut_line() {
        let dir = tempfile::tempdir().unwrap();
        let store = JobStore::open(dir.path()).unwrap();
        let record = JobRecord {
            id: "bids".into(),
            kind: "stream".into(),
            submitted_ms: 1,
            desired: Desired::Running,
            ended: None,
            checkpoint_location: "c".into(),
            server_checkpoints: true,
            graph: Graph::default(),
            last_due_ms: None,
        };
        store.create(&record, "name: bids\n").unwrap();
        store
            .append_event("bids", &JobEvent::new("submitted", None))
            .unwrap();
        // A kill in the middle of an append leaves part of a line.
        OpenOptions::new()
            .append(true)
            .open(dir.path().join("jobs/bids/events.jsonl"))
            .unwrap()
            .write_all(b"{\"time_ms\": 3, \"ev")
            .unwrap();
        let reopened = JobStore::open(dir.path()).unwrap();
        assert_eq!(
            reopened.load().unwrap(),
            vec![(record, "name: bids\n".to_string())]
        );
        reopened
            .append_event("bids", &JobEvent::new("resumed", None))
            .unwrap();
        let events: Vec<String> = reopened
            .events("bids")
            .unwrap()
            .into_iter()
            .map(|e| e.event)
            .collect();
        assert_eq!(events, ["submitted", "resumed"]);
        reopened.remove("bids").unwrap();
        assert!(reopened.load().unwrap().is_empty());
    }
}
