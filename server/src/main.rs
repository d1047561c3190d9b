//! `herald`: the Herald push service binary. See `herald --help` and the README.
#![forbid(unsafe_code)]

use std::process::ExitCode;

/// jemalloc, for an RSS that comes back down after bursts (see `herald::alloc`).
#[cfg(feature = "jemalloc")]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> ExitCode {
    herald::cli::main()
}
