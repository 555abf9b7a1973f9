//! The Kafka source: one consumer per subtask on its assigned partitions.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use arrow::array::{
    ArrayRef, BinaryBuilder, Int32Array, Int64Array, StringArray, TimestampMillisecondArray,
    UInt32Array,
};
use arrow::compute::take_record_batch;
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use arrow::record_batch::RecordBatch;
use async_trait::async_trait;
use futures::FutureExt;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer, StreamConsumer};
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};
use tokio::time::Instant;
use weir_engine::state::{state_batch, StateChunk, StateTable};
use weir_engine::{NodeGauges, Source, SourceBatch, SourcePlan, SubtaskInfo};

use super::assignment::{partition_id, subtask_of};
use super::{KafkaSourceConfig, StartOffset};
use crate::error::{ConnectorError, Result};
use crate::format::dead_letter::{dead_letter_schema, DeadLetters};
use crate::format::{DecodeErrorPolicy, Decoder};
use crate::retry::InPlaceRetry;

/// How long metadata and offset lookups may take.
const LOOKUP_TIMEOUT: Duration = Duration::from_secs(10);

/// State table of the source: the next offset to read per partition.
const OFFSETS_TABLE: &str = "offsets";

fn offsets_table() -> StateTable {
    StateTable::new(
        OFFSETS_TABLE,
        [
            Arc::new(Field::new("topic", DataType::Utf8, false)),
            Arc::new(Field::new("partition", DataType::Int32, false)),
            Arc::new(Field::new("next_offset", DataType::Int64, false)),
        ],
    )
}

fn kafka_error(what: String) -> impl FnOnce(rdkafka::error::KafkaError) -> ConnectorError {
    move |e| ConnectorError::Kafka(format!("{what}: {e}"))
}

/// A Kafka source: the configuration plus the partitions found when the job was built.
pub struct KafkaSource {
    config: Arc<KafkaSourceConfig>,
    schema: SchemaRef,
    decoded_schema: SchemaRef,
    /// `(topic, partition)` of every partition at plan time.
    partitions: Vec<(String, i32)>,
}

impl KafkaSource {
    /// Checks the configuration and looks up the topics' partitions.
    pub async fn new(config: KafkaSourceConfig) -> Result<Arc<Self>> {
        let mut source = Self::checked(config)?;
        let config = source.config.clone();
        source.partitions = discover(config.clone()).await?;
        if source.partitions.is_empty() {
            return Err(ConnectorError::Config {
                connector: "kafka source",
                message: format!(
                    "no partitions found for topics {:?}{} at {}",
                    config.topics,
                    config
                        .topic_pattern
                        .as_ref()
                        .map(|p| format!(" or pattern '{p}'"))
                        .unwrap_or_default(),
                    config.brokers
                ),
            });
        }
        Ok(Arc::new(source))
    }

    /// Checks the configuration without contacting the brokers: the plan has the schema
    /// of the rows the source would read but no partitions, so its subtasks read nothing.
    /// For checking a job without running it.
    pub fn unconnected(config: KafkaSourceConfig) -> Result<Arc<Self>> {
        Self::checked(config).map(Arc::new)
    }

    /// The configuration checked and the schema derived, without partitions.
    fn checked(config: KafkaSourceConfig) -> Result<Self> {
        let bad = |message: String| ConnectorError::Config {
            connector: "kafka source",
            message,
        };
        if config.topics.is_empty() && config.topic_pattern.is_none() {
            return Err(bad("give `topics`, `topic_pattern` or both".into()));
        }
        if config.batch_size == 0 {
            return Err(bad("batch_size must be at least 1".into()));
        }
        let decoded_schema = config.format.schema()?;
        let mut fields: Vec<Field> = decoded_schema
            .fields()
            .iter()
            .map(|f| f.as_ref().clone())
            .collect();
        if config.metadata_columns {
            fields.extend([
                Field::new("kafka_topic", DataType::Utf8, false),
                Field::new("kafka_partition", DataType::Int32, false),
                Field::new("kafka_offset", DataType::Int64, false),
                Field::new(
                    "kafka_timestamp",
                    DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())),
                    true,
                ),
                Field::new("kafka_key", DataType::Binary, true),
            ]);
        }
        Ok(Self {
            config: Arc::new(config),
            schema: Arc::new(Schema::new(fields)),
            decoded_schema,
            partitions: Vec::new(),
        })
    }
}

/// The consumer settings: weir's defaults for throughput and exactly-once reads, then the
/// user's properties.
fn client_config(config: &KafkaSourceConfig) -> ClientConfig {
    let mut client = ClientConfig::new();
    client
        .set("bootstrap.servers", &config.brokers)
        .set("group.id", "weir")
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("isolation.level", "read_committed")
        .set("fetch.wait.max.ms", "5")
        .set("max.partition.fetch.bytes", (10 * 1024 * 1024).to_string())
        .set("allow.auto.create.topics", "false");
    for (key, value) in &config.properties {
        client.set(key, value);
    }
    client
}

/// Every partition of the configured topics (and of topics matching the pattern), sorted.
async fn discover(config: Arc<KafkaSourceConfig>) -> Result<Vec<(String, i32)>> {
    tokio::task::spawn_blocking(move || {
        let pattern = match &config.topic_pattern {
            Some(p) => Some(regex::Regex::new(p).map_err(|e| ConnectorError::Config {
                connector: "kafka source",
                message: format!("topic_pattern '{p}' is not a valid regular expression: {e}"),
            })?),
            None => None,
        };
        let consumer: BaseConsumer = client_config(&config)
            .create()
            .map_err(kafka_error("creating a Kafka client".into()))?;
        let metadata = consumer
            .fetch_metadata(None, LOOKUP_TIMEOUT)
            .map_err(kafka_error(format!(
                "reading metadata from {}",
                config.brokers
            )))?;
        let mut found = Vec::new();
        for topic in metadata.topics() {
            let wanted = config.topics.iter().any(|t| t == topic.name())
                || pattern.as_ref().is_some_and(|p| p.is_match(topic.name()));
            if wanted && topic.error().is_none() {
                found.extend(
                    topic
                        .partitions()
                        .iter()
                        .map(|p| (topic.name().to_string(), p.id())),
                );
            }
        }
        found.sort();
        Ok(found)
    })
    .await
    .map_err(|e| ConnectorError::Kafka(format!("metadata lookup stopped: {e}")))?
}

impl SourcePlan for KafkaSource {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn dead_letter_schema(&self) -> Option<SchemaRef> {
        (self.config.on_decode_error == DecodeErrorPolicy::DeadLetter).then(dead_letter_schema)
    }

    fn create(&self, subtask: &SubtaskInfo) -> weir_engine::Result<Box<dyn Source>> {
        let mine = self
            .partitions
            .iter()
            .filter(|(t, p)| subtask_of(t, *p, subtask.parallelism) == subtask.index)
            .map(|(t, p)| PartitionCursor::new(t, *p))
            .collect();
        Ok(Box::new(KafkaReader {
            config: self.config.clone(),
            schema: self.schema.clone(),
            decoder: self.config.format.decoder(self.config.max_record_bytes)?,
            decoded_schema: self.decoded_schema.clone(),
            subtask: (subtask.index, subtask.parallelism),
            partitions: mine,
            consumer: None,
            ready: VecDeque::new(),
            next_discovery: Instant::now() + self.config.partition_discovery,
            needs_assign: true,
            read_failures: InPlaceRetry::default(),
            dropped: 0,
            gauges: subtask.gauges.clone(),
            next_lag_check: Instant::now(),
            lag_checking: Arc::default(),
            offset_lookup: None,
        }))
    }
}

/// One assigned partition.
struct PartitionCursor {
    topic: String,
    partition: i32,
    id: u32,
    /// The offset of the next message to hand out; `None` until known (the start offset
    /// is resolved when the consumer is assigned).
    next: Option<i64>,
    /// In bounded mode, the offset at which the partition is done.
    end: Option<i64>,
    /// The offset of the next message expected from the consumer.
    fetched: i64,
}

impl PartitionCursor {
    fn new(topic: &str, partition: i32) -> Self {
        Self {
            topic: topic.to_string(),
            partition,
            id: partition_id(topic, partition),
            next: None,
            end: None,
            fetched: 0,
        }
    }

    fn done(&self) -> bool {
        matches!((self.next, self.end), (Some(n), Some(e)) if n >= e)
    }
}

/// Offsets to find for one partition: where to start (when not restored) and, in
/// bounded mode, where to stop.
struct OffsetLookup {
    cursor: usize,
    topic: String,
    partition: i32,
    start: Option<i64>,
    end: Option<i64>,
}

/// Asks the brokers for start and end offsets (blocking).
fn look_up_offsets(
    consumer: &StreamConsumer,
    config: &KafkaSourceConfig,
    mut lookups: Vec<OffsetLookup>,
) -> Result<Vec<OffsetLookup>> {
    for l in &mut lookups {
        let (topic, partition) = (l.topic.as_str(), l.partition);
        let (low, high) = consumer
            .fetch_watermarks(topic, partition, LOOKUP_TIMEOUT)
            .map_err(kafka_error(format!(
                "reading offsets of {topic}/{partition}"
            )))?;
        // The end is the broker's end offset now (tansu 0.6 reports the base offset of the
        // last record batch plus one, so there a bounded read may stop early).
        l.end = config.bounded.then_some(high);
        l.start = Some(match config.start {
            StartOffset::Earliest => low,
            StartOffset::Latest => high,
            StartOffset::Timestamp(ms) => {
                let mut query = TopicPartitionList::new();
                query
                    .add_partition_offset(topic, partition, Offset::Offset(ms))
                    .map_err(kafka_error(format!("looking up {topic}/{partition}")))?;
                let found =
                    consumer
                        .offsets_for_times(query, LOOKUP_TIMEOUT)
                        .map_err(kafka_error(format!(
                            "looking up offsets by time in {topic}/{partition}"
                        )))?;
                match found.elements().first().map(|e| e.offset()) {
                    Some(Offset::Offset(o)) => o,
                    _ => high,
                }
            }
        });
    }
    Ok(lookups)
}

/// Messages of one partition received together, not yet handed out. Payloads are stored
/// back to back in one buffer (message `i` is `data[ends[i - 1]..ends[i]]`), so receiving
/// costs one copy per message and no allocation per message.
struct Received {
    cursor: usize,
    data: Vec<u8>,
    ends: Vec<usize>,
    offsets: Vec<i64>,
    /// Keys and timestamps, only kept when the source adds metadata columns.
    keys: Vec<Option<Vec<u8>>>,
    timestamps: Vec<Option<i64>>,
}

impl Received {
    fn new(cursor: usize) -> Self {
        Self {
            cursor,
            data: Vec::new(),
            ends: Vec::new(),
            offsets: Vec::new(),
            keys: Vec::new(),
            timestamps: Vec::new(),
        }
    }

    /// The payloads, in order.
    fn records(&self) -> Vec<&[u8]> {
        let mut start = 0;
        self.ends
            .iter()
            .map(|&end| {
                let record = &self.data[start..end];
                start = end;
                record
            })
            .collect()
    }

    /// Keeps the first `keep` messages.
    fn truncate(&mut self, keep: usize) {
        if keep >= self.offsets.len() {
            return;
        }
        self.data
            .truncate(if keep == 0 { 0 } else { self.ends[keep - 1] });
        self.ends.truncate(keep);
        self.offsets.truncate(keep);
        self.keys.truncate(keep);
        self.timestamps.truncate(keep);
    }
}

struct KafkaReader {
    config: Arc<KafkaSourceConfig>,
    schema: SchemaRef,
    decoded_schema: SchemaRef,
    decoder: Box<dyn Decoder>,
    subtask: (usize, usize),
    partitions: Vec<PartitionCursor>,
    consumer: Option<Arc<StreamConsumer>>,
    /// Received messages, per partition, in order.
    ready: VecDeque<Received>,
    next_discovery: Instant,
    /// Whether the partitions must be (re)assigned before reading.
    needs_assign: bool,
    /// Messages dropped under the `drop` policy.
    dropped: u64,
    /// Consecutive failed reads; the read is retried in place until these run out.
    read_failures: InPlaceRetry,
    /// Where the lag of each partition is reported ([`lag_gauge`]).
    gauges: NodeGauges,
    next_lag_check: Instant,
    /// Set while a look-up of end offsets runs (at most one at a time).
    lag_checking: Arc<AtomicBool>,
    /// The look-up of start and end offsets of an assignment, while it runs.
    offset_lookup: Option<tokio::task::JoinHandle<Result<Vec<OffsetLookup>>>>,
}

/// How often a subtask looks up its partitions' end offsets for their lag.
const LAG_CHECK_EVERY: Duration = Duration::from_secs(5);

/// The node figure of the consumer lag of `topic`/`partition`: messages in the partition
/// after the next one the source hands out, as of the last look (every 5 s).
pub fn lag_gauge(topic: &str, partition: i32) -> String {
    format!("{KAFKA_LAG_PREFIX}{topic}/{partition}")
}

/// The prefix of the figures [`lag_gauge`] names.
pub const KAFKA_LAG_PREFIX: &str = "kafka_lag/";

impl KafkaReader {
    /// Resolves unknown offsets (and end offsets when bounded), creating the consumer
    /// first if needed, then (re)assigns every partition of this subtask at its next offset.
    async fn assign(&mut self) -> Result<()> {
        let consumer = match &self.consumer {
            Some(c) => c.clone(),
            None => {
                let created: StreamConsumer = client_config(&self.config)
                    .create()
                    .map_err(kafka_error("creating a Kafka consumer".into()))?;
                let created = Arc::new(created);
                self.consumer = Some(created.clone());
                created
            }
        };
        // One look-up at a time: a call cancelled while it runs (the source task's select)
        // leaves it here for the next call to await, instead of starting another that
        // would pile up on a slow broker.
        let lookup = match &mut self.offset_lookup {
            Some(lookup) => lookup,
            None => {
                let lookups: Vec<OffsetLookup> = self
                    .partitions
                    .iter()
                    .enumerate()
                    .filter(|(_, c)| c.next.is_none() || (self.config.bounded && c.end.is_none()))
                    .map(|(cursor, c)| OffsetLookup {
                        cursor,
                        topic: c.topic.clone(),
                        partition: c.partition,
                        start: None,
                        end: None,
                    })
                    .collect();
                let (config, client) = (self.config.clone(), consumer.clone());
                self.offset_lookup
                    .insert(tokio::task::spawn_blocking(move || {
                        look_up_offsets(&client, &config, lookups)
                    }))
            }
        };
        let joined = lookup.await;
        self.offset_lookup = None;
        let resolved =
            joined.map_err(|e| ConnectorError::Kafka(format!("offset lookup stopped: {e}")))??;
        for found in resolved {
            let cursor = &mut self.partitions[found.cursor];
            cursor.next = cursor.next.or(found.start);
            cursor.end = cursor.end.or(found.end);
        }
        let mut assignment = TopicPartitionList::new();
        for c in self.partitions.iter_mut().filter(|c| !c.done()) {
            let next = c.next.expect("resolved above");
            c.fetched = next;
            assignment
                .add_partition_offset(&c.topic, c.partition, Offset::Offset(next))
                .map_err(kafka_error(format!(
                    "assigning {}/{}",
                    c.topic, c.partition
                )))?;
        }
        // Received but not handed out: read again from the assigned offsets.
        self.ready.clear();
        consumer
            .assign(&assignment)
            .map_err(kafka_error("assigning partitions".into()))?;
        Ok(())
    }

    /// Picks up partitions created since the last look.
    async fn discover_new_partitions(&mut self) -> Result<()> {
        let (index, parallelism) = self.subtask;
        let found = discover(self.config.clone()).await?;
        for (topic, partition) in found {
            let known = self
                .partitions
                .iter()
                .any(|c| c.topic == topic && c.partition == partition);
            if !known && subtask_of(&topic, partition, parallelism) == index {
                tracing::info!(%topic, partition, "reading a new Kafka partition from its beginning");
                let mut cursor = PartitionCursor::new(&topic, partition);
                cursor.next = Some(0);
                self.partitions.push(cursor);
                self.needs_assign = true;
            }
        }
        Ok(())
    }

    /// Every [`LAG_CHECK_EVERY`], looks up the end offsets of this subtask's partitions in
    /// the background and reports how far behind them the source is.
    fn check_lag(&mut self, consumer: &Arc<StreamConsumer>) {
        if Instant::now() < self.next_lag_check || self.lag_checking.swap(true, Ordering::AcqRel) {
            return;
        }
        self.next_lag_check = Instant::now() + LAG_CHECK_EVERY;
        let positions: Vec<(String, i32, i64)> = self
            .partitions
            .iter()
            .filter_map(|c| Some((c.topic.clone(), c.partition, c.next?)))
            .collect();
        let (consumer, gauges) = (consumer.clone(), self.gauges.clone());
        let checking = self.lag_checking.clone();
        tokio::task::spawn_blocking(move || {
            for (topic, partition, next) in positions {
                // A failed look-up leaves the last figure; reading goes on regardless.
                if let Ok((_, end)) = consumer.fetch_watermarks(&topic, partition, LOOKUP_TIMEOUT) {
                    gauges.set(&lag_gauge(&topic, partition), (end - next).max(0));
                }
            }
            checking.store(false, Ordering::Release);
        });
    }

    /// Receives what is available now (waiting for the first message), grouped per
    /// partition.
    async fn receive(&mut self) -> Result<()> {
        let consumer = self.consumer.clone().expect("connected");
        self.check_lag(&consumer);
        let mut groups: BTreeMap<usize, Received> = BTreeMap::new();
        let mut count = 0;
        let first = tokio::time::timeout(Duration::from_millis(100), consumer.recv()).await;
        let Ok(first) = first else {
            return Ok(());
        };
        let mut next = Some(first);
        // Messages come in runs of one partition: try the previous one's cursor first.
        let mut last_cursor: Option<usize> = None;
        while let Some(result) = next {
            let message = match result {
                Ok(message) => message,
                Err(error) => {
                    // Keep what this read received; the consumer carries on after the
                    // failure (librdkafka reconnects by itself).
                    self.ready.extend(groups.into_values());
                    return self.read_failed(error).await;
                }
            };
            let matches = |c: &PartitionCursor| {
                c.partition == message.partition() && c.topic == message.topic()
            };
            let at = last_cursor
                .filter(|&c| matches(&self.partitions[c]))
                .or_else(|| self.partitions.iter().position(matches));
            last_cursor = at;
            // Skip what an earlier assignment already delivered.
            let at = at.filter(|&c| message.offset() >= self.partitions[c].fetched);
            if let Some(cursor) = at {
                self.partitions[cursor].fetched = message.offset() + 1;
                let group = groups
                    .entry(cursor)
                    .or_insert_with(|| Received::new(cursor));
                group
                    .data
                    .extend_from_slice(message.payload().unwrap_or_default());
                group.ends.push(group.data.len());
                group.offsets.push(message.offset());
                if self.config.metadata_columns {
                    group.keys.push(message.key().map(<[u8]>::to_vec));
                    group.timestamps.push(message.timestamp().to_millis());
                }
                count += 1;
            }
            if count >= self.config.batch_size {
                break;
            }
            next = consumer.recv().now_or_never();
        }
        self.ready.extend(groups.into_values());
        self.read_failures.succeeded();
        Ok(())
    }

    /// Waits before the next read after `error`, or gives up with it when the reads have
    /// failed [`InPlaceRetry::ATTEMPTS`] times in a row.
    async fn read_failed(&mut self, error: rdkafka::error::KafkaError) -> Result<()> {
        let Some(delay) = self.read_failures.failed() else {
            return Err(ConnectorError::Kafka(format!(
                "reading from Kafka failed {} times in a row: {error}",
                self.read_failures.failures()
            )));
        };
        tracing::warn!(
            %error,
            failures = self.read_failures.failures(),
            "reading from Kafka failed; trying again in {delay:?}"
        );
        tokio::time::sleep(delay).await;
        Ok(())
    }

    /// Decodes received messages of one partition into a batch, advancing its position.
    fn decode(&mut self, mut received: Received) -> Result<SourceBatch> {
        let cursor = &self.partitions[received.cursor];
        // In bounded mode, messages at or past the end offset are not ours to read.
        if let Some(end) = cursor.end {
            let keep = received.offsets.iter().take_while(|o| **o < end).count();
            received.truncate(keep);
        }
        let (topic, partition, id) = (cursor.topic.clone(), cursor.partition, cursor.id);
        let records = received.records();
        let offsets = &received.offsets;
        let origin = |i: usize| format!("{topic}/{partition}/{}", offsets[i]);
        let mut dead = DeadLetters::default();
        let decoded = self.decoder.decode(&records, &origin, &mut dead)?;
        if let Some(last) = received.offsets.last() {
            self.partitions[received.cursor].next = Some(last + 1);
        }
        let mut batch = decoded.batch;
        if self.config.metadata_columns {
            batch =
                self.with_metadata(batch, &topic, partition, &received, decoded.kept.as_deref())?;
        }
        let dead_letters = match self.config.on_decode_error {
            DecodeErrorPolicy::DeadLetter => dead.finish()?,
            DecodeErrorPolicy::Drop => {
                if !dead.is_empty() {
                    self.dropped += dead.len() as u64;
                    tracing::warn!(%topic, partition, dropped = dead.len(), total = self.dropped, "dropped undecodable Kafka messages");
                }
                None
            }
            DecodeErrorPolicy::Fail => {
                if let Some(letters) = dead.finish()? {
                    use arrow::array::AsArray;
                    return Err(ConnectorError::Decode(format!(
                        "{}: {}",
                        letters.column(1).as_string::<i32>().value(0),
                        letters.column(2).as_string::<i32>().value(0)
                    )));
                }
                None
            }
        };
        Ok(SourceBatch {
            partition: id,
            batch,
            dead_letters,
        })
    }

    fn with_metadata(
        &self,
        decoded: RecordBatch,
        topic: &str,
        partition: i32,
        received: &Received,
        kept: Option<&[u32]>,
    ) -> Result<RecordBatch> {
        let rows = received.offsets.len();
        let mut keys = BinaryBuilder::new();
        for k in &received.keys {
            keys.append_option(k.as_deref());
        }
        let metadata = RecordBatch::try_new(
            Arc::new(Schema::new(
                self.schema.fields()[self.decoded_schema.fields().len()..].to_vec(),
            )),
            vec![
                Arc::new(StringArray::from_iter_values(std::iter::repeat_n(
                    topic, rows,
                ))) as ArrayRef,
                Arc::new(Int32Array::from_value(partition, rows)),
                Arc::new(Int64Array::from(received.offsets.clone())),
                Arc::new(
                    TimestampMillisecondArray::from(received.timestamps.clone())
                        .with_timezone("UTC"),
                ),
                Arc::new(keys.finish()),
            ],
        )?;
        let metadata = match kept {
            Some(kept) => take_record_batch(&metadata, &UInt32Array::from(kept.to_vec()))?,
            None => metadata,
        };
        let mut columns = decoded.columns().to_vec();
        columns.extend(metadata.columns().iter().cloned());
        Ok(RecordBatch::try_new(self.schema.clone(), columns)?)
    }
}

#[async_trait]
impl Source for KafkaReader {
    fn partitions(&self) -> Vec<u32> {
        self.partitions.iter().map(|c| c.id).collect()
    }

    fn partition_name(&self, id: u32) -> String {
        match self.partitions.iter().find(|c| c.id == id) {
            Some(c) => format!("{}/{}", c.topic, c.partition),
            None => id.to_string(),
        }
    }

    async fn next_batch(&mut self) -> weir_engine::Result<Option<SourceBatch>> {
        loop {
            // Cancel safety: a dropped call before the assignment completed redoes it.
            if self.needs_assign {
                self.assign().await?;
                self.needs_assign = false;
            }
            if let Some(received) = self.ready.pop_front() {
                if self.partitions[received.cursor].done() {
                    continue;
                }
                return Ok(Some(self.decode(received)?));
            }
            if self.config.bounded && self.partitions.iter().all(PartitionCursor::done) {
                return Ok(None);
            }
            if !self.config.bounded && Instant::now() >= self.next_discovery {
                self.next_discovery = Instant::now() + self.config.partition_discovery;
                self.discover_new_partitions().await?;
                continue;
            }
            self.receive().await?;
        }
    }

    fn snapshot(&mut self) -> weir_engine::Result<Vec<StateChunk>> {
        let known: Vec<&PartitionCursor> = self
            .partitions
            .iter()
            .filter(|c| c.next.is_some())
            .collect();
        if known.is_empty() {
            return Ok(Vec::new());
        }
        let columns: Vec<ArrayRef> = vec![
            Arc::new(StringArray::from_iter_values(
                known.iter().map(|c| c.topic.as_str()),
            )),
            Arc::new(Int32Array::from_iter_values(
                known.iter().map(|c| c.partition),
            )),
            Arc::new(Int64Array::from_iter_values(
                known.iter().map(|c| c.next.expect("filtered")),
            )),
        ];
        let shard = Arc::new(UInt32Array::from_iter_values(known.iter().map(|c| c.id)));
        Ok(vec![StateChunk::new(
            OFFSETS_TABLE,
            state_batch(&offsets_table(), shard, columns)?,
        )])
    }

    fn restore(&mut self, chunks: Vec<StateChunk>) -> weir_engine::Result<()> {
        use arrow::array::AsArray;
        use arrow::datatypes::{Int32Type, Int64Type};
        let mut saved: HashMap<(String, i32), i64> = HashMap::new();
        for chunk in chunks.iter().filter(|c| c.table == OFFSETS_TABLE) {
            let topics = chunk.batch.column(1).as_string::<i32>();
            let partitions = chunk.batch.column(2).as_primitive::<Int32Type>();
            let next = chunk.batch.column(3).as_primitive::<Int64Type>();
            for row in 0..chunk.batch.num_rows() {
                saved.insert(
                    (topics.value(row).to_string(), partitions.value(row)),
                    next.value(row),
                );
            }
        }
        for cursor in &mut self.partitions {
            if let Some(next) = saved.get(&(cursor.topic.clone(), cursor.partition)) {
                cursor.next = Some(*next);
            }
        }
        Ok(())
    }
}
