//! The `ccr-sentinel` binary: everything lives in the library; see [`ccr_sentinel::cli`].
#![forbid(unsafe_code)]

fn main() -> std::process::ExitCode {
    ccr_sentinel::cli::main()
}
