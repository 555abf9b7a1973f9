//! Crash points for recovery tests: with `WEIR_FAILPOINTS=name:n[,name:n...]` in the
//! environment, the process aborts (no destructors, no flushing: as abrupt as SIGKILL) the
//! n-th time it passes the point `name`. Without the variable a point costs one atomic load.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

/// The environment variable naming the armed points.
pub const FAILPOINTS_ENV: &str = "WEIR_FAILPOINTS";

struct Armed {
    name: String,
    remaining: AtomicU64,
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
                let (name, count) = entry.split_once(':').unwrap_or((entry, "1"));
                Armed {
                    name: name.trim().to_string(),
                    remaining: AtomicU64::new(count.trim().parse().unwrap_or(1)),
                }
            })
            .collect()
    })
}

/// Passes the crash point `name`: aborts the process if it is armed and this is the pass
/// it was armed for.
pub fn hit(name: &str) {
    for point in armed().iter().filter(|p| p.name == name) {
        if point.remaining.fetch_sub(1, Ordering::SeqCst) == 1 {
            eprintln!("weir: failpoint '{name}' reached, aborting the process");
            std::process::abort();
        }
    }
}
