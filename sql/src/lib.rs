//! weir-sql: SQL over the lake. A [`Lake`] is a root URL (a local folder, or a location
//! on S3: [`weir_lake::s3`]) holding Delta tables; its
//! [`Lake::session`] is a DataFusion session with every table registered by name, and its
//! [`Lake::query_session`] the read-only query surface `weir sql` uses: only queries and
//! introspection ([`safety`]), time travel and history as table functions ([`travel`]),
//! a memory and time limit per statement ([`Limits`]), and `EXPLAIN` saying how many
//! files each table's scan skips ([`skipping`]).

pub mod aggregated_before_join;
pub mod all_rows_conjunction;
pub mod averages_from_sums;
pub mod catalog;
pub mod cheap_conjuncts_first;
pub mod counted_quantiles;
pub mod decimal_literal_scale;
pub mod dialect;
pub mod direct_scan;
pub mod error;
pub mod indexed_groups;
pub mod join_estimate;
pub mod join_order;
pub mod joined_groups_only;
pub mod lake;
pub mod local_lake_store;
pub mod local_listing;
pub mod merged_ranges;
pub mod named_tables;
pub mod options;
pub mod order_free_percentile;
pub mod provider;
pub mod quality_check;
mod quality_increment;
pub mod quality_table;
pub mod safety;
pub mod semi_joins_first;
pub mod session;
pub mod shared_aggregates;
pub mod skipping;
pub mod stream;
pub mod table_figures;
pub mod travel;
pub mod view_equality;

pub use error::{Result, SqlError};
pub use lake::{Lake, LakeTable};
pub use session::{changes_settings, Limits, QueryOutput, QuerySession};
pub use stream::{Deadline, QueryStream};

/// A statement as [`QuerySession::parse`] returns it: checked, ready to run.
pub type Statement = datafusion::sql::parser::Statement;
