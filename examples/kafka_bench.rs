//! Kafka source throughput: preloads a 2-partition topic with 200-byte JSON messages, then
//! reads it with the Kafka source (JSON decoding into Arrow) into a discarding sink at
//! parallelism 1 and 2. Prints messages/s, MB/s, weir's CPU seconds and the broker's
//! (when the broker is a local `tansu` process) as a Markdown table.
//!
//! Needs a broker: `WEIR_KAFKA_BROKERS=host:port cargo run --release --example kafka_bench
//! [-- --messages N] [--topic PRELOADED] [--property key=value ...]` (`scripts/test.sh`
//! starts one and runs this on a small input).

use std::time::{Duration, Instant};

#[path = "support/process.rs"]
mod process;
use process::{cpu_seconds, peak_mib, reset_peak};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::producer::{FutureProducer, FutureRecord};
use weir_connectors::format::{ColumnSpec, FormatConfig};
use weir_connectors::kafka::{KafkaSource, KafkaSourceConfig};
use weir_engine::sinks::DiscardSink;
use weir_engine::{GraphBuilder, RuntimeConfig};

const PARTITIONS: i32 = 2;

/// A 200-byte JSON event.
fn message(i: u64) -> Vec<u8> {
    let mut text = format!(
        r#"{{"ts":{},"service":"svc-{}","level":"info","status":{},"latency_ms":{},"user_id":{},"path":"/api/v1/items/{}","pad":""#,
        1_767_225_600_000 + i,
        i % 17,
        200 + (i % 7) * 50,
        i % 1000,
        i % 100_000,
        i % 5000
    );
    while text.len() < 198 {
        text.push('x');
    }
    text.push_str("\"}");
    text.into_bytes()
}

fn format() -> FormatConfig {
    let column = |name: &str, data_type: &str| ColumnSpec::new(name, data_type);
    FormatConfig::Json {
        columns: vec![
            column("ts", "timestamp"),
            column("service", "string"),
            column("level", "string"),
            column("status", "int32"),
            column("latency_ms", "int64"),
            column("user_id", "int64"),
            column("path", "string"),
        ],
    }
}

async fn preload(brokers: &str, topic: &str, messages: u64) {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .create()
        .expect("admin client");
    admin
        .create_topics(
            &[NewTopic::new(topic, PARTITIONS, TopicReplication::Fixed(1))],
            &AdminOptions::new().operation_timeout(Some(Duration::from_secs(10))),
        )
        .await
        .expect("create topic")
        .into_iter()
        .for_each(|r| {
            r.expect("create topic");
        });
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("linger.ms", "20")
        .set("batch.num.messages", "10000")
        .set("batch.size", "1000000")
        .set("queue.buffering.max.messages", "1000000")
        .set("compression.type", "none")
        .create()
        .expect("producer");
    let mut pending = Vec::new();
    for i in 0..messages {
        let payload = message(i);
        let record = FutureRecord::<(), _>::to(topic)
            .partition((i % PARTITIONS as u64) as i32)
            .payload(&payload);
        pending.push(
            producer
                .send_result(record)
                .map_err(|(e, _)| e)
                .expect("send"),
        );
        if pending.len() >= 200_000 {
            for delivery in pending.drain(..) {
                delivery.await.expect("delivery").expect("delivered");
            }
        }
    }
    for delivery in pending {
        delivery.await.expect("delivery").expect("delivered");
    }
}

/// CPU seconds used so far by local processes named `tansu` (the test broker), if any.
fn broker_cpu_seconds() -> Option<f64> {
    let mut total = None;
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let comm = std::fs::read_to_string(entry.path().join("comm")).unwrap_or_default();
        if comm.trim() != "tansu" {
            continue;
        }
        let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
        let fields: Vec<&str> = stat
            .rsplit(')')
            .next()
            .unwrap_or("")
            .split_whitespace()
            .collect();
        let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok());
        if let (Some(user), Some(system)) = (ticks(11), ticks(12)) {
            *total.get_or_insert(0.0) += (user + system) / 100.0;
        }
    }
    total
}

/// Reads `messages` messages of `topic` into a discarding sink; returns (seconds, weir CPU
/// seconds, broker CPU seconds, peak MiB).
async fn read(
    brokers: &str,
    topic: &str,
    messages: u64,
    parallelism: usize,
    properties: &[(String, String)],
) -> (f64, f64, Option<f64>, f64) {
    let mut config = KafkaSourceConfig::new(brokers, &[topic], format());
    config.properties.extend(properties.iter().cloned());
    let source = KafkaSource::new(config).await.expect("kafka source");
    let mut graph = GraphBuilder::new();
    let events = graph
        .source("events", source, parallelism, None)
        .expect("source");
    graph
        .operator(
            "discard",
            &DiscardSink,
            vec![events.main().forward()],
            parallelism,
        )
        .expect("sink");
    reset_peak();
    let (cpu, broker, started) = (cpu_seconds(), broker_cpu_seconds(), Instant::now());
    let job = graph
        .build()
        .expect("graph")
        .start(&RuntimeConfig::default())
        .await
        .expect("start");
    let metrics = job.metrics().clone();
    let deadline = Instant::now() + Duration::from_secs(600);
    while metrics.node("discard").map_or(0, |n| n.rows_in()) < messages {
        assert!(
            Instant::now() < deadline,
            "not all messages read in 10 minutes"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let seconds = started.elapsed().as_secs_f64();
    let broker = broker_cpu_seconds()
        .zip(broker)
        .map(|(after, before)| after - before);
    drop(job);
    (seconds, cpu_seconds() - cpu, broker, peak_mib())
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let messages: u64 = args
        .iter()
        .position(|a| a == "--messages")
        .and_then(|i| args.get(i + 1))
        .map_or(10_000_000, |n| n.parse().expect("--messages N"));
    // `--property key=value` (repeatable): librdkafka consumer properties to try.
    let properties: Vec<(String, String)> = args
        .windows(2)
        .filter(|w| w[0] == "--property")
        .map(|w| {
            let (key, value) = w[1].split_once('=').expect("--property key=value");
            (key.to_string(), value.to_string())
        })
        .collect();
    // `--topic NAME`: read an already preloaded topic instead of loading a new one.
    let existing = args
        .iter()
        .position(|a| a == "--topic")
        .and_then(|i| args.get(i + 1))
        .cloned();
    let brokers = std::env::var("WEIR_KAFKA_BROKERS")
        .expect("set WEIR_KAFKA_BROKERS=host:port (scripts/test.sh starts a broker)");
    let topic = match existing {
        Some(topic) => topic,
        None => {
            let topic = format!("kafka-bench-{}", std::process::id());
            let loading = Instant::now();
            preload(&brokers, &topic, messages).await;
            println!(
                "preloaded {messages} messages of {} bytes into {PARTITIONS} partitions in {:.1?}",
                message(0).len(),
                loading.elapsed()
            );
            topic
        }
    };
    if !properties.is_empty() {
        println!("consumer properties: {properties:?}");
    }
    println!("| parallelism | messages/s | MB/s | weir CPU s | broker CPU s | messages/s per weir core | peak MiB |");
    println!("|---|---|---|---|---|---|---|");
    for parallelism in [1, 2] {
        let (seconds, cpu, broker, peak) =
            read(&brokers, &topic, messages, parallelism, &properties).await;
        let rate = messages as f64 / seconds;
        println!(
            "| {parallelism} | {:.2} M | {:.0} | {cpu:.1} | {} | {:.2} M | {peak:.0} |",
            rate / 1e6,
            rate * message(0).len() as f64 / 1e6,
            broker.map_or("n/a".into(), |b| format!("{b:.1}")),
            messages as f64 / cpu.max(1e-9) / 1e6,
        );
    }
}
