//! The task running one operator subtask.

use std::sync::Arc;

use crate::error::Result;
use crate::message::{Message, Watermark};
use crate::operator::{Collector, Operator};
use crate::runtime::checkpoint::Completion;
use crate::runtime::inputs::Inputs;
use crate::runtime::metrics::NodeMetrics;
use crate::runtime::outputs::Outputs;
use crate::runtime::TaskLink;
use crate::watermark::InputWatermarks;

pub(crate) async fn run_operator(
    mut operator: Box<dyn Operator>,
    mut inputs: Inputs,
    mut outputs: Outputs,
    metrics: Arc<NodeMetrics>,
    mut completed: tokio::sync::mpsc::Receiver<Completion>,
    link: TaskLink,
) -> Result<()> {
    let mut watermarks = InputWatermarks::new(inputs.len());
    let mut out = Collector::new(outputs.port_count());
    let mut pending_barrier = None;
    let mut last_completed = 0;
    loop {
        let next = tokio::select! {
            biased;
            Some(completion) = completed.recv() => {
                last_completed = complete(&mut *operator, completion).await?;
                continue;
            }
            next = inputs.recv() => next,
        };
        let Some((channel, envelope)) = next else {
            break;
        };
        let Some(envelope) = envelope else {
            // Senders gone without an end marker: the upstream task stopped; its own error
            // is what the job reports.
            inputs.end(channel);
            continue;
        };
        let (message, in_flight) = envelope.open();
        match message {
            Message::Data(batch) => {
                watermarks.on_data(channel);
                metrics.add_in(&batch);
                operator
                    .process_batch(inputs.input_of(channel), batch, &mut out)
                    .await?;
                drop(in_flight);
                outputs.flush(&mut out).await?;
            }
            Message::Watermark(w) => {
                if let Some(combined) = watermarks.update(channel, w) {
                    advance(&mut *operator, combined, &mut out, &mut outputs).await?;
                }
            }
            Message::Barrier(barrier) => {
                inputs.block(channel);
                pending_barrier = Some(barrier);
            }
            Message::End => {
                inputs.end(channel);
                if let Some(combined) = watermarks.on_end(channel) {
                    advance(&mut *operator, combined, &mut out, &mut outputs).await?;
                }
            }
        }
        if let Some(barrier) = pending_barrier {
            if inputs.all_live_blocked() {
                pending_barrier = None;
                let started = std::time::Instant::now();
                operator.on_barrier(barrier, &mut out).await?;
                let mut pause = started.elapsed();
                outputs.flush(&mut out).await?;
                outputs.broadcast(Message::Barrier(barrier)).await?;
                let started = std::time::Instant::now();
                let snapshot = operator.snapshot().await?;
                pause += started.elapsed();
                link.acknowledge(barrier.checkpoint_id, snapshot, pause)?;
                inputs.unblock_all();
            }
        }
    }
    operator.on_end(&mut out).await?;
    outputs.flush(&mut out).await?;
    outputs.broadcast(Message::End).await?;

    // Stay until a checkpoint holds the final state, so that what the operator did at the
    // end (a sink's last staged rows) is committed like everything before it.
    let covered = link.finished_and_covered(operator.snapshot().await?);
    tokio::pin!(covered);
    let mut covered_id: Option<u64> = None;
    loop {
        if covered_id.is_some_and(|c| last_completed >= c) {
            return Ok(());
        }
        tokio::select! {
            biased;
            Some(completion) = completed.recv() => {
                last_completed = complete(&mut *operator, completion).await?;
            }
            result = &mut covered, if covered_id.is_none() => match result? {
                Some(id) => covered_id = Some(id),
                None => return Ok(()),
            },
            else => return Ok(()),
        }
    }
}

/// Runs the operator's completion hook, then tells whoever waits for it; returns the id.
async fn complete(operator: &mut dyn Operator, completion: Completion) -> Result<u64> {
    operator
        .on_checkpoint_complete(completion.checkpoint_id)
        .await?;
    if let Some(done) = completion.done {
        let _ = done.send(());
    }
    Ok(completion.checkpoint_id)
}

async fn advance(
    operator: &mut dyn Operator,
    watermark: Watermark,
    out: &mut Collector,
    outputs: &mut Outputs,
) -> Result<()> {
    let forward = match watermark {
        Watermark::EventTime(t) => {
            let forward = operator.on_watermark(t, out).await?;
            outputs.flush(out).await?;
            forward
        }
        Watermark::Idle => Some(Watermark::Idle),
    };
    match forward {
        Some(w) => outputs.broadcast(Message::Watermark(w)).await,
        None => Ok(()),
    }
}
