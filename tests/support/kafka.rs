//! A real Kafka-protocol broker for the tests: the one at `WEIR_KAFKA_BROKERS`, which
//! `scripts/test.sh` starts (tansu) when it is not set.

use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::producer::{FutureProducer, FutureRecord};

/// The broker address; fails the test with what to do when there is none.
pub fn brokers() -> String {
    std::env::var("WEIR_KAFKA_BROKERS").unwrap_or_else(|_| {
        panic!(
            "WEIR_KAFKA_BROKERS is not set: run the tests with `bash scripts/test.sh`, which \
             starts a broker, or point WEIR_KAFKA_BROKERS at one (host:port)"
        )
    })
}

/// A topic name no other test (or earlier run against the same broker) uses.
pub fn unique_topic(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{prefix}-{}-{nanos}", std::process::id())
}

/// Creates `topic` with `partitions` partitions.
pub async fn create_topic(topic: &str, partitions: i32) {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", brokers())
        .create()
        .unwrap();
    let results = admin
        .create_topics(
            &[NewTopic::new(topic, partitions, TopicReplication::Fixed(1))],
            &AdminOptions::new().operation_timeout(Some(Duration::from_secs(10))),
        )
        .await
        .unwrap();
    for result in results {
        result.unwrap_or_else(|(t, e)| panic!("creating topic {t}: {e}"));
    }
}

/// Produces `payloads` to `partition` of `topic`, in order, waiting for every delivery;
/// one message per record batch, so bounded reads see every message (see below).
pub async fn produce(topic: &str, partition: i32, payloads: &[Vec<u8>]) {
    // One message per record batch: tansu 0.6 reports the end offset of a partition as
    // the base offset of its last record batch plus one.
    send(topic, partition, payloads, "1").await
}

/// Like [`produce`], but in record batches of many messages (fast; for jobs that do not
/// read up to the end offsets seen at start).
pub async fn produce_batched(topic: &str, partition: i32, payloads: &[Vec<u8>]) {
    send(topic, partition, payloads, "10000").await
}

async fn send(topic: &str, partition: i32, payloads: &[Vec<u8>], batch_messages: &str) {
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", brokers())
        .set("linger.ms", "5")
        .set("batch.num.messages", batch_messages)
        .set("enable.idempotence", "false")
        .create()
        .unwrap();
    let mut deliveries = Vec::with_capacity(payloads.len());
    for payload in payloads {
        let record = FutureRecord::<(), _>::to(topic)
            .partition(partition)
            .payload(payload);
        deliveries.push(producer.send_result(record).map_err(|(e, _)| e).unwrap());
    }
    for delivery in deliveries {
        delivery
            .await
            .unwrap()
            .unwrap_or_else(|(e, _)| panic!("producing to {topic}/{partition}: {e}"));
    }
}
