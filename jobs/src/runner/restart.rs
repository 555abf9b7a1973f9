//! The restart strategy: how often and after what delay a job that failed on a transient
//! error starts again from its last completed checkpoint (Flink's exponential-delay
//! strategy, with full jitter).

use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

use serde::Deserialize;

/// `restart:` in a job file. A transient failure restarts the job after a delay drawn
/// uniformly from `[0, min(max_delay, initial_delay * multiplier^(n-1))]` for the n-th
/// restart in a row ("full jitter": restarts of many jobs after one outage spread out);
/// after `attempts` restarts in a row the next failure fails the job. A run that lasted
/// `reset_after` before failing counts as the first failure again.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RestartStrategy {
    /// Restarts in a row before the job fails (default 10; 0: never restart).
    #[serde(default = "default_attempts")]
    pub attempts: u32,
    /// The longest delay of the first restart (default 1 s).
    #[serde(with = "humantime_serde", default = "default_initial_delay")]
    pub initial_delay: Duration,
    /// The longest delay of any restart (default 1 min).
    #[serde(with = "humantime_serde", default = "default_max_delay")]
    pub max_delay: Duration,
    /// How much the longest delay grows per restart in a row (default 2, at least 1).
    #[serde(default = "default_multiplier")]
    pub multiplier: f64,
    /// A run that lasted this long before it failed starts the count over (default 10 min).
    #[serde(with = "humantime_serde", default = "default_reset_after")]
    pub reset_after: Duration,
}

fn default_attempts() -> u32 {
    10
}

fn default_initial_delay() -> Duration {
    Duration::from_secs(1)
}

fn default_max_delay() -> Duration {
    Duration::from_secs(60)
}

fn default_multiplier() -> f64 {
    2.0
}

fn default_reset_after() -> Duration {
    Duration::from_secs(600)
}

impl Default for RestartStrategy {
    fn default() -> Self {
        Self {
            attempts: default_attempts(),
            initial_delay: default_initial_delay(),
            max_delay: default_max_delay(),
            multiplier: default_multiplier(),
            reset_after: default_reset_after(),
        }
    }
}

impl RestartStrategy {
    /// What is wrong with the settings, if anything.
    pub(crate) fn problem(&self) -> Option<String> {
        if !(self.multiplier.is_finite() && self.multiplier >= 1.0) {
            return Some(format!(
                "restart.multiplier must be a number of at least 1, got {}",
                self.multiplier
            ));
        }
        (self.initial_delay > self.max_delay).then(|| {
            format!(
                "restart.initial_delay ({:?}) must not exceed restart.max_delay ({:?})",
                self.initial_delay, self.max_delay
            )
        })
    }

    /// The longest delay before the `restart`-th restart in a row (1-based).
    pub fn delay_cap(&self, restart: u32) -> Duration {
        let exponent = restart.saturating_sub(1).min(1_000) as i32;
        let grown = self.initial_delay.as_secs_f64() * self.multiplier.powi(exponent);
        match grown.is_finite() && grown < self.max_delay.as_secs_f64() {
            true => Duration::from_secs_f64(grown),
            false => self.max_delay,
        }
    }

    /// The delay before the `restart`-th restart in a row: uniform in
    /// `[0, delay_cap(restart)]`.
    pub fn delay(&self, restart: u32) -> Duration {
        self.delay_cap(restart).mul_f64(unit_random())
    }
}

/// A number uniform in `[0, 1)`, from the standard library's per-process random hash keys.
fn unit_random() -> f64 {
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(0);
    (hasher.finish() >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_grows_by_the_multiplier_up_to_the_max_delay() {
        let strategy = RestartStrategy::default();
        let caps: Vec<u64> = (1..=8).map(|n| strategy.delay_cap(n).as_secs()).collect();
        assert_eq!(caps, [1, 2, 4, 8, 16, 32, 60, 60]);
        assert_eq!(strategy.delay_cap(u32::MAX), Duration::from_secs(60));
    }

    #[test]
    fn delays_are_jittered_within_the_cap() {
        let strategy = RestartStrategy::default();
        let delays: Vec<Duration> = (0..200).map(|_| strategy.delay(3)).collect();
        assert!(delays.iter().all(|d| *d <= Duration::from_secs(4)));
        let distinct: std::collections::BTreeSet<_> = delays.iter().collect();
        assert!(distinct.len() > 100, "{} distinct delays", distinct.len());
    }

    #[test]
    fn bad_settings_are_named() {
        let mut strategy = RestartStrategy {
            multiplier: 0.5,
            ..RestartStrategy::default()
        };
        assert_eq!(
            strategy.problem().unwrap(),
            "restart.multiplier must be a number of at least 1, got 0.5"
        );
        strategy.multiplier = 2.0;
        strategy.initial_delay = Duration::from_secs(120);
        assert_eq!(
            strategy.problem().unwrap(),
            "restart.initial_delay (120s) must not exceed restart.max_delay (60s)"
        );
    }
}
