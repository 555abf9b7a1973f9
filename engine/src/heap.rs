//! How the process's heap grows, set once at start by the `weir` binary and the
//! benchmarks that stand for it.

/// Bytes glibc's allocator adds to every growth of a heap, and keeps when it trims one.
pub const HEAP_GROWTH_PAD: usize = 64 << 20;

/// Makes glibc's allocator grow and trim its heaps [`HEAP_GROWTH_PAD`] at a time
/// (`M_TOP_PAD`) instead of 128 KiB.
///
/// Query operators free and allocate buffers of a few hundred KiB to a few MiB per batch,
/// on several threads. With glibc's default a thread's heap was shrunk after such a free
/// and grown again at the next allocation, handing the pages back to the kernel and
/// faulting zeroed ones in: summing three columns of TPC-H's lineitem took 320,000 page
/// faults and a third of its CPU time in the kernel, 6,000 with the pad (BENCHMARKS.md).
/// The cost is at most the pad of memory kept per heap (glibc keeps one per thread that
/// allocates, up to eight per core). No effect with another C library.
pub fn pad_heap_growth() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        let pad = libc::c_int::try_from(HEAP_GROWTH_PAD).expect("the pad fits a C int");
        // SAFETY: `mallopt` changes one tunable of glibc's allocator under its lock;
        // no memory is touched.
        #[allow(unsafe_code)]
        unsafe {
            libc::mallopt(libc::M_TOP_PAD, pad);
        }
    }
}
