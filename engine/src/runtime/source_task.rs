//! The task running one source subtask: reads batches, derives watermarks, sends downstream.
//!
//! At a stop barrier the source stops reading and stays idle until the job aborts it: it
//! sends neither an end-of-time watermark nor an end marker, so that nothing downstream
//! fires or flushes as if the input had ended.

use std::future::pending;
use std::sync::Arc;

use tokio::time::{interval, Instant, Interval, MissedTickBehavior};

use crate::error::Result;
use crate::event_time::max_event_time_ms;
use crate::gauges::PARTITION_WATERMARK_PREFIX;
use crate::message::{Message, Watermark};
use crate::runtime::checkpoint::Injection;
use crate::runtime::metrics::NodeMetrics;
use crate::runtime::outputs::Outputs;
use crate::runtime::TaskLink;
use crate::source::{Source, SourceBatch};
use crate::state::{state_batch, OperatorSnapshot, StateChunk, StateTable};
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
    restored_watermarks: Vec<(u32, Option<i64>)>,
    mut outputs: Outputs,
    metrics: Arc<NodeMetrics>,
    mut barriers: tokio::sync::mpsc::Receiver<Injection>,
    link: TaskLink,
) -> Result<()> {
    let partitions = source.partitions();
    // The figure name of each partition's watermark, made once.
    let mut partition_figures: std::collections::HashMap<u32, String> = Default::default();
    let mut watermarks = strategy.as_ref().map(|(s, column)| {
        let mut w = PartitionWatermarks::new(s, &partitions, Instant::now());
        w.restore_maxima(&restored_watermarks);
        (w, *column)
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
            Some(Injection { barrier, stop }) = barriers.recv() => {
                let started = std::time::Instant::now();
                let snapshot = snapshot(&mut *source, &watermarks)?;
                let pause = started.elapsed();
                outputs.broadcast(Message::Barrier(barrier)).await?;
                link.acknowledge(barrier.checkpoint_id, snapshot, pause)?;
                if stop {
                    // The link and the outputs stay open: the snapshot is still being
                    // written, and a closed output would read downstream as an end.
                    return pending().await;
                }
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
        let Some(SourceBatch {
            partition,
            batch,
            dead_letters,
        }) = next
        else {
            outputs
                .broadcast(Message::Watermark(Watermark::END_OF_TIME))
                .await?;
            outputs.broadcast(Message::End).await?;
            return link.finished(snapshot(&mut *source, &watermarks)?).await;
        };
        metrics.add_in(&batch);
        let watermark = match &mut watermarks {
            Some((w, column)) => {
                let now = Instant::now();
                w.observe(partition, max_event_time_ms(batch.column(*column))?, now);
                if let Some(watermark) = w.partition_watermark(partition) {
                    let figure = partition_figures.entry(partition).or_insert_with(|| {
                        format!(
                            "{PARTITION_WATERMARK_PREFIX}{}",
                            source.partition_name(partition)
                        )
                    });
                    metrics.gauges.set(figure, watermark);
                }
                w.check_idle(now);
                w.take_new()
            }
            None => None,
        };
        let mut out = crate::operator::Collector::new(outputs.port_count());
        out.emit(batch);
        if let Some(dead) = dead_letters.filter(|d| d.num_rows() > 0) {
            out.emit_to(1, dead);
        }
        outputs.flush(&mut out).await?;
        if let Some(wm) = watermark {
            outputs.broadcast(Message::Watermark(wm)).await?;
        }
    }
}

/// The source's positions plus its per-partition event-time maxima.
fn snapshot(
    source: &mut dyn Source,
    watermarks: &Option<(PartitionWatermarks, usize)>,
) -> Result<OperatorSnapshot> {
    let mut chunks = source.snapshot()?;
    if let Some((w, _)) = watermarks {
        chunks.push(watermark_chunk(&w.maxima())?);
    }
    Ok(OperatorSnapshot {
        watermark: None,
        chunks,
        checkpoint_id: None,
    })
}

/// State table of a source's per-partition event-time maxima.
const WATERMARKS_TABLE: &str = "__watermarks";

fn watermarks_table() -> StateTable {
    StateTable::new(
        WATERMARKS_TABLE,
        [std::sync::Arc::new(arrow::datatypes::Field::new(
            "max_event_time",
            arrow::datatypes::DataType::Int64,
            true,
        ))],
    )
}

fn watermark_chunk(maxima: &[(u32, Option<i64>)]) -> Result<StateChunk> {
    let shard = std::sync::Arc::new(arrow::array::UInt32Array::from_iter_values(
        maxima.iter().map(|m| m.0),
    ));
    let values = std::sync::Arc::new(arrow::array::Int64Array::from_iter(
        maxima.iter().map(|m| m.1),
    ));
    Ok(StateChunk::new(
        WATERMARKS_TABLE,
        state_batch(&watermarks_table(), shard, vec![values])?,
    ))
}

/// Splits the state of all old subtasks of a source into the source's own chunks and the
/// per-partition event-time maxima the runtime keeps.
pub(crate) fn split_source_state(
    old: &[OperatorSnapshot],
) -> (Vec<StateChunk>, Vec<(u32, Option<i64>)>) {
    use arrow::array::{Array, AsArray};
    use arrow::datatypes::{Int64Type, UInt32Type};
    let mut chunks = Vec::new();
    let mut maxima = Vec::new();
    for chunk in old.iter().flat_map(|s| s.chunks.iter()) {
        if chunk.table == WATERMARKS_TABLE {
            let partitions = chunk.batch.column(0).as_primitive::<UInt32Type>();
            let times = chunk.batch.column(1).as_primitive::<Int64Type>();
            for i in 0..chunk.batch.num_rows() {
                maxima.push((
                    partitions.value(i),
                    times.is_valid(i).then(|| times.value(i)),
                ));
            }
        } else {
            chunks.push(chunk.clone());
        }
    }
    (chunks, maxima)
}
