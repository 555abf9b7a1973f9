//! The `weir` binary the benchmarks run as a process: the one built next to them.

use std::path::{Path, PathBuf};

/// `weir` in the profile folder holding this example (`target/<profile>/examples/..`);
/// panics saying how to build it when it is missing.
pub fn weir_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("this program's path");
    let binary = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>/examples")
        .join("weir");
    assert!(
        binary.exists(),
        "{} is missing: build it first (cargo build --release)",
        binary.display()
    );
    binary
}
