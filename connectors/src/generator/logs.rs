//! Web access logs and JSON application logs, as raw text lines.
//!
//! Each row is one `line` (what a log shipper would read from a file) and its `event_time`.
//! `log_kind: access` writes Apache combined log lines,
//! `ip - user [01/Jan/2026:00:00:00 +0000] "GET /path HTTP/1.1" 200 5120 "referrer" "agent"`;
//! `log_kind: app` writes one JSON object per line with `timestamp, service, level, latency_ms,
//! status, path, user_id, trace_id, span_id, message`.
//!
//! Traffic looks real: mostly 200s with some 3xx, 4xx and 5xx; long-tailed latency and
//! response sizes; a few hot paths and users take most of the requests. A share
//! `malformed_fraction` of the lines is damaged (truncated, garbage, or a field of the wrong
//! type), so no malformed line matches the combined format or parses as a well-typed JSON
//! record; `event_time` is the time the line was meant to carry. A share
//! `skewed_fraction` of the app lines is well-formed but wrong: a negative latency, as a
//! clock skew between the hosts timing a request writes it (what quality rules catch). A
//! share
//! `disorder_fraction` of the lines is moved back by up to `max_disorder`. Line `i` is a pure
//! function of `(seed, i)`.

use std::fmt::Write;
use std::sync::Arc;
use std::time::Duration;

use arrow::array::{ArrayRef, StringBuilder, TimestampMillisecondBuilder};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use arrow::record_batch::RecordBatch;
use serde::{Deserialize, Serialize};
use weir_engine::keys::mix64;
use weir_engine::{Source, SourcePlan, SubtaskInfo};

use super::clock::{nominal_time_ms, Disorder};
use super::partitioned::{EventBatches, Layout};
use super::random::EventRng;
use super::timefmt::{push_clf, push_rfc3339};
use crate::error::{ConnectorError, Result};

const CONNECTOR: &str = "log generator";
const SALT: u64 = 0x6c6f_6773_0000_0000;

/// Which log lines to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogKind {
    /// Apache combined log format.
    Access,
    /// One JSON object per line.
    App,
}

/// Settings of the log generator.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogsConfig {
    /// Access or application logs (named `log_kind` so it does not clash with the
    /// generator's `kind: logs`).
    pub log_kind: LogKind,
    pub seed: u64,
    /// Total number of lines; `None` generates forever.
    pub events: Option<u64>,
    /// Number of source partitions (each has its own watermark).
    pub partitions: u32,
    /// Rows per batch.
    pub batch_size: usize,
    /// Event-time rate: how many lines fall in one second of event time.
    pub events_per_second: u64,
    /// Wall-clock pacing of the whole source in lines per second; `None` is as fast as possible.
    pub rate_limit: Option<u64>,
    /// Event time of the first line, milliseconds since the Unix epoch.
    pub start_time_ms: i64,
    /// Services writing application logs.
    pub services: Vec<String>,
    /// Number of distinct users (a few of them hot).
    pub users: u64,
    /// Share of lines (0 to 1) that are damaged.
    pub malformed_fraction: f64,
    /// Share of app lines (0 to 1) whose latency is negative (well-formed, but wrong).
    pub skewed_fraction: f64,
    /// Share of lines (0 to 1) whose time is moved back.
    pub disorder_fraction: f64,
    /// How far back at most.
    #[serde(with = "humantime_serde")]
    pub max_disorder: Duration,
}

impl Default for LogsConfig {
    fn default() -> Self {
        Self {
            log_kind: LogKind::Access,
            seed: 42,
            events: Some(1_000_000),
            partitions: 4,
            batch_size: 8192,
            events_per_second: 1000,
            rate_limit: None,
            // 2026-01-01T00:00:00Z
            start_time_ms: 1_767_225_600_000,
            services: ["frontend", "checkout", "cart", "search", "payments", "auth"]
                .map(String::from)
                .to_vec(),
            users: 10_000,
            malformed_fraction: 0.01,
            skewed_fraction: 0.0,
            disorder_fraction: 0.05,
            max_disorder: Duration::from_secs(5),
        }
    }
}

impl LogsConfig {
    fn layout(&self) -> Layout {
        Layout {
            events: self.events,
            partitions: self.partitions,
            batch_size: self.batch_size,
            rate_limit: self.rate_limit,
        }
    }

    fn validate(&self) -> Result<()> {
        self.layout().validate(CONNECTOR)?;
        let fail = |message: String| {
            Err(ConnectorError::Config {
                connector: CONNECTOR,
                message,
            })
        };
        if self.events_per_second == 0 {
            return fail("events_per_second must be at least 1".into());
        }
        if self.users == 0 {
            return fail("users must be at least 1".into());
        }
        if self.services.is_empty() {
            return fail("services must name at least one service".into());
        }
        for (name, share) in [
            ("malformed_fraction", self.malformed_fraction),
            ("skewed_fraction", self.skewed_fraction),
            ("disorder_fraction", self.disorder_fraction),
        ] {
            if !(0.0..=1.0).contains(&share) {
                return fail(format!("{name} must be between 0 and 1, got {share}"));
            }
        }
        Ok(())
    }
}

/// HTTP statuses and their weights per 10,000 requests.
const STATUSES: [(u16, u32); 15] = [
    (200, 8400),
    (201, 150),
    (204, 100),
    (301, 100),
    (302, 250),
    (304, 400),
    (400, 120),
    (401, 100),
    (403, 60),
    (404, 200),
    (429, 30),
    (500, 50),
    (502, 20),
    (503, 15),
    (504, 5),
];

const METHODS: [(&str, u32); 5] = [
    ("GET", 80),
    ("POST", 15),
    ("HEAD", 2),
    ("PUT", 2),
    ("DELETE", 1),
];

/// Request paths, hottest first; `true` when the path takes an id.
const PATHS: [(&str, bool); 16] = [
    ("/", false),
    ("/products/", true),
    ("/api/v1/items/", true),
    ("/search?q=", true),
    ("/static/app.js", false),
    ("/cart", false),
    ("/static/style.css", false),
    ("/images/logo.png", false),
    ("/checkout", false),
    ("/login", false),
    ("/account", false),
    ("/api/v1/orders/", true),
    ("/favicon.ico", false),
    ("/help", false),
    ("/logout", false),
    ("/robots.txt", false),
];

const REFERRERS: [&str; 6] = [
    "-",
    "https://www.google.com/",
    "https://www.bing.com/",
    "https://news.ycombinator.com/",
    "https://t.co/",
    "https://shop.example.com/products",
];

const AGENTS: [&str; 5] = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
    "Mozilla/5.0 (X11; Linux x86_64; rv:131.0) Gecko/20100101 Firefox/131.0",
    "curl/8.5.0",
];

const INFO_MESSAGES: [&str; 4] = [
    "request completed",
    "cache hit",
    "cache miss, loaded from database",
    "session refreshed",
];
const WARN_MESSAGES: [&str; 3] = [
    "client error",
    "rate limit exceeded",
    "invalid session token",
];
const ERROR_MESSAGES: [&str; 3] = [
    "upstream timeout",
    "database connection reset",
    "unhandled exception in handler",
];

/// Running sums of the weights of `choices`, for [`EventRng::weighted`].
fn cumulative<T>(choices: &[(T, u32)]) -> Vec<u32> {
    choices
        .iter()
        .scan(0, |sum, (_, weight)| {
            *sum += weight;
            Some(*sum)
        })
        .collect()
}

/// The generator as a source.
#[derive(Debug)]
pub struct LogGenerator {
    layout: Layout,
    events: Arc<LogBatches>,
}

impl LogGenerator {
    pub fn new(config: LogsConfig) -> Result<Arc<Self>> {
        config.validate()?;
        Ok(Arc::new(Self {
            layout: config.layout(),
            events: Arc::new(LogBatches {
                disorder: Disorder::new(config.disorder_fraction, config.max_disorder),
                config,
                schema: Self::schema_ref(),
                statuses: cumulative(&STATUSES),
                methods: cumulative(&METHODS),
            }),
        }))
    }

    /// The schema of generated logs: `line` (the raw text) and `event_time`.
    pub fn schema_ref() -> SchemaRef {
        Arc::new(Schema::new(vec![
            Field::new("line", DataType::Utf8, false),
            Field::new(
                "event_time",
                DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())),
                false,
            ),
        ]))
    }
}

impl SourcePlan for LogGenerator {
    fn schema(&self) -> SchemaRef {
        self.events.schema.clone()
    }

    fn create(&self, subtask: &SubtaskInfo) -> weir_engine::Result<Box<dyn Source>> {
        Ok(self.layout.reader(self.events.clone(), subtask))
    }
}

#[derive(Debug)]
struct LogBatches {
    config: LogsConfig,
    schema: SchemaRef,
    disorder: Disorder,
    statuses: Vec<u32>,
    methods: Vec<u32>,
}

/// What one request looked like, before it is written as a line.
struct Request {
    user: u64,
    method: &'static str,
    path: &'static str,
    /// The id or search word after `path`, if it takes one.
    path_id: Option<u64>,
    status: u16,
    bytes: u64,
    latency_ms: u64,
}

/// A log-normal draw around `median` with spread `sigma` (the normal approximated by a sum
/// of four uniforms).
fn log_normal(rng: &mut EventRng, median: f64, sigma: f64) -> f64 {
    let sum: f64 = (0..4).map(|_| rng.unit()).sum();
    median * (sigma * (sum - 2.0) * 3f64.sqrt()).exp()
}

impl LogBatches {
    fn request(&self, rng: &mut EventRng) -> Request {
        let (path, takes_id) = PATHS[rng.skewed(PATHS.len())];
        let status = STATUSES[rng.weighted(&self.statuses)].0;
        let mut latency = log_normal(rng, 25.0, 0.7);
        if rng.chance(0.01) {
            // The tail: a slow dependency, a lock, a GC pause.
            latency *= 10.0 + 40.0 * rng.unit();
        }
        if status >= 500 {
            latency *= 8.0;
        }
        let bytes = match status {
            204 | 304 => 0,
            301 | 302 => 180 + rng.below(60),
            _ => log_normal(rng, 4000.0, 1.0) as u64 + 20,
        };
        Request {
            user: rng.skewed(self.config.users as usize) as u64,
            method: METHODS[rng.weighted(&self.methods)].0,
            path,
            path_id: takes_id.then(|| rng.skewed(5000) as u64),
            status,
            bytes,
            latency_ms: latency as u64 + 1,
        }
    }

    fn push_path(out: &mut String, request: &Request) {
        out.push_str(request.path);
        if let Some(id) = request.path_id {
            write!(out, "{id}").expect("writing to a String");
        }
    }

    fn access_line(&self, rng: &mut EventRng, time: i64, out: &mut String) {
        let r = self.request(rng);
        let ip = mix64(self.config.seed ^ SALT ^ r.user);
        write!(
            out,
            "{}.{}.{}.{} - ",
            1 + (ip & 0xff) % 223,
            (ip >> 8) & 0xff,
            (ip >> 16) & 0xff,
            1 + (ip >> 24) % 254
        )
        .expect("writing to a String");
        // A third of the users are not logged in.
        if r.user.is_multiple_of(3) {
            out.push('-');
        } else {
            write!(out, "user{}", r.user).expect("writing to a String");
        }
        out.push_str(" [");
        push_clf(out, time);
        write!(out, "] \"{} ", r.method).expect("writing to a String");
        Self::push_path(out, &r);
        out.push_str(if rng.chance(0.3) {
            " HTTP/2.0\" "
        } else {
            " HTTP/1.1\" "
        });
        write!(out, "{} ", r.status).expect("writing to a String");
        if r.bytes == 0 {
            out.push('-');
        } else {
            write!(out, "{}", r.bytes).expect("writing to a String");
        }
        let referrer = REFERRERS[rng.below(REFERRERS.len() as u64) as usize];
        let agent = AGENTS[rng.skewed(AGENTS.len())];
        write!(out, " \"{referrer}\" \"{agent}\"").expect("writing to a String");
    }

    fn app_line(&self, rng: &mut EventRng, time: i64, out: &mut String) {
        let r = self.request(rng);
        let services = &self.config.services;
        let service = &services[rng.below(services.len() as u64) as usize];
        let (level, messages): (&str, &[&str]) = match r.status {
            500.. => ("ERROR", &ERROR_MESSAGES),
            400..=499 => ("WARN", &WARN_MESSAGES),
            _ if rng.chance(0.05) => ("DEBUG", &INFO_MESSAGES),
            _ => ("INFO", &INFO_MESSAGES),
        };
        let message = messages[rng.below(messages.len() as u64) as usize];
        out.push_str("{\"timestamp\":\"");
        push_rfc3339(out, time);
        write!(
            out,
            "\",\"service\":\"{service}\",\"level\":\"{level}\",\"latency_ms\":{},\
             \"status\":{},\"path\":\"",
            r.latency_ms, r.status
        )
        .expect("writing to a String");
        Self::push_path(out, &r);
        write!(out, "\",\"user_id\":\"u{}\",\"trace_id\":\"", r.user).expect("writing to a String");
        rng.push_hex(out, 32);
        out.push_str("\",\"span_id\":\"");
        rng.push_hex(out, 16);
        write!(out, "\",\"message\":\"{message}\"}}").expect("writing to a String");
    }

    /// Damages a well-formed line so it no longer parses: cut short, replaced by garbage, or
    /// a number written as a word.
    fn damage(&self, rng: &mut EventRng, out: &mut String) {
        match rng.below(3) {
            0 => {
                let keep = 1 + rng.below(out.len() as u64 - 2) as usize;
                out.truncate(keep);
                while out.ends_with(['"', '}']) {
                    out.pop();
                }
            }
            1 => {
                const GARBAGE: [char; 8] =
                    ['\u{0}', '\u{1b}', '\u{7f}', 'ÿ', '\u{fffd}', '¤', '#', '\t'];
                out.clear();
                for _ in 0..8 + rng.below(100) {
                    out.push(GARBAGE[rng.below(GARBAGE.len() as u64) as usize]);
                }
            }
            _ => {
                let (field, word) = match self.config.log_kind {
                    LogKind::Access => ("\" ", "\" OK "),
                    LogKind::App => ("\"status\":", "\"status\":\"OK\",\"was\":"),
                };
                if let Some(at) = out.find(field) {
                    out.replace_range(at..at + field.len(), word);
                }
            }
        }
    }
}

impl EventBatches for LogBatches {
    fn batch(&self, partition: u32, from: u64, rows: usize) -> Result<RecordBatch> {
        let config = &self.config;
        let mut lines = StringBuilder::with_capacity(rows, rows * 256);
        let mut times = TimestampMillisecondBuilder::with_capacity(rows);
        let mut line = String::with_capacity(512);
        for k in from..from + rows as u64 {
            let i = partition as u64 + k * config.partitions as u64;
            let mut rng = EventRng::new(config.seed, SALT, i);
            let back = self.disorder.back_ms(rng.next_u64(), rng.next_u64());
            let time = nominal_time_ms(config.start_time_ms, config.events_per_second, i) - back;
            let malformed = rng.chance(config.malformed_fraction);
            line.clear();
            match config.log_kind {
                LogKind::Access => self.access_line(&mut rng, time, &mut line),
                LogKind::App => self.app_line(&mut rng, time, &mut line),
            }
            // Drawn last and only when asked for: every other line stays as it was.
            let skewed = config.skewed_fraction > 0.0 && rng.chance(config.skewed_fraction);
            if skewed && config.log_kind == LogKind::App {
                const LATENCY: &str = "\"latency_ms\":";
                if let Some(at) = line.find(LATENCY) {
                    line.insert(at + LATENCY.len(), '-');
                }
            }
            if malformed {
                self.damage(&mut rng, &mut line);
            }
            lines.append_value(&line);
            times.append_value(time);
        }
        let columns: Vec<ArrayRef> = vec![
            Arc::new(lines.finish()),
            Arc::new(times.finish().with_timezone("UTC")),
        ];
        Ok(RecordBatch::try_new(self.schema.clone(), columns)?)
    }
}

#[cfg(test)]
mod tests {
    use arrow::array::AsArray;

    use super::*;

    fn lines(config: LogsConfig) -> Vec<String> {
        let generator = LogGenerator::new(config).unwrap();
        let batch = generator.events.batch(0, 0, 2_000).unwrap();
        batch
            .column(0)
            .as_string::<i32>()
            .iter()
            .map(|l| l.unwrap().to_string())
            .collect()
    }

    #[test]
    fn skewed_lines_differ_only_by_a_negative_latency() {
        let config = LogsConfig {
            log_kind: LogKind::App,
            malformed_fraction: 0.0,
            ..LogsConfig::default()
        };
        let plain = lines(config.clone());
        let skewed = lines(LogsConfig {
            skewed_fraction: 0.01,
            ..config
        });
        let changed: Vec<(&String, &String)> =
            plain.iter().zip(&skewed).filter(|(a, b)| a != b).collect();
        assert!((5..=40).contains(&changed.len()), "{}", changed.len());
        for (before, after) in changed {
            assert_eq!(
                after.replacen("\"latency_ms\":-", "\"latency_ms\":", 1),
                *before
            );
        }
    }
}
