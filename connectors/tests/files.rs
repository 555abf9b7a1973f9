//! The file source end to end, on files in temporary directories: bounded reads of line
//! files and Parquet with exact rows and dead letters, followed files that grow, rotate
//! and get truncated through kills and restores, positions re-split at another
//! parallelism, files dealt to subtasks by size, the line splitter against a reference,
//! and `enrich` joining dimension files and tables.

#[path = "../../tests/support/committing_sink.rs"]
mod committing_sink;

mod files {
    pub mod bounded;
    pub mod common;
    pub mod deal;
    pub mod enrich;
    pub mod follow;
    pub mod parquet;
    pub mod positions;
    pub mod splitter;
}
