//! Failure points for recovery tests. `WEIR_FAILPOINTS=name:n[,name:n...]` in the
//! environment arms points: the n-th time the process passes the point `name` it aborts (no
//! destructors, no flushing: as abrupt as SIGKILL). `name:n:error` makes that pass fail
//! with a transient error instead, and `name:n+:error` every pass from the n-th on (a
//! failure that does not pass). Without the variable a point costs one atomic load.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use crate::error::{EngineError, Result};

/// The environment variable naming the armed points.
pub const FAILPOINTS_ENV: &str = "WEIR_FAILPOINTS";

/// What an armed point does when it is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Effect {
    Abort,
    Error,
}

struct Armed {
    name: String,
    remaining: AtomicU64,
    /// Whether every pass after the armed one also fails.
    from_then_on: bool,
    effect: Effect,
}

fn armed() -> &'static [Armed] {
    static ARMED: OnceLock<Vec<Armed>> = OnceLock::new();
    ARMED.get_or_init(|| {
        let Ok(spec) = std::env::var(FAILPOINTS_ENV) else {
            return Vec::new();
        };
        spec.split(',')
            .filter(|s| !s.trim().is_empty())
            .map(|entry| {
                let mut fields = entry.split(':').map(str::trim);
                let name = fields.next().unwrap_or_default().to_string();
                let count = fields.next().unwrap_or("1");
                let effect = match fields.next() {
                    Some("error") => Effect::Error,
                    _ => Effect::Abort,
                };
                let from_then_on = count.ends_with('+');
                Armed {
                    name,
                    remaining: AtomicU64::new(count.trim_end_matches('+').parse().unwrap_or(1)),
                    from_then_on,
                    effect,
                }
            })
            .collect()
    })
}

/// Passes the failure point `name`: aborts the process if it is armed to abort on this
/// pass, returns a transient error if it is armed to fail; `Ok` otherwise.
pub fn hit(name: &str) -> Result<()> {
    for point in armed().iter().filter(|p| p.name == name) {
        let before = point
            .remaining
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .unwrap_or(0);
        let reached = before == 1 || (before == 0 && point.from_then_on);
        if !reached {
            continue;
        }
        match point.effect {
            Effect::Abort => {
                eprintln!("weir: failpoint '{name}' reached, aborting the process");
                std::process::abort();
            }
            Effect::Error => {
                return Err(EngineError::transient(
                    format!("failpoint '{name}'"),
                    "an injected transient failure",
                ))
            }
        }
    }
    Ok(())
}
