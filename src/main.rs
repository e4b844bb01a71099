//! The `ccr-sentinel` binary: everything lives in the library; see [`ccr_sentinel::cli`].
#![forbid(unsafe_code)]

// glibc's malloc spent a quarter of a poll cycle at 2,000 followers in its own bookkeeping (consolidating and
// unlinking the free chunks the per-poll reports leave) and kept freed pages in per-thread arenas, so the
// daemon's RSS stayed at its peak between polls.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    ccr_sentinel::cli::main()
}
