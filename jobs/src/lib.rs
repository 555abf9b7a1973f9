//! weir-jobs: job definitions (YAML job files) and how they become dataflow graphs.
//!
//! A job file names its sources, transforms and sinks, each with a `type` from a registry
//! (connectors for sources and sinks, the engine's operators for transforms), wires them
//! by name, and sets checkpoints. [`JobDefinition::from_file`] reads one;
//! [`build_graph`] turns it into a [`weir_engine::JobGraph`] to run with
//! [`JobDefinition::runtime_config`].

pub mod backfill;
mod build;
pub mod definition;
pub mod error;
mod interpolate;
mod located;
pub mod quality;
pub mod runner;
pub mod schedule;
pub mod sinks;
pub mod sources;
pub mod transforms;
pub mod validate;
pub mod yaml;

pub use build::build_graph;
pub use definition::{
    CheckpointSettings, JobDefinition, JobKind, PartitionSpec, SinkSpec, SourceSpec,
};
pub use error::{JobError, Result};
pub use runner::{JobHandle, JobOutcome, JobStatus, RestartStrategy, StartOptions};
pub use validate::{validate, validate_file, Mistake, Outline};
