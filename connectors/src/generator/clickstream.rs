//! Clickstream: users browsing a shop in sessions, for session windows.
//!
//! `concurrent_sessions` lanes run side by side; event `i` is the `i / lanes`-th step of
//! lane `i % lanes`, so a lane steps every `lanes / events_per_second` seconds (plus up to
//! half a step of jitter) and the stream's event time still grows with `i`. A lane runs one
//! session after another: a session ends at a random step (on average after
//! `mean_session_events` events, at most 64) and the next one, of another user, starts.
//! Users belong to one lane each and take turns, so a user comes back only after enough
//! steps that the silence is longer than `session_gap`.
//!
//! Invariants (checked when the generator is built): within a session, a user's events are
//! less than `session_gap` apart and strictly increasing in time; two sessions of one user
//! are at least `session_gap` apart. So a session window with `gap: session_gap` keyed by
//! `user_id` finds exactly the generated `session_id`s. A lane's events all fall in one
//! partition (`concurrent_sessions` is a multiple of `partitions`), so within a partition
//! the events of a session arrive in time order. Event `i` is a pure function of `(seed, i)`.

use std::fmt::Write;
use std::sync::Arc;
use std::time::Duration;

use arrow::array::{ArrayRef, Int64Builder, StringBuilder, TimestampMillisecondBuilder};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use arrow::record_batch::RecordBatch;
use serde::{Deserialize, Serialize};
use weir_engine::keys::mix64;
use weir_engine::{Source, SourcePlan, SubtaskInfo};

use super::clock::nominal_time_ms;
use super::partitioned::{EventBatches, Layout};
use super::random::EventRng;
use crate::error::{ConnectorError, Result};

const CONNECTOR: &str = "clickstream generator";
const SALT: u64 = 0x636c_6963_6b00_0000;
const FRAME_SALT: u64 = 0x636c_6672_616d_6500;
const PAGE_SALT: u64 = 0x636c_7061_6765_0000;
/// Session boundaries are decided per frame of this many lane steps.
const FRAME: u64 = 64;

/// What a user did.
pub const ACTIONS: [&str; 4] = ["view", "click", "add_to_cart", "purchase"];

/// Pages, hottest first; `true` when the page takes a product id.
const PAGES: [(&str, bool); 10] = [
    ("/", false),
    ("/product/", true),
    ("/search", false),
    ("/category/shoes", false),
    ("/category/shirts", false),
    ("/cart", false),
    ("/category/bags", false),
    ("/checkout", false),
    ("/account", false),
    ("/help", false),
];

/// Where a session comes from; `None` is a direct visit.
const ENTRY_REFERRERS: [Option<&str>; 5] = [
    None,
    Some("https://www.google.com/"),
    Some("https://www.facebook.com/"),
    Some("https://www.bing.com/"),
    Some("https://newsletter.example.com/"),
];

/// Settings of the clickstream generator.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClickstreamConfig {
    pub seed: u64,
    /// Total number of events; `None` generates forever.
    pub events: Option<u64>,
    /// Number of source partitions (each has its own watermark).
    pub partitions: u32,
    /// Rows per batch.
    pub batch_size: usize,
    /// Event-time rate: how many events fall in one second of event time.
    pub events_per_second: u64,
    /// Wall-clock pacing of the whole source in events per second; `None` is as fast as possible.
    pub rate_limit: Option<u64>,
    /// Event time of the first event, milliseconds since the Unix epoch.
    pub start_time_ms: i64,
    /// Number of distinct users.
    pub users: u64,
    /// Sessions running at the same time (lanes); a multiple of `partitions`.
    pub concurrent_sessions: u64,
    /// Average number of events of a session, at most 32.
    pub mean_session_events: u32,
    /// Inactivity that ends a session: events of one session are closer, sessions of one
    /// user further apart.
    #[serde(with = "humantime_serde")]
    pub session_gap: Duration,
}

impl Default for ClickstreamConfig {
    fn default() -> Self {
        Self {
            seed: 42,
            events: Some(1_000_000),
            partitions: 4,
            batch_size: 8192,
            events_per_second: 1000,
            rate_limit: None,
            // 2026-01-01T00:00:00Z
            start_time_ms: 1_767_225_600_000,
            users: 1_000_000,
            concurrent_sessions: 2000,
            mean_session_events: 8,
            session_gap: Duration::from_secs(300),
        }
    }
}

impl ClickstreamConfig {
    fn layout(&self) -> Layout {
        Layout {
            events: self.events,
            partitions: self.partitions,
            batch_size: self.batch_size,
            rate_limit: self.rate_limit,
        }
    }

    /// Shortest and longest time between two steps of a lane, in milliseconds.
    fn step_ms(&self) -> (u64, u64) {
        let step = self.concurrent_sessions * 1000;
        (
            step / self.events_per_second,
            step.div_ceil(self.events_per_second),
        )
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
        if self.concurrent_sessions == 0
            || !self
                .concurrent_sessions
                .is_multiple_of(self.partitions as u64)
        {
            return fail(format!(
                "concurrent_sessions must be a positive multiple of partitions ({}), got {}",
                self.partitions, self.concurrent_sessions
            ));
        }
        if !(1..=32).contains(&self.mean_session_events) {
            return fail(format!(
                "mean_session_events must be between 1 and 32, got {}",
                self.mean_session_events
            ));
        }
        let (min_step, max_step) = self.step_ms();
        let gap = self.session_gap.as_millis() as u64;
        if min_step == 0 || 2 * max_step >= gap {
            return fail(format!(
                "a lane steps every concurrent_sessions / events_per_second = {max_step} ms; \
                 that must be at least 1 ms and under half the session_gap ({gap} ms)"
            ));
        }
        // A user's sessions start at least `users / lanes` steps apart and last at most
        // `FRAME` steps.
        let needed = FRAME + gap.div_ceil(min_step);
        if self.users / self.concurrent_sessions < needed {
            return fail(format!(
                "users must be at least {} (concurrent_sessions x {needed}) so that a user's \
                 sessions stay session_gap apart, got {}",
                self.concurrent_sessions * needed,
                self.users
            ));
        }
        Ok(())
    }
}

/// The generator as a source.
#[derive(Debug)]
pub struct ClickstreamGenerator {
    layout: Layout,
    events: Arc<ClickBatches>,
}

impl ClickstreamGenerator {
    pub fn new(config: ClickstreamConfig) -> Result<Arc<Self>> {
        config.validate()?;
        // A frame of 64 steps holds 1 + 63 p sessions when each step but the first starts
        // one with probability p; 64 / mean of them make the mean right.
        let p = (64.0 / config.mean_session_events as f64 - 1.0) / 63.0;
        let threshold = (p * 256.0).round() as u16;
        Ok(Arc::new(Self {
            layout: config.layout(),
            events: Arc::new(ClickBatches {
                boundary_threshold: threshold,
                config,
                schema: Self::schema_ref(),
            }),
        }))
    }

    /// The schema of clicks: `user_id, session_id, page, referrer, action, event_time`;
    /// `referrer` is null on a direct visit, `session_id` is the index of the session's
    /// first event.
    pub fn schema_ref() -> SchemaRef {
        Arc::new(Schema::new(vec![
            Field::new("user_id", DataType::Int64, false),
            Field::new("session_id", DataType::Int64, false),
            Field::new("page", DataType::Utf8, false),
            Field::new("referrer", DataType::Utf8, true),
            Field::new("action", DataType::Utf8, false),
            Field::new(
                "event_time",
                DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())),
                false,
            ),
        ]))
    }
}

impl SourcePlan for ClickstreamGenerator {
    fn schema(&self) -> SchemaRef {
        self.events.schema.clone()
    }

    fn create(&self, subtask: &SubtaskInfo) -> weir_engine::Result<Box<dyn Source>> {
        Ok(self.layout.reader(self.events.clone(), subtask))
    }
}

#[derive(Debug)]
struct ClickBatches {
    config: ClickstreamConfig,
    schema: SchemaRef,
    /// A lane step starts a session when its byte of the frame's draws is below this.
    boundary_threshold: u16,
}

/// Where event `i` falls in its lane's sessions.
struct Position {
    lane: u64,
    /// Lane step of the session's first event.
    first: u64,
    /// Whether the session ends with this event.
    last: bool,
}

impl ClickBatches {
    /// Bit `j` is set when step `j` of the frame starts a session; bit 0 always is.
    fn frame_boundaries(&self, lane: u64, frame: u64) -> u64 {
        let mut rng = EventRng::new(self.config.seed, FRAME_SALT ^ mix64(lane), frame);
        let mut mask = 1u64;
        for word in 0..FRAME / 8 {
            let draws = rng.next_u64();
            for byte in 0..8 {
                if ((draws >> (8 * byte)) & 0xff) < u64::from(self.boundary_threshold) {
                    mask |= 1 << (word * 8 + byte);
                }
            }
        }
        mask
    }

    fn position(&self, i: u64) -> Position {
        let lanes = self.config.concurrent_sessions;
        let (lane, step) = (i % lanes, i / lanes);
        let (frame, j) = (step / FRAME, step % FRAME);
        let mask = self.frame_boundaries(lane, frame);
        let started = mask & (u64::MAX >> (FRAME - 1 - j));
        let first = frame * FRAME + (FRAME - 1 - started.leading_zeros() as u64);
        let last = j == FRAME - 1 || mask & (1 << (j + 1)) != 0;
        Position { lane, first, last }
    }

    /// Writes the page of event `i` (each event's page is its own draw, so the page before
    /// can be found again as the referrer).
    fn push_page(&self, i: u64, out: &mut String) {
        let mut rng = EventRng::new(self.config.seed, PAGE_SALT, i);
        let (page, takes_id) = PAGES[rng.skewed(PAGES.len())];
        out.push_str(page);
        if takes_id {
            write!(out, "{}", rng.skewed(2000)).expect("writing to a String");
        }
    }
}

impl EventBatches for ClickBatches {
    fn batch(&self, partition: u32, from: u64, rows: usize) -> Result<RecordBatch> {
        let config = &self.config;
        let lanes = config.concurrent_sessions;
        let jitter = self.config.step_ms().0.div_ceil(2);
        let mut user = Int64Builder::with_capacity(rows);
        let mut session = Int64Builder::with_capacity(rows);
        let mut page = StringBuilder::with_capacity(rows, rows * 12);
        let mut referrer = StringBuilder::with_capacity(rows, rows * 16);
        let mut action = StringBuilder::with_capacity(rows, rows * 6);
        let mut time = TimestampMillisecondBuilder::with_capacity(rows);
        let mut text = String::with_capacity(64);
        for k in from..from + rows as u64 {
            let i = partition as u64 + k * config.partitions as u64;
            let at = self.position(i);
            let mut rng = EventRng::new(config.seed, SALT, i);
            let turn = at.first % (config.users / lanes);
            user.append_value((at.lane + lanes * turn) as i64);
            session.append_value((at.first * lanes + at.lane) as i64);
            text.clear();
            self.push_page(i, &mut text);
            page.append_value(&text);
            let opening = at.first * lanes + at.lane == i;
            if opening {
                let entry = ENTRY_REFERRERS[rng.below(ENTRY_REFERRERS.len() as u64) as usize];
                referrer.append_option(entry);
                action.append_value(ACTIONS[0]);
            } else {
                text.clear();
                self.push_page(i - lanes, &mut text);
                referrer.append_value(&text);
                let purchase = at.last && i - at.first * lanes - at.lane >= 2 * lanes;
                action.append_value(if purchase && rng.chance(0.3) {
                    ACTIONS[3]
                } else {
                    ACTIONS[[0, 0, 0, 0, 0, 1, 1, 1, 1, 2][rng.below(10) as usize]]
                });
            }
            let nominal = nominal_time_ms(config.start_time_ms, config.events_per_second, i);
            time.append_value(nominal + rng.below(jitter.max(1)) as i64);
        }
        let columns: Vec<ArrayRef> = vec![
            Arc::new(user.finish()),
            Arc::new(session.finish()),
            Arc::new(page.finish()),
            Arc::new(referrer.finish()),
            Arc::new(action.finish()),
            Arc::new(time.finish().with_timezone("UTC")),
        ];
        Ok(RecordBatch::try_new(self.schema.clone(), columns)?)
    }
}
