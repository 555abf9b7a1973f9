//! The data generators: determinism, restore, and the shape of what they generate.

#[path = "generators/support.rs"]
mod support;

#[path = "generators/bids.rs"]
mod bids;

#[path = "generators/nexmark.rs"]
mod nexmark;

#[path = "generators/logs.rs"]
mod logs;

#[path = "generators/clickstream.rs"]
mod clickstream;

#[path = "generators/config.rs"]
mod config;
