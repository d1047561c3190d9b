//! Herald: a Socket.IO push-notification service.
//!
//! This crate is the thin `herald` binary: it parses the command line, sets up logging,
//! binds the listener and serves the Socket.IO endpoint (`/socket.io/`, main namespace)
//! plus health checks. Sites, auth and the publish API are yet to come.
//! Protocol work lives in the `engineio` and `socketio` crates. [`run`] takes a bound
//! listener and a shutdown signal so tests can start the service on port 0.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod cli;

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;

use bytes::Bytes;
use engineio::server::Body;
use engineio::{CloseReason, Config as EngineConfig, Engine};
use http_body_util::Full;
use hyper::{Request, Response, StatusCode};
use socketio::server::{Io, IoHandler};
use tokio::net::TcpListener;
use tracing::{info, warn};

/// Service configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The Engine.IO settings (path, timers, limits, CORS).
    pub engine: EngineConfig,
    /// The Socket.IO settings (connect timeout, recovery, decoder limits).
    pub socketio: socketio::server::Config,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            engine: EngineConfig {
                path: "/socket.io/".into(),
                ..EngineConfig::default()
            },
            socketio: socketio::server::Config::default(),
        }
    }
}

fn text(status: StatusCode, body: &'static str) -> Response<Body> {
    let mut res = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    *res.status_mut() = status;
    res
}

/// Serves on `listener` until `shutdown` resolves, then closes every session.
pub async fn run(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let io = Io::new(config.socketio);
    // The main namespace accepts every client until sites and auth land.
    io.of("/");
    let engine = io.engine(config.engine);
    info!(addr = %listener.local_addr()?, "herald listening");
    let accept = {
        let engine = engine.clone();
        async move {
            loop {
                let (stream, peer) = match listener.accept().await {
                    Ok(x) => x,
                    Err(e) => {
                        warn!(error = %e, "accept failed; retrying in 50 ms");
                        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let engine = engine.clone();
                tokio::spawn(serve_connection(engine, stream, peer));
            }
        }
    };
    tokio::select! {
        _ = accept => {}
        _ = shutdown => info!("shutting down"),
    }
    engine.close_all(CloseReason::ServerShutdown);
    Ok(())
}

async fn serve_connection(
    engine: Engine<IoHandler>,
    stream: tokio::net::TcpStream,
    peer: SocketAddr,
) {
    let svc = hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
        let engine = engine.clone();
        async move {
            let res = match req.uri().path() {
                p if engine.matches(p) => engine.handle(req, Some(peer)).await,
                "/healthz" | "/readyz" => text(StatusCode::OK, "ok\n"),
                _ => text(StatusCode::NOT_FOUND, ""),
            };
            Ok::<_, Infallible>(res)
        }
    });
    let _ = hyper::server::conn::http1::Builder::new()
        .timer(hyper_util::rt::TokioTimer::new())
        .serve_connection(hyper_util::rt::TokioIo::new(stream), svc)
        .with_upgrades()
        .await;
}
