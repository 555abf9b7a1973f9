//! The input channels of one subtask, polled fairly, with per-channel blocking for
//! checkpoint barrier alignment.

use std::future::poll_fn;
use std::task::Poll;

use crate::channel::{Envelope, Receiver};

pub(crate) struct InputChannel {
    pub rx: Receiver,
    /// Index of the node input (edge) this channel belongs to.
    pub input: usize,
    pub blocked: bool,
    pub ended: bool,
}

/// All input channels of a subtask.
pub(crate) struct Inputs {
    channels: Vec<InputChannel>,
    next: usize,
}

impl Inputs {
    pub fn new(channels: Vec<InputChannel>) -> Self {
        Self { channels, next: 0 }
    }

    pub fn len(&self) -> usize {
        self.channels.len()
    }

    /// The node input that `channel` belongs to.
    pub fn input_of(&self, channel: usize) -> usize {
        self.channels[channel].input
    }

    /// Stops reading `channel` until [`Inputs::unblock_all`].
    pub fn block(&mut self, channel: usize) {
        self.channels[channel].blocked = true;
    }

    pub fn unblock_all(&mut self) {
        for c in &mut self.channels {
            c.blocked = false;
        }
    }

    /// Whether every channel that has not ended is blocked.
    pub fn all_live_blocked(&self) -> bool {
        self.channels.iter().all(|c| c.ended || c.blocked)
    }

    pub fn end(&mut self, channel: usize) {
        self.channels[channel].ended = true;
    }

    /// The next message from any readable channel, channels taking turns. `None` when no
    /// channel is readable. A channel whose senders are gone counts as ended; it is reported
    /// as `Ok(channel)` with no envelope.
    pub async fn recv(&mut self) -> Option<(usize, Option<Envelope>)> {
        if self.channels.iter().all(|c| c.ended || c.blocked) {
            return None;
        }
        poll_fn(|cx| {
            let n = self.channels.len();
            for k in 0..n {
                let i = (self.next + k) % n;
                let channel = &mut self.channels[i];
                if channel.ended || channel.blocked {
                    continue;
                }
                if let Poll::Ready(envelope) = channel.rx.poll_recv(cx) {
                    self.next = (i + 1) % n;
                    return Poll::Ready(Some((i, envelope)));
                }
            }
            Poll::Pending
        })
        .await
    }
}
