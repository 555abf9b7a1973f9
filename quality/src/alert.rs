//! Alerts: when a rule's verdict changes (pass -> fail or fail -> pass; not on every
//! failing evaluation), a webhook gets a POST with the changed verdicts as JSON, retried
//! with backoff, and a log line says so. A rule is taken to pass before its first
//! evaluation, so a rule failing from the start alerts once.
//!
//! ```yaml
//! alert:
//!   webhook: https://hooks.example.com/quality
//!   attempts: 5            # default 5, waiting 200 ms, 400 ms, ... between them
//! ```

use std::collections::HashMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::verdict::Verdict;

/// Where alerts go.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Alert {
    /// The URL a POST with the changes goes to.
    pub webhook: String,
    /// How many times a POST is tried (default 5).
    #[serde(default = "default_attempts")]
    pub attempts: u32,
}

fn default_attempts() -> u32 {
    5
}

/// The first wait between attempts; doubled after each.
const FIRST_BACKOFF: Duration = Duration::from_millis(200);

/// What a webhook receives.
#[derive(Debug, Clone, Serialize)]
pub struct AlertMessage {
    /// The table judged.
    pub table: String,
    /// The version (a table check) or epoch (a streaming sink) judged.
    pub version: i64,
    /// The verdicts whose `passed` changed.
    pub changed: Vec<Verdict>,
}

/// The last verdict of each rule, to tell changes.
#[derive(Debug, Default, Clone)]
pub struct AlertState {
    passed: HashMap<String, bool>,
}

impl AlertState {
    /// The verdicts whose rule passed last time and fails now, or the other way round;
    /// remembers these verdicts.
    pub fn changes(&mut self, verdicts: &[Verdict]) -> Vec<Verdict> {
        verdicts
            .iter()
            .filter(|v| {
                let before = self.passed.insert(v.rule.clone(), v.passed).unwrap_or(true);
                before != v.passed
            })
            .cloned()
            .collect()
    }

    /// Each rule's last verdict: whether it passed.
    pub fn remembered(&self) -> impl Iterator<Item = (&str, bool)> {
        self.passed
            .iter()
            .map(|(rule, passed)| (rule.as_str(), *passed))
    }
}

impl FromIterator<(String, bool)> for AlertState {
    /// The state that remembers these rules' last verdicts.
    fn from_iter<I: IntoIterator<Item = (String, bool)>>(verdicts: I) -> Self {
        Self {
            passed: verdicts.into_iter().collect(),
        }
    }
}

impl Alert {
    /// Posts `message` to the webhook, trying up to `attempts` times with a doubling
    /// wait; an alert that cannot be delivered is logged, never an error of the job.
    pub async fn send(&self, message: &AlertMessage) {
        let body = match serde_json::to_vec(message) {
            Ok(body) => body,
            Err(e) => {
                tracing::warn!("an alert could not be encoded: {e}");
                return;
            }
        };
        let rules: Vec<String> = message
            .changed
            .iter()
            .map(|v| format!("{} {}", v.rule, if v.passed { "passes" } else { "fails" }))
            .collect();
        tracing::warn!(
            table = %message.table,
            version = message.version,
            "quality changed: {}",
            rules.join(", ")
        );
        let client = reqwest::Client::new();
        let mut wait = FIRST_BACKOFF;
        for attempt in 1..=self.attempts.max(1) {
            let sent = client
                .post(&self.webhook)
                .header("content-type", "application/json")
                .body(body.clone())
                .timeout(Duration::from_secs(10))
                .send()
                .await;
            match sent {
                Ok(response) if response.status().is_success() => return,
                Ok(response) => tracing::warn!(
                    webhook = %self.webhook,
                    attempt,
                    "the alert webhook answered {}",
                    response.status()
                ),
                Err(e) => {
                    tracing::warn!(webhook = %self.webhook, attempt, "the alert webhook failed: {e}")
                }
            }
            if attempt < self.attempts {
                tokio::time::sleep(wait).await;
                wait *= 2;
            }
        }
        tracing::error!(webhook = %self.webhook, "an alert was not delivered after {} attempts", self.attempts);
    }
}
