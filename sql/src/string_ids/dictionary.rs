//! The ids one grouping column's distinct strings get for the length of a query.

use std::sync::{Arc, Mutex, PoisonError};

use datafusion::common::HashMap;

/// Distinct strings and their ids, shared by every partition of one query's aggregation.
///
/// Invariants: ids are dense (`0..len`), an id never changes its string, and equal strings
/// get the same id wherever they are interned, so grouping by ids groups as the strings
/// would.
#[derive(Debug, Default)]
pub struct StringIds {
    inner: Mutex<Interned>,
}

#[derive(Debug, Default)]
struct Interned {
    ids: HashMap<Arc<str>, u32>,
    strings: Vec<Arc<str>>,
}

/// A string's id, and the bytes the dictionary grew by to hold it (0 when it was known).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Interning {
    pub id: u32,
    pub grown_by: usize,
}

/// What one more distinct string costs besides its bytes: two pointers and a map entry.
const PER_STRING_BYTES: usize = 48;

impl StringIds {
    /// The id of `value`, giving it the next id when it is new. `None` when the dictionary
    /// holds `u32::MAX` strings already.
    pub fn intern(&self, value: &str) -> Option<Interning> {
        let mut interned = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(&id) = interned.ids.get(value) {
            return Some(Interning { id, grown_by: 0 });
        }
        let id = u32::try_from(interned.strings.len()).ok()?;
        let value: Arc<str> = Arc::from(value);
        interned.strings.push(value.clone());
        interned.ids.insert(value.clone(), id);
        Some(Interning {
            id,
            grown_by: value.len() + PER_STRING_BYTES,
        })
    }

    /// `read` applied to the strings in id order (id `i` at index `i`), under the lock.
    pub fn with_strings<R>(&self, read: impl FnOnce(&[Arc<str>]) -> R) -> R {
        let interned = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        read(&interned.strings)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_strings_share_an_id_and_ids_index_the_strings() {
        let ids = StringIds::default();
        let a = ids.intern("/api/v1/items/1").unwrap();
        let b = ids.intern("GET").unwrap();
        let again = ids.intern("/api/v1/items/1").unwrap();
        assert_eq!((a.id, b.id, again.id), (0, 1, 0));
        assert_eq!(a.grown_by, 15 + PER_STRING_BYTES);
        assert_eq!(again.grown_by, 0);
        ids.with_strings(|strings| {
            let strings: Vec<&str> = strings.iter().map(|s| &**s).collect();
            assert_eq!(strings, ["/api/v1/items/1", "GET"]);
        });
    }
}
