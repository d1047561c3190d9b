//! `herald`: the Herald push service binary. See `herald --help` and the README.
#![forbid(unsafe_code)]

use std::process::ExitCode;

fn main() -> ExitCode {
    herald::cli::main()
}
