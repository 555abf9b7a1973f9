//! Integration tests of the engine, one binary (linking DataFusion once).

mod engine {
    pub mod backpressure;
    pub mod barriers;
    pub mod checkpoint_store;
    pub mod common;
    pub mod dedup;
    pub mod expressions;
    pub mod partitioning;
    pub mod reference;
    pub mod registry;
    pub mod route;
    pub mod snapshots;
    pub mod stop;
    pub mod top_n;
    pub mod watermarks;
    pub mod windows;
}
