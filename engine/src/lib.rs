//! weir-engine: the dataflow runtime.
//!
//! A job is a graph of sources, operators and sinks ([`GraphBuilder`]). Rows travel as Arrow
//! [`RecordBatch`](arrow::record_batch::RecordBatch)es with watermarks, checkpoint barriers
//! and end-of-stream in the same channels ([`Message`]). Each node runs as `parallelism`
//! tokio tasks; edges are row-bounded channels partitioned forward, by key hash (into key
//! groups), broadcast or round-robin. Filters, projections and aggregates are SQL compiled
//! once by DataFusion.
//!
//! This crate knows nothing of Kafka or Delta: connectors plug in through [`Source`] and
//! [`Operator`].

pub mod channel;
pub mod checkpoint;
pub mod error;
pub mod event_time;
pub mod expr;
pub mod failpoint;
pub mod gauges;
pub mod graph;
pub mod keys;
pub mod message;
pub mod operator;
pub mod operators;
pub mod runtime;
pub mod sinks;
pub mod source;
pub mod sources;
pub mod state;
pub mod watermark;

pub use error::{EngineError, Result};
pub use gauges::NodeGauges;
pub use graph::{GraphBuilder, Input, JobGraph, Node, Partitioning, Stream};
pub use message::{CheckpointBarrier, Message, Watermark};
pub use operator::{
    Collector, Operator, OperatorFactory, OperatorPlan, OutputPort, PlanContext, SubtaskInfo,
};
pub use operators::dedup::DedupConfig;
pub use operators::filter::FilterConfig;
pub use operators::project::ProjectConfig;
pub use operators::route::{RouteConfig, UNMATCHED_PORT};
pub use operators::top_n::{Ties, TopNConfig, RANK_COLUMN, REVISION_COLUMN};
pub use operators::union::UnionConfig;
pub use operators::window::{WindowAggregateConfig, WindowSpec, LATE_PORT, LATE_REASON_COLUMN};
pub use operators::OperatorConfig;
pub use runtime::metrics::JobMetrics;
pub use runtime::{JobControl, RestoreFrom, RestoreInfo, RunningJob, RuntimeConfig};
pub use source::{Source, SourceBatch, SourcePlan, DEAD_LETTER_PORT};
pub use watermark::WatermarkStrategy;
