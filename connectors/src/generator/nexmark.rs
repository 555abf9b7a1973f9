//! The Nexmark benchmark's events: people, auctions and bids, following the rules of the
//! reference generator (Apache Beam's and Flink's Nexmark `NexmarkGenerator`).
//!
//! Out of every 50 events, 1 is a person, 3 are auctions and 46 are bids, in that order
//! within each group of 50. Ids are derived from the event id the reference's way: the
//! `n`-th person gets id `1000 + n`, the `n`-th auction `1000 + n`; a random person or
//! auction is drawn among the recent ("active") ones plus a few not created yet. Hot items
//! (`1 - 1/ratio` of the draws): a bid's auction is the first of the last batch of 100
//! auctions, its bidder the second of the last 100 people, an auction's seller the first
//! of the last 100 people. Each event gets an `extra` padding of letters so the average
//! size, counted as the reference counts it (8 bytes per number, the text fields' bytes
//! and `extra`; a bid's channel and url not counted), is near 200 (person), 500 (auction)
//! and 100 (bid) bytes.
//!
//! A source has one schema, so the three kinds share one: an `event_type` column (0 person,
//! 1 auction, 2 bid, as Flink's Nexmark), then flat nullable columns prefixed `person_`,
//! `auction_` and `bid_` (set only on rows of that kind, so SQL reads them without struct
//! access), then `event_time`. Event `i` (event id `first_event_id + i`) is a pure function
//! of `(seed, i)`; its event time is `start_time + i / events_per_second`.

use std::fmt::Write;
use std::sync::Arc;

use arrow::array::{
    ArrayRef, Int32Builder, Int64Builder, StringBuilder, TimestampMillisecondBuilder,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use arrow::record_batch::RecordBatch;
use serde::{Deserialize, Serialize};
use weir_engine::{Source, SourcePlan, SubtaskInfo};

use super::clock::nominal_time_ms;
use super::partitioned::{EventBatches, Layout};
use super::random::EventRng;
use crate::error::{ConnectorError, Result};

const CONNECTOR: &str = "nexmark generator";
const SALT: u64 = 0x6e65_786d_6172_6b00;
const URL_SALT: u64 = 0x6e65_786d_7572_6c00;

/// Id of the first person and of the first auction.
pub const FIRST_PERSON_ID: i64 = 1000;
pub const FIRST_AUCTION_ID: i64 = 1000;
/// Auction categories are `10..15`.
pub const FIRST_CATEGORY_ID: i64 = 10;
const NUM_CATEGORIES: u64 = 5;

const PERSON_PROPORTION: u64 = 1;
const AUCTION_PROPORTION: u64 = 3;
const PROPORTION_DENOMINATOR: u64 = 50;

/// Random people and auctions may be this many ahead of the last one created.
const ID_LEAD: u64 = 10;
/// Hot auctions, bidders and sellers are one of every this many.
const HOT_BATCH: i64 = 100;
const HOT_CHANNELS_RATIO: u64 = 2;
const CHANNELS_NUMBER: u64 = 10_000;
const HOT_CHANNELS: [&str; 4] = ["Google", "Facebook", "Baidu", "Apple"];

const US_STATES: [&str; 6] = ["AZ", "CA", "ID", "OR", "WA", "WY"];
const US_CITIES: [&str; 10] = [
    "Phoenix",
    "Los Angeles",
    "San Francisco",
    "Boise",
    "Portland",
    "Bend",
    "Redmond",
    "Seattle",
    "Kent",
    "Cheyenne",
];
const FIRST_NAMES: [&str; 11] = [
    "Peter", "Paul", "Luke", "John", "Saul", "Vicky", "Kate", "Julie", "Sarah", "Deiter", "Walter",
];
const LAST_NAMES: [&str; 9] = [
    "Shultz", "Abrams", "Spencer", "White", "Bartels", "Walton", "Smith", "Jones", "Noris",
];

/// The kind of a Nexmark event, as stored in the `event_type` column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    Person = 0,
    Auction = 1,
    Bid = 2,
}

impl EventType {
    /// The kind of event `event_id`: 1 person, 3 auctions, 46 bids in every 50.
    pub fn of(event_id: u64) -> Self {
        let offset = event_id % PROPORTION_DENOMINATOR;
        if offset < PERSON_PROPORTION {
            Self::Person
        } else if offset < PERSON_PROPORTION + AUCTION_PROPORTION {
            Self::Auction
        } else {
            Self::Bid
        }
    }
}

/// Settings of the Nexmark generator; defaults are the reference's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NexmarkConfig {
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
    /// Id of the first event; ids (and so people and auctions) continue from there.
    pub first_event_id: u64,
    /// `1 - 1/hot_auction_ratio` of the bids go to the hot auction.
    pub hot_auction_ratio: u32,
    /// `1 - 1/hot_bidders_ratio` of the bids come from the hot bidder.
    pub hot_bidders_ratio: u32,
    /// `1 - 1/hot_sellers_ratio` of the auctions are sold by the hot seller.
    pub hot_sellers_ratio: u32,
    /// Random people are drawn among this many most recent ones.
    pub num_active_people: u64,
    /// Random auctions are drawn among this many most recent ones; also sets how long
    /// auctions last (about as long as it takes to create this many).
    pub num_in_flight_auctions: u64,
    pub avg_person_byte_size: u32,
    pub avg_auction_byte_size: u32,
    pub avg_bid_byte_size: u32,
}

impl Default for NexmarkConfig {
    fn default() -> Self {
        Self {
            seed: 42,
            events: Some(1_000_000),
            partitions: 4,
            batch_size: 8192,
            events_per_second: 10_000,
            rate_limit: None,
            // 2026-01-01T00:00:00Z
            start_time_ms: 1_767_225_600_000,
            first_event_id: 0,
            hot_auction_ratio: 2,
            hot_bidders_ratio: 4,
            hot_sellers_ratio: 4,
            num_active_people: 1000,
            num_in_flight_auctions: 100,
            avg_person_byte_size: 200,
            avg_auction_byte_size: 500,
            avg_bid_byte_size: 100,
        }
    }
}

impl NexmarkConfig {
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
        let positive = [
            ("events_per_second", self.events_per_second),
            ("hot_auction_ratio", self.hot_auction_ratio.into()),
            ("hot_bidders_ratio", self.hot_bidders_ratio.into()),
            ("hot_sellers_ratio", self.hot_sellers_ratio.into()),
            ("num_active_people", self.num_active_people),
            ("num_in_flight_auctions", self.num_in_flight_auctions),
        ];
        match positive.iter().find(|(_, value)| *value == 0) {
            Some((name, _)) => Err(ConnectorError::Config {
                connector: CONNECTOR,
                message: format!("{name} must be at least 1"),
            }),
            None => Ok(()),
        }
    }
}

/// The last person created by event `event_id` (itself if it is a person), base 0: each
/// group of 50 events opens with its one person.
fn last_base0_person_id(event_id: u64) -> i64 {
    (event_id / PROPORTION_DENOMINATOR * PERSON_PROPORTION) as i64
}

/// The last auction created by event `event_id` (itself if it is an auction), base 0; -1
/// before the first auction.
fn last_base0_auction_id(event_id: u64) -> i64 {
    let epoch = (event_id / PROPORTION_DENOMINATOR) as i64;
    let offset = event_id % PROPORTION_DENOMINATOR;
    let (epoch, offset) = if offset < PERSON_PROPORTION {
        (epoch - 1, AUCTION_PROPORTION - 1)
    } else if offset >= PERSON_PROPORTION + AUCTION_PROPORTION {
        (epoch, AUCTION_PROPORTION - 1)
    } else {
        (epoch, offset - PERSON_PROPORTION)
    };
    epoch * AUCTION_PROPORTION as i64 + offset as i64
}

/// Strings and prices drawn the reference's way.
mod text {
    use super::EventRng;

    /// Appends 3 to `max_len - 1` characters, each a letter or (one in 13) `special`.
    pub fn push_string(rng: &mut EventRng, max_len: u64, special: char, out: &mut String) {
        for _ in 0..3 + rng.below(max_len - 3) {
            if rng.below(13) == 0 {
                out.push(special);
            } else {
                out.push((b'a' + rng.below(26) as u8) as char);
            }
        }
    }

    /// Appends letters so that `current + extra` averages `average` (within +-20%).
    pub fn push_extra(rng: &mut EventRng, current: usize, average: u32, out: &mut String) {
        let average = average as usize;
        if current > average {
            return;
        }
        let desired = average - current;
        let delta = (desired as f64 * 0.2).round() as usize;
        let size = desired - delta
            + if delta == 0 {
                0
            } else {
                rng.below(2 * delta as u64) as usize
            };
        rng.push_letters(out, size);
    }

    /// `https://www.nexmark.com/xxx/xxx/xxx/item.htm?query=1`.
    pub fn push_base_url(rng: &mut EventRng, out: &mut String) {
        out.push_str("https://www.nexmark.com/");
        for _ in 0..3 {
            push_string(rng, 5, '_', out);
            out.push('/');
        }
        out.push_str("item.htm?query=1");
    }

    /// A price in cents, log-uniform between 1 and 1,000,000 dollars.
    pub fn price(rng: &mut EventRng) -> i64 {
        (10f64.powf(rng.unit() * 6.0) * 100.0).round() as i64
    }
}

/// The generator as a source.
#[derive(Debug)]
pub struct NexmarkGenerator {
    layout: Layout,
    events: Arc<NexmarkBatches>,
}

impl NexmarkGenerator {
    pub fn new(config: NexmarkConfig) -> Result<Arc<Self>> {
        config.validate()?;
        // Channel `k` of the hot ones, then channel-`n` as hot channel count + `n`; built
        // once, as the reference caches them.
        let url = |k: u64, suffix: Option<u32>| {
            let mut url = String::new();
            text::push_base_url(&mut EventRng::new(config.seed, URL_SALT, k), &mut url);
            if let Some(channel) = suffix {
                write!(url, "&channel_id={}", channel.reverse_bits()).expect("writing to a String");
            }
            url
        };
        let hot = HOT_CHANNELS.len() as u64;
        let hot_urls = (0..hot).map(|k| url(k, None)).collect();
        let channel_urls = (0..CHANNELS_NUMBER)
            .map(|n| url(hot + n, Some(n as u32)))
            .collect();
        Ok(Arc::new(Self {
            layout: config.layout(),
            events: Arc::new(NexmarkBatches {
                config,
                schema: Self::schema_ref(),
                hot_urls,
                channel_urls,
            }),
        }))
    }

    /// The schema of generated events: `event_type`, the person, auction and bid columns
    /// (null unless the row is of that kind), `event_time`.
    pub fn schema_ref() -> SchemaRef {
        let time = || DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into()));
        let nullable = |name: &str, data_type: DataType| Field::new(name, data_type, true);
        Arc::new(Schema::new(vec![
            Field::new("event_type", DataType::Int32, false),
            nullable("person_id", DataType::Int64),
            nullable("person_name", DataType::Utf8),
            nullable("person_email_address", DataType::Utf8),
            nullable("person_credit_card", DataType::Utf8),
            nullable("person_city", DataType::Utf8),
            nullable("person_state", DataType::Utf8),
            nullable("person_extra", DataType::Utf8),
            nullable("auction_id", DataType::Int64),
            nullable("auction_item_name", DataType::Utf8),
            nullable("auction_description", DataType::Utf8),
            nullable("auction_initial_bid", DataType::Int64),
            nullable("auction_reserve", DataType::Int64),
            nullable("auction_expires", time()),
            nullable("auction_seller", DataType::Int64),
            nullable("auction_category", DataType::Int64),
            nullable("auction_extra", DataType::Utf8),
            nullable("bid_auction", DataType::Int64),
            nullable("bid_bidder", DataType::Int64),
            nullable("bid_price", DataType::Int64),
            nullable("bid_channel", DataType::Utf8),
            nullable("bid_url", DataType::Utf8),
            nullable("bid_extra", DataType::Utf8),
            Field::new("event_time", time(), false),
        ]))
    }
}

impl SourcePlan for NexmarkGenerator {
    fn schema(&self) -> SchemaRef {
        self.events.schema.clone()
    }

    fn create(&self, subtask: &SubtaskInfo) -> weir_engine::Result<Box<dyn Source>> {
        Ok(self.layout.reader(self.events.clone(), subtask))
    }
}

#[derive(Debug)]
struct NexmarkBatches {
    config: NexmarkConfig,
    schema: SchemaRef,
    /// The url of each hot channel.
    hot_urls: Vec<String>,
    /// The url of each channel `channel-n`.
    channel_urls: Vec<String>,
}

/// Column builders of one batch.
struct Columns {
    event_type: Int32Builder,
    person_id: Int64Builder,
    person_name: StringBuilder,
    person_email: StringBuilder,
    person_credit_card: StringBuilder,
    person_city: StringBuilder,
    person_state: StringBuilder,
    person_extra: StringBuilder,
    auction_id: Int64Builder,
    auction_item_name: StringBuilder,
    auction_description: StringBuilder,
    auction_initial_bid: Int64Builder,
    auction_reserve: Int64Builder,
    auction_expires: TimestampMillisecondBuilder,
    auction_seller: Int64Builder,
    auction_category: Int64Builder,
    auction_extra: StringBuilder,
    bid_auction: Int64Builder,
    bid_bidder: Int64Builder,
    bid_price: Int64Builder,
    bid_channel: StringBuilder,
    bid_url: StringBuilder,
    bid_extra: StringBuilder,
    event_time: TimestampMillisecondBuilder,
    /// Reused for each generated text field.
    scratch: String,
}

impl Columns {
    fn new(rows: usize) -> Self {
        let text = |bytes_per_row: usize| StringBuilder::with_capacity(rows, rows * bytes_per_row);
        Self {
            event_type: Int32Builder::with_capacity(rows),
            person_id: Int64Builder::with_capacity(rows),
            person_name: text(1),
            person_email: text(1),
            person_credit_card: text(1),
            person_city: text(1),
            person_state: text(1),
            person_extra: text(3),
            auction_id: Int64Builder::with_capacity(rows),
            auction_item_name: text(1),
            auction_description: text(4),
            auction_initial_bid: Int64Builder::with_capacity(rows),
            auction_reserve: Int64Builder::with_capacity(rows),
            auction_expires: TimestampMillisecondBuilder::with_capacity(rows),
            auction_seller: Int64Builder::with_capacity(rows),
            auction_category: Int64Builder::with_capacity(rows),
            auction_extra: text(24),
            bid_auction: Int64Builder::with_capacity(rows),
            bid_bidder: Int64Builder::with_capacity(rows),
            bid_price: Int64Builder::with_capacity(rows),
            bid_channel: text(8),
            bid_url: text(60),
            bid_extra: text(70),
            event_time: TimestampMillisecondBuilder::with_capacity(rows),
            scratch: String::with_capacity(512),
        }
    }

    fn null_person(&mut self) {
        self.person_id.append_null();
        for column in [
            &mut self.person_name,
            &mut self.person_email,
            &mut self.person_credit_card,
            &mut self.person_city,
            &mut self.person_state,
            &mut self.person_extra,
        ] {
            column.append_null();
        }
    }

    fn null_auction(&mut self) {
        for column in [
            &mut self.auction_id,
            &mut self.auction_initial_bid,
            &mut self.auction_reserve,
            &mut self.auction_seller,
            &mut self.auction_category,
        ] {
            column.append_null();
        }
        self.auction_expires.append_null();
        for column in [
            &mut self.auction_item_name,
            &mut self.auction_description,
            &mut self.auction_extra,
        ] {
            column.append_null();
        }
    }

    fn null_bid(&mut self) {
        for column in [
            &mut self.bid_auction,
            &mut self.bid_bidder,
            &mut self.bid_price,
        ] {
            column.append_null();
        }
        for column in [
            &mut self.bid_channel,
            &mut self.bid_url,
            &mut self.bid_extra,
        ] {
            column.append_null();
        }
    }

    fn finish(mut self, schema: &SchemaRef) -> Result<RecordBatch> {
        let utc = |mut b: TimestampMillisecondBuilder| b.finish().with_timezone("UTC");
        let columns: Vec<ArrayRef> = vec![
            Arc::new(self.event_type.finish()),
            Arc::new(self.person_id.finish()),
            Arc::new(self.person_name.finish()),
            Arc::new(self.person_email.finish()),
            Arc::new(self.person_credit_card.finish()),
            Arc::new(self.person_city.finish()),
            Arc::new(self.person_state.finish()),
            Arc::new(self.person_extra.finish()),
            Arc::new(self.auction_id.finish()),
            Arc::new(self.auction_item_name.finish()),
            Arc::new(self.auction_description.finish()),
            Arc::new(self.auction_initial_bid.finish()),
            Arc::new(self.auction_reserve.finish()),
            Arc::new(utc(self.auction_expires)),
            Arc::new(self.auction_seller.finish()),
            Arc::new(self.auction_category.finish()),
            Arc::new(self.auction_extra.finish()),
            Arc::new(self.bid_auction.finish()),
            Arc::new(self.bid_bidder.finish()),
            Arc::new(self.bid_price.finish()),
            Arc::new(self.bid_channel.finish()),
            Arc::new(self.bid_url.finish()),
            Arc::new(self.bid_extra.finish()),
            Arc::new(utc(self.event_time)),
        ];
        Ok(RecordBatch::try_new(schema.clone(), columns)?)
    }
}

/// Appends the scratch text to `column` and returns its length in bytes.
fn flush(scratch: &mut String, column: &mut StringBuilder) -> usize {
    column.append_value(&*scratch);
    let len = scratch.len();
    scratch.clear();
    len
}

impl NexmarkBatches {
    /// A random person among the active ones, plus a few not created yet (base 0).
    fn next_base0_person_id(&self, event_id: u64, rng: &mut EventRng) -> i64 {
        let people = last_base0_person_id(event_id) as u64 + 1;
        let active = people.min(self.config.num_active_people);
        (people - active + rng.below(active + ID_LEAD)) as i64
    }

    /// A random auction among those likely in flight, plus a few not created yet (base 0).
    fn next_base0_auction_id(&self, event_id: u64, rng: &mut EventRng) -> i64 {
        let max = last_base0_auction_id(event_id);
        let min = (max - self.config.num_in_flight_auctions as i64).max(0);
        min + rng.below((max - min) as u64 + 1 + ID_LEAD) as i64
    }

    fn person(&self, event_id: u64, rng: &mut EventRng, c: &mut Columns) {
        c.person_id
            .append_value(last_base0_person_id(event_id) + FIRST_PERSON_ID);
        let s = &mut c.scratch;
        s.push_str(FIRST_NAMES[rng.below(FIRST_NAMES.len() as u64) as usize]);
        s.push(' ');
        s.push_str(LAST_NAMES[rng.below(LAST_NAMES.len() as u64) as usize]);
        let mut size = 8 + flush(s, &mut c.person_name);
        text::push_string(rng, 7, ' ', s);
        s.push('@');
        text::push_string(rng, 5, ' ', s);
        s.push_str(".com");
        size += flush(s, &mut c.person_email);
        for group in 0..4 {
            if group > 0 {
                s.push(' ');
            }
            write!(s, "{:04}", rng.below(10_000)).expect("writing to a String");
        }
        size += flush(s, &mut c.person_credit_card);
        let city = US_CITIES[rng.below(US_CITIES.len() as u64) as usize];
        let state = US_STATES[rng.below(US_STATES.len() as u64) as usize];
        c.person_city.append_value(city);
        c.person_state.append_value(state);
        size += city.len() + state.len();
        text::push_extra(rng, size, self.config.avg_person_byte_size, s);
        flush(s, &mut c.person_extra);
    }

    fn auction(&self, i: u64, event_id: u64, time: i64, rng: &mut EventRng, c: &mut Columns) {
        let config = &self.config;
        c.auction_id
            .append_value(last_base0_auction_id(event_id) + FIRST_AUCTION_ID);
        let seller = if rng.below(config.hot_sellers_ratio.into()) > 0 {
            last_base0_person_id(event_id) / HOT_BATCH * HOT_BATCH
        } else {
            self.next_base0_person_id(event_id, rng)
        };
        c.auction_seller.append_value(seller + FIRST_PERSON_ID);
        c.auction_category
            .append_value(FIRST_CATEGORY_ID + rng.below(NUM_CATEGORIES) as i64);
        let initial_bid = text::price(rng);
        c.auction_initial_bid.append_value(initial_bid);
        // Auctions last on average as long as it takes to create `num_in_flight_auctions`.
        let ahead = config.num_in_flight_auctions * PROPORTION_DENOMINATOR / AUCTION_PROPORTION;
        let horizon =
            nominal_time_ms(config.start_time_ms, config.events_per_second, i + ahead) - time;
        let length = 1 + rng.below((horizon * 2).max(1) as u64) as i64;
        c.auction_expires.append_value(time + length);
        let s = &mut c.scratch;
        text::push_string(rng, 20, ' ', s);
        c.auction_item_name.append_value(s.trim());
        let mut size = 8 + s.trim().len();
        s.clear();
        text::push_string(rng, 100, ' ', s);
        c.auction_description.append_value(s.trim());
        size += s.trim().len() + 8 * 5;
        s.clear();
        c.auction_reserve
            .append_value(initial_bid + text::price(rng));
        text::push_extra(rng, size, config.avg_auction_byte_size, s);
        flush(s, &mut c.auction_extra);
    }

    fn bid(&self, event_id: u64, rng: &mut EventRng, c: &mut Columns) {
        let config = &self.config;
        let auction = if rng.below(config.hot_auction_ratio.into()) > 0 {
            last_base0_auction_id(event_id) / HOT_BATCH * HOT_BATCH
        } else {
            self.next_base0_auction_id(event_id, rng)
        };
        c.bid_auction.append_value(auction + FIRST_AUCTION_ID);
        // The second of the batch, so hot bidders and hot sellers differ.
        let bidder = if rng.below(config.hot_bidders_ratio.into()) > 0 {
            last_base0_person_id(event_id) / HOT_BATCH * HOT_BATCH + 1
        } else {
            self.next_base0_person_id(event_id, rng)
        };
        c.bid_bidder.append_value(bidder + FIRST_PERSON_ID);
        c.bid_price.append_value(text::price(rng));
        let s = &mut c.scratch;
        if rng.below(HOT_CHANNELS_RATIO) > 0 {
            let hot = rng.below(HOT_CHANNELS.len() as u64) as usize;
            c.bid_channel.append_value(HOT_CHANNELS[hot]);
            c.bid_url.append_value(&self.hot_urls[hot]);
        } else {
            let channel = rng.below(CHANNELS_NUMBER);
            write!(s, "channel-{channel}").expect("writing to a String");
            flush(s, &mut c.bid_channel);
            c.bid_url.append_value(&self.channel_urls[channel as usize]);
        }
        text::push_extra(rng, 8 * 4, config.avg_bid_byte_size, s);
        flush(s, &mut c.bid_extra);
    }
}

impl EventBatches for NexmarkBatches {
    fn batch(&self, partition: u32, from: u64, rows: usize) -> Result<RecordBatch> {
        let config = &self.config;
        let mut c = Columns::new(rows);
        for k in from..from + rows as u64 {
            let i = partition as u64 + k * config.partitions as u64;
            let event_id = config.first_event_id + i;
            let time = nominal_time_ms(config.start_time_ms, config.events_per_second, i);
            let mut rng = EventRng::new(config.seed, SALT, event_id);
            let kind = EventType::of(event_id);
            c.event_type.append_value(kind as i32);
            match kind {
                EventType::Person => {
                    self.person(event_id, &mut rng, &mut c);
                    c.null_auction();
                    c.null_bid();
                }
                EventType::Auction => {
                    c.null_person();
                    self.auction(i, event_id, time, &mut rng, &mut c);
                    c.null_bid();
                }
                EventType::Bid => {
                    c.null_person();
                    c.null_auction();
                    self.bid(event_id, &mut rng, &mut c);
                }
            }
            c.event_time.append_value(time);
        }
        c.finish(&self.schema)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_follow_the_reference_rules() {
        // Event 0 is the first person, 1..4 the first auctions, 4..50 bids.
        assert_eq!(EventType::of(0), EventType::Person);
        assert_eq!(EventType::of(3), EventType::Auction);
        assert_eq!(EventType::of(4), EventType::Bid);
        assert_eq!(EventType::of(50), EventType::Person);
        assert_eq!(last_base0_person_id(0), 0);
        assert_eq!(last_base0_person_id(49), 0);
        assert_eq!(last_base0_person_id(50), 1);
        assert_eq!(last_base0_auction_id(0), -1);
        assert_eq!(last_base0_auction_id(1), 0);
        assert_eq!(last_base0_auction_id(3), 2);
        assert_eq!(last_base0_auction_id(40), 2);
        assert_eq!(last_base0_auction_id(50), 2);
        assert_eq!(last_base0_auction_id(51), 3);
    }
}
