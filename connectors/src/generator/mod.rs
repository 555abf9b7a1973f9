//! Deterministic, seeded data generators.
//!
//! Every generator is a source whose event `i` is a pure function of its configuration
//! (seed included) and `i`, spread over partitions and checkpointed by position (the
//! shared machinery is in `partitioned.rs`). Job files pick one with `kind:`, see
//! [`GeneratorConfig`].

pub mod bids;
pub mod clickstream;
mod clock;
pub mod logs;
pub mod nexmark;
mod partitioned;
mod random;
mod timefmt;

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use weir_engine::SourcePlan;

pub use bids::{BidGenerator, BidGeneratorConfig};
pub use clickstream::{ClickstreamConfig, ClickstreamGenerator};
pub use logs::{LogGenerator, LogKind, LogsConfig};
pub use nexmark::{NexmarkConfig, NexmarkGenerator};

use crate::error::Result;

/// A generator as named in a job file: `kind: bids | nexmark | logs | clickstream` next to
/// that generator's settings (each defaulted, unknown ones refused).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum GeneratorConfig {
    Bids(BidGeneratorConfig),
    Nexmark(NexmarkConfig),
    Logs(LogsConfig),
    Clickstream(ClickstreamConfig),
}

impl GeneratorConfig {
    /// The source, or the configuration error naming the generator and the setting.
    pub fn plan(&self) -> Result<Arc<dyn SourcePlan>> {
        Ok(match self {
            Self::Bids(config) => BidGenerator::new(config.clone())?,
            Self::Nexmark(config) => NexmarkGenerator::new(config.clone())?,
            Self::Logs(config) => LogGenerator::new(config.clone())?,
            Self::Clickstream(config) => ClickstreamGenerator::new(config.clone())?,
        })
    }
}
