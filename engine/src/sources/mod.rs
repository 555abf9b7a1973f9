//! Sources that need nothing outside the engine. Connectors live in `weir-connectors`.

pub mod channel;
pub mod memory;

pub use channel::{ChannelSource, ChannelSourceSender};
pub use memory::MemorySource;
