//! Which subtask reads which file: files are dealt by size, biggest first, each to the
//! subtask with the fewest bytes so far, and a file keeps its subtask for the job's life.
//!
//! One deal is shared by all subtasks of a source at a parallelism: the files found when
//! the job was built are dealt at once, in the same order for everyone (size descending,
//! then identity), and a file a follow-mode listing finds later is dealt by the first
//! subtask that sees it, under the deal's lock, so every subtask agrees on its reader no
//! matter which one saw it first. A file is never dealt twice, so it is never read twice
//! or skipped; positions in checkpoints follow the files to whoever reads them after a
//! restore, at any parallelism.

use std::collections::HashMap;

use super::discovery::Found;
use super::identity::FileId;

/// A file's reader and the bytes it weighs.
#[derive(Debug, Clone, Copy)]
struct Dealt {
    subtask: usize,
    /// The size last listed; `None` once the reader is done with the file.
    bytes: Option<u64>,
}

/// The deal of one source at one parallelism.
///
/// Invariants: every file dealt keeps its subtask; `load[s]` is the sum of the `bytes`
/// of the files dealt to `s`.
#[derive(Debug)]
pub struct Deal {
    files: HashMap<FileId, Dealt>,
    load: Vec<u64>,
}

impl Deal {
    /// Deals `initial` (the files found when the job was built) over `parallelism`
    /// subtasks.
    pub fn new(initial: &[Found], parallelism: usize) -> Self {
        let mut deal = Self {
            files: HashMap::new(),
            load: vec![0; parallelism.max(1)],
        };
        deal.place(initial);
        deal
    }

    /// Deals the files of `listing` not dealt yet, biggest first (ties by identity), each
    /// to the subtask with the fewest bytes (ties to the lowest index), and records the
    /// current size of those already dealt (followed files grow).
    pub fn place(&mut self, listing: &[Found]) {
        let mut new: Vec<(u64, FileId)> = Vec::new();
        for found in listing {
            match self.files.get_mut(&found.id) {
                Some(Dealt {
                    subtask,
                    bytes: Some(bytes),
                }) => {
                    self.load[*subtask] = self.load[*subtask] - *bytes + found.size;
                    *bytes = found.size;
                }
                Some(_) => {}
                None if new.iter().any(|(_, id)| *id == found.id) => {}
                None => new.push((found.size, found.id)),
            }
        }
        new.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        for (bytes, id) in new {
            let subtask = (0..self.load.len())
                .min_by_key(|&s| (self.load[s], s))
                .unwrap_or(0);
            self.load[subtask] += bytes;
            self.files.insert(
                id,
                Dealt {
                    subtask,
                    bytes: Some(bytes),
                },
            );
        }
    }

    /// The subtask reading `id`, if the file was dealt.
    pub fn subtask_of(&self, id: FileId) -> Option<usize> {
        self.files.get(&id).map(|d| d.subtask)
    }

    /// A file its reader finished and let go (follow mode): it no longer weighs on its
    /// subtask, but stays dealt to it, should a listing find it again.
    pub fn finished(&mut self, id: FileId) {
        if let Some(dealt) = self.files.get_mut(&id) {
            if let Some(bytes) = dealt.bytes.take() {
                self.load[dealt.subtask] -= bytes;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(ino: u64, size: u64) -> Found {
        Found {
            path: format!("/logs/{ino}.log").into(),
            id: FileId { dev: 1, ino },
            size,
        }
    }

    fn owners(deal: &Deal, inos: impl IntoIterator<Item = u64>) -> Vec<usize> {
        inos.into_iter()
            .map(|ino| deal.subtask_of(FileId { dev: 1, ino }).unwrap())
            .collect()
    }

    #[test]
    fn biggest_first_to_the_least_loaded() {
        let files = [
            file(1, 10),
            file(2, 70),
            file(3, 40),
            file(4, 40),
            file(5, 30),
        ];
        let deal = Deal::new(&files, 2);
        // 70 -> 0; 40 (ino 3) -> 1; 40 (ino 4) -> 1 (40 < 70); 30 -> 0 (70 < 80);
        // 10 -> 1 (80 < 100).
        assert_eq!(owners(&deal, 1..=5), [1, 0, 1, 1, 0]);
        assert_eq!(deal.load, [100, 90]);
        // The order of the listing does not matter.
        let mut reversed = files.to_vec();
        reversed.reverse();
        assert_eq!(owners(&Deal::new(&reversed, 2), 1..=5), [1, 0, 1, 1, 0]);
        // Equal files go to different subtasks.
        let equal = Deal::new(&[file(9, 5), file(8, 5)], 2);
        assert_eq!(owners(&equal, [8, 9]), [0, 1]);
    }

    #[test]
    fn later_files_go_where_there_are_fewest_bytes_and_files_keep_their_subtask() {
        let mut deal = Deal::new(&[file(1, 100), file(2, 10)], 2);
        assert_eq!(owners(&deal, [1, 2]), [0, 1]);
        // File 2 grew past file 1: the new file goes to subtask 0; nobody moves.
        deal.place(&[file(1, 100), file(2, 500), file(3, 50)]);
        assert_eq!(owners(&deal, [1, 2, 3]), [0, 1, 0]);
        assert_eq!(deal.load, [150, 500]);
        // A listing seen by another subtask (an older one, in another order) changes no
        // reader.
        deal.place(&[file(3, 50), file(2, 10)]);
        assert_eq!(owners(&deal, [1, 2, 3]), [0, 1, 0]);
        // A finished file no longer weighs, even when listed again, and keeps its reader.
        deal.finished(FileId { dev: 1, ino: 2 });
        deal.place(&[file(2, 500), file(4, 1)]);
        assert_eq!(owners(&deal, [2, 4]), [1, 1]);
        assert_eq!(deal.load, [150, 1]);
    }
}
