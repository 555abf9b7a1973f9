//! The Kafka sink, at least once: every row becomes one JSON message; an idempotent
//! producer sends them, and a checkpoint barrier (and the end of the input) waits until
//! the brokers acknowledged every message sent before it. A restored job may send rows
//! again that were sent after its checkpoint, never fewer.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use arrow::array::{Array, AsArray};
use arrow::compute::cast;
use arrow::datatypes::{DataType, SchemaRef};
use arrow::record_batch::RecordBatch;
use async_trait::async_trait;
use rdkafka::config::ClientConfig;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{DeliveryFuture, FutureProducer, FutureRecord};
use serde::{Deserialize, Serialize};
use weir_engine::{
    CheckpointBarrier, Collector, EngineError, Operator, OperatorFactory, OperatorPlan, OutputPort,
    PlanContext, SubtaskInfo,
};

use crate::error::ConnectorError;
use crate::format::json_encode::{json_lines, json_rows};

/// Settings of a Kafka sink.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KafkaSinkConfig {
    /// `host:port[,host:port...]`.
    pub brokers: String,
    /// The topic every row goes to.
    pub topic: String,
    /// A string column whose value becomes the message key (the partitioner then keeps
    /// one key in one partition); without one, messages spread over the partitions.
    #[serde(default)]
    pub key: Option<String>,
    /// Any librdkafka producer property, passed through (they win over weir's defaults:
    /// `enable.idempotence=true`, `acks=all`, `linger.ms=5`).
    #[serde(default)]
    pub properties: BTreeMap<String, String>,
}

impl KafkaSinkConfig {
    /// Writes rows to `topic` at `brokers`, with every other setting at its default.
    pub fn new(brokers: &str, topic: &str) -> Self {
        Self {
            brokers: brokers.into(),
            topic: topic.into(),
            key: None,
            properties: BTreeMap::new(),
        }
    }
}

impl OperatorFactory for KafkaSinkConfig {
    fn plan(&self, ctx: &PlanContext<'_>) -> weir_engine::Result<Arc<dyn OperatorPlan>> {
        let input = ctx.single_input()?.clone();
        let key = match &self.key {
            None => None,
            Some(name) => {
                let index = input.index_of(name).map_err(|_| {
                    EngineError::config(
                        ctx.node,
                        format!("key column '{name}' is not in the input"),
                    )
                })?;
                let data_type = input.field(index).data_type();
                if !matches!(
                    data_type,
                    DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
                ) {
                    return Err(EngineError::config(
                        ctx.node,
                        format!(
                            "key column '{name}' must be a string, it is {}",
                            input.field(index).data_type()
                        ),
                    ));
                }
                Some(index)
            }
        };
        Ok(Arc::new(KafkaSinkPlan {
            config: Arc::new(self.clone()),
            input,
            key,
        }))
    }
}

struct KafkaSinkPlan {
    config: Arc<KafkaSinkConfig>,
    input: SchemaRef,
    key: Option<usize>,
}

impl OperatorPlan for KafkaSinkPlan {
    fn outputs(&self) -> Vec<OutputPort> {
        Vec::new()
    }

    fn create(&self, _: &SubtaskInfo) -> weir_engine::Result<Box<dyn Operator>> {
        let mut client = ClientConfig::new();
        client
            .set("bootstrap.servers", &self.config.brokers)
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .set("linger.ms", "5");
        for (key, value) in &self.config.properties {
            client.set(key, value);
        }
        let producer: FutureProducer = client.create().map_err(|e| {
            ConnectorError::Kafka(format!(
                "creating a producer for {}: {e}",
                self.config.topic
            ))
        })?;
        Ok(Box::new(KafkaSink {
            config: self.config.clone(),
            input: self.input.clone(),
            key: self.key,
            producer,
            in_flight: Vec::new(),
        }))
    }
}

struct KafkaSink {
    config: Arc<KafkaSinkConfig>,
    input: SchemaRef,
    key: Option<usize>,
    producer: FutureProducer,
    /// Deliveries not yet confirmed.
    in_flight: Vec<DeliveryFuture>,
}

impl KafkaSink {
    /// Waits until the brokers acknowledged every message sent so far.
    async fn settle(&mut self) -> weir_engine::Result<()> {
        for delivery in self.in_flight.drain(..) {
            match delivery.await {
                Ok(Ok(_)) => {}
                Ok(Err((error, message))) => {
                    return Err(ConnectorError::Kafka(format!(
                        "delivering to {}/{}: {error}",
                        self.config.topic,
                        rdkafka::message::Message::partition(&message)
                    ))
                    .into())
                }
                Err(_) => {
                    return Err(ConnectorError::Kafka(format!(
                        "delivering to {}: the producer went away",
                        self.config.topic
                    ))
                    .into())
                }
            }
        }
        Ok(())
    }
}

#[async_trait]
impl Operator for KafkaSink {
    async fn process_batch(
        &mut self,
        _: usize,
        batch: RecordBatch,
        _: &mut Collector,
    ) -> weir_engine::Result<()> {
        debug_assert_eq!(batch.schema().fields(), self.input.fields());
        let text = json_lines(&batch)?;
        let keys = match self.key {
            Some(k) => Some(cast(batch.column(k), &DataType::Utf8)?),
            None => None,
        };
        let keys = keys.as_ref().map(|k| k.as_string::<i32>());
        for (row, payload) in json_rows(&text).enumerate() {
            let key = keys
                .as_ref()
                .filter(|k| k.is_valid(row))
                .map(|k| k.value(row));
            loop {
                let mut record = FutureRecord::<str, [u8]>::to(&self.config.topic).payload(payload);
                if let Some(key) = key {
                    record = record.key(key);
                }
                match self.producer.send_result(record) {
                    Ok(delivery) => {
                        self.in_flight.push(delivery);
                        break;
                    }
                    Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => {
                        // The local queue is full: wait for what is in flight, then retry.
                        self.settle().await?;
                        if self.in_flight.is_empty() {
                            tokio::time::sleep(Duration::from_millis(1)).await;
                        }
                    }
                    Err((error, _)) => {
                        return Err(ConnectorError::Kafka(format!(
                            "producing to {}: {error}",
                            self.config.topic
                        ))
                        .into())
                    }
                }
            }
        }
        Ok(())
    }

    async fn on_barrier(
        &mut self,
        _: CheckpointBarrier,
        _: &mut Collector,
    ) -> weir_engine::Result<()> {
        self.settle().await
    }

    async fn on_end(&mut self, _: &mut Collector) -> weir_engine::Result<()> {
        self.settle().await
    }
}
