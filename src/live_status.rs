//! What `weir run` shows while a job runs. On a terminal: one status line on stderr,
//! redrawn every second (rows read and written per second, watermark and its lag, the
//! last checkpoint, dead letters, late rows, restarts). Otherwise: a plain line every
//! `--progress` interval. Log lines clear the status line before they are written.

use std::io::{IsTerminal as _, Write as _};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::task::JoinHandle;
use weir_engine::JobMetrics;
use weir_jobs::{JobHandle, JobStatus};

use crate::job_summary::{summary, SinkRows};

/// Whether a status line is on the terminal now (log lines clear it first).
static SHOWN: AtomicBool = AtomicBool::new(false);

/// The escape sequence that returns to the start of the line and clears it.
const CLEAR_LINE: &str = "\r\x1b[2K";

/// Clears the status line, if one is drawn, so that a message can be printed; the next
/// redraw shows it again below the message.
pub fn clear() {
    if SHOWN.swap(false, Ordering::Relaxed) {
        eprint!("{CLEAR_LINE}");
    }
}

/// The status display of one job; [`LiveStatus::finish`] removes it.
pub struct LiveStatus {
    task: Option<JoinHandle<()>>,
}

impl LiveStatus {
    /// Starts showing `handle`'s status: redrawn every second on a terminal, else a plain
    /// line every `every` (never when `every` is zero).
    pub fn start(handle: JobHandle, every: Duration) -> Self {
        let started = Instant::now();
        let task = match std::io::stderr().is_terminal() {
            true => Some(tokio::spawn(redraw(handle, started))),
            false if every.is_zero() => None,
            false => Some(tokio::spawn(plain_lines(handle, started, every))),
        };
        Self { task }
    }

    /// Stops the display and clears the status line.
    pub fn finish(self) {
        if let Some(task) = self.task {
            task.abort();
        }
        clear();
    }
}

async fn plain_lines(handle: JobHandle, started: Instant, every: Duration) {
    let mut ticks = tokio::time::interval(every);
    ticks.tick().await;
    loop {
        ticks.tick().await;
        let Some(metrics) = handle.metrics() else {
            continue;
        };
        let mut line = summary(handle.job(), &metrics, started.elapsed(), SinkRows::Written);
        if handle.restarts() > 0 {
            line.push_str(&format!("; {} restarts", handle.restarts()));
        }
        eprintln!("weir: {line}");
    }
}

async fn redraw(handle: JobHandle, started: Instant) {
    let mut ticks = tokio::time::interval(Duration::from_secs(1));
    let mut before = Counts::default();
    let mut before_at = Instant::now();
    loop {
        ticks.tick().await;
        let now = Instant::now();
        let counts = handle
            .metrics()
            .map(|metrics| Counts::of(&handle, &metrics))
            .unwrap_or_default();
        let seconds = now.duration_since(before_at).as_secs_f64().max(1e-3);
        let line = status_line(&handle, &counts, &before, seconds, started.elapsed());
        let width = crate::terminal::width();
        let mut stderr = std::io::stderr().lock();
        let _ = write!(stderr, "{CLEAR_LINE}{}", cut(&line, width));
        let _ = stderr.flush();
        SHOWN.store(true, Ordering::Relaxed);
        before = counts;
        before_at = now;
    }
}

/// The counters the status line shows, summed over the job's nodes.
#[derive(Debug, Default, Clone)]
struct Counts {
    read: u64,
    written: u64,
    dead_letters: u64,
    late: u64,
    /// The lowest watermark of the sources, in ms since the epoch.
    watermark: Option<i64>,
    /// The newest completed checkpoint: id and how long it took.
    checkpoint: Option<(u64, Duration)>,
}

impl Counts {
    fn of(handle: &JobHandle, metrics: &JobMetrics) -> Self {
        let job = handle.job();
        let node = |name: &str| metrics.node(name);
        let sources = job.sources.keys().filter_map(|name| node(name));
        let sinks = job
            .sinks
            .iter()
            .filter_map(|(name, sink)| node(&sink.connector.entry_node(name)));
        Self {
            read: sources.clone().map(|n| n.rows_in()).sum(),
            written: sinks.map(|n| n.rows_in()).sum(),
            dead_letters: metrics
                .nodes
                .iter()
                .map(|n| n.port_rows("dead_letters"))
                .sum(),
            late: metrics.nodes.iter().map(|n| n.port_rows("late")).sum(),
            watermark: sources.filter_map(|n| n.watermark()).min(),
            checkpoint: metrics
                .checkpoints()
                .last()
                .map(|c| (c.checkpoint_id, c.duration)),
        }
    }
}

fn status_line(
    handle: &JobHandle,
    now: &Counts,
    before: &Counts,
    seconds: f64,
    elapsed: Duration,
) -> String {
    let rate = |now: u64, before: u64| now.saturating_sub(before) as f64 / seconds;
    let state = match handle.status() {
        JobStatus::Starting => "starting".to_string(),
        JobStatus::Running => "running".to_string(),
        JobStatus::Restarting {
            restart,
            delay,
            cause,
        } => format!("restarting ({restart} in a row) within {delay:.1?} after: {cause}"),
        JobStatus::Stopping => "stopping (final checkpoint)".to_string(),
        JobStatus::Ended => "ended".to_string(),
    };
    let mut parts = vec![
        format!(
            "weir: '{}' {state} {}",
            handle.job().name,
            clock(elapsed.as_secs())
        ),
        format!(
            "read {} ({}/s)",
            human(now.read as f64),
            human(rate(now.read, before.read))
        ),
        format!(
            "wrote {} ({}/s)",
            human(now.written as f64),
            human(rate(now.written, before.written))
        ),
    ];
    parts.push(match now.watermark {
        Some(i64::MAX) => "watermark: end of input".to_string(),
        Some(watermark) => {
            let now_ms = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as i64);
            let lag = Duration::from_millis(now_ms.saturating_sub(watermark).max(0) as u64);
            format!(
                "watermark {} UTC (lag {})",
                clock((watermark.rem_euclid(86_400_000) / 1000) as u64),
                human_duration(lag)
            )
        }
        None => "no watermark yet".to_string(),
    });
    parts.push(match now.checkpoint {
        Some((id, took)) => format!("checkpoint {id} ({took:.0?})"),
        None => "no checkpoint yet".to_string(),
    });
    parts.push(format!(
        "{} dead letters, {} late",
        human(now.dead_letters as f64),
        human(now.late as f64)
    ));
    parts.push(format!("{} restarts", handle.restarts()));
    parts.join(" | ")
}

/// `seconds` as `h:mm:ss`.
fn clock(seconds: u64) -> String {
    format!(
        "{}:{:02}:{:02}",
        seconds / 3600,
        seconds / 60 % 60,
        seconds % 60
    )
}

/// A count with a k/M/G suffix.
fn human(value: f64) -> String {
    match value {
        v if v >= 1e9 => format!("{:.2}G", v / 1e9),
        v if v >= 1e6 => format!("{:.2}M", v / 1e6),
        v if v >= 1e4 => format!("{:.1}k", v / 1e3),
        v => format!("{v:.0}"),
    }
}

/// A lag, rounded to what a person reads at a glance.
fn human_duration(lag: Duration) -> String {
    match lag.as_secs() {
        s if s >= 86_400 => format!("{}d", s / 86_400),
        s if s >= 3_600 => format!("{}h{:02}m", s / 3_600, s / 60 % 60),
        s if s >= 60 => format!("{}m{:02}s", s / 60, s % 60),
        _ => format!("{:.1}s", lag.as_secs_f64()),
    }
}

/// `line` cut to `width` characters, the cut marked with an ellipsis.
fn cut(line: &str, width: usize) -> String {
    match line.chars().count() > width {
        true => {
            let kept: String = line.chars().take(width.saturating_sub(1)).collect();
            format!("{kept}…")
        }
        false => line.to_string(),
    }
}
