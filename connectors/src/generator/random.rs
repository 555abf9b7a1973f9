//! Pseudo-random numbers for generated events, built on the engine's pinned hash.
//!
//! An [`EventRng`] is seeded by `(seed, salt, event)`, so every draw of event `i` is a pure
//! function of the generator's seed and `i`: any subtask can produce any event, and a seed
//! gives the same stream in every release (the hash is pinned).

use weir_engine::keys::mix64;

const GOLDEN_GAMMA: u64 = 0x9e37_79b9_7f4a_7c15;

/// The draws of one event (SplitMix64 over [`mix64`]).
#[derive(Debug, Clone)]
pub(crate) struct EventRng(u64);

impl EventRng {
    /// The draws of `event` in the stream named by `salt` (one per generator and purpose, so
    /// generators sharing a seed are not correlated).
    pub fn new(seed: u64, salt: u64, event: u64) -> Self {
        Self(mix64(seed ^ mix64(salt ^ mix64(event))))
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(GOLDEN_GAMMA);
        mix64(self.0)
    }

    /// Uniform in `0..n`; `n` must be at least 1.
    pub fn below(&mut self, n: u64) -> u64 {
        ((self.next_u64() as u128 * n as u128) >> 64) as u64
    }

    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    /// An index into `0..n` skewed towards 0 (hot items first): the cube of a uniform draw,
    /// so half of the draws fall in the first eighth of the range.
    pub fn skewed(&mut self, n: usize) -> usize {
        let u = self.unit();
        ((u * u * u) * n as f64) as usize
    }

    /// An index into `cumulative` (the running sums of the choices' weights, increasing),
    /// drawn with probability proportional to the choice's weight.
    pub fn weighted(&mut self, cumulative: &[u32]) -> usize {
        let total = *cumulative.last().expect("at least one choice");
        let draw = self.below(total as u64) as u32;
        cumulative.partition_point(|c| *c <= draw)
    }

    /// Appends `len` lowercase letters to `out`, eight per draw (one byte each, mod 26).
    pub fn push_letters(&mut self, out: &mut String, len: usize) {
        self.push_symbols(out, len, 8, |bits| b'a' + (bits & 0xff) as u8 % 26);
    }

    /// Appends `len` lowercase hex digits to `out`, sixteen per draw.
    pub fn push_hex(&mut self, out: &mut String, len: usize) {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        self.push_symbols(out, len, 16, |bits| HEX[(bits & 0xf) as usize]);
    }

    /// Appends `len` ASCII symbols, `per_draw` from each draw: symbol `k` of a draw is
    /// `symbol(draw >> (k * 64 / per_draw))`. Symbols are staged in a buffer of 64 and
    /// appended in one piece.
    fn push_symbols(
        &mut self,
        out: &mut String,
        len: usize,
        per_draw: usize,
        symbol: impl Fn(u64) -> u8,
    ) {
        let shift = 64 / per_draw;
        let mut staged = [0u8; 64];
        let mut left = len;
        while left > 0 {
            let n = left.min(staged.len());
            for draw_symbols in staged[..n].chunks_mut(per_draw) {
                let draw = self.next_u64();
                for (k, byte) in draw_symbols.iter_mut().enumerate() {
                    *byte = symbol(draw >> (k * shift));
                }
            }
            out.push_str(std::str::from_utf8(&staged[..n]).expect("ASCII symbols"));
            left -= n;
        }
    }
}
