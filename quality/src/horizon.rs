//! Uniqueness across epochs: a streaming uniqueness rule with a horizon
//! (`unique: {columns: [id], within: 24h}`) also fails the rows of an epoch whose key an
//! earlier epoch committed within the horizon. The keys (their 128-bit hashes, see
//! `distinct_rows.rs`) are kept with the time they were last committed and dropped once
//! older than the horizon (processing time, like Flink's state TTL). The committer keeps
//! them in its checkpoints, so a restored job judges with the keys its table holds.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::distinct_rows::key_hashes;
use crate::evaluate::RuleSet;
use crate::partial::MergedMetrics;
use crate::rule::Check;
use crate::verdict::Verdict;

/// The keys earlier epochs committed, per uniqueness rule with a horizon.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Horizons {
    /// Per rule name, each key's hash and when (ms since the epoch) it was last committed.
    seen: BTreeMap<String, HashMap<u128, i64>>,
}

/// The keys of one judged epoch, remembered once the epoch is sure to commit.
#[derive(Debug, Default)]
pub struct EpochKeys {
    keys: Vec<(String, Vec<u128>)>,
    at_ms: i64,
}

fn millis(time: SystemTime) -> i64 {
    time.duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis() as i64
}

fn format_duration(d: Duration) -> String {
    humantime_serde::re::humantime::format_duration(d).to_string()
}

impl Horizons {
    /// Adds to the verdicts of uniqueness rules with a horizon the rows of this epoch
    /// whose key an earlier epoch committed within the horizon, after dropping the keys
    /// older than it at `now`. The epoch's keys are returned, for [`Horizons::remember`].
    pub fn judge(
        &mut self,
        rules: &RuleSet,
        merged: &MergedMetrics,
        verdicts: &mut [Verdict],
        now: SystemTime,
    ) -> EpochKeys {
        let at_ms = millis(now);
        let mut epoch = EpochKeys {
            keys: Vec::new(),
            at_ms,
        };
        for (i, rule) in rules.rules().iter().enumerate() {
            let Check::Unique {
                within: Some(within),
                ..
            } = &rule.check
            else {
                continue;
            };
            if merged.errors.contains_key(&i) {
                continue;
            }
            let keys = match merged.row.column_by_name(&format!("m{i}_keys")) {
                Some(list) => match key_hashes(list) {
                    Ok(keys) => keys,
                    Err(e) => {
                        verdicts[i] = Verdict {
                            rows_checked: verdicts[i].rows_checked,
                            ..Verdict::error(rule, &e.to_string())
                        };
                        continue;
                    }
                },
                None => Vec::new(),
            };
            let oldest = at_ms - within.as_millis() as i64;
            let seen = self.seen.entry(rule.name.clone()).or_default();
            seen.retain(|_, at| *at > oldest);
            let repeated = keys.iter().filter(|k| seen.contains_key(k)).count() as u64;
            let v = &mut verdicts[i];
            v.rows_failing += repeated;
            v.passed = v.rows_failing == 0;
            v.observed = format!(
                "{} duplicate rows ({repeated} keys committed in the last {})",
                v.rows_failing,
                format_duration(*within)
            );
            v.threshold = format!("0 duplicate rows within {}", format_duration(*within));
            epoch.keys.push((rule.name.clone(), keys));
        }
        epoch
    }

    /// Remembers the keys of an epoch that commits.
    pub fn remember(&mut self, epoch: EpochKeys) {
        for (rule, keys) in epoch.keys {
            let seen = self.seen.entry(rule).or_default();
            seen.extend(keys.into_iter().map(|k| (k, epoch.at_ms)));
        }
    }

    /// Every key remembered: rule, hash, when it was last committed (ms).
    pub fn entries(&self) -> impl Iterator<Item = (&str, u128, i64)> {
        self.seen
            .iter()
            .flat_map(|(rule, keys)| keys.iter().map(move |(k, at)| (rule.as_str(), *k, *at)))
    }

    /// The horizons holding `entries` (as [`Horizons::entries`] gave them).
    pub fn from_entries(entries: impl IntoIterator<Item = (String, u128, i64)>) -> Self {
        let mut seen: BTreeMap<String, HashMap<u128, i64>> = BTreeMap::new();
        for (rule, key, at) in entries {
            let kept = seen.entry(rule).or_default().entry(key).or_insert(at);
            *kept = (*kept).max(at);
        }
        Self { seen }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{Int64Array, RecordBatch};
    use arrow::datatypes::{DataType, Field, Schema};

    use super::*;
    use crate::partial::MetricsPlan;
    use crate::Rule;

    /// Judges epochs of ids at the given seconds; the observed text of each.
    fn judge_epochs(epochs: &[(&[i64], u64)], horizons: &mut Horizons) -> Vec<String> {
        let schema = Arc::new(Schema::new(vec![Field::new("id", DataType::Int64, true)]));
        let rules: Vec<Rule> =
            serde_saphyr::from_str("- {name: once, unique: {columns: [id], within: 1m}}\n")
                .unwrap();
        let set = RuleSet::new(rules, &schema).unwrap();
        let plan = Arc::new(MetricsPlan::new(&set, &schema).unwrap());
        let mut observed = Vec::new();
        for (ids, second) in epochs {
            let batch = RecordBatch::try_new(
                schema.clone(),
                vec![Arc::new(Int64Array::from(ids.to_vec()))],
            )
            .unwrap();
            let mut part = plan.start().unwrap();
            part.update(&batch);
            let merged = plan.merge(&[part.take_state().unwrap()]).unwrap();
            let now = UNIX_EPOCH + Duration::from_secs(*second);
            let mut verdicts = set.judge_merged(&merged, &schema, now, &[]);
            let keys = horizons.judge(&set, &merged, &mut verdicts, now);
            horizons.remember(keys);
            observed.push(format!(
                "{} {}",
                if verdicts[0].passed { "pass" } else { "FAIL" },
                verdicts[0].observed
            ));
        }
        observed
    }

    #[test]
    fn keys_of_earlier_epochs_count_until_they_leave_the_horizon() {
        let mut horizons = Horizons::default();
        let observed = judge_epochs(
            &[
                (&[1, 2, 3], 0),
                (&[3, 4, 4], 10),
                (&[1, 5], 50),
                // Keys 1 (committed at 50 s) and 4 (at 10 s) are 50 s and 90 s old.
                (&[1, 4], 100),
            ],
            &mut horizons,
        );
        assert_eq!(
            observed,
            [
                "pass 0 duplicate rows (0 keys committed in the last 1m)",
                "FAIL 2 duplicate rows (1 keys committed in the last 1m)",
                "FAIL 1 duplicate rows (1 keys committed in the last 1m)",
                "FAIL 1 duplicate rows (1 keys committed in the last 1m)",
            ]
        );
        // What a checkpoint keeps gives the same horizons back.
        let restored = Horizons::from_entries(
            horizons
                .entries()
                .map(|(rule, key, at)| (rule.to_string(), key, at)),
        );
        assert_eq!(restored, horizons);
    }
}
