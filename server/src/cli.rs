//! The command line: `herald [--listen ADDR]`.

use std::net::SocketAddr;
use std::process::ExitCode;

use crate::{Config, run};

const USAGE: &str = "usage: herald [--listen ADDR]   (default 0.0.0.0:3000)";

/// Parses the command line and runs the service until SIGINT or SIGTERM.
pub fn main() -> ExitCode {
    let mut listen: SocketAddr = SocketAddr::from(([0, 0, 0, 0], 3000));
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--listen" => match args.next().map(|a| a.parse()) {
                Some(Ok(addr)) => listen = addr,
                _ => {
                    eprintln!("herald: --listen needs an address such as 127.0.0.1:3000\n{USAGE}");
                    return ExitCode::from(2);
                }
            },
            "-h" | "--help" => {
                println!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            other => {
                eprintln!("herald: unknown argument {other:?}\n{USAGE}");
                return ExitCode::from(2);
            }
        }
    }
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("HERALD_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("herald: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        let listener = match tokio::net::TcpListener::bind(listen).await {
            Ok(l) => l,
            Err(e) => {
                eprintln!("herald: cannot listen on {listen}: {e} (is another process using the port? pick one with --listen)");
                return ExitCode::FAILURE;
            }
        };
        let shutdown = async {
            let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(t) => t,
                Err(_) => return std::future::pending().await,
            };
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        };
        match run(listener, Config::default(), shutdown).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("herald: {e}");
                ExitCode::FAILURE
            }
        }
    })
}
