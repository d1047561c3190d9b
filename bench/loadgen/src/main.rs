//! Herald's load generator: raw Engine.IO v4 / Socket.IO v5 clients over WebSocket and
//! HTTP long-polling, spread over worker processes and source addresses.
//!
//! `loadgen run --scenario S --server 127.0.0.1:PORT --server-pid PID [options]` runs one
//! measurement and prints one JSON line (also appended to `--out FILE`); it starts
//! `loadgen worker …` processes itself (one per `--per-proc` clients, each from its own
//! source address 127.A.B.x) and talks to them over their stdin/stdout. See
//! `bench/README.md` for the scenarios and the handlers every server implements.
#![forbid(unsafe_code)]

mod args;
mod coord;
mod polling;
mod proto;
mod push;
mod stats;
mod worker;
mod ws;

use std::process::ExitCode;

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let Some(cmd) = argv.first() else {
        eprintln!("usage: loadgen run|worker --option value …  (see bench/README.md)");
        return ExitCode::from(2);
    };
    let args = match args::Args::parse(&argv[1..]) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("loadgen: {e}");
            return ExitCode::from(2);
        }
    };
    let result = match cmd.as_str() {
        "run" => coord::main(args),
        "worker" => worker::main(args),
        other => Err(format!("unknown command {other:?} (run or worker)")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("loadgen: {e}");
            ExitCode::FAILURE
        }
    }
}
