//! Retrying a failed operation in place, a bounded number of times with growing delays,
//! before the failure is handed to the job (which then restarts from its last checkpoint).

use std::time::Duration;

/// Consecutive failures of one operation: each one waits twice as long as the one before
/// (from [`InPlaceRetry::FIRST_DELAY`] up to [`InPlaceRetry::MAX_DELAY`]), and after
/// [`InPlaceRetry::ATTEMPTS`] in a row the operation gives up. A success starts over.
#[derive(Debug, Default)]
pub(crate) struct InPlaceRetry {
    consecutive: u32,
}

impl InPlaceRetry {
    /// Retries before giving up (about 17 s of waiting in all).
    pub(crate) const ATTEMPTS: u32 = 8;
    pub(crate) const FIRST_DELAY: Duration = Duration::from_millis(100);
    pub(crate) const MAX_DELAY: Duration = Duration::from_secs(5);

    /// Records a failure. Returns how long to wait before trying again, or `None` when
    /// the retries are used up.
    pub(crate) fn failed(&mut self) -> Option<Duration> {
        if self.consecutive >= Self::ATTEMPTS {
            return None;
        }
        let delay = Self::FIRST_DELAY
            .saturating_mul(1 << self.consecutive.min(16))
            .min(Self::MAX_DELAY);
        self.consecutive += 1;
        Some(delay)
    }

    /// The number of failures in a row so far.
    pub(crate) fn failures(&self) -> u32 {
        self.consecutive
    }

    /// Records a success: the next failure is the first again.
    pub(crate) fn succeeded(&mut self) {
        self.consecutive = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_up_to_the_cap_then_give_up() {
        let mut retry = InPlaceRetry::default();
        let delays: Vec<u64> = std::iter::from_fn(|| retry.failed())
            .map(|d| d.as_millis() as u64)
            .collect();
        assert_eq!(delays, [100, 200, 400, 800, 1600, 3200, 5000, 5000]);
        retry.succeeded();
        assert_eq!(retry.failed(), Some(Duration::from_millis(100)));
    }
}
