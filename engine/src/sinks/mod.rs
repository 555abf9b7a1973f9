//! Sinks that need nothing outside the engine. Connectors live in `weir-connectors`.

pub mod collect;
pub mod discard;

pub use collect::CollectSink;
pub use discard::DiscardSink;
