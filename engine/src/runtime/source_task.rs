//! The task running one source subtask: reads batches, derives watermarks, sends downstream.

use std::future::pending;
use std::sync::Arc;

use tokio::time::{interval, Instant, Interval, MissedTickBehavior};

use crate::error::Result;
use crate::event_time::max_event_time_ms;
use crate::message::{CheckpointBarrier, Message, Watermark};
use crate::runtime::metrics::NodeMetrics;
use crate::runtime::outputs::Outputs;
use crate::runtime::TaskLink;
use crate::source::{Source, SourceBatch};
use crate::watermark::{PartitionWatermarks, WatermarkStrategy};

async fn tick(timer: &mut Option<Interval>) {
    match timer {
        Some(t) => {
            t.tick().await;
        }
        None => pending::<()>().await,
    }
}

pub(crate) async fn run_source(
    mut source: Box<dyn Source>,
    strategy: Option<(WatermarkStrategy, usize)>,
    mut outputs: Outputs,
    metrics: Arc<NodeMetrics>,
    mut barriers: tokio::sync::mpsc::Receiver<CheckpointBarrier>,
    link: TaskLink,
) -> Result<()> {
    let partitions = source.partitions();
    let mut watermarks = strategy.as_ref().map(|(s, column)| {
        (
            PartitionWatermarks::new(s, &partitions, Instant::now()),
            *column,
        )
    });
    let mut idle_timer = strategy
        .as_ref()
        .and_then(|(s, _)| s.idle_timeout)
        .map(|timeout| {
            let mut t = interval((timeout / 4).max(std::time::Duration::from_millis(1)));
            t.set_missed_tick_behavior(MissedTickBehavior::Delay);
            t
        });
    loop {
        let next = tokio::select! {
            biased;
            Some(barrier) = barriers.recv() => {
                outputs.broadcast(Message::Barrier(barrier)).await?;
                link.acknowledge(barrier.checkpoint_id).await;
                continue;
            }
            next = source.next_batch() => next?,
            _ = tick(&mut idle_timer) => {
                if let Some((w, _)) = &mut watermarks {
                    w.check_idle(Instant::now());
                    if let Some(wm) = w.take_new() {
                        outputs.broadcast(Message::Watermark(wm)).await?;
                    }
                }
                continue;
            }
        };
        let Some(SourceBatch { partition, batch }) = next else {
            outputs
                .broadcast(Message::Watermark(Watermark::END_OF_TIME))
                .await?;
            outputs.broadcast(Message::End).await?;
            link.finished().await;
            return Ok(());
        };
        metrics.add_in(batch.num_rows());
        let watermark = match &mut watermarks {
            Some((w, column)) => {
                let now = Instant::now();
                w.observe(partition, max_event_time_ms(batch.column(*column))?, now);
                w.check_idle(now);
                w.take_new()
            }
            None => None,
        };
        let mut out = crate::operator::Collector::new(outputs.port_count());
        out.emit(batch);
        outputs.flush(&mut out).await?;
        if let Some(wm) = watermark {
            outputs.broadcast(Message::Watermark(wm)).await?;
        }
    }
}
