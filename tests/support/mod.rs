//! Helpers shared by the end-to-end tests; each test file uses a part of them.
#![allow(dead_code)]

pub mod browser;
pub mod committing_sink;
pub mod delta;
pub mod kafka;
pub mod lake_fixture;
pub mod parquet;
pub mod s3;
