//! When `weir server` runs a job that ends by itself (a quality check, a compaction, a
//! bounded file or Kafka job): `schedule: {every: 10m}` or `schedule: {cron: "0 * * * *"}`,
//! with `catch_up` saying what happens to the runs missed while the server was down.
//! `weir run` runs a scheduled job once.
//!
//! ```yaml
//! schedule:
//!   cron: "*/15 * * * *"   # or every: 15m
//!   catch_up: latest       # latest (default): one run for all missed; all: each; none
//! ```

use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Deserialize;

/// What the server does with the runs a schedule missed while it was down.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CatchUp {
    /// One run for all of them.
    #[default]
    Latest,
    /// One run for each of them, one after the other.
    All,
    /// None: they are reported only.
    None,
}

/// When a job runs.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Schedule {
    /// A run when the job is submitted, then one every interval.
    #[serde(default, with = "humantime_serde")]
    pub every: Option<Duration>,
    /// A run at each time the cron pattern (5 or 6 fields, UTC) matches.
    #[serde(default)]
    pub cron: Option<String>,
    #[serde(default)]
    pub catch_up: CatchUp,
}

impl Schedule {
    /// Exactly one of `every` (longer than 0) and `cron` (a pattern that parses).
    pub fn check(&self) -> Result<(), String> {
        match (&self.every, &self.cron) {
            (Some(every), None) if every.is_zero() => {
                Err("schedule: every must be longer than 0".into())
            }
            (Some(_), None) => Ok(()),
            (None, Some(pattern)) => croner::Cron::from_str(pattern)
                .map(|_| ())
                .map_err(|e| format!("schedule: cron '{pattern}': {e}")),
            _ => Err("schedule: give exactly one of every and cron".into()),
        }
    }

    /// The first run time after `after`.
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match (&self.every, &self.cron) {
            (Some(every), _) => Some(after + chrono::Duration::from_std(*every).ok()?),
            (None, Some(pattern)) => croner::Cron::from_str(pattern)
                .ok()?
                .find_next_occurrence(&after, false)
                .ok(),
            (None, None) => None,
        }
    }

    /// The run times after `after` up to `until` (inclusive), at most `limit` of them.
    pub fn due_between(
        &self,
        after: DateTime<Utc>,
        until: DateTime<Utc>,
        limit: usize,
    ) -> Vec<DateTime<Utc>> {
        let mut due = Vec::new();
        let mut at = after;
        while due.len() < limit {
            match self.next_after(at) {
                Some(next) if next <= until => {
                    due.push(next);
                    at = next;
                }
                _ => break,
            }
        }
        due
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn intervals_and_cron_patterns_give_their_run_times() {
        let hourly = Schedule {
            every: None,
            cron: Some("0 * * * *".into()),
            catch_up: CatchUp::All,
        };
        assert_eq!(hourly.check(), Ok(()));
        assert_eq!(
            hourly.due_between(at("2026-11-01T10:30:00Z"), at("2026-11-01T13:00:00Z"), 10),
            [
                at("2026-11-01T11:00:00Z"),
                at("2026-11-01T12:00:00Z"),
                at("2026-11-01T13:00:00Z")
            ]
        );
        let every = Schedule {
            every: Some(Duration::from_secs(600)),
            cron: None,
            catch_up: CatchUp::Latest,
        };
        assert_eq!(
            every.due_between(at("2026-11-01T10:00:00Z"), at("2026-11-01T10:35:00Z"), 2),
            [at("2026-11-01T10:10:00Z"), at("2026-11-01T10:20:00Z")]
        );
        let broken = Schedule {
            every: None,
            cron: Some("61 * * * *".into()),
            catch_up: CatchUp::None,
        };
        assert!(broken
            .check()
            .unwrap_err()
            .starts_with("schedule: cron '61 * * * *': "));
        let both = Schedule {
            every: Some(Duration::from_secs(1)),
            ..hourly
        };
        assert_eq!(
            both.check(),
            Err("schedule: give exactly one of every and cron".into())
        );
    }
}
