//! The Kafka source against a real Kafka-protocol broker (see `support::kafka`): decoding
//! with dead letters that name topic/partition/offset, and exactly-once reads through
//! kills, restores and rescaling, with offsets kept in checkpoints.

mod support;

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use support::committing_sink::{lines, Committed, CommittingSink};
use support::delta::query_table;
use support::kafka::{brokers, create_topic, produce, unique_topic};
use weir_connectors::format::{ColumnSpec, FormatConfig};
use weir_connectors::kafka::{KafkaSource, KafkaSourceConfig};
use weir_engine::sinks::CollectSink;
use weir_engine::{GraphBuilder, RuntimeConfig, DEAD_LETTER_PORT};

fn format() -> FormatConfig {
    FormatConfig::Json {
        columns: vec![
            ColumnSpec {
                nullable: false,
                ..ColumnSpec::new("key", "string")
            },
            ColumnSpec {
                nullable: false,
                ..ColumnSpec::new("seq", "int64")
            },
        ],
    }
}

fn config(topic: &str) -> KafkaSourceConfig {
    KafkaSourceConfig {
        metadata_columns: true,
        bounded: true,
        ..KafkaSourceConfig::new(&brokers(), &[topic], format())
    }
}

fn message(key: &str, seq: i64) -> Vec<u8> {
    format!(r#"{{"key":"{key}","seq":{seq}}}"#).into_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_messages_become_dead_letters_with_their_offsets() {
    let topic = unique_topic("dead-letters");
    create_topic(&topic, 1).await;
    let mut payloads: Vec<Vec<u8>> = (0..10).map(|i| message("k", i)).collect();
    payloads.insert(3, br#"{"key":"k","seq":"#.to_vec());
    payloads.insert(7, b"\xff\xfe not json".to_vec());
    payloads.insert(11, br#"{"key":"k"}"#.to_vec());
    produce(&topic, 0, &payloads).await;

    let mut g = GraphBuilder::new();
    let source = g
        .source(
            "kafka",
            KafkaSource::new(config(&topic)).await.unwrap(),
            1,
            None,
        )
        .unwrap();
    let rows = CollectSink::new();
    let dead = CollectSink::new();
    g.operator("rows", &rows, vec![source.main().forward()], 1)
        .unwrap();
    g.operator(
        "dead",
        &dead,
        vec![source.port(DEAD_LETTER_PORT).unwrap().forward()],
        1,
    )
    .unwrap();
    g.build()
        .unwrap()
        .run(&RuntimeConfig::default())
        .await
        .unwrap();

    use arrow::array::AsArray;
    use arrow::datatypes::Int64Type;
    let mut kept = Vec::new();
    for b in rows.batches() {
        let seq = b.column(1).as_primitive::<Int64Type>();
        let offset = b.column(4).as_primitive::<Int64Type>();
        for r in 0..b.num_rows() {
            kept.push((seq.value(r), offset.value(r)));
        }
    }
    assert_eq!(
        kept,
        vec![
            (0, 0),
            (1, 1),
            (2, 2),
            (3, 4),
            (4, 5),
            (5, 6),
            (6, 8),
            (7, 9),
            (8, 10),
            (9, 12)
        ]
    );
    let mut letters = Vec::new();
    for b in dead.batches() {
        for r in 0..b.num_rows() {
            letters.push((
                b.column(1).as_string::<i32>().value(r).to_string(),
                b.column(2).as_string::<i32>().value(r).to_string(),
                b.column(0).as_binary::<i32>().value(r).to_vec(),
            ));
        }
    }
    assert_eq!(letters.len(), 3, "{letters:?}");
    assert_eq!(letters[0].0, format!("{topic}/0/3"));
    assert_eq!(
        letters[0].1,
        "invalid JSON: Truncated record whilst reading value"
    );
    assert_eq!(letters[0].2, br#"{"key":"k","seq":"#.to_vec());
    assert_eq!(letters[1].0, format!("{topic}/0/7"));
    assert_eq!(letters[1].1, "invalid UTF-8 at byte 0");
    assert_eq!(letters[2].0, format!("{topic}/0/11"));
    assert!(letters[2].1.contains("seq"), "{}", letters[2].1);
}

fn graph(
    source: std::sync::Arc<KafkaSource>,
    parallelism: usize,
    out: &Committed,
) -> weir_engine::JobGraph {
    let mut g = GraphBuilder::new();
    let kafka = g.source("kafka", source, parallelism, None).unwrap();
    g.operator(
        "sink",
        &CommittingSink::new(out),
        vec![kafka.main().rebalance()],
        1,
    )
    .unwrap();
    g.build().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offsets_in_checkpoints_give_exactly_once_through_kills_and_rescaling() {
    let topic = unique_topic("exactly-once");
    create_topic(&topic, 3).await;
    let per_partition = 4_000i64;
    for partition in 0..3 {
        let payloads: Vec<Vec<u8>> = (0..per_partition)
            .map(|i| message(&format!("p{partition}"), i))
            .collect();
        produce(&topic, partition, &payloads).await;
    }
    let source = |batch_size| {
        let mut c = config(&topic);
        c.batch_size = batch_size;
        KafkaSource::new(c)
    };

    let straight: Committed = Default::default();
    graph(source(8192).await.unwrap(), 2, &straight)
        .run(&RuntimeConfig::default())
        .await
        .unwrap();
    let expected = lines(&straight);
    assert_eq!(expected.len(), 3 * per_partition as usize);

    let dir = tempfile::tempdir().unwrap();
    let config = RuntimeConfig {
        checkpoint_interval: Some(Duration::from_millis(10)),
        checkpoint_location: Some(dir.path().to_str().unwrap().to_string()),
        ..RuntimeConfig::default()
    };
    let out: Committed = Default::default();
    let mut restored = Vec::new();
    for (after_ms, parallelism) in [(30u64, 2usize), (30, 3), (30, 1)] {
        let job = graph(source(100).await.unwrap(), parallelism, &out)
            .start(&config)
            .await
            .unwrap();
        restored.push(job.restored().map(|r| r.checkpoint_id));
        let _ = tokio::time::timeout(Duration::from_millis(after_ms), job.join()).await;
    }
    graph(source(100).await.unwrap(), 2, &out)
        .run(&config)
        .await
        .unwrap();
    assert!(restored[1..].iter().all(Option::is_some), "{restored:?}");

    let got = lines(&out);
    assert_eq!(got.len(), expected.len(), "rows committed");
    assert!(
        got == expected,
        "committed rows differ from the straight run"
    );
    // Every (partition, offset) once, and every key's sequence without a gap.
    let mut seen = HashSet::new();
    let mut per_key: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for line in &got {
        let f: Vec<&str> = line.split('|').collect();
        assert!(
            seen.insert((f[3].to_string(), f[4].to_string())),
            "twice: {line}"
        );
        per_key
            .entry(f[0].to_string())
            .or_default()
            .push(f[1].parse().unwrap());
    }
    for (key, mut seqs) in per_key {
        seqs.sort_unstable();
        assert_eq!(seqs, (0..per_partition).collect::<Vec<_>>(), "key {key}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafka_to_delta_with_a_dead_letter_table() {
    use arrow::array::AsArray;
    use arrow::datatypes::Int64Type;
    use weir_connectors::delta::{add_delta_sink, DeltaSinkConfig};

    let topic = unique_topic("to-delta");
    create_topic(&topic, 1).await;
    let mut payloads: Vec<Vec<u8>> = (0..10).map(|i| message("k", i)).collect();
    payloads.insert(2, b"not json at all".to_vec());
    payloads.insert(6, br#"{"key":"k","seq":1.5e400}"#.to_vec());
    payloads.insert(12, Vec::new());
    produce(&topic, 0, &payloads).await;

    let dir = tempfile::tempdir().unwrap();
    let events = dir.path().join("events").to_str().unwrap().to_string();
    let dead = dir
        .path()
        .join("dead_letters")
        .to_str()
        .unwrap()
        .to_string();
    let mut g = GraphBuilder::new();
    let source = g
        .source(
            "kafka",
            KafkaSource::new(config(&topic)).await.unwrap(),
            1,
            None,
        )
        .unwrap();
    add_delta_sink(
        &mut g,
        "events",
        DeltaSinkConfig::new(&events, "kafka-to-delta"),
        source.main().forward(),
        1,
    )
    .unwrap();
    add_delta_sink(
        &mut g,
        "dead",
        DeltaSinkConfig::new(&dead, "kafka-to-delta"),
        source.port(DEAD_LETTER_PORT).unwrap().forward(),
        1,
    )
    .unwrap();
    let dir_checkpoints = dir.path().join("checkpoints");
    g.build()
        .unwrap()
        .run(&RuntimeConfig {
            checkpoint_location: Some(dir_checkpoints.to_str().unwrap().to_string()),
            ..RuntimeConfig::default()
        })
        .await
        .unwrap();

    let rows = query_table(
        &events,
        "SELECT seq, kafka_offset FROM t ORDER BY kafka_offset",
    )
    .await;
    let mut kept = Vec::new();
    for b in &rows {
        let (seq, offset) = (
            b.column(0).as_primitive::<Int64Type>(),
            b.column(1).as_primitive::<Int64Type>(),
        );
        kept.extend((0..b.num_rows()).map(|r| (seq.value(r), offset.value(r))));
    }
    assert_eq!(
        kept,
        vec![
            (0, 0),
            (1, 1),
            (2, 3),
            (3, 4),
            (4, 5),
            (5, 7),
            (6, 8),
            (7, 9),
            (8, 10),
            (9, 11)
        ]
    );
    let letters = query_table(&dead, "SELECT origin, reason FROM t ORDER BY origin").await;
    let mut found = Vec::new();
    for b in &letters {
        // DataFusion reads strings as views; compare them as plain strings.
        let text = |i: usize| {
            arrow::compute::cast(b.column(i), &arrow::datatypes::DataType::Utf8).unwrap()
        };
        let (origin, reason) = (text(0), text(1));
        for r in 0..b.num_rows() {
            found.push((
                origin.as_string::<i32>().value(r).to_string(),
                reason.as_string::<i32>().value(r).to_string(),
            ));
        }
    }
    let origins: Vec<&str> = found.iter().map(|f| f.0.as_str()).collect();
    assert_eq!(
        origins,
        [
            format!("{topic}/0/12"),
            format!("{topic}/0/2"),
            format!("{topic}/0/6")
        ]
    );
    assert_eq!(found[0].1, "empty record");
    assert!(found[1].1.starts_with("invalid JSON: "), "{}", found[1].1);
    assert!(found[2].1.starts_with("invalid JSON: "), "{}", found[2].1);
}

/// Reads every message of `partitions` partitions of `topic` until `expected` arrived:
/// `(partition, key, payload)`.
fn consume_all(topic: &str, partitions: i32, expected: usize) -> Vec<(i32, String, String)> {
    use rdkafka::config::ClientConfig;
    use rdkafka::consumer::{BaseConsumer, Consumer};
    use rdkafka::message::Message;
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers())
        .set("group.id", "weir-test")
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    let mut assignment = rdkafka::TopicPartitionList::new();
    for p in 0..partitions {
        assignment
            .add_partition_offset(topic, p, rdkafka::Offset::Beginning)
            .unwrap();
    }
    consumer.assign(&assignment).unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let mut read = Vec::new();
    while read.len() < expected && std::time::Instant::now() < deadline {
        if let Some(message) = consumer.poll(Duration::from_millis(100)) {
            let message = message.unwrap();
            read.push((
                message.partition(),
                String::from_utf8(message.key().unwrap_or_default().to_vec()).unwrap(),
                String::from_utf8(message.payload().unwrap_or_default().to_vec()).unwrap(),
            ));
        }
    }
    read
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_kafka_sink_delivers_every_row_once_per_key_partition() {
    use weir_connectors::generator::{BidGenerator, BidGeneratorConfig};
    use weir_connectors::kafka::KafkaSinkConfig;
    use weir_engine::ProjectConfig;
    const EVENTS: u64 = 20_000;
    let topic = unique_topic("sink");
    create_topic(&topic, 3).await;
    let config = BidGeneratorConfig {
        events: Some(EVENTS),
        auctions: 500,
        ..Default::default()
    };
    let generator = BidGenerator::new(config.clone()).unwrap();
    let mut g = GraphBuilder::new();
    let bids = g.source("bids", generator.clone(), 2, None).unwrap();
    let keyed = g
        .operator(
            "keyed",
            &ProjectConfig::new(["CAST(auction AS VARCHAR) AS key", "auction", "price"]),
            vec![bids.main().forward()],
            2,
        )
        .unwrap();
    let sink = KafkaSinkConfig {
        key: Some("key".into()),
        ..KafkaSinkConfig::new(&brokers(), &topic)
    };
    g.operator("to_kafka", &sink, vec![keyed.main().forward()], 2)
        .unwrap();
    g.build()
        .unwrap()
        .run(&RuntimeConfig::default())
        .await
        .unwrap();

    let read = consume_all(&topic, 3, EVENTS as usize);
    assert_eq!(read.len(), EVENTS as usize);
    let mut expected: BTreeMap<i64, (u64, i64)> = BTreeMap::new();
    for i in 0..EVENTS {
        let bid = config.bid(i);
        let entry = expected.entry(bid.auction).or_default();
        entry.0 += 1;
        entry.1 += bid.price;
    }
    let mut got: BTreeMap<i64, (u64, i64)> = BTreeMap::new();
    let mut partition_of: BTreeMap<String, i32> = BTreeMap::new();
    for (partition, key, payload) in &read {
        let row: serde_json::Value = serde_json::from_str(payload).unwrap();
        assert_eq!(row["key"].as_str().unwrap(), key);
        let entry = got.entry(row["auction"].as_i64().unwrap()).or_default();
        entry.0 += 1;
        entry.1 += row["price"].as_i64().unwrap();
        assert_eq!(
            *partition_of.entry(key.clone()).or_insert(*partition),
            *partition,
            "key {key} in two partitions"
        );
    }
    assert_eq!(got, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_source_reports_its_consumer_lag_per_partition() {
    let topic = unique_topic("lag");
    create_topic(&topic, 2).await;
    for partition in 0..2 {
        let payloads: Vec<Vec<u8>> = (0..3_000).map(|i| message("k", i)).collect();
        produce(&topic, partition, &payloads).await;
    }
    let mut following = config(&topic);
    following.bounded = false;
    let out: Committed = Default::default();
    let job = graph(KafkaSource::new(following).await.unwrap(), 1, &out)
        .start(&RuntimeConfig::default())
        .await
        .unwrap();
    let lag = |partition: i32| {
        let figures = job.metrics().node("kafka").unwrap().gauges.values();
        figures
            .get(&weir_connectors::kafka::source::lag_gauge(
                &topic, partition,
            ))
            .copied()
    };
    // The first look-up is made before anything is read: every message is behind.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while lag(0).is_none() || lag(1).is_none() {
        assert!(std::time::Instant::now() < deadline, "no lag reported");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!((lag(0), lag(1)), (Some(3_000), Some(3_000)));
    // Everything read, the next look-up (every 5 s) finds the source caught up.
    while lag(0) != Some(0) || lag(1) != Some(0) {
        assert!(
            std::time::Instant::now() < deadline,
            "lag {:?}",
            (lag(0), lag(1))
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(job.metrics().node("kafka").unwrap().rows_in(), 6_000);
    job.cancel();
}
