//! A subtask's outputs: per port, the routers of the edges reading that port.

use std::sync::Arc;

use crate::error::Result;
use crate::message::{Message, Watermark};
use crate::operator::Collector;
use crate::runtime::metrics::NodeMetrics;
use crate::runtime::router::Router;

pub(crate) struct Outputs {
    ports: Vec<Vec<Router>>,
    port_names: Vec<String>,
    metrics: Arc<NodeMetrics>,
    node: String,
    subtask: usize,
    warned: Vec<bool>,
}

impl Outputs {
    pub fn new(
        ports: Vec<Vec<Router>>,
        port_names: Vec<String>,
        metrics: Arc<NodeMetrics>,
        node: String,
        subtask: usize,
    ) -> Self {
        let warned = vec![false; ports.len()];
        Self {
            ports,
            port_names,
            metrics,
            node,
            subtask,
            warned,
        }
    }

    pub fn port_count(&self) -> usize {
        self.ports.len()
    }

    /// Sends everything the operator collected, in order.
    pub async fn flush(&mut self, out: &mut Collector) -> Result<()> {
        let batches: Vec<_> = out.drain().collect();
        for (port, batch) in batches {
            let rows = batch.num_rows();
            self.metrics.add_port(port, rows);
            let routers = &mut self.ports[port];
            if routers.is_empty() {
                self.metrics.add_unconsumed(rows);
                if !self.warned[port] {
                    self.warned[port] = true;
                    tracing::warn!(
                        node = %self.node,
                        port = %self.port_names[port],
                        "rows emitted on an output nothing reads; they are counted as unconsumed"
                    );
                }
                continue;
            }
            self.metrics.add_out(&batch);
            let last = routers.len() - 1;
            for router in &mut routers[..last] {
                router.send_data(batch.clone()).await?;
            }
            routers[last].send_data(batch).await?;
        }
        Ok(())
    }

    /// Sends a control message on every port.
    pub async fn broadcast(&mut self, message: Message) -> Result<()> {
        if let Message::Watermark(Watermark::EventTime(watermark)) = message {
            self.metrics.set_watermark(self.subtask, watermark);
        }
        for routers in &self.ports {
            for router in routers {
                router.send_control(message.clone()).await?;
            }
        }
        Ok(())
    }
}
