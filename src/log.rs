//! Logging to stderr: colour only on a terminal, and a warning repeated word for word from
//! one place in the code (say, once per source of a job with thousands, its fields aside)
//! shown a few times, then counted and summed up in one line when the command ends.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::IsTerminal as _;
use std::sync::{Arc, Mutex};

use tracing::callsite::Identifier;
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Metadata};
use tracing_subscriber::layer::{Context, Filter, SubscriberExt as _};
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{EnvFilter, Layer as _};

/// Warnings and errors, except rdkafka's client error callback, which repeats every
/// connection failure many times a millisecond (librdkafka's own log line says it once),
/// deltalake's note for every file that binary columns get no statistics, and deltalake's
/// commit errors: each reaches weir as an error and is reported with its table and epoch,
/// and a writer losing the race to create a table is expected. The Delta kernel's own
/// log is off: it logs each error it returns several times with a backtrace, and every
/// one reaches weir, which reports it once naming the table.
const DEFAULT_LOG_FILTER: &str = "warn,rdkafka::client=off,deltalake_core::writer::stats=error,deltalake_core::kernel::transaction=off,buoyant_kernel=off";

/// Stderr for log lines: a live status line on the terminal is cleared before each one.
struct LogWriter;

impl std::io::Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        crate::live_status::clear();
        std::io::stderr().write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

/// How many times one warning (one message from one place in the code) is shown before it
/// is only counted.
const SHOWN_REPEATS: u64 = 3;

/// Installs the stderr logger (`RUST_LOG` overrides the default filter). The returned
/// handle reports the warnings it held back.
pub fn init() -> RepeatedWarnings {
    let repeated = RepeatedWarnings::default();
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| DEFAULT_LOG_FILTER.into());
    let stderr = tracing_subscriber::fmt::layer()
        .with_writer(|| LogWriter)
        .with_ansi(std::io::stderr().is_terminal())
        // The outer filter decides first: only warnings the log filter lets through are
        // counted (and held back when repeated).
        .with_filter(repeated.clone())
        .with_filter(filter);
    tracing_subscriber::registry().with(stderr).init();
    repeated
}

/// Counts of warnings by the place in the code that logs them and their message.
#[derive(Clone, Default)]
pub struct RepeatedWarnings {
    seen: Arc<Mutex<HashMap<(Identifier, String), u64>>>,
}

impl RepeatedWarnings {
    /// One line per warning that was held back: its message and how many more times it
    /// was logged, sorted by message.
    pub fn report(&self) -> Vec<String> {
        let seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        let mut lines: Vec<String> = seen
            .iter()
            .filter(|(_, count)| **count > SHOWN_REPEATS)
            .map(|((_, message), count)| {
                format!(
                    "the warning \"{message}\" repeated {} more times (not shown)",
                    count - SHOWN_REPEATS
                )
            })
            .collect();
        lines.sort();
        lines
    }
}

impl<S> Filter<S> for RepeatedWarnings {
    fn enabled(&self, _: &Metadata<'_>, _: &Context<'_, S>) -> bool {
        true
    }

    fn event_enabled(&self, event: &Event<'_>, _: &Context<'_, S>) -> bool {
        if *event.metadata().level() != Level::WARN {
            return true;
        }
        let mut message = MessageText(String::new());
        event.record(&mut message);
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        let count = seen
            .entry((event.metadata().callsite(), message.0))
            .or_default();
        *count += 1;
        *count <= SHOWN_REPEATS
    }
}

/// An event's `message` field as text.
struct MessageText(String);

impl Visit for MessageText {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.0, "{value:?}");
        }
    }
}
