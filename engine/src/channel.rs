//! Edges between subtasks: bounded channels whose bound is counted in rows.
//!
//! A sender acquires one permit per row of a batch before the batch enters the channel and
//! the permits travel with the batch; they are released only when the receiver has finished
//! with it. So at most `capacity_rows` rows are ever in flight on one channel, and a slow
//! consumer slows its producers down all the way to the sources. A single batch larger than
//! the capacity takes the whole capacity. Control messages take no row permits; the number
//! of messages is bounded separately.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, OwnedSemaphorePermit, Semaphore};

use crate::message::Message;

/// Fill level of one channel, shared by its two ends.
#[derive(Debug, Default)]
pub struct ChannelMetrics {
    capacity_rows: usize,
    rows_in_flight: AtomicUsize,
    max_rows_in_flight: AtomicUsize,
    /// Nanoseconds senders waited because the channel was full.
    blocked_nanos: AtomicU64,
}

impl ChannelMetrics {
    /// The channel's bound in rows.
    pub fn capacity_rows(&self) -> usize {
        self.capacity_rows
    }
    /// Rows sent but not yet finished by the receiver.
    pub fn rows_in_flight(&self) -> usize {
        self.rows_in_flight.load(Ordering::Relaxed)
    }
    /// The largest value `rows_in_flight` ever had.
    pub fn max_rows_in_flight(&self) -> usize {
        self.max_rows_in_flight.load(Ordering::Relaxed)
    }
    /// How long senders waited because the channel was full (backpressure).
    pub fn blocked(&self) -> Duration {
        Duration::from_nanos(self.blocked_nanos.load(Ordering::Relaxed))
    }
    fn add_blocked(&self, since: Instant) {
        self.blocked_nanos
            .fetch_add(since.elapsed().as_nanos() as u64, Ordering::Relaxed);
    }
}

/// A message plus the row permits it holds until the receiver drops it.
#[derive(Debug)]
pub struct Envelope {
    message: Message,
    permit: Option<RowPermit>,
}

impl Envelope {
    /// Splits the message from its row permits; the rows count as in flight until the
    /// returned [`InFlight`] is dropped.
    pub fn open(self) -> (Message, InFlight) {
        (self.message, InFlight(self.permit))
    }
}

/// Holds a received batch's rows as in flight until dropped.
#[derive(Debug)]
pub struct InFlight(#[allow(dead_code)] Option<RowPermit>);

#[derive(Debug)]
struct RowPermit {
    _permit: OwnedSemaphorePermit,
    rows: usize,
    metrics: Arc<ChannelMetrics>,
}

impl Drop for RowPermit {
    fn drop(&mut self) {
        self.metrics
            .rows_in_flight
            .fetch_sub(self.rows, Ordering::Relaxed);
    }
}

/// The sending end of a row-bounded channel.
#[derive(Debug, Clone)]
pub struct Sender {
    tx: mpsc::Sender<Envelope>,
    rows: Arc<Semaphore>,
    metrics: Arc<ChannelMetrics>,
}

/// The receiving end of a row-bounded channel.
#[derive(Debug)]
pub struct Receiver {
    rx: mpsc::Receiver<Envelope>,
}

/// Creates a channel holding at most `capacity_rows` rows and `capacity_messages` messages.
pub fn channel(
    capacity_rows: usize,
    capacity_messages: usize,
) -> (Sender, Receiver, Arc<ChannelMetrics>) {
    let capacity_rows = capacity_rows.max(1);
    let (tx, rx) = mpsc::channel(capacity_messages.max(1));
    let metrics = Arc::new(ChannelMetrics {
        capacity_rows,
        ..Default::default()
    });
    let sender = Sender {
        tx,
        rows: Arc::new(Semaphore::new(capacity_rows)),
        metrics: metrics.clone(),
    };
    (sender, Receiver { rx }, metrics)
}

/// The receiver has gone away (its task ended or failed).
#[derive(Debug, Clone, Copy)]
pub struct Disconnected;

impl Sender {
    /// Awaits `future`, counting in [`ChannelMetrics::blocked`] how long it took once its
    /// first poll found it not ready. The future is awaited as is, so the task's
    /// cooperative budget and wake-ups are the channel's own.
    async fn waited<F: std::future::Future>(&self, future: F) -> F::Output {
        let mut future = std::pin::pin!(future);
        let first = std::future::poll_fn(|cx| std::task::Poll::Ready(future.as_mut().poll(cx)));
        if let std::task::Poll::Ready(output) = first.await {
            return output;
        }
        let since = Instant::now();
        let output = future.await;
        self.metrics.add_blocked(since);
        output
    }

    /// Sends a message, waiting while the channel is full (the wait is counted in
    /// [`ChannelMetrics::blocked`]).
    pub async fn send(&self, message: Message) -> Result<(), Disconnected> {
        let permit = match &message {
            Message::Data(batch) if batch.num_rows() > 0 => {
                let rows = batch.num_rows().min(self.metrics.capacity_rows);
                let permit = self
                    .waited(self.rows.clone().acquire_many_owned(rows as u32))
                    .await
                    .map_err(|_| Disconnected)?;
                let now = self
                    .metrics
                    .rows_in_flight
                    .fetch_add(rows, Ordering::Relaxed)
                    + rows;
                self.metrics
                    .max_rows_in_flight
                    .fetch_max(now, Ordering::Relaxed);
                Some(RowPermit {
                    _permit: permit,
                    rows,
                    metrics: self.metrics.clone(),
                })
            }
            _ => None,
        };
        self.waited(self.tx.send(Envelope { message, permit }))
            .await
            .map_err(|_| Disconnected)
    }
}

impl Receiver {
    /// Receives the next message; `None` once every sender is gone.
    pub async fn recv(&mut self) -> Option<Envelope> {
        self.rx.recv().await
    }

    /// Polls for the next message (see [`tokio::sync::mpsc::Receiver::poll_recv`]).
    pub fn poll_recv(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Envelope>> {
        self.rx.poll_recv(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::Int64Array;
    use arrow::record_batch::RecordBatch;

    fn batch(rows: i64) -> Message {
        let a = Int64Array::from_iter_values(0..rows);
        Message::Data(RecordBatch::try_from_iter([("a", Arc::new(a) as _)]).unwrap())
    }

    #[tokio::test]
    async fn a_sender_waiting_on_a_full_channel_counts_the_wait() {
        let (tx, mut rx, metrics) = channel(10, 100);
        tx.send(batch(10)).await.unwrap();
        assert_eq!(metrics.blocked(), Duration::ZERO);
        let sender = tokio::spawn(async move { tx.send(batch(5)).await.unwrap() });
        tokio::time::sleep(Duration::from_millis(50)).await;
        drop(rx.recv().await.unwrap());
        sender.await.unwrap();
        assert!(
            metrics.blocked() >= Duration::from_millis(40),
            "{:?}",
            metrics.blocked()
        );
    }

    #[tokio::test]
    async fn rows_are_released_when_the_receiver_drops_the_envelope() {
        let (tx, mut rx, metrics) = channel(10, 100);
        tx.send(batch(6)).await.unwrap();
        assert_eq!(metrics.rows_in_flight(), 6);
        // 6 + 6 > 10: the second send must wait until the first envelope is dropped.
        let tx2 = tx.clone();
        let pending = tokio::spawn(async move { tx2.send(batch(6)).await.is_ok() });
        tokio::task::yield_now().await;
        assert!(!pending.is_finished());
        let first = rx.recv().await.unwrap();
        drop(first);
        assert!(pending.await.unwrap());
        assert_eq!(metrics.rows_in_flight(), 6);
        assert_eq!(metrics.max_rows_in_flight(), 6);
        // A batch above the capacity takes the whole capacity instead of deadlocking.
        drop(rx.recv().await.unwrap());
        tx.send(batch(25)).await.unwrap();
        assert_eq!(metrics.rows_in_flight(), 10);
    }
}
