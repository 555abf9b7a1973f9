//! The `u64` group keys strings are grouped by.
//!
//! A string of at most [`SHORT_LEN`] bytes is its own key: its length in the top byte and
//! its bytes below, so the top bit is clear. A longer string's key is its id in the
//! column's [`StringIds`](super::StringIds) with the top bit set. Equal strings have equal
//! keys either way.

/// Strings of at most this many bytes are keys by themselves.
pub const SHORT_LEN: u32 = 7;

const DICTIONARY_BIT: u64 = 1 << 63;

/// The key of the string of an Arrow string view whose length (its low 32 bits) is at
/// most [`SHORT_LEN`]: such a view holds the string's bytes inline after the length.
#[inline]
pub fn short(view: u128) -> u64 {
    let len = u64::from(view as u32);
    let bytes = ((view >> 32) as u64) & ((1u64 << (8 * len)) - 1);
    (len << 56) | bytes
}

/// The key of the string with id `id` in the column's dictionary.
#[inline]
pub fn of_id(id: u32) -> u64 {
    DICTIONARY_BIT | u64::from(id)
}

/// What a key stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    /// A short string's length and bytes (little-endian, the first byte lowest).
    Short { len: usize, bytes: [u8; 8] },
    /// A dictionary id.
    Id(u32),
}

impl Key {
    pub fn of(key: u64) -> Self {
        if key & DICTIONARY_BIT == 0 {
            Key::Short {
                len: (key >> 56) as usize,
                bytes: key.to_le_bytes(),
            }
        } else {
            Key::Id(key as u32)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::StringViewArray;

    #[test]
    fn short_strings_are_their_own_keys_and_come_back() {
        let strings = StringViewArray::from(vec!["", "GET", "ERROR", "1234567"]);
        for (view, expected) in strings.views().iter().zip(["", "GET", "ERROR", "1234567"]) {
            let Key::Short { len, bytes } = Key::of(short(*view)) else {
                panic!("{expected} is short");
            };
            assert_eq!(&bytes[..len], expected.as_bytes());
        }
        let keys: Vec<u64> = strings.views().iter().map(|v| short(*v)).collect();
        assert_eq!(keys[1], (3 << 56) | u64::from_le_bytes(*b"GET\0\0\0\0\0"));
        assert_eq!(Key::of(of_id(7)), Key::Id(7));
        assert_ne!(short(strings.views()[0]), of_id(0));
    }
}
