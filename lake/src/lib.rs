//! weir-lake: the one home of Delta tables in weir. Locations (a local path, `file://`,
//! `s3://`: [`s3`], registered whenever a table is opened, so jobs write where SQL reads),
//! opening and creating tables and the exactly-once epoch commit ([`table`]), how a
//! stream's schema meets a table's ([`schema`]), and the operations that keep a table
//! fast, each an awaitable builder returning its metrics: [`Compact`] (bin-packing and
//! clustering) and [`Vacuum`] (deleting files no version within the retention needs).

pub mod calling_thread_executor;
pub mod compact;
pub mod epoch;
pub mod error;
pub mod lake_log_store;
pub mod replace;
pub mod s3;
pub mod schema;
pub mod table;
pub mod vacuum;

pub use compact::{Compact, CompactMetrics};
pub use error::{LakeError, Result};
pub use replace::PartitionReplace;
pub use vacuum::{Vacuum, VacuumMetrics};
