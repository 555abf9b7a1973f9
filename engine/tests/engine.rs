//! Integration tests of the engine, one binary (linking DataFusion once).

mod engine {
    pub mod backpressure;
    pub mod common;
    pub mod expressions;
    pub mod reference;
    pub mod watermarks;
    pub mod windows;
}
