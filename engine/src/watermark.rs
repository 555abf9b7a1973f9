//! Watermark generation at sources and combination at operator inputs.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use crate::message::Watermark;

/// How a source derives watermarks from the event time of its rows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WatermarkStrategy {
    /// The timestamp column holding each row's event time.
    pub event_time: String,
    /// Rows may arrive at most this much behind the newest row of their partition without
    /// being late: the watermark is `max_event_time - max_out_of_orderness - 1ms`.
    #[serde(with = "humantime_serde", default)]
    pub max_out_of_orderness: Duration,
    /// A partition without rows for this long stops holding the watermark back.
    #[serde(with = "humantime_serde", default)]
    pub idle_timeout: Option<Duration>,
}

impl WatermarkStrategy {
    /// A strategy on `event_time` with the given out-of-orderness bound and no idle timeout.
    pub fn bounded(event_time: impl Into<String>, max_out_of_orderness: Duration) -> Self {
        Self {
            event_time: event_time.into(),
            max_out_of_orderness,
            idle_timeout: None,
        }
    }

    /// Sets the idle timeout.
    pub fn with_idle_timeout(mut self, idle_timeout: Duration) -> Self {
        self.idle_timeout = Some(idle_timeout);
        self
    }
}

#[derive(Debug, Clone, Copy)]
struct PartitionState {
    id: u32,
    max_event_time: Option<i64>,
    last_active: Instant,
    idle: bool,
}

/// Per-partition watermarks of one source subtask; the subtask's watermark is the minimum
/// over its partitions that are not idle.
#[derive(Debug)]
pub struct PartitionWatermarks {
    delay_ms: i64,
    idle_timeout: Option<Duration>,
    partitions: Vec<PartitionState>,
    last_time: Option<i64>,
    idle_sent: bool,
}

impl PartitionWatermarks {
    pub fn new(strategy: &WatermarkStrategy, partitions: &[u32], now: Instant) -> Self {
        Self {
            delay_ms: strategy.max_out_of_orderness.as_millis() as i64,
            idle_timeout: strategy.idle_timeout,
            partitions: partitions
                .iter()
                .map(|&id| PartitionState {
                    id,
                    max_event_time: None,
                    last_active: now,
                    idle: false,
                })
                .collect(),
            last_time: None,
            idle_sent: false,
        }
    }

    /// Records rows of `partition` whose newest event time is `max_event_time`.
    pub fn observe(&mut self, partition: u32, max_event_time: Option<i64>, now: Instant) {
        let state = match self.partitions.iter_mut().find(|p| p.id == partition) {
            Some(state) => state,
            None => {
                self.partitions.push(PartitionState {
                    id: partition,
                    max_event_time: None,
                    last_active: now,
                    idle: false,
                });
                self.partitions.last_mut().expect("just pushed")
            }
        };
        state.last_active = now;
        state.idle = false;
        if let Some(t) = max_event_time {
            state.max_event_time = Some(state.max_event_time.map_or(t, |m| m.max(t)));
        }
    }

    /// The watermark partition `partition` alone allows: its newest event time less the
    /// allowed out-of-orderness; `None` before it had an event time.
    pub fn partition_watermark(&self, partition: u32) -> Option<i64> {
        let state = self.partitions.iter().find(|p| p.id == partition)?;
        Some(state.max_event_time? - self.delay_ms)
    }

    /// The newest event time seen per partition, for checkpoints.
    pub fn maxima(&self) -> Vec<(u32, Option<i64>)> {
        self.partitions
            .iter()
            .map(|p| (p.id, p.max_event_time))
            .collect()
    }

    /// Restores the newest event times of the partitions this subtask reads; others are
    /// ignored (they belong to another subtask now).
    pub fn restore_maxima(&mut self, maxima: &[(u32, Option<i64>)]) {
        for (id, max) in maxima {
            if let Some(p) = self.partitions.iter_mut().find(|p| p.id == *id) {
                p.max_event_time = *max;
            }
        }
    }

    /// Marks partitions idle whose last rows are older than the idle timeout.
    pub fn check_idle(&mut self, now: Instant) {
        if let Some(timeout) = self.idle_timeout {
            for p in &mut self.partitions {
                if now.duration_since(p.last_active) >= timeout {
                    p.idle = true;
                }
            }
        }
    }

    /// The watermark to send now, if it differs from the last one sent. Event-time
    /// watermarks never decrease, also when an idle partition comes back.
    pub fn take_new(&mut self) -> Option<Watermark> {
        let mut min = None::<i64>;
        let mut any_active = false;
        for p in self.partitions.iter().filter(|p| !p.idle) {
            any_active = true;
            let w = p
                .max_event_time?
                .saturating_sub(self.delay_ms)
                .saturating_sub(1);
            min = Some(min.map_or(w, |m| m.min(w)));
        }
        if !any_active {
            if self.idle_sent {
                return None;
            }
            self.idle_sent = true;
            return Some(Watermark::Idle);
        }
        let w = min?.max(self.last_time.unwrap_or(i64::MIN));
        if !self.idle_sent && self.last_time == Some(w) {
            return None;
        }
        self.idle_sent = false;
        self.last_time = Some(w);
        Some(Watermark::EventTime(w))
    }
}

/// Combines the watermarks of a subtask's input channels: the minimum over channels that are
/// not idle. A channel that ended no longer counts.
#[derive(Debug)]
pub struct InputWatermarks {
    channels: Vec<ChannelWatermark>,
    current: Option<i64>,
    idle_sent: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ChannelWatermark {
    Unknown,
    At(i64),
    Idle(Option<i64>),
    Ended,
}

impl InputWatermarks {
    pub fn new(channels: usize) -> Self {
        Self {
            channels: vec![ChannelWatermark::Unknown; channels],
            current: None,
            idle_sent: false,
        }
    }

    /// The channel delivered data: an idle channel becomes active again at its last watermark.
    pub fn on_data(&mut self, channel: usize) {
        if let ChannelWatermark::Idle(last) = self.channels[channel] {
            self.channels[channel] = last.map_or(ChannelWatermark::Unknown, ChannelWatermark::At);
        }
    }

    /// The channel ended.
    pub fn on_end(&mut self, channel: usize) -> Option<Watermark> {
        self.channels[channel] = ChannelWatermark::Ended;
        self.combine()
    }

    /// A watermark arrived on `channel`. Returns the combined watermark if it changed.
    pub fn update(&mut self, channel: usize, watermark: Watermark) -> Option<Watermark> {
        let last = match self.channels[channel] {
            ChannelWatermark::At(t) => Some(t),
            ChannelWatermark::Idle(t) => t,
            _ => None,
        };
        self.channels[channel] = match watermark {
            Watermark::EventTime(t) => ChannelWatermark::At(last.map_or(t, |l| l.max(t))),
            Watermark::Idle => ChannelWatermark::Idle(last),
        };
        self.combine()
    }

    fn combine(&mut self) -> Option<Watermark> {
        let mut min = None::<i64>;
        let mut any_active = false;
        for c in &self.channels {
            match c {
                ChannelWatermark::Unknown => return None,
                ChannelWatermark::At(t) => {
                    any_active = true;
                    min = Some(min.map_or(*t, |m| m.min(*t)));
                }
                ChannelWatermark::Idle(_) | ChannelWatermark::Ended => {}
            }
        }
        if !any_active {
            let all_ended = self.channels.iter().all(|c| *c == ChannelWatermark::Ended);
            if all_ended || self.idle_sent {
                return None;
            }
            self.idle_sent = true;
            return Some(Watermark::Idle);
        }
        let min = min.expect("an active channel has a watermark");
        match self.current {
            Some(current) if min <= current => {
                if self.idle_sent {
                    self.idle_sent = false;
                    return Some(Watermark::EventTime(current));
                }
                None
            }
            _ => {
                self.current = Some(min);
                self.idle_sent = false;
                Some(Watermark::EventTime(min))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_watermark_is_the_minimum_and_never_decreases() {
        let mut w = InputWatermarks::new(2);
        assert_eq!(w.update(0, Watermark::EventTime(10)), None);
        assert_eq!(
            w.update(1, Watermark::EventTime(5)),
            Some(Watermark::EventTime(5))
        );
        assert_eq!(
            w.update(1, Watermark::EventTime(20)),
            Some(Watermark::EventTime(10))
        );
        assert_eq!(w.update(0, Watermark::EventTime(8)), None);
        assert_eq!(
            w.update(0, Watermark::EventTime(15)),
            Some(Watermark::EventTime(15))
        );
    }

    #[test]
    fn idle_channels_do_not_hold_back_and_all_idle_propagates_idle() {
        let mut w = InputWatermarks::new(2);
        w.update(0, Watermark::EventTime(10));
        assert_eq!(w.update(1, Watermark::Idle), Some(Watermark::EventTime(10)));
        assert_eq!(
            w.update(0, Watermark::EventTime(30)),
            Some(Watermark::EventTime(30))
        );
        assert_eq!(w.update(0, Watermark::Idle), Some(Watermark::Idle));
        assert_eq!(
            w.update(1, Watermark::EventTime(12)),
            Some(Watermark::EventTime(30))
        );
    }

    #[test]
    fn source_watermark_waits_for_every_partition_then_releases_idle_ones() {
        let strategy = WatermarkStrategy::bounded("ts", Duration::from_millis(100))
            .with_idle_timeout(Duration::from_secs(5));
        let t0 = Instant::now();
        let mut w = PartitionWatermarks::new(&strategy, &[0, 1], t0);
        w.observe(0, Some(1_000), t0);
        assert_eq!(w.take_new(), None, "partition 1 has produced nothing yet");
        w.check_idle(t0 + Duration::from_secs(4));
        assert_eq!(w.take_new(), None);
        w.observe(0, Some(2_000), t0 + Duration::from_secs(5));
        w.check_idle(t0 + Duration::from_secs(5));
        assert_eq!(w.take_new(), Some(Watermark::EventTime(1_899)));
        w.observe(1, Some(500), t0 + Duration::from_secs(6));
        assert_eq!(
            w.take_new(),
            None,
            "a waking partition never moves the watermark back"
        );
        w.observe(1, Some(3_000), t0 + Duration::from_secs(6));
        assert_eq!(w.take_new(), None);
        w.observe(0, Some(4_000), t0 + Duration::from_secs(6));
        assert_eq!(w.take_new(), Some(Watermark::EventTime(2_899)));
    }
}
