//! One partition's groups of one string column: each distinct string's dense index.

use std::mem::size_of;
use std::sync::Arc;

use arrow::array::{Array, StringViewArray, StringViewBuilder};
use arrow::buffer::Buffer;
use datafusion::common::{DataFusionError, HashMap, Result};

/// Strings of at most this many bytes are inlined in their view: the view alone is the
/// string.
const INLINE_LEN: u32 = 12;

/// Slots of the cache of recent indices (a power of two), in pairs: a place may be in
/// either slot of its pair.
const SLOTS: usize = 4096;

/// The place of an empty slot: no place has a length of `u32::MAX` bytes.
const EMPTY: u128 = u128::MAX;

/// Marks a row whose group is still to be found: there are fewer groups than `u32::MAX`.
const UNKNOWN: usize = u32::MAX as usize;

/// Buffers kept alive for the cache at most; past it the cache starts over.
const RETAINED_BUFFERS: usize = 64;

/// What one more distinct string costs besides its bytes: two pointers, a map entry, and
/// the places it is cached by.
const PER_GROUP_BYTES: usize = 64;

/// The groups of one `Utf8View` column within one partition: each distinct string (and
/// null) gets the next index, `0..len()`, so an aggregation can keep its state in arrays
/// indexed by them instead of a hash table.
///
/// A string's index is remembered by where the string is (an inline view is its string; a
/// longer string is at an address in a data buffer). The Parquet reader gives every row of
/// a dictionary-encoded column chunk a view into the chunk's one dictionary buffer, so each
/// distinct string of a chunk is hashed and compared about once, and every row after that
/// costs one cache probe.
///
/// Invariant: every address in `slot_places` and `places` lies in a buffer of `retained`,
/// so no other string can take that address while it is cached.
pub struct StringGroups {
    /// The groups' strings by index; `None` is the null group.
    strings: Vec<Option<Arc<str>>>,
    /// The index of each distinct non-null string.
    by_string: HashMap<Arc<str>, u32>,
    null_group: Option<u32>,
    /// Bytes of the strings held.
    string_bytes: usize,
    /// The recent indices by their place's hash, a pair of slots each, the more recent
    /// first: the place ([`EMPTY`] for an empty slot) ...
    slot_places: Box<[u128]>,
    /// ... and its index.
    slot_groups: Box<[u32]>,
    /// Every cached place's index, for when two share a slot.
    places: HashMap<u128, u32>,
    retained: Vec<Buffer>,
}

impl Default for StringGroups {
    fn default() -> Self {
        Self {
            strings: Vec::new(),
            by_string: HashMap::default(),
            null_group: None,
            string_bytes: 0,
            slot_places: vec![EMPTY; SLOTS].into(),
            slot_groups: vec![0; SLOTS].into(),
            places: HashMap::default(),
            retained: Vec::new(),
        }
    }
}

impl StringGroups {
    /// How many groups there are.
    pub fn len(&self) -> usize {
        self.strings.len()
    }

    /// The bytes held: the strings, their maps and the cache.
    pub fn size(&self) -> usize {
        self.string_bytes
            + self.strings.len() * PER_GROUP_BYTES
            + self.places.len() * (size_of::<u128>() + size_of::<u32>())
            + SLOTS * (size_of::<u128>() + size_of::<u32>())
    }

    /// Sets `indices` to the group index of each row of `strings`, giving strings not
    /// seen before (and null, the first time) the next indices.
    pub fn intern(&mut self, strings: &StringViewArray, indices: &mut Vec<usize>) -> Result<()> {
        let buffers = strings.data_buffers();
        self.retain(buffers);
        let bases: Vec<usize> = buffers.iter().map(|b| b.as_ptr() as usize).collect();
        let views = strings.views();
        // One pass without data-dependent branches: the cached index of each row's place,
        // else `UNKNOWN`.
        indices.clear();
        indices.extend(
            views
                .iter()
                .map(|&view| self.cached(place(view, &bases)).unwrap_or(UNKNOWN)),
        );
        // A null row's view may be anything, an empty string's or a cached place's.
        if let Some(nulls) = strings.nulls().filter(|nulls| nulls.null_count() > 0) {
            let null_group = self.null_group()?;
            for row in nulls
                .iter()
                .enumerate()
                .filter_map(|(row, valid)| (!valid).then_some(row))
            {
                indices[row] = null_group;
            }
        }
        // The rest, rare once the cache has a column chunk's strings.
        for row in 0..indices.len() {
            if indices[row] == UNKNOWN {
                let place = place(views[row], &bases);
                indices[row] = match self.cached(place) {
                    Some(group) => group,
                    None => self.uncached(place, strings.value(row))?,
                };
            }
        }
        Ok(())
    }

    /// The groups' strings in index order; the groups are forgotten, and indices start
    /// from 0 again.
    pub fn emit(&mut self) -> StringViewArray {
        let mut column = StringViewBuilder::with_capacity(self.strings.len());
        for string in self.strings.drain(..) {
            match string {
                Some(string) => column.append_value(&string),
                None => column.append_null(),
            }
        }
        self.by_string.clear();
        self.null_group = None;
        self.string_bytes = 0;
        self.forget_places();
        column.finish()
    }

    /// The index cached for `place`, if any.
    #[inline]
    fn cached(&self, place: u128) -> Option<usize> {
        let pair = pair_of(place);
        if self.slot_places[pair] == place {
            Some(self.slot_groups[pair] as usize)
        } else if self.slot_places[pair + 1] == place {
            Some(self.slot_groups[pair + 1] as usize)
        } else {
            None
        }
    }

    /// The index of `value`, at `place`, not in its cache slots.
    fn uncached(&mut self, place: u128, value: &str) -> Result<usize> {
        let group = match self.places.get(&place) {
            Some(&group) => group,
            None => {
                let group = match self.by_string.get(value) {
                    Some(&group) => group,
                    None => {
                        let value: Arc<str> = Arc::from(value);
                        let group = self.push(Some(value.clone()))?;
                        self.string_bytes += value.len();
                        self.by_string.insert(value, group);
                        group
                    }
                };
                self.places.insert(place, group);
                group
            }
        };
        let pair = pair_of(place);
        self.slot_places[pair + 1] = self.slot_places[pair];
        self.slot_groups[pair + 1] = self.slot_groups[pair];
        self.slot_places[pair] = place;
        self.slot_groups[pair] = group;
        Ok(group as usize)
    }

    fn null_group(&mut self) -> Result<usize> {
        let group = match self.null_group {
            Some(group) => group,
            None => {
                let group = self.push(None)?;
                self.null_group = Some(group);
                group
            }
        };
        Ok(group as usize)
    }

    fn push(&mut self, string: Option<Arc<str>>) -> Result<u32> {
        let group = u32::try_from(self.strings.len())
            .ok()
            .filter(|&group| group as usize != UNKNOWN)
            .ok_or_else(|| {
                DataFusionError::ResourcesExhausted(format!(
                    "more than {UNKNOWN} distinct strings to group by"
                ))
            })?;
        self.strings.push(string);
        Ok(group)
    }

    /// Keeps `buffers` alive while their addresses may be cached, starting the cache over
    /// when it holds too many.
    fn retain(&mut self, buffers: &[Buffer]) {
        for buffer in buffers {
            if self
                .retained
                .iter()
                .any(|kept| kept.as_ptr() == buffer.as_ptr())
            {
                continue;
            }
            if self.retained.len() == RETAINED_BUFFERS {
                self.forget_places();
            }
            self.retained.push(buffer.clone());
        }
    }

    fn forget_places(&mut self) {
        self.retained.clear();
        self.slot_places.fill(EMPTY);
        self.places.clear();
    }
}

/// Where the string of `view` is (`bases`: the addresses of its array's data buffers):
/// the view itself when inline (its low 32 bits, the length, are at most 12), else its
/// address and length (address above the length bits, so the low 32 bits are over 12).
#[inline]
fn place(view: u128, bases: &[usize]) -> u128 {
    let len = view as u32;
    if len <= INLINE_LEN {
        return view;
    }
    let buffer = (view >> 64) as u32 as usize;
    let offset = (view >> 96) as u32 as usize;
    // A null row's view may point anywhere: its place is never interned.
    let address = bases.get(buffer).map_or(0, |base| base + offset);
    ((address as u128) << 32) | u128::from(len)
}

/// The first slot of `place`'s pair.
#[inline]
fn pair_of(place: u128) -> usize {
    let mixed = (place as u64) ^ ((place >> 64) as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let mixed = (mixed ^ (mixed >> 29)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    (mixed >> 52) as usize & (SLOTS - 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn indices_of(groups: &mut StringGroups, strings: &StringViewArray) -> Vec<usize> {
        let mut indices = vec![7; 3];
        groups.intern(strings, &mut indices).unwrap();
        indices
    }

    #[test]
    fn equal_strings_share_an_index_across_batches_and_buffers() {
        let mut groups = StringGroups::default();
        let long = "a string longer than twelve bytes";
        let first = StringViewArray::from(vec![
            Some(""),
            Some("INFO"),
            Some(long),
            None,
            Some("frontend1"),
            Some(""),
        ]);
        assert_eq!(indices_of(&mut groups, &first), [1, 2, 3, 0, 4, 1]);
        // Another batch, its long string in another buffer.
        let second = StringViewArray::from(vec![Some(long), None, Some("INFO"), Some("x")]);
        assert_eq!(indices_of(&mut groups, &second), [3, 0, 2, 5]);
        assert_eq!(groups.len(), 6);
        let expected = StringViewArray::from(vec![
            None,
            Some(""),
            Some("INFO"),
            Some(long),
            Some("frontend1"),
            Some("x"),
        ]);
        assert_eq!(groups.emit(), expected);
        // Emitted, the groups start over.
        assert_eq!(indices_of(&mut groups, &second), [1, 0, 2, 3]);
    }

    #[test]
    fn a_null_rows_view_does_not_make_it_a_string() {
        // Row 1 is null but its view is the cached "/api/v1/resources/1" place's.
        let strings = StringViewArray::from(vec!["/api/v1/resources/1"; 3]);
        let (views, buffers, _) = strings.into_parts();
        let nulls = arrow::buffer::NullBuffer::from(vec![true, false, true]);
        let with_null = StringViewArray::new(views, buffers, Some(nulls));
        let mut groups = StringGroups::default();
        assert_eq!(indices_of(&mut groups, &with_null), [1, 0, 1]);
        assert_eq!(
            groups.emit(),
            StringViewArray::from(vec![None, Some("/api/v1/resources/1")])
        );
    }

    #[test]
    fn many_buffers_start_the_cache_over_and_indices_stay() {
        let mut groups = StringGroups::default();
        for round in 0..(RETAINED_BUFFERS * 3) {
            let value = format!("/api/v1/resources/{}", round % 7);
            let batch = StringViewArray::from(vec![value.as_str(), value.as_str()]);
            let index = round % 7;
            assert_eq!(indices_of(&mut groups, &batch), [index, index]);
            assert!(groups.retained.len() <= RETAINED_BUFFERS);
        }
        assert_eq!(groups.len(), 7);
    }
}
