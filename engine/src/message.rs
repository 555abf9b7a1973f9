//! What flows along the edges of a job graph: data batches and in-band control messages.

use arrow::record_batch::RecordBatch;

/// One item on an edge. Control messages travel in order with the data they follow.
#[derive(Debug, Clone)]
pub enum Message {
    /// A batch of rows with the edge's schema.
    Data(RecordBatch),
    /// Event-time progress of the sending subtask; never decreases on one channel.
    Watermark(Watermark),
    /// A checkpoint barrier: everything before it belongs to the checkpoint.
    Barrier(CheckpointBarrier),
    /// The sender has no more messages; it is the last message on a channel.
    End,
}

/// Event-time progress.
///
/// `EventTime(t)` promises that no row with event time `<= t` (milliseconds since the Unix
/// epoch) follows on this channel, except late rows. `Idle` says the sender has no data
/// for now and must not hold back the receiver's watermark until it sends again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Watermark {
    EventTime(i64),
    Idle,
}

impl Watermark {
    /// The watermark a bounded input sends at its end: every window may fire.
    pub const END_OF_TIME: Watermark = Watermark::EventTime(i64::MAX);
}

/// A checkpoint barrier injected at the sources.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckpointBarrier {
    /// Checkpoint ids increase by one per checkpoint of a job.
    pub checkpoint_id: u64,
    /// Wall-clock time the checkpoint was triggered, milliseconds since the Unix epoch.
    pub timestamp_ms: i64,
}
