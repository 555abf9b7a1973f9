//! The rows of one group and its top N.

use std::collections::{BTreeMap, HashMap};

use super::Ties;

/// A row as two comparable byte strings (Arrow row format): its `order_by` values, then
/// the rest of its columns ascending. Comparing candidates compares rows in the full
/// order: `order_by` first, the rest of the row breaking ties.
pub(crate) type Candidate = (Box<[u8]>, Box<[u8]>);

/// One group (`partition_by` values and `until`): its candidate rows and what it last
/// emitted.
#[derive(Debug, Default)]
pub(crate) struct Group {
    /// Rows in the full order, with how many times each occurs.
    candidates: BTreeMap<Candidate, u32>,
    /// With `key`: the candidate holding each key, so a newer row replaces it.
    by_key: HashMap<Box<[u8]>, Candidate>,
    /// The rows of the last emission, in rank order (empty before the first).
    pub emitted: Vec<Candidate>,
    /// How many times the group was emitted; the next emission's `revision`.
    pub emissions: i64,
    /// Rows changed since the group was last looked at.
    pub dirty: bool,
    /// The key group of the group's `partition_by` values.
    pub key_group: u32,
}

/// A row of a top list with its rank.
pub(crate) struct Ranked<'a> {
    pub row: &'a Candidate,
    pub rank: i64,
}

impl Group {
    pub fn new(key_group: u32) -> Self {
        Self {
            key_group,
            ..Self::default()
        }
    }

    /// Adds a row; with `key`, it replaces the group's earlier row of that key.
    pub fn insert(&mut self, key: Option<&[u8]>, row: Candidate) {
        if let Some(key) = key {
            if let Some(old) = self.by_key.insert(key.into(), row.clone()) {
                self.remove_one(&old);
            }
        }
        *self.candidates.entry(row).or_insert(0) += 1;
        self.dirty = true;
    }

    fn remove_one(&mut self, row: &Candidate) {
        if let Some(count) = self.candidates.get_mut(row) {
            *count -= 1;
            if *count == 0 {
                self.candidates.remove(row);
            }
        }
    }

    /// Every candidate row, in order, repeats included.
    pub fn rows(&self) -> impl Iterator<Item = &Candidate> {
        self.candidates
            .iter()
            .flat_map(|(row, &count)| std::iter::repeat_n(row, count as usize))
    }

    /// The top `limit` rows with their ranks. `Ties::First`: exactly `limit` rows (fewer if
    /// the group has fewer), ranked 1, 2, 3, ... in the full order (SQL `ROW_NUMBER()`).
    /// `Ties::Include`: also every further row whose `order_by` values equal the last one's,
    /// ranked as SQL `RANK()` (equal values share a rank; the next rank skips).
    pub fn top(&self, limit: usize, ties: Ties) -> Vec<Ranked<'_>> {
        let mut top: Vec<Ranked<'_>> = Vec::with_capacity(limit);
        for (i, row) in self.rows().enumerate() {
            let tied = top.last().is_some_and(|last| last.row.0 == row.0);
            if i >= limit && !(ties == Ties::Include && tied) {
                break;
            }
            let rank = match (ties, tied) {
                (Ties::Include, true) => top.last().map_or(1, |last| last.rank),
                _ => i as i64 + 1,
            };
            top.push(Ranked { row, rank });
        }
        top
    }

    /// Without `key`, rows past the top list can never enter it again: drops them.
    pub fn prune(&mut self, limit: usize, ties: Ties) {
        let keep = self.top(limit, ties).len();
        let mut seen = 0usize;
        let mut cut = None;
        for (row, count) in self.candidates.iter_mut() {
            let room = keep - seen;
            if room == 0 {
                cut = Some(row.clone());
                break;
            }
            if (*count as usize) > room {
                *count = room as u32;
            }
            seen += *count as usize;
        }
        if let Some(cut) = cut {
            self.candidates.split_off(&cut);
        }
    }

    /// Whether the top list differs from the last emission.
    pub fn changed(&self, top: &[Ranked<'_>]) -> bool {
        top.len() != self.emitted.len() || top.iter().zip(&self.emitted).any(|(t, e)| t.row != e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(order: u8, rest: u8) -> Candidate {
        (vec![order].into(), vec![rest].into())
    }

    fn ranks(group: &Group, limit: usize, ties: Ties) -> Vec<(u8, u8, i64)> {
        group
            .top(limit, ties)
            .iter()
            .map(|r| (r.row.0[0], r.row.1[0], r.rank))
            .collect()
    }

    #[test]
    fn ties_are_cut_or_included_and_keys_replace_rows() {
        let mut group = Group::new(0);
        for (o, r) in [(3, 1), (1, 9), (2, 5), (2, 4), (2, 4), (5, 0)] {
            group.insert(None, row(o, r));
        }
        assert_eq!(
            ranks(&group, 3, Ties::First),
            [(1, 9, 1), (2, 4, 2), (2, 4, 3)]
        );
        assert_eq!(
            ranks(&group, 2, Ties::Include),
            [(1, 9, 1), (2, 4, 2), (2, 4, 2), (2, 5, 2)]
        );
        group.prune(2, Ties::Include);
        assert_eq!(group.rows().count(), 4);
        group.prune(2, Ties::First);
        assert_eq!(group.rows().count(), 2);

        let mut keyed = Group::new(0);
        keyed.insert(Some(b"a"), row(1, 0));
        keyed.insert(Some(b"b"), row(2, 0));
        keyed.insert(Some(b"a"), row(3, 0));
        assert_eq!(ranks(&keyed, 5, Ties::First), [(2, 0, 1), (3, 0, 2)]);
    }
}
