//! Event time of generated streams: a steady event-time rate, some events moved back.

use std::time::Duration;

/// Event time of event `i` before any disorder: `start + i / events_per_second`, in whole
/// milliseconds; never decreases with `i`.
#[inline]
pub(crate) fn nominal_time_ms(start_time_ms: i64, events_per_second: u64, i: u64) -> i64 {
    start_time_ms + (i as u128 * 1000 / events_per_second as u128) as i64
}

/// Moves a share of the events back in event time, by at most a bound.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Disorder {
    /// Events moved back per million.
    threshold: u64,
    max_back_ms: u64,
}

impl Disorder {
    /// `fraction` of the events (0 to 1) is moved back by 0 to `max_back` inclusive.
    pub fn new(fraction: f64, max_back: Duration) -> Self {
        Self {
            threshold: (fraction * 1_000_000.0) as u64,
            max_back_ms: max_back.as_millis() as u64,
        }
    }

    /// How far an event is moved back, in milliseconds, from two independent uniform draws:
    /// `pick` decides whether it moves, `distance` how far.
    #[inline]
    pub fn back_ms(&self, pick: u64, distance: u64) -> i64 {
        if pick % 1_000_000 < self.threshold {
            (distance % (self.max_back_ms + 1)) as i64
        } else {
            0
        }
    }
}
