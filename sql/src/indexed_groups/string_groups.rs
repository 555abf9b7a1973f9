//! One partition's groups of one string column: each distinct string's dense index.

use std::mem::size_of;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, StringViewArray, StringViewBuilder};
use arrow::buffer::Buffer;
use datafusion::common::{DataFusionError, HashMap, Result};

use super::GroupIndices;

/// Strings of at most this many bytes are inlined in their view: the view alone is the
/// string.
const INLINE_LEN: u32 = 12;

/// Slots of the cache of recent indices (a power of two), in pairs: a place may be in
/// either slot of its pair.
const SLOTS: usize = 4096;

/// The place of an empty slot: no place has a length of `u32::MAX` bytes.
const EMPTY: u128 = u128::MAX;

/// One more than the most groups there may be (indices fit in 32 bits).
const MAX_GROUPS: usize = u32::MAX as usize;

/// Buffers kept alive for the cache at most; past it the cache starts over.
const RETAINED_BUFFERS: usize = 64;

/// Data buffers up to this many bytes get an [`OffsetTable`].
const MAX_TABLED_BUFFER: usize = 256 * 1024;

/// What one more distinct string costs besides its bytes: two pointers, a map entry, and
/// the places it is cached by.
const PER_GROUP_BYTES: usize = 64;

/// The groups of one `Utf8View` column within one partition: each distinct string (and
/// null) gets the next index, `0..len()`, in the order they are first seen, so an
/// aggregation can keep its state in arrays indexed by them instead of a hash table.
///
/// A string's index is remembered by where the string is: a longer string by its offset
/// in a small data buffer's [`OffsetTable`], other strings by their place (an inline view
/// is its string; a longer string is at an address in a data buffer) in a 2-way cache.
/// The Parquet reader gives every row of a dictionary-encoded column chunk a view into the
/// chunk's one dictionary buffer, so each distinct string of a chunk is hashed and
/// compared about once, and every row after that costs one table or cache probe.
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
    retained: Vec<Retained>,
}

/// A data buffer strings were seen in, and the indices of its longer strings by offset
/// when it is small enough.
struct Retained {
    buffer: Buffer,
    table: Option<OffsetTable>,
}

/// The indices of the longer strings of one data buffer by where they start: entry
/// `offset >> 4` holds the index (high 32 bits) and a tag of the length and `offset`'s
/// low 4 bits (low 32 bits, never 0 for a string over 12 bytes), so an entry matches
/// exactly one (offset, length). A dictionary page stores each value after a 4-byte
/// length, so its longer strings start at least 17 bytes apart and never share an entry:
/// a column chunk's strings are found without hashing, in a table an eighth of its
/// dictionary's size. Other layouts sharing an entry fall back to the cache.
struct OffsetTable(Box<[u64]>);

impl OffsetTable {
    fn for_buffer(buffer: &Buffer) -> Option<Self> {
        (buffer.len() <= MAX_TABLED_BUFFER)
            .then(|| Self(vec![0; buffer.len() / 16 + 1].into_boxed_slice()))
    }

    #[inline]
    fn tag(len: u32, offset: u32) -> Option<u32> {
        (len < 1 << 28).then_some((len << 4) | (offset & 0xF))
    }

    #[inline]
    fn get(&self, len: u32, offset: u32) -> Option<usize> {
        let entry = *self.0.get((offset >> 4) as usize)?;
        (Some(entry as u32) == Self::tag(len, offset)).then_some((entry >> 32) as usize)
    }

    fn set(&mut self, len: u32, offset: u32, group: u32) -> bool {
        match (
            Self::tag(len, offset),
            self.0.get_mut((offset >> 4) as usize),
        ) {
            (Some(tag), Some(entry)) => {
                *entry = (u64::from(group) << 32) | u64::from(tag);
                true
            }
            _ => false,
        }
    }
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

impl GroupIndices for StringGroups {
    fn len(&self) -> usize {
        StringGroups::len(self)
    }

    fn size(&self) -> usize {
        self.bytes_held()
    }

    fn intern(&mut self, column: &ArrayRef, indices: &mut Vec<usize>) -> Result<()> {
        let strings = column.as_string_view_opt().ok_or_else(|| {
            DataFusionError::Internal(format!(
                "StringGroups given a {} column",
                column.data_type()
            ))
        })?;
        self.intern_views(strings, indices)
    }

    fn emit(&mut self) -> Result<ArrayRef> {
        Ok(Arc::new(self.emit_strings()))
    }
}

impl StringGroups {
    /// How many groups there are.
    pub fn len(&self) -> usize {
        self.strings.len()
    }

    /// The bytes held: the strings, their maps and the cache.
    fn bytes_held(&self) -> usize {
        self.string_bytes
            + self.strings.len() * PER_GROUP_BYTES
            + self.places.len() * (size_of::<u128>() + size_of::<u32>())
            + SLOTS * (size_of::<u128>() + size_of::<u32>())
            + self
                .retained
                .iter()
                .filter_map(|retained| retained.table.as_ref())
                .map(|table| table.0.len() * size_of::<u64>())
                .sum::<usize>()
    }

    /// Sets `indices` to the group index of each row of `strings`, giving strings not
    /// seen before (and null, the first time) the next indices.
    pub fn intern_views(
        &mut self,
        strings: &StringViewArray,
        indices: &mut Vec<usize>,
    ) -> Result<()> {
        let buffers = strings.data_buffers();
        let bases: Vec<usize> = buffers.iter().map(|b| b.as_ptr() as usize).collect();
        let positions = self.retain(buffers);
        // The tables of this batch's buffers by buffer index, out of `retained` while the
        // batch is read (a buffer listed twice has its table once).
        let mut tables: Vec<Option<OffsetTable>> = positions
            .iter()
            .map(|&at| self.retained[at].table.take())
            .collect();
        let views = strings.views();
        let nulls = strings.nulls().filter(|nulls| nulls.null_count() > 0);
        indices.clear();
        indices.reserve(views.len());
        for (row, &view) in views.iter().enumerate() {
            // A null row's view may be anything, an empty string's or a known string's.
            let group = if nulls.is_some_and(|nulls| nulls.is_null(row)) {
                self.null_group()?
            } else {
                match self.known(view, &bases, &tables) {
                    Some(group) => group,
                    None => self.unknown(view, &bases, &mut tables, strings.value(row))?,
                }
            };
            indices.push(group);
        }
        for (&at, table) in positions.iter().zip(tables) {
            if table.is_some() {
                self.retained[at].table = table;
            }
        }
        Ok(())
    }

    /// The groups' strings in index order; the groups are forgotten, and indices start
    /// from 0 again.
    pub fn emit_strings(&mut self) -> StringViewArray {
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

    /// The index of the string of `view` if it is in its buffer's table or the cache.
    #[inline]
    fn known(&self, view: u128, bases: &[usize], tables: &[Option<OffsetTable>]) -> Option<usize> {
        let len = view as u32;
        if len > INLINE_LEN {
            if let Some(Some(table)) = tables.get((view >> 64) as u32 as usize) {
                return table.get(len, (view >> 96) as u32);
            }
        }
        let place = place(view, bases);
        let pair = pair_of(place);
        if self.slot_places[pair] == place {
            Some(self.slot_groups[pair] as usize)
        } else if self.slot_places[pair + 1] == place {
            Some(self.slot_groups[pair + 1] as usize)
        } else {
            None
        }
    }

    /// The index of `value`, the string of `view`, found by its place or its bytes, and
    /// remembered in its buffer's table or else the cache.
    fn unknown(
        &mut self,
        view: u128,
        bases: &[usize],
        tables: &mut [Option<OffsetTable>],
        value: &str,
    ) -> Result<usize> {
        let place = place(view, bases);
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
        let len = view as u32;
        let table = tables
            .get_mut((view >> 64) as u32 as usize)
            .filter(|_| len > INLINE_LEN)
            .and_then(Option::as_mut);
        if !table.is_some_and(|table| table.set(len, (view >> 96) as u32, group)) {
            let pair = pair_of(place);
            self.slot_places[pair + 1] = self.slot_places[pair];
            self.slot_groups[pair + 1] = self.slot_groups[pair];
            self.slot_places[pair] = place;
            self.slot_groups[pair] = group;
        }
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
            .filter(|&group| (group as usize) < MAX_GROUPS)
            .ok_or_else(|| {
                DataFusionError::ResourcesExhausted(format!(
                    "more than {MAX_GROUPS} distinct strings to group by"
                ))
            })?;
        self.strings.push(string);
        Ok(group)
    }

    /// Keeps `buffers` alive while their addresses may be cached, starting the cache over
    /// when it holds too many, and gives each buffer's place in `retained`.
    fn retain(&mut self, buffers: &[Buffer]) -> Vec<usize> {
        let position = |retained: &[Retained], buffer: &Buffer| {
            retained
                .iter()
                .position(|kept| kept.buffer.as_ptr() == buffer.as_ptr())
        };
        let new = buffers
            .iter()
            .filter(|buffer| position(&self.retained, buffer).is_none())
            .count();
        if self.retained.len() + new > RETAINED_BUFFERS {
            self.forget_places();
        }
        buffers
            .iter()
            .map(|buffer| {
                position(&self.retained, buffer).unwrap_or_else(|| {
                    self.retained.push(Retained {
                        buffer: buffer.clone(),
                        table: OffsetTable::for_buffer(buffer),
                    });
                    self.retained.len() - 1
                })
            })
            .collect()
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
        groups.intern_views(strings, &mut indices).unwrap();
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
        assert_eq!(indices_of(&mut groups, &first), [0, 1, 2, 3, 4, 0]);
        // Another batch, its long string in another buffer.
        let second = StringViewArray::from(vec![Some(long), None, Some("INFO"), Some("x")]);
        assert_eq!(indices_of(&mut groups, &second), [2, 3, 1, 5]);
        assert_eq!(groups.len(), 6);
        let expected = StringViewArray::from(vec![
            Some(""),
            Some("INFO"),
            Some(long),
            None,
            Some("frontend1"),
            Some("x"),
        ]);
        assert_eq!(groups.emit_strings(), expected);
        // Emitted, the groups start over.
        assert_eq!(indices_of(&mut groups, &second), [0, 1, 2, 3]);
    }

    #[test]
    fn a_null_rows_view_does_not_make_it_a_string() {
        // Row 1 is null but its view is the cached "/api/v1/resources/1" place's.
        let strings = StringViewArray::from(vec!["/api/v1/resources/1"; 3]);
        let (views, buffers, _) = strings.into_parts();
        let nulls = arrow::buffer::NullBuffer::from(vec![true, false, true]);
        let with_null = StringViewArray::new(views, buffers, Some(nulls));
        let mut groups = StringGroups::default();
        assert_eq!(indices_of(&mut groups, &with_null), [0, 1, 0]);
        assert_eq!(
            groups.emit_strings(),
            StringViewArray::from(vec![Some("/api/v1/resources/1"), None])
        );
    }

    #[test]
    fn strings_starting_in_one_table_entry_keep_their_own_groups() {
        use arrow::array::builder::make_view;
        use arrow::buffer::ScalarBuffer;
        let bytes = b"abcdefghijklmnopqrstuvwxyz0123456789";
        let view =
            |offset: usize, len: usize| make_view(&bytes[offset..offset + len], 0, offset as u32);
        // Offsets 0 and 5 share the table entry 0; lengths 13 and 14 share offset 0.
        let views = [view(0, 13), view(5, 13), view(0, 14), view(20, 16)];
        let rows: Vec<u128> = views.iter().chain(views.iter().rev()).copied().collect();
        let strings = StringViewArray::new(
            ScalarBuffer::from(rows),
            vec![Buffer::from(bytes.as_slice())],
            None,
        );
        let mut groups = StringGroups::default();
        assert_eq!(indices_of(&mut groups, &strings), [0, 1, 2, 3, 3, 2, 1, 0]);
        assert_eq!(indices_of(&mut groups, &strings), [0, 1, 2, 3, 3, 2, 1, 0]);
        assert_eq!(
            groups.emit_strings(),
            StringViewArray::from(vec![
                "abcdefghijklm",
                "fghijklmnopqr",
                "abcdefghijklmn",
                "uvwxyz0123456789"
            ])
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
