//! weir-sql: SQL over the lake. A [`Lake`] is a root folder of Delta tables; its
//! [`Lake::session`] is a DataFusion session with every table registered by name.

pub mod error;
pub mod lake;

pub use error::{Result, SqlError};
pub use lake::{Lake, LakeTable};
