//! Links the `weir` binary as a position-dependent executable on Linux.
//!
//! As a position-independent executable, the binary carries about 325,000 relative
//! relocations that the dynamic loader applies at every start, writing 5.6 MB of
//! `.data.rel.ro` pages: about 6 ms of every `weir` process (`weir sql -e 'SELECT 1'`
//! 16.6 -> 9.9 ms, `examples/cold_start_bench.rs`). Linked at a fixed address, the linker
//! resolves them once. The crates stay compiled as position-independent code, which links
//! into either kind; shared libraries the binary loads are still placed at random
//! addresses.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let env = std::env::var("CARGO_CFG_TARGET_ENV").unwrap_or_default();
    if os == "linux" && env == "gnu" {
        println!("cargo:rustc-link-arg-bins=-no-pie");
    }
}
