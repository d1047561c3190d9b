//! The conformance fixture: a Herald server set up the way the official Socket.IO test
//! suites (and ours in `conformance/test/`) expect, profile by profile, as written in the
//! fixture contract (`shared/docs/reference/FIXTURES.md`).
//!
//! `fixture --profile protocol|eio-client|sio-client|bench --port N` (`bench`: the
//! handlers of the load benchmarks in `bench/`)
#![forbid(unsafe_code)]

mod bench;
mod eio;
mod jsdate;
mod listen;
mod sio;

use std::process::ExitCode;

/// The allocator of the `herald` binary (jemalloc with its background thread, see
/// `server/src/alloc.rs`), so that what the benchmarks measure is what ships.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn usage(msg: &str) -> ExitCode {
    eprintln!(
        "fixture: {msg}\nusage: fixture --profile protocol|eio-client|sio-client|bench --port N"
    );
    ExitCode::from(2)
}

fn main() -> ExitCode {
    if let Err(e) = tikv_jemalloc_ctl::background_thread::write(true) {
        eprintln!("fixture: cannot enable the jemalloc background thread: {e}");
    }
    let mut profile = None;
    let mut port = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--profile" => profile = args.next(),
            "--port" => port = args.next().and_then(|p| p.parse::<u16>().ok()),
            other => return usage(&format!("unknown argument {other:?}")),
        }
    }
    let Some(profile) = profile else {
        return usage("missing --profile");
    };
    let Some(port) = port else {
        return usage("missing or invalid --port");
    };
    let routes = match profile.as_str() {
        "protocol" => listen::Routes::protocol(),
        "eio-client" => listen::Routes::eio_client(),
        "sio-client" => listen::Routes::sio_client(),
        "bench" => listen::Routes::bench(),
        other => return usage(&format!("unknown profile {other:?}")),
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("FIXTURE_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("fixture: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(listen::run(routes, port, &profile)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("fixture: {e}");
            ExitCode::FAILURE
        }
    }
}
