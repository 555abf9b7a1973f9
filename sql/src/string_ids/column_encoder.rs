//! One string column's ids within one partition's stream.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, StringViewArray, UInt64Array};
use arrow::buffer::Buffer;
use datafusion::common::{DataFusionError, HashMap, Result};
use datafusion::execution::memory_pool::MemoryReservation;

use super::key::{self, SHORT_LEN};
use super::StringIds;

/// Strings of at most this many bytes are inlined in their view: the view alone is the
/// string.
const INLINE_LEN: u32 = 12;

/// Slots of the cache of recent ids (a power of two).
const SLOTS: usize = 4096;

/// The place of an empty slot: no place has a length of `u32::MAX` bytes.
const EMPTY: u128 = u128::MAX;

/// Marks a row whose key is still to be found: no key is all ones (ids are 32 bits).
const UNKNOWN: u64 = u64::MAX;

/// Buffers kept alive for the cache at most; past it the cache starts over.
const RETAINED_BUFFERS: usize = 64;

/// Turns one column's strings into group keys ([`key`]): a short string is its own key; a
/// longer one's id is remembered by where the string is (an inline view is its string, a
/// longer string is at an address in a data buffer). The Parquet reader gives every row of
/// a dictionary-encoded column chunk a view into the chunk's one dictionary buffer, so each
/// distinct string of a chunk is looked up in the shared [`StringIds`] about once, and
/// every row after that costs one slot.
///
/// Invariant: every address in `slot_places` and `places` lies in a buffer of `retained`,
/// so no other string can take that address while it is cached.
pub struct ColumnEncoder {
    ids: Arc<StringIds>,
    /// The recent ids by their `where`'s hash, one probe each: `where` ([`EMPTY`] for an
    /// empty slot) ...
    slot_places: Box<[u128]>,
    /// ... and its id.
    slot_ids: Box<[u32]>,
    /// Every cached `where`'s id, for when two share a slot.
    places: HashMap<u128, u32>,
    retained: Vec<Buffer>,
}

impl ColumnEncoder {
    /// An encoder giving longer strings ids from `ids`.
    pub fn new(ids: Arc<StringIds>) -> Self {
        Self {
            ids,
            slot_places: vec![EMPTY; SLOTS].into(),
            slot_ids: vec![0; SLOTS].into(),
            places: HashMap::default(),
            retained: Vec::new(),
        }
    }

    /// The keys of `strings` (nulls stay null). Growth of the shared dictionary is reserved
    /// in `reservation`, and fails the query when the pool is out of memory.
    pub fn encode(
        &mut self,
        strings: &StringViewArray,
        reservation: &mut MemoryReservation,
    ) -> Result<ArrayRef> {
        let buffers = strings.data_buffers();
        self.retain(buffers);
        let bases: Vec<usize> = buffers.iter().map(|b| b.as_ptr() as usize).collect();
        let views = strings.views();
        let nulls = strings.nulls();
        if views.iter().all(|&view| view as u32 <= SHORT_LEN) {
            let keys: Vec<u64> = views.iter().map(|&view| key::short(view)).collect();
            return Ok(Arc::new(UInt64Array::new(keys.into(), nulls.cloned())));
        }
        // Otherwise one pass without data-dependent branches (lengths of a column's strings often
        // mix at random): a short string's own key, else the cached id of the string's
        // place, else `UNKNOWN`.
        let mut keys: Vec<u64> = views
            .iter()
            .map(|&view| {
                let place = place(view, &bases);
                let slot = slot_of(place);
                let cached = if self.slot_places[slot] == place {
                    key::of_id(self.slot_ids[slot])
                } else {
                    UNKNOWN
                };
                if view as u32 <= SHORT_LEN {
                    key::short(view)
                } else {
                    cached
                }
            })
            .collect();
        // The rest, rare once the cache has a column chunk's strings.
        for (row, key) in keys.iter_mut().enumerate() {
            if *key != UNKNOWN {
                continue;
            }
            *key = if nulls.is_some_and(|nulls| nulls.is_null(row)) {
                0
            } else {
                self.longer_key(place(views[row], &bases), strings, row, reservation)?
            };
        }
        Ok(Arc::new(UInt64Array::new(keys.into(), nulls.cloned())))
    }

    /// The key of the string at `place`, `strings`' row `row`, longer than [`SHORT_LEN`].
    fn longer_key(
        &mut self,
        place: u128,
        strings: &StringViewArray,
        row: usize,
        reservation: &mut MemoryReservation,
    ) -> Result<u64> {
        let slot = slot_of(place);
        if self.slot_places[slot] == place {
            return Ok(key::of_id(self.slot_ids[slot]));
        }
        let id = match self.places.get(&place) {
            Some(&id) => id,
            None => {
                let id = self.intern(strings.value(row), reservation)?;
                self.places.insert(place, id);
                id
            }
        };
        self.slot_places[slot] = place;
        self.slot_ids[slot] = id;
        Ok(key::of_id(id))
    }

    fn intern(&self, value: &str, reservation: &mut MemoryReservation) -> Result<u32> {
        let interning = self.ids.intern(value).ok_or_else(|| {
            DataFusionError::ResourcesExhausted(format!(
                "more than {} distinct strings to group by",
                u32::MAX
            ))
        })?;
        if interning.grown_by > 0 {
            reservation.try_grow(interning.grown_by)?;
        }
        Ok(interning.id)
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
                self.retained.clear();
                self.slot_places.fill(EMPTY);
                self.places.clear();
            }
            self.retained.push(buffer.clone());
        }
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

#[inline]
fn slot_of(place: u128) -> usize {
    let folded = (place as u64) ^ ((place >> 64) as u64);
    (folded.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 52) as usize & (SLOTS - 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::AsArray;
    use arrow::datatypes::UInt64Type;
    use datafusion::execution::memory_pool::{
        GreedyMemoryPool, MemoryConsumer, MemoryPool, UnboundedMemoryPool,
    };

    fn reservation(pool: Arc<dyn MemoryPool>) -> MemoryReservation {
        MemoryConsumer::new("test").register(&pool)
    }

    fn keys_of(encoder: &mut ColumnEncoder, strings: &StringViewArray) -> Vec<Option<u64>> {
        let mut reservation = reservation(Arc::new(UnboundedMemoryPool::default()));
        let keys = encoder.encode(strings, &mut reservation).unwrap();
        keys.as_primitive::<UInt64Type>().iter().collect()
    }

    fn short(value: &str) -> Option<u64> {
        Some(key::short(StringViewArray::from(vec![value]).views()[0]))
    }

    #[test]
    fn equal_strings_get_equal_keys_across_batches_and_buffers() {
        let ids = Arc::new(StringIds::default());
        let mut encoder = ColumnEncoder::new(ids.clone());
        let long = "a string longer than twelve bytes";
        let first = StringViewArray::from(vec![
            Some(""),
            Some("INFO"),
            Some(long),
            None,
            Some("frontend1"),
            Some(""),
        ]);
        let (long_id, inline_id) = (Some(key::of_id(0)), Some(key::of_id(1)));
        assert_eq!(
            keys_of(&mut encoder, &first),
            [
                short(""),
                short("INFO"),
                long_id,
                None,
                inline_id,
                short("")
            ]
        );
        // Another batch, its long string in another buffer.
        let second = StringViewArray::from(vec![Some(long), Some("frontend1"), Some("INFO")]);
        let expected = [long_id, inline_id, short("INFO")];
        assert_eq!(keys_of(&mut encoder, &second), expected);
        // Another partition's encoder shares the dictionary.
        let mut other = ColumnEncoder::new(ids.clone());
        assert_eq!(keys_of(&mut other, &second), expected);
        assert_eq!(ids.with_strings(<[_]>::len), 2);
    }

    #[test]
    fn many_buffers_start_the_cache_over_and_keys_stay() {
        let ids = Arc::new(StringIds::default());
        let mut encoder = ColumnEncoder::new(ids.clone());
        for round in 0..(RETAINED_BUFFERS * 3) {
            let value = format!("/api/v1/resources/{}", round % 7);
            let batch = StringViewArray::from(vec![value.as_str(), value.as_str()]);
            let key = Some(key::of_id((round % 7) as u32));
            assert_eq!(keys_of(&mut encoder, &batch), [key, key]);
            assert!(encoder.retained.len() <= RETAINED_BUFFERS);
        }
        assert_eq!(ids.with_strings(<[_]>::len), 7);
    }

    #[test]
    fn a_dictionary_past_the_memory_pool_fails_the_query() {
        let mut encoder = ColumnEncoder::new(Arc::new(StringIds::default()));
        let strings =
            StringViewArray::from_iter_values((0..1000).map(|i| format!("session-{i:08}")));
        let mut small = reservation(Arc::new(GreedyMemoryPool::new(10_000)));
        let error = encoder.encode(&strings, &mut small).unwrap_err();
        assert!(error.to_string().contains("Resources exhausted"), "{error}");
    }
}
